"""Serve the service as BentoML's own worker in one process, without its arbiter.

Why: `bentoml serve` starts an arbiter (circus) that imports BentoML, its CLI and the
service, then spawns a worker that imports them all again. For a one-worker service in a
container that first process only supervises, and it costs about as long as the worker
itself to start (the wine example's image, measured side by side: ready in 2.3 s
instead of 3.3 s). Here the same worker (`_bentoml_impl.worker.service`, with the
arguments the arbiter would give it) runs as the container's PID 1, stopping on SIGTERM
(uvicorn's graceful shutdown). A worker that dies ends the container, and the
orchestrator restarts it, where circus would have restarted it inside.

Everything else is `bentoml serve` itself, run with `exec`: arguments after the service
(`--api-workers 2`, `--ssl-certfile ...`), a service configured with several workers,
GPUs or dependent services, and `BENTOML_SINGLE_WORKER=0`.

    python -m <package>.single_worker service:MyService [bentoml serve arguments]
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from types import FrameType
from typing import Any

OFF = ("0", "false", "no")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def arbiter_needed(
    config: dict[str, Any], dependent: bool, extra: list[str]
) -> str | None:
    """Why `bentoml serve` must run the service (its arbiter does more than supervise),
    or None when one worker in this process serves it the same way. `config` is the
    service's effective BentoML configuration (decorator, BENTOML_CONFIG and overrides)."""
    if extra:
        return f"arguments for bentoml serve: {' '.join(extra)}"
    if os.environ.get("BENTOML_SINGLE_WORKER", "1").lower() in OFF:
        return "BENTOML_SINGLE_WORKER is off"
    if (config.get("workers") or 1) != 1:
        return f"workers={config['workers']}"
    if "gpu" in (config.get("resources") or {}):
        return "GPUs to allocate"
    if (config.get("ssl") or {}).get("enabled"):
        return "TLS"
    if dependent:
        return "dependent services"
    return None


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """The server's socket, bound and listening as the arbiter's (circus) would be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = socket.socket(family, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(backlog)
    return server


def stopped(signum: int, _frame: FrameType | None) -> None:
    """Exit 0 on a stop request, as `bentoml serve` does: uvicorn shuts down gracefully on
    the signal, then raises it again for the handler it found, which is this one."""
    raise SystemExit(0)


def serve(target: str, extra: list[str]) -> None:
    """Run BentoML's worker for `target` ("module:Class") here, or exec `bentoml serve`."""
    from _bentoml_impl.loader import load
    from _bentoml_impl.server.serving import server_on_deployment
    from _bentoml_impl.worker.service import main as worker
    from bentoml._internal.container import BentoMLContainer
    from bentoml.serving import ensure_prometheus_dir

    service = load(target, standalone_load=True)  # as the worker does, which reuses it
    service.inject_config()  # its decorator's settings, as `bentoml serve` merges them
    config = BentoMLContainer.config.services[service.name].get()
    reason = arbiter_needed(config, bool(service.dependencies), extra)
    if reason is not None or BentoMLContainer.ssl.enabled.get():
        print(
            f"bentoml serve runs {target}: {reason or 'TLS'}",
            file=sys.stderr,
            flush=True,
        )
        command = [sys.executable, "-m", "bentoml", "serve", target, *extra]
        os.execv(command[0], command)
    host = os.environ.get("BENTOML_HOST") or BentoMLContainer.http.host.get()
    port = int(os.environ.get("BENTOML_PORT") or BentoMLContainer.http.port.get())
    backlog = BentoMLContainer.api_server_config.backlog.get()
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    # What the arbiter does before it spawns a worker: metrics files, the service map,
    # the models resolved and the service's on_deployment hooks run.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = ensure_prometheus_dir()
    served = {service.name: f"http://{shown}:{port}"}
    os.environ["BENTOML_RUNNER_MAP"] = json.dumps(served)
    server_on_deployment(service)
    server = listening_socket(host, port, backlog)
    descriptor = server.detach()  # the worker's socket from here on
    print(
        f'Starting one BentoML worker for "{target}" on http://{shown}:{port} '
        "(no arbiter; BENTOML_SINGLE_WORKER=0 runs bentoml serve)",
        file=sys.stderr,
        flush=True,
    )
    arguments = json.dumps(BentoMLContainer.bento_arguments.get())
    timeout = os.environ.get("BENTOML_TIMEOUT")  # `bentoml serve` hands it on too
    for stop in STOP_SIGNALS:
        signal.signal(stop, stopped)
    worker(
        [target, "--fd", str(descriptor), "--service-name", service.name,
         "--backlog", str(backlog), "--worker-id", "1", "--args", arguments,
         *(["--timeout", timeout] if timeout else [])],
        prog_name="bentoml-worker",
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """`single_worker SERVICE [ARGS...]`: see the module's docstring."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0].startswith("-"):
        usage = "usage: single_worker module:Service [bentoml serve arguments]"
        print(usage, file=sys.stderr)
        raise SystemExit(2)
    serve(arguments[0], arguments[1:])


if __name__ == "__main__":
    main()

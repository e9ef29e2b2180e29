"""Build and run a generated project's container image.

One code path serves a user's Docker and any engine that speaks the Docker API
(podman's `podman system service` socket, Colima, ...): the `docker` Python SDK,
which honours DOCKER_HOST. When nothing answers there, the `podman` CLI is used
directly, so a machine with podman and no daemon still builds. Failures become
`UserError`s with the end of the build log and a fix, never a traceback.

`docker` is imported inside the functions: `nb2prod --help` must stay fast and
work without it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from nb2prod.errors import UserError, user_error
from nb2prod.generate.install_hints import install_line, not_installed

if TYPE_CHECKING:
    from docker import DockerClient

Engine = Literal["auto", "docker", "podman"]
LOG_TAIL = 25
MODEL_ARCHIVE = "artifacts/model.bentomodel"
ENGINE_FIX = (
    "start Docker (or another engine with the Docker API, and point DOCKER_HOST at it, "
    "e.g. `podman system service --time=0 unix:///tmp/podman.sock` and "
    "DOCKER_HOST=unix:///tmp/podman.sock), or install podman (`apt-get install podman`); "
    f"the Docker route also needs the Python package `docker` (`{install_line('docker')}`)"
)


@dataclass(frozen=True)
class Container:
    """A started container and the engine that runs it (so helpers talk to the same one)."""

    id: str
    name: str
    engine: Literal["docker", "podman"]


# ---- engines ------------------------------------------------------------------------------


def docker_client(timeout: int = 10) -> DockerClient | None:
    """A Docker API client that answered a ping (DOCKER_HOST honoured), or None."""
    try:
        import docker
        import requests
    except ImportError:
        return None
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException, OSError):
        return None
    return client


def podman_path() -> str | None:
    """The podman executable on PATH, or None."""
    return shutil.which("podman")


def _choose(engine: Engine, project_dir: Path | None, timeout: int) -> tuple[str, Any]:
    """The engine to use: the Docker API if it answers, else the podman CLI."""
    if engine in ("auto", "docker"):
        client = docker_client(timeout)
        if client is not None:
            return "docker", client
        if engine == "docker":
            raise user_error(project_dir, "no-container-engine", docker_unavailable(), ENGINE_FIX)
    podman = podman_path()
    if podman is not None:
        return "podman", podman
    raise user_error(
        project_dir,
        "no-container-engine",
        f"no container engine: {docker_unavailable()}, and `podman` is not on PATH",
        ENGINE_FIX,
    )


def docker_unavailable() -> str:
    """Why the Docker route is closed, in the user's terms."""
    if importlib.util.find_spec("docker") is None:
        return not_installed("docker")
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock (DOCKER_HOST unset)"
    return f"no Docker API answers at {host}"


# ---- build --------------------------------------------------------------------------------


def build_image(
    project_dir: Path,
    tag: str,
    *,
    engine: Engine = "auto",
    network: str | None = None,
    build_args: dict[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
    timeout: int = 3600,
) -> str:
    """Build PROJECT_DIR/Dockerfile as TAG and return the image id (`sha256:...`).

    `network` is the network of the RUN steps (None: the engine's default; "host"
    avoids a bridge network, which changes the host's firewall rules). `build_args` are
    the Dockerfile's ARGs (`TORCH_INDEX_URL`). `on_line` receives each line of the build
    log, for progress output.
    """
    args = dict(build_args or {})
    project_dir = Path(project_dir)
    _check_context(project_dir)
    kind, handle = _choose(engine, project_dir, timeout=10)
    log_path = Path(tempfile.gettempdir()) / f"nb2prod-build-{_safe(tag)}.log"
    tail: deque[str] = deque(maxlen=LOG_TAIL)

    def record(lines: Iterable[str], log: Any) -> None:
        for line in lines:
            line = line.rstrip("\n")
            log.write(line + "\n")
            tail.append(line)
            if on_line is not None:
                on_line(line)

    with open(log_path, "w", encoding="utf-8") as log:
        if kind == "docker":
            image_id, error = _build_docker(
                handle, project_dir, tag, network, args, timeout, record, log
            )
        else:
            image_id, error = _build_podman(
                handle, project_dir, tag, network, args, timeout, record, log
            )
    if error is not None or not image_id:
        shown = "\n".join(f"    {line}" for line in tail if line.strip())
        raise user_error(
            project_dir,
            "image-build-failed",
            f"the image build failed ({kind}: {error or 'no image id'}); "
            f"last lines of the build log:\n{shown}",
            f"fix the failing step shown above and build again; full log: {log_path}",
        )
    return image_id if image_id.startswith("sha256:") else f"sha256:{image_id}"


def _check_context(project_dir: Path) -> None:
    """Fail early, with the fix, on the two mistakes a user makes most."""
    dockerfile = project_dir / "Dockerfile"
    if not dockerfile.is_file():
        raise user_error(
            project_dir,
            "no-dockerfile",
            "no Dockerfile in the project folder",
            "run `nb2prod convert` on the notebook again to write it",
        )
    if (
        MODEL_ARCHIVE in dockerfile.read_text(encoding="utf-8")
        and not (project_dir / MODEL_ARCHIVE).is_file()
    ):
        raise user_error(
            project_dir,
            "no-model-archive",
            f"{MODEL_ARCHIVE} is missing: the image imports the trained model from it",
            "run the project's training first (its `-train` command exports the model), "
            "then build again",
        )


def _build_docker(
    client: DockerClient,
    project_dir: Path,
    tag: str,
    network: str | None,
    build_args: dict[str, str],
    timeout: int,
    record: Callable[[Iterable[str], Any], None],
    log: Any,
) -> tuple[str | None, str | None]:
    """Build through the Docker API; returns (image id, error)."""
    import docker
    import requests

    client.api.timeout = timeout  # the build streams: the read timeout is per chunk
    image_id: str | None = None
    try:
        for chunk in client.api.build(
            path=str(project_dir),
            tag=tag,
            rm=True,
            forcerm=True,
            pull=False,  # do not re-pull a present base; a missing one is still pulled
            network_mode=network,
            buildargs=build_args or None,
            decode=True,
        ):
            if "stream" in chunk:
                record(chunk["stream"].splitlines(), log)
            if "error" in chunk:
                record([chunk["error"]], log)
                return None, chunk["error"].strip().splitlines()[-1]
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("ID"):
                image_id = aux["ID"]
        return client.api.inspect_image(tag)["Id"] or image_id, None
    except (docker.errors.DockerException, requests.RequestException, OSError) as error:
        record([str(error)], log)
        return None, str(error).splitlines()[0] if str(error) else type(error).__name__


def _build_podman(
    podman: str,
    project_dir: Path,
    tag: str,
    network: str | None,
    build_args: dict[str, str],
    timeout: int,
    record: Callable[[Iterable[str], Any], None],
    log: Any,
) -> tuple[str | None, str | None]:
    """Build with the podman CLI; returns (image id, error)."""
    with tempfile.TemporaryDirectory(prefix="nb2prod-") as tmp:
        iidfile = Path(tmp) / "iid"
        command = [
            podman,
            "build",
            "--format=docker",  # OCI format would drop HEALTHCHECK
            "--pull=missing",
            f"--iidfile={iidfile}",
            f"--tag={tag}",
            f"--file={project_dir / 'Dockerfile'}",
        ]
        if network:
            command.append(f"--network={network}")
        command += [f"--build-arg={key}={value}" for key, value in build_args.items()]
        command.append(str(project_dir))
        record([" ".join(command)], log)
        with subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        ) as process:
            timer = threading.Timer(timeout, process.kill)  # a hung step must not hang us
            timer.start()
            try:
                assert process.stdout is not None
                for line in process.stdout:
                    record([line], log)
                code = process.wait()
            finally:
                timer.cancel()
        if code < 0:
            return None, f"podman build was stopped (signal {-code}; timeout {timeout} s)"
        if code != 0:
            return None, f"podman build exited with {code}"
        return iidfile.read_text().strip(), None


def _safe(tag: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in tag)


# ---- run ----------------------------------------------------------------------------------


def run_container(
    image: str,
    *,
    name: str | None = None,
    env: Mapping[str, str] | None = None,
    network: str | None = "host",
    ports: Mapping[int, int] | None = None,
    args: list[str] | None = None,
    engine: Engine = "auto",
) -> Container:
    """Start IMAGE detached and return its handle.

    `network="host"` shares the host's network (the server's port is the host's
    port; set it with env BENTOML_PORT); with network=None, `ports` maps
    container ports to host ports instead. `args` go after the image name.
    """
    kind, handle = _choose(engine, None, timeout=10)
    name = name or f"nb2prod-{os.getpid()}-{time.monotonic_ns() % 10**9}"
    env = dict(env or {})
    if kind == "docker":
        import docker

        try:
            started = handle.containers.run(
                image,
                command=args or None,
                name=name,
                detach=True,
                environment=env,
                network_mode=network,
                ports={f"{c}/tcp": h for c, h in (ports or {}).items()} or None,
            )
        except docker.errors.DockerException as error:
            raise _run_error(image, str(error)) from None
        return Container(started.id, name, "docker")
    command = [handle, "run", "--detach", f"--name={name}"]
    command += [f"--env={key}={value}" for key, value in env.items()]
    if network:
        command.append(f"--network={network}")
    command += [f"--publish={h}:{c}" for c, h in (ports or {}).items()]
    done = _podman(handle, command[1:] + [image, *(args or [])])
    if done.returncode != 0:
        raise _run_error(image, done.stderr.strip() or done.stdout.strip())
    return Container(done.stdout.strip().splitlines()[-1], name, "podman")


def _run_error(image: str, detail: str) -> UserError:
    return user_error(
        None,
        "container-failed",
        f"could not start a container from {image}: {detail.splitlines()[-1] if detail else '?'}",
        "check that the image was built (`nb2prod` builds it) and the port is free",
    )


def container_running(container: Container) -> bool:
    """Whether the container is still running (False once it exited or was removed)."""
    return _inspect(container).get("State", {}).get("Running", False) is True


def container_logs(container: Container, tail: int = 40) -> str:
    """The last lines of the container's output (stdout and stderr)."""
    if container.engine == "docker":
        client = _client()
        try:
            return client.containers.get(container.id).logs(tail=tail).decode(errors="replace")
        except Exception as error:  # logs are diagnostics: never mask the real failure
            return f"(no logs: {error})"
    done = _podman(_podman_exe(), ["logs", f"--tail={tail}", container.id])
    return done.stdout + done.stderr


def container_exec(container: Container, command: list[str]) -> tuple[int, str]:
    """Run COMMAND inside the running container; returns (exit code, output)."""
    if container.engine == "docker":
        result = _client().containers.get(container.id).exec_run(command)
        return result.exit_code, result.output.decode(errors="replace")
    done = _podman(_podman_exe(), ["exec", container.id, *command])
    return done.returncode, done.stdout + done.stderr


def wait_ready(container: Container, url: str, timeout: float = 60.0) -> float:
    """Poll URL until it answers 2xx; returns the seconds waited.

    Stops early, with the container's last log lines, if the container exits.
    """
    start = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if 200 <= response.status < 300:
                    return time.monotonic() - start
        except (urllib.error.URLError, OSError):
            pass
        if not container_running(container):
            raise user_error(
                None,
                "container-exited",
                f"the container exited before {url} answered:\n{container_logs(container)}",
                "fix the error in the log above (often: the model is missing from the image)",
            )
        if time.monotonic() - start > timeout:
            raise user_error(
                None,
                "container-not-ready",
                f"{url} did not answer within {timeout:.0f} s:\n{container_logs(container)}",
                "check the log above; a slow model load may need a longer wait",
            )
        time.sleep(0.2)


def stop_container(container: Container, timeout: int = 10, remove: bool = True) -> int | None:
    """Stop with SIGTERM (SIGKILL after TIMEOUT s) and remove; returns the exit code."""
    if container.engine == "docker":
        import docker

        client = _client()
        try:
            found = client.containers.get(container.id)
            found.stop(timeout=timeout)
            code = found.wait(timeout=timeout + 5).get("StatusCode")
            if remove:
                found.remove(force=True)
        except docker.errors.NotFound:
            return None
        return code
    podman = _podman_exe()
    _podman(podman, ["stop", f"--time={timeout}", container.id])
    code = _inspect(container).get("State", {}).get("ExitCode")
    if remove:
        _podman(podman, ["rm", "--force", "--time=0", container.id])
    return code


def _inspect(container: Container) -> dict[str, Any]:
    if container.engine == "docker":
        import docker

        try:
            return _client().api.inspect_container(container.id)
        except docker.errors.NotFound:
            return {}
    done = _podman(_podman_exe(), ["container", "inspect", container.id])
    return json.loads(done.stdout)[0] if done.returncode == 0 else {}


def _client() -> DockerClient:
    client = docker_client()
    if client is None:
        raise user_error(None, "no-container-engine", docker_unavailable(), ENGINE_FIX)
    return client


def _podman_exe() -> str:
    podman = podman_path()
    if podman is None:
        raise user_error(None, "no-container-engine", "`podman` is not on PATH", ENGINE_FIX)
    return podman


def _podman(podman: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([podman, *args], capture_output=True, text=True, check=False, timeout=120)

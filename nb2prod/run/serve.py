"""`nb2prod serve OUT`: run a generated project's service locally, as its image does.

Checks first what users otherwise learn from a stack trace: that the folder is a
generated project with a service, and that its model is in BentoML's store.

The server runs in its own process group; SIGINT, SIGTERM and SIGHUP sent to nb2prod
are forwarded to that whole group (the project's single worker, or `bentoml serve`'s
arbiter and workers) and nb2prod waits until they have gone, so nothing is left
listening on the port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from nb2prod.errors import user_error
from nb2prod.generate.install_hints import (
    MISSING_PACKAGE,
    absent_module,
    missing_module,
    missing_package,
    require,
    shown_path,
    uninstalled_requirements,
)
from nb2prod.generate.write import read_manifest
from nb2prod.run.child_process import child_env
from nb2prod.run.processes import kill_tree, signal_tree, stop_tree


def service_of(project: Path) -> tuple[str, str]:
    """(project name, service class) of a generated project, or a `UserError`."""
    manifest = read_manifest(project)
    service = manifest.get("service")
    if not service or not (project / "service.py").is_file():
        raise user_error(
            project,
            "no-service",
            "this project has no service (its notebook has no usable predict section)",
            "tag the cell that predicts new rows nb2prod:predict and convert again",
        )
    return str(manifest["project"]), str(service)


def stored_model(name: str) -> bool:
    """Whether BentoML's store on disk holds `name:latest` (its `latest` file names a version
    folder with a model.yaml): read in microseconds, where asking BentoML costs a Python
    that imports it (about 1 s before the server could start)."""
    home = Path(os.environ.get("BENTOML_HOME") or Path.home() / "bentoml")
    try:
        version = (home / "models" / name / "latest").read_text().strip()
    except (OSError, UnicodeDecodeError):
        return False
    return bool(version) and (home / "models" / name / version / "model.yaml").is_file()


def check_model(project: Path, name: str) -> None:
    """The project's model must be in the local BentoML store before serving (`serve` has
    checked BentoML is installed: without it the store cannot be read, which is not "no
    model"). Found on disk, it is; otherwise BentoML itself says why not."""
    if stored_model(name):
        return
    code = "import sys, bentoml; bentoml.models.get(sys.argv[1])"
    result = subprocess.run(
        [sys.executable, "-c", code, f"{name}:latest"],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = result.stderr.strip().splitlines()
    module = absent_module(missing_module(lines[-1])) if lines else None
    if result.returncode != 0 and module is not None:  # one of BentoML's own packages
        raise missing_package(module, project)
    if result.returncode != 0:
        home = os.environ.get("BENTOML_HOME", "~/bentoml")
        raise user_error(
            project,
            "no-model",
            f"no trained model `{name}` in BentoML's store ({home})",
            f"train first: cd {project} && {name}-train",
        )


def check_requirements(project: Path) -> None:
    """The service imports the project's requirements: say which are missing here, with
    the line that installs them, rather than let the server's workers die on an import."""
    missing = uninstalled_requirements(project)
    if missing:
        raise user_error(
            project,
            MISSING_PACKAGE,
            f"the project's requirements are not installed in the Python nb2prod runs on "
            f"({sys.executable}): {', '.join(f'`{r}`' for r in missing)}",
            f"`pip install -e {shown_path(project)}`, then serve again",
        )


def serve(project: Path, host: str, port: int) -> int:
    """Run `bentoml serve` for the project until interrupted; its exit status."""
    project = project.resolve()  # the server runs in the project: relative paths would move
    name, service = service_of(project)
    require("bentoml", project)  # nb2prod's own extra first: `pip install 'nb2prod[serve]'`
    check_requirements(project)
    check_model(project, name)
    command, settings = server_command(project, service, host, port)
    env = child_env(project / "src", **settings)
    print(f"serving {name} on http://{host}:{port} (Ctrl+C stops)", file=sys.stderr)
    return run_until_stopped(command, cwd=project, env=env)


def server_command(
    project: Path, service: str, host: str, port: int
) -> tuple[list[str], dict[str, str]]:
    """The command that serves the project and the environment it needs: its single_worker
    (BentoML's worker without the arbiter: ready in about half the time), or `bentoml
    serve` for a project generated before single_worker existed."""
    package = str(read_manifest(project).get("package") or "")
    target = f"service:{service}"
    if package and (project / "src" / package / "single_worker.py").is_file():
        command = [sys.executable, "-m", f"{package}.single_worker", target]
        return command, {"BENTOML_HOST": host, "BENTOML_PORT": str(port)}
    command = [sys.executable, "-m", "bentoml", "serve", target]
    return command + ["--host", host, "--port", str(port)], {}


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE_S = 20.0  # after a forwarded signal, then SIGKILL


def run_until_stopped(command: list[str], *, cwd: Path, env: dict[str, str]) -> int:
    """Run `command` in its own process group, forwarding stop signals to the whole group.

    Returns its exit status (128 + N for a signal N). A second Ctrl+C, or a group still
    running `GRACE_S` after the first signal, gets SIGKILL; whatever of the group is left
    when the command ends is stopped too.
    """
    if os.name != "posix":
        return subprocess.call(command, cwd=cwd, env=env)
    received: list[int] = []
    group: list[int] = []  # the server's process group, once started

    def forward(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        for pid in group:
            if len(received) == 1:
                signal_tree(pid, signum)
            else:
                kill_tree(pid)

    previous = {number: signal.signal(number, forward) for number in STOP_SIGNALS}
    try:
        server = subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True)
        group.append(server.pid)
        if received:  # a signal came while it started
            signal_tree(server.pid, received[0])
        deadline: float | None = None
        while True:
            try:
                code = server.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                pass
            if received and deadline is None:
                deadline = time.monotonic() + GRACE_S
            if deadline is not None and time.monotonic() > deadline:
                kill_tree(server.pid)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for pid in group:
            stop_tree(pid)
    return 128 - code if code < 0 else code

"""Shared fixtures and paths for nb2prod's tests."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
EXAMPLE_NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def run_cli(
    *args: str, cwd: Path | None = None, timeout: int = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m nb2prod ARGS` as a user would, without colours."""
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "nb2prod", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def cli():
    return run_cli


def make_notebook(path: Path, cells: list[tuple[str, list[str]] | str], **metadata: object) -> Path:
    """Write a small v4 notebook; a cell is source or (source, tags); '#md ' marks markdown."""
    import nbformat

    node = nbformat.v4.new_notebook()
    node.metadata.update(
        {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            **metadata,
        }
    )
    for cell in cells:
        source, tags = (cell, []) if isinstance(cell, str) else cell
        if source.startswith("#md "):
            node.cells.append(nbformat.v4.new_markdown_cell(source[4:]))
        else:
            node.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": tags}))
    nbformat.write(node, path)
    return path


def generated_env(project: Path, bentoml_home: Path) -> dict[str, str]:
    """Environment that runs a generated project's code with this interpreter."""
    return {
        **os.environ,
        "BENTOML_HOME": str(bentoml_home),
        "PYTHONPATH": os.pathsep.join([str(project / "src"), *sys.path]),
        "NO_COLOR": "1",
    }


def train_generated(project: Path, package: str, output_dir: str, env: dict[str, str]) -> None:
    """Run the generated training (`python -m <package>.train`) from the project folder."""
    trained = subprocess.run(
        [sys.executable, "-m", f"{package}.train", "--output-dir", output_dir],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert trained.returncode == 0, trained.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def bentoml_server(
    bentoml: Path, service: str, cwd: Path, env: dict[str, str], timeout: float = 120
) -> Iterator[str]:
    """A real `bentoml serve` on a free loopback port; yields its URL once /readyz answers."""
    command = [str(bentoml), "serve", service, "--host", "127.0.0.1"]
    with served(command, env, cwd, timeout=timeout) as url:
        yield url


@contextmanager
def served(
    command: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> Iterator[str]:
    """Run a server command with `--port <free>` in its own process group until /readyz
    answers; yield its URL; stop the whole group afterwards."""
    import httpx

    port = free_port()
    log = cwd / f"server-{port}.log"
    with open(log, "wb") as output:
        server = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                raise AssertionError(f"the server exited early:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the server never became ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


# ---- containers (see tests/e2e/test_image.py) ----

SETUP_PODMAN = ROOT / "scripts" / "podman-setup.sh"
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="session")
def podman_env() -> Iterator[dict[str, str]]:
    """Run scripts/podman-setup.sh and use its environment for the whole session."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("container tests need root on Linux (podman as set up by CI)")
    if not shutil.which("podman") and not shutil.which("apt-get"):
        pytest.skip("no podman and no apt-get to install it")
    start = time.monotonic()
    done = subprocess.run(
        ["bash", str(SETUP_PODMAN)], capture_output=True, text=True, timeout=900, check=False
    )
    TIMINGS["setup"] = time.monotonic() - start
    assert done.returncode == 0, f"podman setup failed:\n{done.stderr[-3000:]}"
    env = dict(re.findall(r"^export (\w+)=(\S+)$", done.stdout, re.M))
    assert "CONTAINERS_CONF" in env, done.stdout
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        patch.delenv("DOCKER_HOST", raising=False)
        yield env


@pytest.fixture(scope="session")
def podman_socket(
    podman_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A Docker-compatible API on podman, for the docker SDK; stopped at the end."""
    pytest.importorskip("docker", reason="the Docker API path needs `pip install docker`")
    socket = tmp_path_factory.mktemp("podman") / "podman.sock"
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{socket}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(100):
            if socket.exists():
                break
            time.sleep(0.1)
        assert socket.exists(), "podman system service did not create its socket"
        yield f"unix://{socket}"
    finally:
        service.terminate()
        try:
            service.wait(timeout=15)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()


def notebook_results(
    notebook: Path, parameters: dict[str, Any], workdir: Path, project: Path
) -> dict[str, Any]:
    """Metrics, predicted rows (as a request's rows) and predictions of a papermill run
    (nb2prod's own runner), for the generated `project` of `notebook`."""
    from nb2prod.commands.verify import plan_of
    from nb2prod.generate.write import read_manifest
    from nb2prod.run.notebook_run import run_notebook

    plan = plan_of(project, read_manifest(project))
    run = run_notebook(notebook, plan, parameters, workdir, project_src=project / "src")
    return {"metrics": run.metrics, "rows": run.rows, "predictions": run.predictions}

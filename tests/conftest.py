"""Shared fixtures and paths for nb2prod's tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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

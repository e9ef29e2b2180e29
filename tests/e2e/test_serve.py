"""`nb2prod serve` stops cleanly: a signal to nb2prod stops the whole `bentoml serve` tree.

An example is converted and trained once; `nb2prod serve` then runs on a free port until
/readyz answers, gets SIGTERM (or SIGINT, as Ctrl+C in a terminal would send), and must
exit with the port free and none of the processes it started left running.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, Early, free_port, generated_env, prepares

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


@prepares("trained")
def _convert_and_train(early: Early, root: Path) -> Path:
    project = root / "project"
    early.convert(EXAMPLES / "wine_classifier.ipynb", project)
    early.train(project, "wine_classifier", str(root / "artifacts"), root / "bentoml")
    return root


@pytest.fixture(scope="module")
def trained(early: Early) -> tuple[Path, dict[str, str]]:
    """The example converted and trained (in the background from the session's start:
    tests/conftest.py, Early), and the environment that runs its code."""
    root = early.result(__name__, "trained")
    return root / "project", generated_env(root / "project", root / "bentoml")


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, state) of every process."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        found[int(stat.parent.name)] = (int(fields[1]), int(fields[2]), fields[0])
    return found


def _descendants(pid: int) -> set[int]:
    processes, found, todo = _processes(), set(), [pid]
    while todo:
        parent = todo.pop()
        children = {p for p, (ppid, _, _) in processes.items() if ppid == parent}
        todo.extend(children - found)
        found |= children
    return found


def _running(pids: set[int]) -> set[int]:
    return {p for p, (_, _, state) in _processes().items() if p in pids and state != "Z"}


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_stops_the_whole_server(
    trained: tuple[Path, dict[str, str]], tmp_path: Path, stop: signal.Signals
) -> None:
    import httpx

    project, env = trained
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as output:
        nb2prod = subprocess.Popen(
            # SIGINT's run names the project relative to the working folder, as users do
            [
                sys.executable,
                "-m",
                "nb2prod",
                "serve",
                project.name if stop == signal.SIGINT else str(project),
                "--port",
                str(port),
            ],
            cwd=project.parent,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while True:
            assert nb2prod.poll() is None, log.read_text()[-3000:]
            started |= _descendants(nb2prod.pid)
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        started |= _descendants(nb2prod.pid)
        groups = {_processes()[p][1] for p in _running(started)}
        assert nb2prod.pid not in groups  # the server runs in a process group of its own

        os.kill(nb2prod.pid, stop)
        nb2prod.wait(timeout=40)
        deadline = time.monotonic() + 5
        while (_listening(port) or _running(started)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _listening(port), "something still listens on the port"
        assert not _running(started), f"left running: {_running(started)}"
        left = {p for p, (_, group, state) in _processes().items() if group in groups}
        assert not {p for p in left if _processes().get(p, (0, 0, "Z"))[2] != "Z"}
        assert "Traceback" not in log.read_text()
    finally:
        if nb2prod.poll() is None:
            os.killpg(nb2prod.pid, signal.SIGKILL)
        for pid in _running(started):
            os.kill(pid, signal.SIGKILL)

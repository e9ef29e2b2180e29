"""The generated project's `single_worker.py`: BentoML's worker without the arbiter.

The choice (`arbiter_needed`) is checked on its own; then a real BentoML service, written
here, is served both ways on a free loopback port: one process that answers, reports
ready only after `__init__` ran, and exits 0 on SIGTERM; or `bentoml serve` (an arbiter
with a worker child) when asked for.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from nb2prod.generate.runtime import single_worker
from tests.conftest import free_port

pytest.importorskip("bentoml")

SERVICE = """
import time

import bentoml


@bentoml.service(name="echo", traffic={"timeout": 10}, workers=1)
class Echo:
    def __init__(self) -> None:
        time.sleep(0.5)  # a model that takes a while to load: /readyz must wait for it
        self.loaded = True

    @bentoml.api
    def double(self, x: int) -> int:
        return 2 * x if self.loaded else -1
"""


def test_one_worker_is_served_without_the_arbiter() -> None:
    assert single_worker.arbiter_needed({"workers": 1}, False, []) is None
    assert single_worker.arbiter_needed({"workers": None, "resources": None}, False, []) is None


@pytest.mark.parametrize(
    ("config", "dependent", "extra", "reason"),
    [
        ({}, False, ["--api-workers", "2"], "arguments for bentoml serve: --api-workers 2"),
        ({"workers": 2}, False, [], "workers=2"),
        ({"workers": "cpu_count"}, False, [], "workers=cpu_count"),
        ({"resources": {"gpu": 1}}, False, [], "GPUs to allocate"),
        ({"ssl": {"enabled": True}}, False, [], "TLS"),
        ({}, True, [], "dependent services"),
    ],
)
def test_what_only_bentoml_serve_does(
    config: dict[str, object], dependent: bool, extra: list[str], reason: str
) -> None:
    assert single_worker.arbiter_needed(config, dependent, extra) == reason


def test_switched_off_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENTOML_SINGLE_WORKER", "0")
    assert single_worker.arbiter_needed({}, False, []) == "BENTOML_SINGLE_WORKER is off"


def test_usage_without_a_service(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        single_worker.main(["--port", "3000"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.startswith("usage: single_worker module:Service")


@contextmanager
def server(folder: Path, env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """single_worker serving folder/service.py on a free port, once /readyz answers 200."""
    port = free_port()
    env = {**os.environ, **env, "BENTOML_HOST": "127.0.0.1", "BENTOML_PORT": str(port)}
    env["BENTOML_HOME"] = str(folder / "bentoml")
    command = [sys.executable, "-m", single_worker.__name__, "service:Echo"]
    process = subprocess.Popen(
        command, cwd=folder, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[1]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        else:
            pytest.fail("not ready within 90 s")
        yield process, port
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def double(port: int, x: int) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/double",
        data=f'{{"x": {x}}}'.encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.read().decode()


def children(pid: int) -> list[int]:
    """The processes `pid` started (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
def test_serves_in_one_process_and_stops_cleanly(tmp_path: Path) -> None:
    (tmp_path / "service.py").write_text(SERVICE)
    with server(tmp_path, {}) as (process, port):
        assert double(port, 21) == "42"  # ready meant __init__ had run
        assert children(process.pid) == []  # the worker is this process: no arbiter
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert b"bentoml_service_request_total" in metrics.read()
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=20)
        assert process.returncode == 0, log
    assert 'Starting one BentoML worker for "service:Echo"' in log


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
def test_switched_off_runs_bentoml_serve(tmp_path: Path) -> None:
    (tmp_path / "service.py").write_text(SERVICE)
    with server(tmp_path, {"BENTOML_SINGLE_WORKER": "0"}) as (process, port):
        assert double(port, 4) == "8"
        assert len(children(process.pid)) >= 1  # an arbiter and its worker
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=30)
        assert process.returncode == 0, log
    assert "bentoml serve runs service:Echo: BENTOML_SINGLE_WORKER is off" in log

"""nb2prod's one killer: a child's whole tree goes, even what left its session."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nb2prod.run.child_process import kill_group, run_in_group
from nb2prod.run.processes import alive as tree_alive
from nb2prod.run.processes import members, stop_tree
from tests.unit.run.pids import alive, wait_until

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

ESCAPER = """
import subprocess, sys, time
sleeper = subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
)
print(sleeper.pid, flush=True)
time.sleep(120)
"""
"""A child that starts a grandchild in a session of its own, as jupyter_client starts a
kernel: killing the child's process group alone would leave the grandchild running."""


def wait_gone(pid: int) -> bool:
    wait_until(lambda: not alive(pid), timeout=5)
    return True


def test_kill_group_reaches_a_grandchild_in_its_own_session() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", ESCAPER], stdout=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    assert child.stdout is not None
    grandchild = int(child.stdout.readline())
    assert members(child.pid) == {child.pid, grandchild}
    assert os.getsid(grandchild) != os.getsid(child.pid)

    kill_group(child)

    assert child.returncode == -signal.SIGKILL
    assert wait_gone(grandchild)
    assert not tree_alive(child.pid)


def test_run_in_group_leaves_nothing_running_after_a_timeout() -> None:
    with pytest.raises(subprocess.TimeoutExpired) as timed_out:
        run_in_group([sys.executable, "-c", ESCAPER], env=dict(os.environ), timeout=3)
    printed = timed_out.value.output
    assert printed, "the child printed its grandchild's pid before the timeout"
    grandchild = int(printed.decode() if isinstance(printed, bytes) else printed)
    assert wait_gone(grandchild)


def test_stop_tree_asks_before_it_kills(tmp_path: Path) -> None:
    """A server gets SIGTERM first, so it can shut down cleanly (`bentoml serve` does)."""
    said = tmp_path / "stopped"
    code = (
        "import signal, sys, time\n"
        f"signal.signal(signal.SIGTERM, lambda *_: (open({str(said)!r}, 'w').write('bye'), "
        "sys.exit(0)))\n"
        "print('ready', flush=True)\n"
        "time.sleep(120)\n"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert server.stdout is not None and server.stdout.readline() == "ready\n"

    stop_tree(server.pid, grace=10)

    assert server.wait(timeout=5) == 0
    assert said.read_text() == "bye"


def test_stop_tree_kills_what_ignores_sigterm() -> None:
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(120)\n"
    )
    stubborn = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert stubborn.stdout is not None and stubborn.stdout.readline() == "ready\n"
    started = time.monotonic()

    stop_tree(stubborn.pid, grace=0.5)

    assert stubborn.wait(timeout=5) == -signal.SIGKILL
    assert time.monotonic() - started < 5

"""Whether processes are still there, for the tests of jobs and process trees."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from nb2prod.run.processes import members


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (dead, waiting to be reaped)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def gone(pid: int) -> bool:
    """The process and everything in its session or tree are gone."""
    return not alive(pid) and not members(pid)


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)

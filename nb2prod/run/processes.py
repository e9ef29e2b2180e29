"""Find and stop everything a child started, however it started it: nb2prod's one killer.

Every child nb2prod starts (the probe, verify's side, papermill, `bentoml serve`, a server
job) leads its own session. Notebook code may start processes that leave that group or
session (kernels, daemons, `start_new_session=True` children), so killing the group is not
enough: `members` walks the tree through `/proc` as well. A server job also makes itself a
*child subreaper* (Linux), so orphans of anything it started stay its descendants.
`kill_tree` stops the whole tree first (stopped processes cannot fork), then kills it;
`stop_tree` asks first (SIGTERM), for servers that shut down cleanly. Without `/proc`
(macOS) only the process group is signalled.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _processes() -> dict[int, tuple[int, int, int]] | None:
    """pid -> (parent pid, process group, session) of every process, None without /proc."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return None
    table = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":  # a zombie: already dead, its parent will reap it
            continue
        table[int(entry.name)] = (int(fields[1]), int(fields[2]), int(fields[3]))
    return table


def members(leader: int, *, include_leader: bool = True) -> set[int] | None:
    """The living processes of `leader`'s tree: its descendants and every process of
    its session or group; None when processes cannot be listed."""
    table = _processes()
    if table is None:
        return None
    found = {pid for pid, (_, group, session) in table.items() if leader in (group, session)}
    if leader in table:
        found.add(leader)
    frontier = set(found)
    while frontier:
        children = {pid for pid, (parent, _, _) in table.items() if parent in frontier}
        frontier = children - found
        found |= frontier
    if not include_leader:
        found.discard(leader)
    return found


def kill_tree(leader: int, *, include_leader: bool = True) -> None:
    """SIGKILL `leader` and everything it started (see the module's docstring)."""
    stopped: set[int] = set()
    for _ in range(100):
        found = members(leader, include_leader=include_leader)
        if found is None:
            break
        new = found - stopped
        if not new:
            break
        for pid in new:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGSTOP)
        stopped |= new
    for pid in stopped:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    if include_leader:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(leader, signal.SIGKILL)


def stop_tree(leader: int, grace: float = 5.0) -> None:
    """SIGTERM `leader`'s tree, then `kill_tree` whatever still runs after `grace` seconds;
    return once it is gone."""
    signal_tree(leader, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive(leader) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(leader):
        kill_tree(leader)


def alive(leader: int) -> bool:
    """Whether a process of `leader`'s tree still runs (zombies waiting to be reaped do not)."""
    found = members(leader)
    if found is not None:
        return bool(found)
    try:
        os.killpg(leader, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_tree(leader: int, number: int) -> None:
    """Send signal `number` once to every process of `leader`'s tree (twice, a SIGTERM can
    land in the handler of the first and kill a server mid-shutdown)."""
    found = members(leader)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if found is None:  # no /proc: the process group is what can be reached
            os.killpg(leader, number)
    for pid in found or ():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, number)

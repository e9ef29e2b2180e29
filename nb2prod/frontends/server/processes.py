"""Find and kill everything a job started, however it started it.

A job runs in its own session (its process is the session and group leader).
Notebook code may start processes that leave that group or session (kernels,
daemons, `start_new_session=True` children, nb2prod's own probe), so killing
the group is not enough. The job process makes itself a *child subreaper*
(Linux): orphans of anything it started are re-parented to it rather than to
init, so every process the job started stays a descendant of it while it
lives. `kill_tree` stops the whole tree first (stopped processes cannot fork),
then kills it. Without `/proc` (macOS) only the job's process group is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
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

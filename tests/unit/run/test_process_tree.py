"""server/processes.py: everything a job started is found and killed, however it started it.

Each test starts its own small process tree in a new session (never this test
process's), including a child that left for a session of its own, as kernels and
daemons do: killing the job's group alone would miss it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from nb2prod.run.processes import kill_tree, members
from tests.conftest import ROOT
from tests.unit.run.pids import alive, wait_until

TREE = """
import subprocess, sys, time
stays = subprocess.Popen(["sleep", "60"])
leaves = subprocess.Popen(["sleep", "60"], start_new_session=True)
print(stays.pid, leaves.pid, flush=True)
time.sleep(60)
"""


@pytest.fixture
def tree() -> Iterator[tuple[subprocess.Popen[str], int, int]]:
    """A leader in its own session, a child in it, and a child in a session of its own."""
    leader = subprocess.Popen(
        [sys.executable, "-c", TREE], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert leader.stdout is not None
    stays, leaves = map(int, leader.stdout.readline().split())
    yield leader, stays, leaves
    kill_tree(leader.pid)  # whatever a failed test left
    leader.wait(timeout=10)


def test_members_are_the_session_and_every_descendant(
    tree: tuple[subprocess.Popen[str], int, int],
) -> None:
    leader, stays, leaves = tree
    found = members(leader.pid)
    assert found is not None and {leader.pid, stays, leaves} <= found
    assert members(leader.pid, include_leader=False) == found - {leader.pid}


def test_kill_tree_kills_the_leader_and_what_left_its_session(
    tree: tuple[subprocess.Popen[str], int, int],
) -> None:
    leader, stays, leaves = tree
    kill_tree(leader.pid)
    assert leader.wait(timeout=10) == -9
    wait_until(lambda: not alive(stays) and not alive(leaves), timeout=10)
    assert members(leader.pid) == set()


def test_kill_tree_can_spare_the_leader(tree: tuple[subprocess.Popen[str], int, int]) -> None:
    """The worker kills what its task left running, then writes its outcome."""
    leader, stays, leaves = tree
    kill_tree(leader.pid, include_leader=False)
    wait_until(lambda: not alive(stays) and not alive(leaves), timeout=10)
    assert alive(leader.pid) and leader.poll() is None


def test_a_process_that_is_gone_has_no_members() -> None:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    assert members(finished.pid) == set()
    kill_tree(finished.pid)  # nothing left to kill: no error


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux only")
def test_a_worker_can_become_the_reaper_of_its_orphans() -> None:
    """Checked in a child: this test process must not change how its own orphans end."""
    code = "from nb2prod.run.processes import become_subreaper\nprint(become_subreaper())"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "True"

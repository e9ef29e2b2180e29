"""write.py with more than one writer: they take turns, and a killed one leaves no litter.

The CLI and a JupyterLab Export can write the same project at once; a writer killed with
SIGKILL (a job past its timeout) cannot clean up after itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nb2prod.generate.write import STAGING, write_project

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")

HOLD_THE_LOCK = """
import os, signal, sys, time
from pathlib import Path
from nb2prod.generate.write import _writers_take_turns
folder, said, how = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
with _writers_take_turns(folder):
    (said / "held").write_text("")
    if how == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(1.5)
    (said / "released").write_text("")
"""


def hold_lock(folder: Path, said: Path, how: str) -> subprocess.Popen[bytes]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK, str(folder), str(said), how],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    deadline = time.monotonic() + 30
    while not (said / "held").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (said / "held").exists()
    return holder


def write(output: Path, text: str = "a") -> None:
    notebook = output.parent / "nb.ipynb"
    write_project(output, {"a.txt": text.encode()}, {"project": "p"}, notebook=notebook)


def test_a_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    said = tmp_path / "said"
    said.mkdir()
    holder = hold_lock(tmp_path, said, "sleep")

    write(tmp_path / "project")

    assert (said / "released").exists(), "the write finished while another writer held the lock"
    assert holder.wait(timeout=30) == 0
    assert (tmp_path / "project" / "a.txt").read_text() == "a"


def test_a_killed_writer_does_not_block_the_next(tmp_path: Path) -> None:
    said = tmp_path / "said"
    said.mkdir()
    holder = hold_lock(tmp_path, said, "die")
    assert holder.wait(timeout=30) == -signal.SIGKILL

    done = threading.Thread(target=write, args=(tmp_path / "project",), daemon=True)
    done.start()
    done.join(timeout=30)

    assert not done.is_alive(), "the lock of a dead writer was still held"
    assert (tmp_path / "project" / "a.txt").read_text() == "a"


def test_staging_a_killed_writer_left_is_removed(tmp_path: Path) -> None:
    output = tmp_path / "project"
    write(output)
    inside = output / f"{STAGING}k1ll3d00"
    (inside / "src").mkdir(parents=True)
    (inside / "src" / "half.py").write_text("half")
    beside = tmp_path / f".project{STAGING}k1ll3d00"
    beside.mkdir()
    mine = [tmp_path / ".project.swp", output / "notes", tmp_path / f".other{STAGING}k1ll3d00"]
    for folder in mine:
        folder.mkdir()

    write(output, "b")

    assert not inside.exists() and not beside.exists()
    assert all(folder.is_dir() for folder in mine), "only nb2prod's own staging goes"
    assert (output / "a.txt").read_text() == "b"


def test_a_first_write_leaves_only_the_project(tmp_path: Path) -> None:
    write(tmp_path / "project")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]

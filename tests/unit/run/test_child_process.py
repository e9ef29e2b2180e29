"""child_process.py: generated code runs in a child of this interpreter, src/ first.

The child must import the project's `src/` before any other copy, and a timeout
must kill what it started.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nb2prod.child_process import child_command, child_env, run_child


def test_child_env_puts_src_first_and_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative `src` would resolve elsewhere in the child's folder."""
    monkeypatch.chdir(tmp_path)
    env = child_env(Path("src"), EXTRA="1")
    first = env["PYTHONPATH"].split(os.pathsep)[0]
    assert first == str(tmp_path / "src")
    assert env["EXTRA"] == "1"


def test_child_command_runs_a_modules_main_with_this_interpreter() -> None:
    """The same Python, so the notebook's packages are there."""
    command = child_command("nb2prod.probe", "a", "b")
    assert command == [sys.executable, "-c", "from nb2prod.probe import main; main()", "a", "b"]


def test_run_child_returns_output_and_status(tmp_path: Path) -> None:
    """stdout, stderr and the exit code come back as text."""
    command = [sys.executable, "-c", "import sys; print('out'); sys.exit(3)"]
    done = run_child(command, env=child_env(tmp_path), timeout=30)
    assert (done.returncode, done.stdout) == (3, "out\n")


def test_run_child_times_out(tmp_path: Path) -> None:
    """A child that runs too long is killed and the timeout raised."""
    command = [sys.executable, "-c", "import time; time.sleep(30)"]
    with pytest.raises(subprocess.TimeoutExpired):
        run_child(command, env=child_env(tmp_path), timeout=0.5)

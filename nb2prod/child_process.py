"""Run a generated project's code in a child interpreter of this one.

Generated code imports the notebook's packages and may crash or leave state
behind, so nb2prod runs it in a child process: this interpreter (where those
packages are installed), the project's `src/` first on the path, and nb2prod
itself still importable for the entry points that drive it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path


def child_env(src: Path, **extra: str) -> dict[str, str]:
    """This process's environment with `src` (then this interpreter's path) importable.

    `src` is made absolute: the child may run in another folder, and a relative entry
    that finds nothing there would let an editable install of another copy answer.
    """
    paths = [str(Path(src).resolve()), *(str(Path(p).resolve()) if p else p for p in sys.path)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), **extra}


def child_command(module: str, *arguments: str) -> list[str]:
    """Run `module.main()` (an nb2prod module) in a child interpreter with `arguments`."""
    return [sys.executable, "-c", f"from {module} import main; main()", *arguments]


def run_child(
    command: list[str], *, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run `command` in its own process group and wait; on timeout or Ctrl-C the whole
    group is killed (notebook code may start processes of its own: joblib workers, a
    kernel) before `subprocess.TimeoutExpired` or `KeyboardInterrupt` goes on."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:
        kill_group(process)
        raise
    kill_group(process)  # what the child left running
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL the process group `process` leads, then reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.communicate(timeout=5)

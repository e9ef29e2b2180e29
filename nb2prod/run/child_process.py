"""Run a generated project's code in a child interpreter of this one.

Generated code imports the notebook's packages and may crash or leave state
behind, so nb2prod runs it in a child process: this interpreter (where those
packages are installed), the project's `src/` first on the path, and nb2prod
itself still importable for the entry points that drive it.

Probe and verify talk to their children the same way (`protocol.py`): a
spec file in, a typed result file out, the failing step from a marker line.
Their lifecycles differ, so there are two starts: `run_child` runs a child to
the end and returns its result (the probe); `start_child` only starts it, in the
background, for a caller that feeds it stdin and waits later (verify's child
trains while papermill runs the notebook, then gets the notebook's rows).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

from nb2prod.protocol import ChildFailure, Message, read_failure, read_result, write_spec
from nb2prod.run.processes import kill_tree

M = TypeVar("M")


def child_env(src: Path, **extra: str) -> dict[str, str]:
    """This process's environment with `src` (then this interpreter's path) importable.

    `src` is made absolute: the child may run in another folder, and a relative entry
    that finds nothing there would let an editable install of another copy answer.
    """
    paths = [str(Path(src).resolve()), *(str(Path(p).resolve()) if p else p for p in sys.path)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), **extra}


SRC_BEFORE_CWD = "import sys\nif sys.path[0] == '':\n    sys.path.insert(1, sys.path.pop(0))\n"
"""`python -c` puts the working folder (the notebook's) first on the path; this moves it
just behind the generated `src/` (first on PYTHONPATH, see `child_env`), so a
`<package>.py` beside the notebook cannot shadow the generated package, while the
notebook's own local modules stay importable."""


def child_command(module: str, *arguments: str) -> list[str]:
    """Run `module.main()` (an nb2prod module) in a child interpreter with `arguments`."""
    code = f"{SRC_BEFORE_CWD}from {module} import main\nmain()\n"
    return [sys.executable, "-c", code, *arguments]


class ChildFailed(Exception):
    """The child exited with an error or wrote no result; `failure` is what it said."""

    def __init__(self, failure: ChildFailure) -> None:
        super().__init__(failure.lines[-1] if failure.lines else "no output")
        self.failure = failure


def run_child(
    module: str,
    spec: Message,
    parse: Callable[[Any], M],
    folder: Path,
    *,
    env: dict[str, str],
    timeout: float,
) -> M:
    """Run `module.main()` on `spec` (written into `folder`) to the end, in its own process
    group; its result checked by `parse`, else `ChildFailed` (or `TimeoutExpired`)."""
    command = child_command(module, *write_spec(folder, spec))
    completed = run_in_group(command, env=env, timeout=timeout)
    result = read_result(folder, parse) if completed.returncode == 0 else None
    if result is None:
        raise ChildFailed(read_failure(completed.stderr))
    return result


def start_child(
    module: str, spec: Message, folder: Path, *, env: dict[str, str], cwd: Path, log: IO[bytes]
) -> subprocess.Popen[bytes]:
    """Start `module.main()` on `spec` (written into `folder`) in the background, its output
    in `log` and its stdin open; the caller waits, then reads the result with
    `protocol.read_result` or the failure from `log` with `protocol.read_failure`."""
    command = child_command(module, *write_spec(folder, spec))
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=log,
        stderr=log,
        start_new_session=True,  # so that `kill_group` reaches all it starts
    )


def run_in_group(
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


def kill_group(process: subprocess.Popen[Any]) -> None:
    """SIGKILL everything `process` started (its group, its session, its descendants: a
    kernel papermill started in a session of its own too), then reap it."""
    kill_tree(process.pid)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.communicate(timeout=5)

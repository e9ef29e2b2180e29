"""child_process.py: generated code runs in a child of this interpreter, src/ first.

The child must import the project's `src/` before any other copy (and this very
nb2prod, not another install), and a timeout must kill what it started.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import nb2prod
from nb2prod.protocol import RowsRequest
from nb2prod.run.child_process import ChildFailed, child_command, child_env, run_child, run_in_group


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
    command = child_command("nb2prod.run.probe", "a", "b")
    assert command[0] == sys.executable and command[-2:] == ["a", "b"]
    assert command[2].endswith("from nb2prod.run.probe import main\nmain()\n")


def test_the_generated_package_wins_over_a_module_of_its_name_beside_the_notebook(
    tmp_path: Path,
) -> None:
    """The child runs in the notebook's folder; a `demo.py` there must not stand in for the
    generated package `demo` (the probe would run the user's file), yet the notebook's
    own local modules stay importable."""
    notebook_dir, src = tmp_path / "notebook", tmp_path / "src"
    (src / "demo").mkdir(parents=True)
    (src / "demo" / "__init__.py").write_text("WHO = 'generated'\n")
    notebook_dir.mkdir()
    (notebook_dir / "demo.py").write_text("WHO = 'the user file'\n")
    (notebook_dir / "helpers.py").write_text("LOCAL = True\n")
    code = child_command("json", "x")[2].replace(
        "from json import main\nmain()", "import demo, helpers; print(demo.WHO, helpers.LOCAL)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=notebook_dir, env=child_env(src),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (0, "generated True\n"), done.stderr


def test_run_in_group_returns_output_and_status(tmp_path: Path) -> None:
    """stdout, stderr and the exit code come back as text."""
    command = [sys.executable, "-c", "import sys; print('out'); sys.exit(3)"]
    done = run_in_group(command, env=child_env(tmp_path), timeout=30)
    assert (done.returncode, done.stdout) == (3, "out\n")


def test_run_in_group_times_out(tmp_path: Path) -> None:
    """A child that runs too long is killed and the timeout raised."""
    command = [sys.executable, "-c", "import time; time.sleep(30)"]
    with pytest.raises(subprocess.TimeoutExpired):
        run_in_group(command, env=child_env(tmp_path), timeout=0.5)


CHILD = """
import nb2prod
from nb2prod.protocol import RowsRequest, mark_step, read_spec, write_result


def main():
    spec = read_spec(RowsRequest.from_json)
    mark_step("answering")
    if spec.input_path == "fail":
        raise RuntimeError("asked to fail")
    write_result(RowsRequest(nb2prod.__file__), default=str)
"""


def test_run_child_hands_a_spec_and_reads_a_typed_result(tmp_path: Path) -> None:
    """Spec in, typed result out; the child imports this nb2prod (PYTHONPATH reaches it)."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "echo_child.py").write_text(CHILD)
    env = child_env(tmp_path / "src")
    result = run_child(
        "echo_child", RowsRequest("x"), RowsRequest.from_json, tmp_path, env=env, timeout=60
    )
    assert result == RowsRequest(nb2prod.__file__)


def test_run_child_raises_the_step_and_the_error(tmp_path: Path) -> None:
    """A failing child: the last step it marked, its output without the marker."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "echo_child.py").write_text(CHILD)
    env = child_env(tmp_path / "src")
    with pytest.raises(ChildFailed) as failed:
        run_child(
            "echo_child", RowsRequest("fail"), RowsRequest.from_json, tmp_path, env=env, timeout=60
        )
    assert failed.value.failure.step == "answering"
    assert failed.value.failure.lines[-1] == "RuntimeError: asked to fail"

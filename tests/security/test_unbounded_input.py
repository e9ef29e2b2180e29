"""Input without bounds is refused before it is read: devices, huge files, literals
Python cannot print. Each is exit 2 with the reason, never a crash or a killed process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import make_notebook, run_cli


def _user_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert fragment in output, output
    assert "Traceback" not in output and "bug in nb2prod" not in output, output


def test_a_device_is_refused_before_reading() -> None:
    _user_error(run_cli("check", "/dev/zero", timeout=30), "not a regular file")


def test_a_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.ipynb"
    with big.open("wb") as handle:  # sparse: costs no disk
        handle.truncate(101 * 2**20)
    _user_error(run_cli("check", str(big), timeout=30), "up to 100 MiB")


def test_a_5000_digit_parameter_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    notebook = make_notebook(
        tmp_path / "hex.ipynb",
        [
            ("n = 0x" + "f" * 5000, ["parameters"]),
            ("print(n % 7)", ["nb2prod:load"]),
        ],
    )
    checked = run_cli("check", str(notebook), timeout=60)  # check: exit 1, problems listed
    assert checked.returncode == 1 and "Traceback" not in checked.stderr, checked.stderr
    assert "too large for a command-line flag" in checked.stdout + checked.stderr
    converted = run_cli("convert", str(notebook), "-o", str(tmp_path / "out"), timeout=60)
    _user_error(converted, "too large for a command-line flag")
    assert not (tmp_path / "out").exists()


def test_deeply_nested_json_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / "deep.ipynb"
    deep.write_text('{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}")
    _user_error(run_cli("check", str(deep), timeout=60), "")


def test_check_reads_a_v4_notebook_without_importing_nbformat() -> None:
    """`import nbformat` costs seconds where Jupyter Server is installed: check must not
    pay it (the panel and pre-commit call check on every save)."""
    code = (
        "import sys\n"
        "from nb2prod.commands.check import check_report\n"
        "check_report(__import__('pathlib').Path('examples/wine_classifier.ipynb'))\n"
        "print(sorted(m for m in ('nbformat', 'jsonschema') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr

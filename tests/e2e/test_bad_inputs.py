"""Bad input never produces a traceback, a half-written project or a silent success.

For every case below, `nb2prod convert NB -o OUT` must:

* exit with code 2;
* name the notebook file on stderr;
* for a cell-level problem, say `cell N` (0-based index in the notebook's cells,
  markdown cells included) and quote that cell's first line (stripped);
* print a line starting with `fix:` (after optional whitespace) on stderr;
* never print `Traceback`;
* leave nothing behind: OUT does not exist afterwards (or, if it was an existing
  file, is untouched), the input is unchanged, and no other entry appears in the
  test's temporary folder. TMPDIR points at that folder too, so temporary folders
  that the tool forgets to clean up are caught.

`nb2prod check NB` must exit 2 for unreadable input and 1 for a notebook that reads
fine but has blocking problems, with the same file name, cell reference, first line,
`fix:` line and keywords in its output (stdout and stderr together).

Keywords are matched case-insensitively against the message with every path to the
test files removed, so a fixture's file name cannot satisfy them. `"a|b"` accepts
either alternative; `"a...b"` means a, then b later on the same line (so
"did you mean...train" matches ``did you mean `train`?`` but not a list of all roles).

The fixtures in tests/bad_inputs/ are committed; tests/bad_inputs/make_fixtures.py
regenerates them (each is the same small churn-model notebook with exactly one
defect, and `churn_model_valid.ipynb` is the defect-free base).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Literal, NamedTuple

import pytest


class Case(NamedTuple):
    fixture: str  # file in tests/bad_inputs/, or the name the test gives what it creates
    keywords: tuple[str, ...]  # each must appear; "a|b" either, "a...b" same line
    cell: int | None  # 0-based index of the offending cell; None = whole-notebook problem
    check_rc: int | None  # exit code of `nb2prod check`; None = case does not apply to check
    setup: Literal["copy", "directory", "output_is_file"] = "copy"


CASES: list[Case] = [
    # --- unreadable or empty input: convert 2, check 2 -----------------------------------
    Case("invalid_json_truncated.ipynb", ("json",), None, 2),
    Case("not_a_notebook_cells_is_string.ipynb", ("notebook|nbformat",), None, 2),
    Case("not_a_notebook_json_list.ipynb", ("notebook|nbformat",), None, 2),
    Case("empty_file.ipynb", ("empty",), None, 2),
    Case("binary_garbage.ipynb", (), None, 2),
    Case("r_kernel.ipynb", ("python",), None, 2),
    Case("looks_like.ipynb", ("directory",), None, 2, setup="directory"),
    Case("empty_notebook_no_cells.ipynb", ("empty|no cells",), None, 2),
    # --- readable, but blocking problems: convert 2, check 1 -----------------------------
    Case("no_roles.ipynb", ("role",), None, 1),
    Case("unknown_role_tag_trian.ipynb", ("did you mean...train",), 6, 1),
    Case("unknown_directive_evalute.ipynb", ("did you mean...evaluate",), 7, 1),
    Case("unknown_role_in_skip_only_notebook.ipynb", ("did you mean...train",), 2, 1),
    Case("syntax_error_in_preprocess.ipynb", ("syntax",), 4, 1),
    Case("bash_cell_in_load.ipynb", ("bash",), 3, 1),
    Case("run_magic_in_load.ipynb", ("%run",), 3, 1),
    Case("shell_capture_in_load.ipynb", ("!ls|shell|system",), 2, 1),
    Case("use_before_def.ipynb", ("label_col",), 4, 1),
    Case("defined_only_in_skip.ipynb", ("numeric_cols", "skip"), 5, 1),
    Case("star_import_in_evaluate.ipynb", ("import *",), 7, 1),
    Case("nbformat_v3_star_import.ipynb", ("import *",), 6, 1),
    # --- a good notebook, but -o names an existing file: convert 2 -----------------------
    Case("churn_model_valid.ipynb", ("exists|not a directory",), None, None, "output_is_file"),
]

FIXTURES = Path(__file__).resolve().parents[1] / "bad_inputs"
REPO = FIXTURES.parent.parent
VALID_BASE = "churn_model_valid.ipynb"
OUTPUT_FILE_CONTENT = b"an existing file that nb2prod must not touch\n"
TIMEOUT = 60
CHECK_CASES = [case for case in CASES if case.check_rc is not None]


def _id(case: Case) -> str:
    name = case.fixture.removesuffix(".ipynb")
    return f"{name}-output_is_a_file" if case.setup == "output_is_file" else name


# --- helpers --------------------------------------------------------------------------------


def run_nb2prod(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("FORCE_COLOR", None)
    env["NO_COLOR"] = "1"
    env["TMPDIR"] = str(tmp_path)  # leftover temporary folders land where we look
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "nb2prod", *args],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def prepare(case: Case, tmp_path: Path) -> Path:
    """Put the case's input into tmp_path and return its path there."""
    nb = tmp_path / case.fixture
    if case.setup == "directory":
        nb.mkdir()
    else:
        shutil.copyfile(FIXTURES / case.fixture, nb)
    if case.setup == "output_is_file":
        (tmp_path / "out").write_bytes(OUTPUT_FILE_CONTENT)
    return nb


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every entry under root: files with their bytes, folders as None."""
    return {
        str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
    }


def first_line_of_cell(fixture: Path, index: int) -> str:
    """The stripped first line of cell `index`, read straight from the fixture's JSON."""
    data = json.loads(fixture.read_text(encoding="utf-8"))
    if data.get("nbformat") == 3:
        cell = data["worksheets"][0]["cells"][index]
        source = cell.get("input", cell.get("source", ""))
    else:
        source = data["cells"][index]["source"]
    text = "".join(source) if isinstance(source, list) else source
    line = text.splitlines()[0].strip() if text else ""
    assert line, f"fixture {fixture.name}: cell {index} must start with a non-empty line"
    return line


def without_paths(text: str, nb: Path, tmp_path: Path) -> str:
    """The message with every spelling of the test's paths removed."""
    spellings = {
        str(tmp_path.resolve()),
        str(tmp_path),
        tmp_path.name,
        nb.name,
        nb.stem,
        str(FIXTURES),
    }
    for spelling in sorted(spellings, key=len, reverse=True):
        text = text.replace(spelling, "<path>")
    return text


def mentions(message: str, keyword: str) -> bool:
    """Case-insensitive: any `|` alternative, `...` = anything on the same line."""
    return any(
        re.search(r"[^\n]*".join(map(re.escape, option.split("..."))), message, re.IGNORECASE)
        for option in keyword.split("|")
    )


def describe(proc: subprocess.CompletedProcess[str]) -> str:
    return (
        f"exit code {proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    )


def assert_reports(case: Case, text: str, nb: Path, tmp_path: Path, where: str) -> None:
    """The message names the file, the cell, the fix and the expected keywords."""
    assert "Traceback" not in text, f"{where} shows a traceback"
    assert nb.name in text, f"{where} does not name the notebook file {nb.name!r}"
    assert re.search(r"^\s*fix:", text, re.MULTILINE), f"{where} has no line starting with fix:"
    if case.cell is not None:
        assert re.search(rf"\bcell {case.cell}\b", text, re.IGNORECASE), (
            f"{where} does not say `cell {case.cell}`"
        )
        line = first_line_of_cell(FIXTURES / case.fixture, case.cell)
        assert line in text, f"{where} does not quote the cell's first line {line!r}"
    message = without_paths(text, nb, tmp_path)
    for keyword in case.keywords:
        assert mentions(message, keyword), f"{where} lacks the keyword {keyword!r}"


# --- the suite itself -----------------------------------------------------------------------


def test_suite_has_at_least_15_cases() -> None:
    assert len(CASES) >= 15
    assert len({case.fixture for case in CASES}) == len(CASES), "fixtures must be unique"


def test_every_fixture_file_is_in_the_table() -> None:
    on_disk = {p.name for p in FIXTURES.glob("*.ipynb")}
    in_table = {case.fixture for case in CASES if case.setup != "directory"}
    assert in_table <= on_disk, f"missing fixtures: {sorted(in_table - on_disk)}"
    assert on_disk <= in_table, f"fixtures without a case: {sorted(on_disk - in_table)}"


# --- convert --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_convert_rejects_bad_input(case: Case, tmp_path: Path) -> None:
    nb = prepare(case, tmp_path)
    out = tmp_path / "out"
    before = snapshot(tmp_path)

    proc = run_nb2prod(["convert", str(nb), "-o", str(out)], tmp_path)

    assert proc.returncode == 2, describe(proc)
    assert "Traceback" not in proc.stdout, describe(proc)
    assert_reports(case, proc.stderr, nb, tmp_path, "stderr of convert")
    if case.setup == "output_is_file":
        assert out.is_file() and out.read_bytes() == OUTPUT_FILE_CONTENT, "-o file was changed"
    else:
        assert not out.exists(), "the output folder was left behind"
    assert snapshot(tmp_path) == before, (
        "convert changed the temporary folder (leftover files or folders, or a changed input)"
    )


# --- check ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CHECK_CASES, ids=_id)
def test_check_reports_bad_input(case: Case, tmp_path: Path) -> None:
    nb = prepare(case, tmp_path)
    before = snapshot(tmp_path)

    proc = run_nb2prod(["check", str(nb)], tmp_path)

    assert proc.returncode == case.check_rc, describe(proc)
    assert_reports(case, proc.stdout + proc.stderr, nb, tmp_path, "output of check")
    assert snapshot(tmp_path) == before, "check wrote to the temporary folder"


def test_check_accepts_the_defect_free_base(tmp_path: Path) -> None:
    """Control: the notebook every fixture is built from passes check, so each
    fixture fails because of its one defect and nothing else."""
    nb = tmp_path / VALID_BASE
    shutil.copyfile(FIXTURES / VALID_BASE, nb)

    proc = run_nb2prod(["check", str(nb)], tmp_path)

    assert proc.returncode == 0, describe(proc)
    assert "Traceback" not in proc.stdout + proc.stderr, describe(proc)

"""Magics and shell lines: dropped, turned into requirements, or refused with the cell named."""

from __future__ import annotations

import pytest

from nb2prod.read.magics import clean_cell
from nb2prod.read.notebook import Cell


def _clean(source: str):
    return clean_cell(Cell(index=4, kind="code", source=source, tags=(), execution_count=None))


def test_display_magics_are_dropped_and_lines_kept() -> None:
    result = _clean("%matplotlib inline\n%load_ext autoreload\n%autoreload 2\nx = 1\n")
    assert "get_ipython" not in result.source
    assert result.source.splitlines()[3] == "x = 1"
    assert not result.problems


def test_pip_lines_become_requirements() -> None:
    result = _clean("!pip install -q scikit-learn==1.5.0 pandas\n%pip install --upgrade numpy\n")
    assert result.requirements == ["scikit-learn==1.5.0", "pandas", "numpy"]
    assert result.source.strip() == ""


def test_time_keeps_the_statement_and_cell_time_keeps_the_body() -> None:
    assert _clean("%time y = f(2)\n").source.strip() == "y = f(2)"
    result = _clean("%%time\nmodel.fit(X, y)\nscore = 1\n")
    assert result.source.strip().splitlines() == ["model.fit(X, y)", "score = 1"]
    assert result.line_offset == 1


@pytest.mark.parametrize(
    ("source", "code", "line"),
    [
        ("%%bash\nls\n", "cell-magic", 1),
        ("x = 1\n%run other.ipynb\n", "line-magic", 2),
        ("files = !ls\n", "magic-output-used", 1),
        ("x = 1\n%cd /tmp\n", "line-magic", 2),
    ],
)
def test_magics_that_change_behaviour_are_errors_naming_the_line(
    source: str, code: str, line: int
) -> None:
    problems = _clean(source).problems
    assert [p.code for p in problems] == [code]
    assert problems[0].cell is not None
    assert (problems[0].cell.index, problems[0].cell.line) == (4, line)
    assert problems[0].fix


def test_plain_shell_command_is_a_warning() -> None:
    result = _clean("!ls -l\nx = 1\n")
    assert [p.severity.value for p in result.problems] == ["warning"]
    assert "get_ipython" not in result.source


def test_magic_in_a_nested_block_keeps_the_block_valid() -> None:
    result = _clean("if True:\n    %matplotlib inline\n")
    assert result.tree is not None
    assert "pass" in result.source


@pytest.mark.parametrize(
    ("source", "statement"),
    [
        ("%prun -s cumulative sum(range(10))\n", "sum(range(10))"),
        ("%prun -q -l 5 -T out.txt f(1)\n", "f(1)"),
        ("%timeit -r 1 -n 1 1 + 1\n", "1 + 1"),
        ("%timeit -n1 -r1 x = 1\n", "x = 1"),
        ("%timeit -qo -- -1\n", "-1"),
        ("%time -1\n", "-1"),
        ("%time --no-raise-error f(1)\n", "f(1)"),
    ],
)
def test_timing_magic_options_are_read_like_ipython(source: str, statement: str) -> None:
    """Fuzz findings prun-option-value and timeit-statement-found-in-options: an option's
    value (`-s cumulative`) and a statement equal to an option value (`-n 1 1 + 1`)."""
    result = _clean(source)
    assert result.source.strip() == statement
    assert all(p.severity.value == "warning" for p in result.problems)


def test_time_of_a_shell_line_is_that_shell_line() -> None:
    """Fuzz finding time-of-a-magic: `%time !ls` is cleaned like `!ls`."""
    result = _clean("%time !ls\nx = 1\n")
    assert result.source.splitlines() == ["", "x = 1"]
    assert [p.code for p in result.problems] == ["magic-dropped"]
    assert _clean("%time %pip install pandas\n").requirements == ["pandas"]


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("%timeit -x 1 + 1\n", "line-magic"),
        ("%prun -s\n", "line-magic"),
        ("%time files = !ls\n", "magic-output-used"),
        ("%time x = (\n", "syntax-error"),
    ],
)
def test_bad_timing_magic_is_a_problem_naming_the_line(source: str, code: str) -> None:
    result = _clean(source)
    errors = [p for p in result.problems if p.severity.value == "error"]
    assert [p.code for p in errors] == [code]
    assert errors[0].cell is not None and errors[0].cell.line == 1
    assert "get_ipython" not in result.source

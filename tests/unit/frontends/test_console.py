"""The terminal's view of problems and reports: one format for the CLI and the exporter."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from nb2prod.errors import CellRef, Problem, Severity
from nb2prod.frontends.console import Style, print_problem, print_report, problem_from_json


def test_a_problem_names_the_notebook_the_cell_and_the_fix() -> None:
    problem = Problem("secret", "`token` holds a secret", "read it from the environment",
                      Severity.ERROR, CellRef(3, "token = 'abc'", line=1))  # fmt: skip
    out = io.StringIO()
    print_problem(problem, Style(False), out, notebook=Path("nb.ipynb"))
    first, fix = out.getvalue().splitlines()
    assert first.startswith("nb2prod: error: nb.ipynb: cell 3")
    assert first.endswith("`token` holds a secret")
    assert fix == "  fix: read it from the environment"


def test_a_problem_survives_the_json_the_panel_receives() -> None:
    problem = Problem("x", "message", "fix", Severity.WARNING, CellRef(1, "a = 1", line=2))
    assert problem_from_json(problem.to_json()) == problem


def test_colours_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Style.for_stream(io.StringIO()).red("x") == "x"  # a pipe: plain
    assert Style(True).red("x") == "\033[31mx\033[0m"


def test_the_check_report_marks_inherited_roles_and_counts_blocking_problems() -> None:
    report = {
        "notebook": "nb.ipynb",
        "cells": [
            {"index": 0, "role": "load", "declared": True, "first_line": "df = load()",
             "inputs": [], "outputs": ["df"], "suggested_role": None},
            {"index": 1, "role": "load", "declared": False, "first_line": "df.head()",
             "inputs": ["df"], "outputs": [], "suggested_role": None},
        ],
        "problems": [{"code": "c", "message": "m", "fix": "f", "severity": "error", "cell": None}],
        "convertible": False,
    }  # fmt: skip
    out = io.StringIO()
    print_report(report, Style(False), out)
    text = out.getvalue()
    assert "   1  (load)" in text and "- -> df" in text
    assert text.rstrip().endswith("1 problem(s) block conversion; 0 warning(s)")

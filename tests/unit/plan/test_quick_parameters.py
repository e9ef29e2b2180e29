"""`# nb2prod: quick NAME=VALUE ...`: the faster parameter set for smoke tests, CI and verify."""

from __future__ import annotations

from pathlib import Path

import pytest

from nb2prod.plan.build import Plan, build_plan
from nb2prod.read.notebook import load_notebook
from tests.conftest import make_notebook

PARAMETERS = (
    "n_rows = 1000  # rows to load\nepochs = 20  # passes over the data\nrate = 0.1\nlabel = 'y'\n"
)


def _plan(tmp_path: Path, quick_line: str) -> Plan:
    notebook = make_notebook(
        tmp_path / "nb.ipynb",
        [
            (quick_line + "\n" + PARAMETERS, ["parameters"]),
            ("data = list(range(n_rows))", ["nb2prod:load"]),
            ("score = float(sum(data)) * rate * epochs + len(label)", ["nb2prod:evaluate"]),
        ],
    )
    return build_plan(load_notebook(notebook))


def test_the_quick_line_gives_typed_overrides(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "# nb2prod: quick n_rows=50, epochs=2 rate=1 label='x y'")
    assert plan.quick == {"n_rows": 50, "epochs": 2, "rate": 1, "label": "x y"}
    assert not plan.problems
    # the directive is not taken for the help text of the parameter below it
    assert plan.parameters[0].help == "rows to load"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("# nb2prod: quick n_row=50", "`n_row` is not a parameter"),
        ("# nb2prod: quick epochs='2'", "is not a int"),  # 2.5 is fine: papermill injects it
        ("# nb2prod: quick epochs=", "not a list of NAME=VALUE"),
        ("# nb2prod: quick", "not a list of NAME=VALUE"),
    ],
)
def test_a_bad_quick_line_is_an_error_on_its_cell_and_line(
    tmp_path: Path, line: str, message: str
) -> None:
    plan = _plan(tmp_path, line)
    problem = next(p for p in plan.blocking if p.code == "bad-quick-parameters")
    assert message in problem.message
    assert problem.cell is not None and problem.cell.index == 0 and problem.cell.line == 1
    assert problem.fix


def test_no_quick_line_means_the_defaults(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "# plain comment")
    assert plan.quick == {} and not plan.problems

"""check.py: the per-cell report behind `nb2prod check` and the JupyterLab panel.

Both front ends show this report as it is, so its fields are what a user reads: each
cell's role (declared or inherited), the names it takes and gives, its problems, a
suggested role for untagged cells, and the notebook's parameters, metrics and functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nb2prod.commands.check import _likely_metrics, check_report
from nb2prod.errors import UserError
from tests.unit.notebooks import REGRESSION, Cells, write_notebook


def report(tmp_path: Path, cells: Cells) -> dict[str, Any]:
    return check_report(write_notebook(tmp_path / "nb.ipynb", cells))


@pytest.fixture
def regression(tmp_path: Path) -> dict[str, Any]:
    """REGRESSION with an untagged cell in the load section, an empty cell, and a second
    evaluate cell binding a metric and a string."""
    cells: Cells = [
        *REGRESSION[:2],
        "Xs = X * 2",
        "",
        *REGRESSION[2:4],
        ("mse = 0.5\nnote = 'x'", ["nb2prod:evaluate"]),
        REGRESSION[4],
    ]
    return report(tmp_path, cells)


def cell(found: dict[str, Any], index: int) -> dict[str, Any]:
    return next(c for c in found["cells"] if c["index"] == index)


def test_the_notebook_level_facts(regression: dict[str, Any], tmp_path: Path) -> None:
    assert regression["notebook"] == str(tmp_path / "nb.ipynb")
    assert (regression["convertible"], regression["project"], regression["model"]) == (
        True,
        "nb",
        "model",
    )
    assert [(p["name"], p["type"], p["default"]) for p in regression["parameters"]] == [
        ("n", "int", 3),
        ("rate", "float", 0.5),
        ("flag", "bool", True),
        ("name", "str", "x"),
        ("sizes", "list[int]", [1, 2]),
        ("label", "str | None", None),
    ]
    assert regression["quick_parameters"] == {}
    assert [(f["name"], f["role"], f["cells"]) for f in regression["functions"]] == [
        ("load_data", "load", [1, 2]),
        ("train_model", "train", [4]),
        ("evaluate", "evaluate", [5, 6]),
        ("select_rows", "select", [7]),
        ("predict", "predict", [7]),
    ]


def test_before_a_run_the_metrics_are_the_names_that_read_like_metrics(
    regression: dict[str, Any],
) -> None:
    """`note` is bound in evaluate too, but only a run can show it holds no number."""
    assert regression["metric_candidates"] == ["score", "mse", "note"]
    assert regression["metrics"] == ["score", "mse"]
    assert _likely_metrics(("note", "thing")) == ["note", "thing"]  # no name reads like one


def test_each_code_cell_has_its_role_function_and_flow(regression: dict[str, Any]) -> None:
    assert [c["index"] for c in regression["cells"]] == [0, 1, 2, 4, 5, 6, 7]  # no empty cell
    load = cell(regression, 1)
    assert (load["role"], load["declared"], load["function"]) == ("load", True, "load_data")
    assert (load["inputs"], load["outputs"]) == (["rate"], ["X", "y"])
    inherited = cell(regression, 2)
    assert (inherited["role"], inherited["declared"]) == ("load", False)
    assert cell(regression, 6)["outputs"] == ["mse", "note"]
    assert cell(regression, 5)["inputs"] == ["model", "X", "y"]


def test_problems_are_listed_with_their_cell_and_in_the_whole(regression: dict[str, Any]) -> None:
    (problem,) = regression["problems"]
    assert problem["code"] == "unused-parameter" and problem["severity"] == "warning"
    assert cell(regression, 0)["problems"] == [problem]
    assert all(not cell(regression, i)["problems"] for i in (1, 2, 4, 5, 6, 7))


def test_untagged_cells_get_a_suggested_role_and_block_conversion(tmp_path: Path) -> None:
    found = report(
        tmp_path,
        [
            "import pandas as pd\ndf = pd.read_csv('data.csv')",
            "from sklearn.linear_model import LinearRegression\n"
            "model = LinearRegression().fit(df[['a']], df['b'])",
            "from sklearn.metrics import r2_score\n"
            "r2 = r2_score(df['b'], model.predict(df[['a']]))",
        ],
    )
    assert not found["convertible"]
    assert [(c["role"], c["declared"], c["suggested_role"]) for c in found["cells"]] == [
        ("setup", False, "load"),
        ("setup", False, "train"),
        ("setup", False, "evaluate"),
    ]
    assert "no-roles" in [p["code"] for p in found["problems"]]


def test_an_unreadable_notebook_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "nb.ipynb").write_text("{not json")
    with pytest.raises(UserError) as raised:
        check_report(tmp_path / "nb.ipynb")
    assert raised.value.problems[0].code == "invalid-json"

"""Predict cells that pick their own rows: what becomes `select_rows`, what stays in predict."""

from __future__ import annotations

from pathlib import Path

import pytest

from nb2prod.plan.build import Plan, build_plan
from nb2prod.read.notebook import load_notebook
from tests.conftest import make_notebook

SETUP = [
    "import numpy as np\nimport pandas as pd\nfrom sklearn.datasets import load_iris\n"
    "from sklearn.tree import DecisionTreeClassifier",
    ("X, y = load_iris(return_X_y=True, as_frame=True)", ["nb2prod:load"]),
    ("model = DecisionTreeClassifier(random_state=0).fit(X, y)", ["nb2prod:train"]),
]


def _plan(tmp_path: Path, predict_cell: str) -> Plan:
    cells = [*SETUP, (predict_cell, ["nb2prod:predict"])]
    return build_plan(load_notebook(make_notebook(tmp_path / "nb.ipynb", cells)))


def _bodies(plan: Plan) -> dict[str, str]:
    return {step.function: step.body for step in plan.steps}


@pytest.mark.parametrize(
    ("cell", "select", "predict", "rows"),
    [
        (
            "sample = X.head(3)\nlabels = model.predict(sample)",
            "sample = X.head(3)",
            "labels = model.predict(sample)",
            "sample",
        ),
        (
            "few = X.iloc[[0, 50, 100]]\nprint(few)\nlabels = model.predict(few)",
            "few = X.iloc[[0, 50, 100]]\nprint(few)",
            "labels = model.predict(few)",
            "few",
        ),
        (
            "new = [[5.1, 3.5, 1.4, 0.2]]\nlabels = model.predict(new)",
            "new = [[5.1, 3.5, 1.4, 0.2]]",
            "labels = model.predict(new)",
            "new",
        ),
        (
            "labels = model.predict([[5.1, 3.5, 1.4, 0.2]])  # one flower",
            "rows = [[5.1, 3.5, 1.4, 0.2]]",
            "labels = model.predict(rows)  # one flower",
            "rows",
        ),
        (
            "labels = model.predict(X[:2])",
            "rows = X[:2]",
            "labels = model.predict(rows)",
            "rows",
        ),
        (
            "model.predict(X[:3, :])",  # rasbt ch03: rows sliced, all columns; shown, not named
            "rows = X[:3, :]",
            "predictions = model.predict(rows)",
            "rows",
        ),
        (  # feature code on picked rows runs per request: it stays in predict
            "new = [[5.1, 3.5, 1.4, 0.2]]\nlogged = np.log1p(new)\nlabels = model.predict(logged)",
            "new = [[5.1, 3.5, 1.4, 0.2]]",
            "logged = np.log1p(new)\nlabels = model.predict(logged)",
            "new",
        ),
        (
            "grid = np.column_stack([np.linspace(4, 8, 3)] * 4)\nlabels = model.predict(grid)",
            "grid = np.column_stack([np.linspace(4, 8, 3)] * 4)",
            "labels = model.predict(grid)",
            "grid",
        ),
    ],
)
def test_picked_rows_become_select_rows(
    tmp_path: Path, cell: str, select: str, predict: str, rows: str
) -> None:
    plan = _plan(tmp_path, cell)
    assert not plan.blocking
    bodies = _bodies(plan)
    assert bodies["select_rows"] == select
    assert bodies["predict"] == predict
    step = next(s for s in plan.steps if s.function == "predict")
    assert step.data_input == rows


@pytest.mark.parametrize(
    "cell",
    [
        # feature code runs per request, so it stays in predict
        "features = pd.get_dummies(X)\nlabels = model.predict(features)",
        # a threshold is not rows
        "cutoff = 0.5\nlabels = model.predict_proba(X)[:, 1] > cutoff",
        # rows taken from something the section made itself stay as written
        "scaled = X * 1.0\nlabels = model.predict(scaled[:2])",
    ],
)
def test_other_code_stays_in_predict(tmp_path: Path, cell: str) -> None:
    plan = _plan(tmp_path, cell)
    assert "select_rows" not in _bodies(plan)


def test_a_lifted_name_never_shadows_a_variable(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "rows = 3\nlabels = model.predict(X[:rows])")
    assert "select_rows" not in _bodies(plan)  # reads `rows` made here: kept as written
    plan = _plan(tmp_path, "labels = model.predict(X[:2])\nrows = labels.sum()")
    assert _bodies(plan)["select_rows"] == "new_rows = X[:2]"

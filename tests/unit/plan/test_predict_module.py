"""predict_module.py: when the predict section gets a module of its own, and when the
service may hand it an array instead of a DataFrame."""

from __future__ import annotations

from pathlib import Path

import pytest

from nb2prod.plan.build import Plan, build_plan
from nb2prod.plan.predict_module import (
    PREDICT_MODULE,
    array_readers,
    model_readers,
    predict_module,
    row_definition,
)
from nb2prod.read.notebook import load_notebook
from tests.unit.notebooks import Cells, write_notebook

SETUP: Cells = [
    "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression",
    ("df = pd.DataFrame({'a': [0.0, 1.0, 2.0, 3.0], 'y': [0, 0, 1, 1]})", ["nb2prod:load"]),
    ("model = LogisticRegression().fit(df[['a']], df['y'])", ["nb2prod:train"]),
    ("rows = df[['a']].head(2)", ["nb2prod:predict"]),
]


def _plan(tmp_path: Path, predict: str, *extra: str) -> Plan:
    cells: Cells = [*SETUP[:3], *extra, (SETUP[3][0] + "\n" + predict, ["nb2prod:predict"])]
    return build_plan(load_notebook(write_notebook(tmp_path / "nb.ipynb", cells)))


@pytest.mark.parametrize(
    "predict",
    [
        "labels = model.predict(rows)",
        "labels = model.predict(rows)\nshare = model.predict_proba(rows)[:, 1]",
    ],
)
def test_rows_handed_only_to_the_model_may_be_an_array(tmp_path: Path, predict: str) -> None:
    plan = _plan(tmp_path, predict)
    assert plan.predict is not None and plan.predict.function == "predict"
    assert predict_module(plan) == PREDICT_MODULE
    assert array_readers(plan, plan.predict, model_readers(plan, plan.predict)) == ["model"]


@pytest.mark.parametrize(
    "predict",
    [
        "labels = model.predict(pd.get_dummies(rows))",  # feature code reads the table
        "labels = model.predict(rows[['a']])",  # picks columns by name
        "labels = model.predict(rows)\nfirst = rows.index[0]",  # reads the index
        "rows['b'] = 1.0\nlabels = model.predict(rows[['a']])",  # changes the table
        "labels = model.predict(X=rows)",  # by keyword: not the twin's signature
    ],
)
def test_rows_read_as_a_table_stay_a_table(tmp_path: Path, predict: str) -> None:
    plan = _plan(tmp_path, predict)
    assert plan.predict is not None
    assert array_readers(plan, plan.predict, model_readers(plan, plan.predict)) == []


def test_a_predict_section_calling_a_notebook_function_stays_in_the_pipeline(
    tmp_path: Path,
) -> None:
    """Its helper lives in pipeline.py: a module of its own would have to copy it."""
    helper = "def scaled(frame):\n    return frame * 2"
    plan = _plan(tmp_path, "labels = model.predict(scaled(rows))", helper)
    assert "scaled" in "\n".join(plan.definitions)
    assert predict_module(plan) is None


def test_a_notebook_without_a_predict_section_has_no_predict_module(tmp_path: Path) -> None:
    cells: Cells = [*SETUP[:3]]
    plan = build_plan(load_notebook(write_notebook(tmp_path / "nb.ipynb", cells)))
    assert plan.predict is None and predict_module(plan) is None


def test_the_notebooks_own_row_function_joins_predict_when_it_stands_alone(
    tmp_path: Path,
) -> None:
    """A notebook `def` the preprocess section calls on one table is the service's row
    code; standing alone it goes to prediction.py, so a raw-row service imports no
    training library (messy_churn: `add_ratio_features` had pulled in pipeline.py)."""
    helper = (
        "def doubled(frame):\n    out = frame.copy()\n    out['b'] = out['a'] * 2\n    return out"
    )
    cells: Cells = [
        SETUP[0],
        helper,
        SETUP[1],
        ("X = doubled(df.drop(columns=['y']))\ny = df['y']", ["nb2prod:preprocess"]),
        ("model = LogisticRegression().fit(X, y)", ["nb2prod:train"]),
        ("rows = X.head(2)\nlabels = model.predict(rows)", ["nb2prod:predict"]),
    ]
    plan = build_plan(load_notebook(write_notebook(tmp_path / "nb.ipynb", cells)))
    assert plan.row_function is not None and plan.row_function.function == "doubled"
    assert not plan.row_function.generated
    assert predict_module(plan) == PREDICT_MODULE
    assert row_definition(plan) == helper


def test_a_row_function_calling_another_notebook_function_stays_in_the_pipeline(
    tmp_path: Path,
) -> None:
    """Moving it would leave its helper behind in pipeline.py."""
    helpers = [
        "def twice(values):\n    return values * 2",
        "def doubled(frame):\n    out = frame.copy()\n"
        "    out['b'] = twice(out['a'])\n    return out",
    ]
    cells: Cells = [
        SETUP[0],
        *helpers,
        SETUP[1],
        ("X = doubled(df.drop(columns=['y']))\ny = df['y']", ["nb2prod:preprocess"]),
        ("model = LogisticRegression().fit(X, y)", ["nb2prod:train"]),
        ("rows = X.head(2)\nlabels = model.predict(rows)", ["nb2prod:predict"]),
    ]
    plan = build_plan(load_notebook(write_notebook(tmp_path / "nb.ipynb", cells)))
    assert plan.row_function is not None and plan.row_function.function == "doubled"
    assert row_definition(plan) is None


@pytest.mark.parametrize(
    ("predict", "readers"),
    [
        ("labels = model.predict(scaler.transform(rows))", ["scaler"]),
        ("x = scaler.transform(rows)\nlabels = model.predict(rows) + x[:, 0]", ["model", "scaler"]),
        ("labels = model.predict(scaler.transform(rows) + rows.to_numpy())", []),
    ],
)
def test_rows_handed_to_a_twinned_transformer_may_be_an_array(
    tmp_path: Path, predict: str, readers: list[str]
) -> None:
    """A stored scaler's ONNX twin reads an array as it reads the table."""
    cells: Cells = [
        "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
        "from sklearn.preprocessing import StandardScaler",
        SETUP[1],
        ("scaler = StandardScaler().fit(df[['a']])", ["nb2prod:preprocess"]),
        SETUP[2],
        (SETUP[3][0] + "\n" + predict, ["nb2prod:predict"]),
    ]
    plan = build_plan(load_notebook(write_notebook(tmp_path / "nb.ipynb", cells)))
    assert plan.predict is not None
    twinned = {"scaler": frozenset({"transform"}), **model_readers(plan, plan.predict)}
    assert array_readers(plan, plan.predict, twinned) == readers

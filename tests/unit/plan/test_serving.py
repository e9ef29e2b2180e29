"""serving.py: whether the service gets an ONNX twin, from what the probe recorded.

The rest of serving.py works on a built Plan and is covered through conversions
(tests/e2e/test_serving.py); this decision is a pure function of the probe's record.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest

from nb2prod.plan.serving import RequestField, framework_of, onnx_applies, twin_answers
from nb2prod.protocol import (
    Contracts,
    InputColumn,
    InputProfile,
    MetricValues,
    ModelInfo,
    ProbeResult,
)

ONNX_INSTALLED = all(importlib.util.find_spec(m) for m in ("skl2onnx", "onnxruntime"))


def probe(module: str, classifier: bool, types: list[str]) -> ProbeResult:
    """A probe record with a model and an input of columns of `types`."""
    columns = tuple(InputColumn(f"x{i}", False, t) for i, t in enumerate(types))
    return ProbeResult(
        contracts=Contracts({}),
        data_profile={},
        metrics=MetricValues({}),
        metric_sources=(),
        input=InputProfile("rows", "dataframe", columns, (), 0),
        model=ModelInfo(module, classifier),
    )


@pytest.mark.skipif(not ONNX_INSTALLED, reason="needs nb2prod[onnx]")
def test_a_scikit_learn_model_on_numbers_gets_an_onnx_twin() -> None:
    """Numeric columns: skl2onnx can convert a classifier, and a regressor in float64."""
    assert onnx_applies(probe("sklearn.ensemble._forest", True, ["float", "int", "bool"]))
    assert onnx_applies(probe("sklearn.linear_model._ridge", False, ["float"]))


@pytest.mark.parametrize(
    "record",
    [
        probe("xgboost.sklearn", True, ["float"]),  # not scikit-learn itself
        probe("sklearn.pipeline", True, ["float", "str"]),  # a text column
    ],
)
def test_anything_else_gets_none(record: ProbeResult) -> None:
    """Only what skl2onnx converts without options is twinned."""
    assert not onnx_applies(record)


def test_a_torch_module_gets_an_onnx_twin_whatever_its_input() -> None:
    """Training exports it and checks the twin on the predict code's own results."""
    record = probe("digits_cnn.pipeline", False, ["float"])
    torch_record = dataclasses.replace(
        record, model=ModelInfo("digits_cnn.pipeline", False, "pytorch")
    )
    assert framework_of(torch_record) == "pytorch" and framework_of(record) == "python"
    installed = all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime"))
    assert onnx_applies(torch_record) is installed
    assert not onnx_applies(record)


def test_a_field_of_image_rows_nests_one_list_per_dimension() -> None:
    image = RequestField("input", "input", "float", 0.0, 1.1, shape=(1, 8, 8))
    assert image.annotation == "list[list[list[Value]]]"
    assert RequestField("age", "age", "float", nullable=True).annotation == "float | None"


TWIN_SETUP = [
    "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression",
    ("df = pd.DataFrame({'a': [0.0, 1.0, 2.0, 3.0], 'y': [0, 0, 1, 1]})", ["nb2prod:load"]),
    ("model = LogisticRegression().fit(df[['a']], df['y'])", ["nb2prod:train"]),
]


@pytest.mark.parametrize(
    ("predict", "answers"),
    [
        ("labels = model.predict(rows)", True),
        ("p = model.predict_proba(rows)\nnames = model.classes_[p.argmax(1)]", True),
        ("labels = model.predict(rows)\nfit = model.score(rows, labels)", False),
        ("weights = model.coef_\nlabels = model.predict(rows)", False),
        ("labels = getattr(model, 'predict')(rows)", False),  # handed to a function
    ],
)
def test_the_twin_serves_only_what_uses_the_model_through_what_it_has(
    tmp_path: Path, predict: str, answers: bool
) -> None:
    """A twin has predict, predict_proba and classes_; any other use keeps the model."""
    from nb2prod.plan.build import build_plan
    from nb2prod.read.notebook import load_notebook
    from tests.unit.notebooks import write_notebook

    cells = [*TWIN_SETUP, ("rows = df[['a']].head(2)\n" + predict, ["nb2prod:predict"])]
    plan = build_plan(load_notebook(write_notebook(tmp_path / "nb.ipynb", cells)))
    assert plan.predict is not None
    assert twin_answers(plan, plan.predict) is answers


SCALER_SETUP = [
    "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
    "from sklearn.preprocessing import StandardScaler",
    ("df = pd.DataFrame({'a': [0.0, 1.0, 2.0, 3.0], 'y': [0, 0, 1, 1]})", ["nb2prod:load"]),
    ("scaler = StandardScaler().fit(df[['a']])", ["nb2prod:preprocess"]),
    ("model = LogisticRegression().fit(scaler.transform(df[['a']]), df['y'])", ["nb2prod:train"]),
]


@pytest.mark.parametrize(
    ("predict", "twinned"),
    [
        ("labels = model.predict(scaler.transform(rows))", ["scaler"]),
        ("x = scaler.transform(rows)\nlabels = model.predict(scaler.inverse_transform(x))", []),
        ("labels = model.predict(scaler.transform(rows))\nmean = scaler.mean_", []),
        ("labels = model.predict(rows)\nused = [scaler]", []),  # handed on: any use
    ],
)
def test_state_the_predict_code_only_transforms_with_is_offered_a_twin(
    tmp_path: Path, predict: str, twinned: list[str]
) -> None:
    """Only `name.transform(...)`: a twin has no inverse_transform nor fitted attributes."""
    from nb2prod.plan.build import build_plan
    from nb2prod.plan.serving import transformed_state
    from nb2prod.read.notebook import load_notebook
    from tests.unit.notebooks import write_notebook

    cells = [*SCALER_SETUP, ("rows = df[['a']].head(2)\n" + predict, ["nb2prod:predict"])]
    plan = build_plan(load_notebook(write_notebook(tmp_path / "nb.ipynb", cells)))
    assert plan.predict is not None
    assert transformed_state(plan, plan.predict) == twinned

"""serving.py: whether the service gets an ONNX twin, from what the probe recorded.

The rest of serving.py works on a built Plan and is covered through conversions
(tests/e2e/test_serving.py); this decision is a pure function of the probe's record.
"""

from __future__ import annotations

import dataclasses
import importlib.util

import pytest

from nb2prod.plan.serving import RequestField, framework_of, onnx_applies
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

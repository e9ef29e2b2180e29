"""protocol.py: the messages between nb2prod and its children, and the step marker.

Every message survives `to_json` -> JSON text -> `from_json` unchanged, keeps the
manifest's key order, and a message of the wrong shape is a `ProtocolError` that
names the field, not a KeyError in the reader.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from nb2prod.protocol import (
    MARKER,
    Contracts,
    FunctionContract,
    InputColumn,
    InputProfile,
    MetricValues,
    ModelInfo,
    PredictArgument,
    PredictCall,
    PredictOutput,
    ProbeResult,
    ProbeSpec,
    ProbeStep,
    ProtocolError,
    RowsRequest,
    ServiceClass,
    VerifyResult,
    VerifySpec,
    read_failure,
)
from tests.conftest import ROOT

PROBE_SPEC = ProbeSpec(
    package="demo",
    steps=(ProbeStep("load_data", ("df",)), ProbeStep("train", ("model", "X_test"))),
    data_function="load_data",
    metric_sources=("accuracy",),
    fit_tables=("X_train",),
    quick={"n_estimators": 10},
    data_input="X_test",
    predict_function="predict",
    outputs=("predictions",),
    model="model",
)
COLUMNS = (
    InputColumn("age", False, "int", 18, 90),
    InputColumn("income", True, "float", None, None),
    InputColumn("flag", False, "bool"),
    InputColumn("city", False, "str", categories=("Oslo", "Rome")),
    InputColumn("note", True, "str"),
)
PROBE_RESULT = ProbeResult(
    contracts=Contracts(
        {"train": FunctionContract({"df": {"type": "pandas.DataFrame"}}, {"model": {"t": 1}})}
    ),
    data_profile={"df": {"rows": 3}},
    metrics=MetricValues({"accuracy": 0.9}, {"accuracy": 0.8}),
    metric_sources=("accuracy",),
    model_problem=None,
    model_checked=True,
    input=InputProfile("X_test", "dataframe", COLUMNS, ({"age": 20, "city": "Oslo"},), 40),
    outputs={"predictions": PredictOutput("list[float]", ([0.1, 0.9], [0.5, 0.5]))},
    model=ModelInfo("sklearn.ensemble._forest", True),
    not_row_wise=None,
    row_wise_checked=True,
)
VERIFY_SPEC = VerifySpec(
    package="demo",
    project="/tmp/demo",
    parameters={"n_estimators": 10},
    artifacts="/tmp/scratch/artifacts",
    predict=PredictCall(
        "predict",
        ("predictions",),
        (
            PredictArgument("model", "model"),
            PredictArgument("X", "rows"),
            PredictArgument("encoder", "state"),
            PredictArgument("threshold", "config"),
        ),
    ),  # fmt: skip
    service=ServiceClass("DemoService", "DemoRow"),
)
VERIFY_RESULT = VerifyResult(
    metrics={"accuracy": 0.9},
    metadata={"runtime": "python", "code_version": None},
    schema={"age": "int"},
    predictions={"predictions": [1, 0]},
    service_predictions={"predictions": [1, 0]},
)
MESSAGES = [
    PROBE_SPEC,
    PROBE_RESULT,
    ProbeResult(Contracts({}), {}, MetricValues({}), ()),  # no model, no predict section
    ProbeResult(Contracts({}), {}, MetricValues({}), (), "`model` is None", model_checked=True),
    VERIFY_SPEC,
    VerifySpec("demo", "/tmp/demo", {}, "/tmp/a"),
    VERIFY_RESULT,
    VerifyResult({}, {}, service_problem="the notebook's rows cannot be a request"),
    RowsRequest("/tmp/rows.pickle"),
    RowsRequest(None),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_survives_the_trip_through_json(message: Any) -> None:
    """What the parent writes is what the child reads, and back."""
    text = json.dumps(message.to_json())
    assert type(message).from_json(json.loads(text)) == message


def test_a_probe_result_keeps_the_manifests_shape() -> None:
    """Checks that ran are written even when they passed (null); ones that did not run,
    and parts that were not recorded, are left out, as manifests always had them."""
    data = PROBE_RESULT.to_json()
    assert list(data) == [
        "contracts", "data_profile", "metrics", "metric_sources", "model_problem",
        "input", "outputs", "model", "not_row_wise",
    ]  # fmt: skip
    assert [c.to_json() for c in COLUMNS[:4]] == [
        {"name": "age", "nullable": False, "type": "int", "min": 18, "max": 90},
        {"name": "income", "nullable": True, "type": "float", "min": None, "max": None},
        {"name": "flag", "nullable": False, "type": "bool"},
        {"name": "city", "nullable": False, "type": "str", "categories": ["Oslo", "Rome"]},
    ]
    bare = ProbeResult(Contracts({}), {}, MetricValues({}), ()).to_json()
    assert list(bare) == ["contracts", "data_profile", "metrics", "metric_sources"]


@pytest.mark.parametrize("example", ["diabetes_regression", "messy_churn", "wine_classifier"])
def test_the_golden_manifests_probe_reads_back_to_the_same_json(example: str) -> None:
    """A probe kept in a manifest (and reused by the next convert) is read and written
    back key for key, so the manifest and the reference files do not change."""
    manifest = json.loads((ROOT / "tests" / "golden" / example / "nb2prod.json").read_text())
    probe = ProbeResult.from_json(manifest["probe"])
    assert json.dumps(probe.to_json()) == json.dumps(manifest["probe"])


@pytest.mark.parametrize(
    ("message", "data", "error"),
    [
        (ProbeSpec, {**PROBE_SPEC.to_json(), "package": None}, "probe spec: `package` is missing"),
        (ProbeResult, {"contracts": {"functions": {}}}, "probe result: `data_profile` is missing"),
        (VerifySpec, {"package": "demo"}, "verify spec: `project` is missing"),
        (VerifyResult, {"metadata": {}}, "verify result: `metrics` is missing"),
        (RowsRequest, {}, None),
    ],
)
def test_a_missing_field_is_named(message: Any, data: dict[str, Any], error: str | None) -> None:
    """The reader says which field of which message is missing (a null required field
    counts as missing); optional fields may be left out."""
    if error is None:
        assert message.from_json(data) == RowsRequest(None)
        return
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(ProtocolError, match=f"^{error}$"):
        message.from_json(data)


INPUT = PROBE_RESULT.to_json()["input"]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ([], "probe result must be an object, not list"),
        ({**PROBE_RESULT.to_json(), "metric_sources": "accuracy"},
         "probe result: `metric_sources` must be a list, not str"),
        ({**PROBE_RESULT.to_json(), "metrics": {"defaults": {"accuracy": "high"}}},
         "probe result: `metrics`: `defaults`['accuracy'] must be a number, not str"),
        ({**PROBE_RESULT.to_json(), "input": {**INPUT, "observed_rows": True}},
         "probe result: `input`: `observed_rows` must be an integer, not bool"),
        ({**PROBE_RESULT.to_json(), "surprise": 1}, "probe result: unexpected 'surprise'"),
    ],
)  # fmt: skip
def test_a_mistyped_or_unknown_field_is_named(data: Any, error: str) -> None:
    """A wrong type says where it is and what it should be; an unknown key is refused,
    so a child and a parent of different versions cannot half-understand each other."""
    with pytest.raises(ProtocolError) as raised:
        ProbeResult.from_json(data)
    assert str(raised.value) == error


def test_a_predict_argument_comes_from_a_known_place() -> None:
    """Arguments are looked up (model, rows, state, config), never evaluated as code."""
    with pytest.raises(ProtocolError, match="`source` must be one of model, rows, state, config"):
        PredictArgument.from_json({"name": "x", "source": "__import__('os')"})


def test_the_failure_is_in_the_last_step_marked() -> None:
    """One marker for every child: the last step it marked is where it failed, and its
    own output comes back without the markers."""
    output = (
        f"{MARKER}training\nepoch 1\n{MARKER}predict\n"
        "Traceback (most recent call last):\nValueError: bad rows\n"
    )
    failure = read_failure(output)
    assert failure.step == "predict"
    assert failure.lines == (
        "epoch 1", "Traceback (most recent call last):", "ValueError: bad rows",
    )  # fmt: skip


def test_a_marker_after_unfinished_output_keeps_that_output() -> None:
    """The child's code may leave a line unfinished (`print(..., end="")`)."""
    failure = read_failure(f"50%{MARKER}train\nRuntimeError: diverged")
    assert failure.step == "train"
    assert failure.lines == ("50%", "RuntimeError: diverged")


def test_no_marker_means_no_step() -> None:
    """A child that failed before marking anything (an import) names no step."""
    assert read_failure("ModuleNotFoundError: No module named 'xgboost'\n").step is None
    assert read_failure("").lines == ()

"""probe.py: what the generated pipeline's run records for the tests and the service.

The parent side only starts a child and reads its JSON; the describing helpers
decide the service's request schema and whether a service can be made at all,
so they are tested directly on small frames and arrays.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nb2prod.protocol import ProbeSpec, ProbeStep
from nb2prod.run.probe import (
    MAX_CATEGORIES,
    ProbeFailed,
    _alike,
    _column,
    _last_error,
    _row_kind,
    describe_output,
    model_problem,
    not_row_wise,
    profile_input,
    run_probe,
)


class Predictor:
    """A model with a predict method: one answer per row."""

    def predict(self, rows: Any) -> Any:
        return np.asarray(rows).sum(axis=1)


def test_a_model_that_predicts_is_fine() -> None:
    """Objects with `predict`, and callables (a torch module), can be served."""
    assert model_problem("model", Predictor()) is None
    assert model_problem("model", lambda rows: rows) is None


def test_a_missing_or_non_predicting_model_says_why() -> None:
    """None after training, or a plain value, cannot be what the service serves."""
    assert model_problem("model", None) == "`model` is None after training"
    assert model_problem("model", 3.5) == "`model` is a float, which has no predict method"


def test_an_unfitted_scikit_learn_model_says_the_notebook_fits_another() -> None:
    """The notebook fitted a copy (e.g. in a grid search) and kept the unfitted one."""
    from sklearn.linear_model import LinearRegression

    reason = model_problem("model", LinearRegression())
    assert reason == ("`model` (LinearRegression) is not fitted: the notebook fits another object")
    fitted = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    assert model_problem("model", fitted) is None


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (np.zeros((2, 2)), "ndarray"),
        ([[1, 2], [3, 4]], "list"),
        ((np.zeros(2), np.ones(2)), "list"),
        ([], None),
        ([1, 2], None),
        ("rows", None),
    ],
)
def test_row_kind(value: Any, kind: str | None) -> None:
    """Arrays, lists of rows (and tensors) are tables; flat values are not."""
    assert _row_kind(value) == kind


def test_row_kind_of_a_tensor_like_value() -> None:
    """Anything with `detach` and `cpu` is treated as a torch tensor."""

    class Tensor:
        def detach(self) -> Tensor:
            return self

        def cpu(self) -> Tensor:
            return self

    assert _row_kind(Tensor()) == "tensor"


def test_profile_of_a_frame_merges_ranges_from_alike_frames() -> None:
    """Ranges and categories come from every frame with the input's columns."""
    rows = pd.DataFrame({"age": [30, 40], "city": ["a", "b"], "ok": [True, False]})
    train = pd.DataFrame({"age": [18, 90], "city": ["c", None], "ok": [True, True]})
    profile = profile_input("X_new", rows, [rows, train])
    assert profile["kind"] == "dataframe"
    assert profile["observed_rows"] == 2
    assert profile["columns"] == [
        {"name": "age", "nullable": False, "type": "int", "min": 18, "max": 90},
        {"name": "city", "nullable": True, "type": "str", "categories": ["a", "b", "c"]},
        {"name": "ok", "nullable": False, "type": "bool"},
    ]
    assert profile["rows"][0] == {"age": 30, "city": "a", "ok": True}


def test_profile_of_an_array_names_columns_and_keeps_its_dtype() -> None:
    """Columns without names are `x0`, `x1`, ...; the dtype is recorded for the service."""
    rows = np.array([[1.0, 2.0], [3.0, np.nan]])
    profile = profile_input("X", rows, [rows, np.array([[-1.0, 0.0]])])
    assert (profile["kind"], profile["dtype"], profile["observed_rows"]) == (
        "ndarray",
        "float64",
        2,
    )
    assert profile["columns"] == [
        {"name": "x0", "nullable": False, "type": "float", "min": -1.0, "max": 3.0},
        {"name": "x1", "nullable": True, "type": "float", "min": 0.0, "max": 2.0},
    ]
    assert profile["rows"] == [{"x0": 1.0, "x1": 2.0}, {"x0": 3.0, "x1": None}]


def test_profile_of_a_list_of_rows() -> None:
    """A list of lists is served as rows too, with no dtype to keep."""
    profile = profile_input("X", [[1, 2], [3, 4]], [[[1, 2], [3, 4]]])
    assert profile["kind"] == "list"
    assert "dtype" not in profile
    assert [c["name"] for c in profile["columns"]] == ["x0", "x1"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.arange(3), "`X` is a ndarray of shape (3,), not numeric rows"),
        (np.array([["a", "b"]]), "`X` is a ndarray of shape (1, 2), not numeric rows"),
        ("text", "`X` is a str, not numeric rows"),
    ],
)
def test_anything_but_numeric_rows_is_a_type_error_saying_why(value: Any, message: str) -> None:
    """The message becomes the reason no service was made."""
    with pytest.raises(TypeError, match="not numeric rows") as raised:
        profile_input("X", value, [value])
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([0.5, 1.5], {"type": "float", "values": [0.5, 1.5]}),
        (np.array([1, 2], dtype=np.int32), {"type": "int", "values": [1, 2]}),
        ([True, False], {"type": "bool", "values": [True, False]}),
        (["cat", "dog"], {"type": "str", "values": ["cat", "dog"]}),
        ([[0.25, 0.75]], {"type": "list[float]", "values": [[0.25, 0.75]]}),
        (list(range(8)), {"type": "int", "values": [0, 1, 2, 3, 4]}),
    ],
)
def test_describe_output(value: Any, expected: dict[str, Any]) -> None:
    """Element type and the first sample values; 2-D outputs are one list per row."""
    assert describe_output(value) == expected


def test_a_column_with_many_values_gets_no_category_list() -> None:
    """Past MAX_CATEGORIES distinct strings it is free text, not a choice."""
    many = pd.Series([f"v{i}" for i in range(MAX_CATEGORIES + 1)])
    assert _column("id", [many]) == {"name": "id", "nullable": False, "type": "str"}


def test_alike_frames_share_the_inputs_columns() -> None:
    """Only frames with the same columns bound the request's ranges."""
    rows = pd.DataFrame({"a": [1]})
    same, other = pd.DataFrame({"a": [5]}), pd.DataFrame({"b": [1]})
    found = _alike(rows, {"rows": rows, "same": same, "other": other}, [])
    assert [list(f["a"]) for f in found] == [[1], [5]]


def test_alike_arrays_are_fitted_on_or_hold_the_inputs_rows() -> None:
    """An array the model was fitted on, or that holds the picked rows, bounds them."""
    rows = np.array([[1.0, 2.0]])
    holds = np.array([[0.0, 0.0], [1.0, 2.0]])
    fitted = np.array([[9.0, 9.0]])
    unrelated = np.array([[7.0, 7.0]])
    found = _alike(
        rows, {"X": rows, "holds": holds, "X_train": fitted, "u": unrelated, "s": "x"}, ["X_train"]
    )
    assert [a.tolist() for a in found] == [[[1.0, 2.0]], [[0.0, 0.0], [1.0, 2.0]], [[9.0, 9.0]]]


def predict_rows(rows: Any, model: Predictor) -> Any:
    """A predict step that answers each row on its own."""
    return model.predict(rows)


def test_a_row_wise_predict_function_passes() -> None:
    """Two rows alone give what they gave inside the whole batch."""
    rows = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    arguments = {"rows": rows, "model": Predictor()}
    assert not_row_wise("rows", predict_rows, arguments, {"pred": rows.sum(axis=1)}) is None


def test_a_batch_dependent_prediction_is_not_row_wise() -> None:
    """Scaling by the batch's own mean answers differently for two rows alone."""
    rows = np.array([[1.0], [2.0], [6.0]])

    def centred(rows: Any) -> Any:
        return rows[:, 0] - rows[:, 0].mean()

    reason = not_row_wise("rows", centred, {"rows": rows}, {"pred": centred(rows)})
    assert reason == "`pred` for 2 rows alone differs from the same rows in the whole batch"


def test_a_predict_function_failing_on_two_rows_says_how() -> None:
    """Code that needs the whole batch (here: five rows) cannot serve a request."""
    rows = np.zeros((6, 1))

    def needs_five(rows: Any) -> Any:
        if len(rows) < 5:
            raise ValueError("too few rows")
        return rows[:, 0]

    reason = not_row_wise("rows", needs_five, {"rows": rows}, {"pred": rows[:, 0]})
    assert reason == "on 2 of its rows it raised ValueError: too few rows"


def test_an_output_of_another_shape_for_two_rows_is_not_row_wise() -> None:
    """A fixed-size output (always 3 values) is no per-row answer."""
    rows = pd.DataFrame({"a": [1, 2, 3]})
    reason = not_row_wise("rows", lambda rows: np.zeros(3), {"rows": rows}, {"p": np.zeros(3)})
    assert reason == "on 2 of its rows `p` has shape (3,), not (2,)"


def test_last_error_is_the_last_line_that_is_not_blank() -> None:
    """The exception line of the child's traceback is the failure's message."""
    assert _last_error(("Traceback ...", "  File x", "KeyError: 'a'", "", " ")) == "KeyError: 'a'"
    assert _last_error(("  ",)) == "the process ended without a message"


PIPELINE = """
def load():
    return [[1.0, 2.0], [3.0, 4.0]]

def train(rows):
    raise RuntimeError("diverged")

def run_pipeline(config):
    return {"model": train(load())}
"""


def test_run_probe_names_the_step_that_failed(tmp_path: Path) -> None:
    """The child reports the failing step: convert points at that step's cells."""
    package = tmp_path / "src" / "demo"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "config.py").write_text("class Config:\n    pass\n")
    (package / "pipeline.py").write_text(PIPELINE)
    (package / "contracts.py").write_text("def describe(value):\n    return repr(value)\n")
    (package / "data_quality.py").write_text("def profile_tables(values):\n    return {}\n")
    spec = ProbeSpec(
        package="demo",
        steps=(ProbeStep("load", ("rows",)), ProbeStep("train", ("model",))),
        data_function="load",
        metric_sources=(),
        fit_tables=(),
        quick={},
        data_input=None,
        predict_function=None,
        outputs=(),
        model="model",
    )
    with pytest.raises(ProbeFailed) as failed:
        run_probe(tmp_path / "src", spec, timeout=30)
    assert str(failed.value) == "RuntimeError: diverged"
    assert failed.value.function == "train"


def test_rows_that_are_images_are_one_field_of_nested_lists() -> None:
    """A `(N, 1, 2, 2)` input: each row is one value of shape (1, 2, 2); the range covers
    every value of the alike arrays."""
    rows = np.arange(16, dtype=np.float32).reshape(4, 1, 2, 2) / 16
    wider = np.full((3, 1, 2, 2), 2.0, dtype=np.float32)
    profile = profile_input("X", rows, [rows, wider])
    assert profile["kind"] == "ndarray" and profile["shape"] == [1, 2, 2]
    assert profile["dtype"] == "float32" and profile["observed_rows"] == 4
    [column] = profile["columns"]
    assert column == {"name": "input", "nullable": False, "type": "float", "min": 0.0, "max": 2.0}
    assert profile["rows"][1] == {"input": [[[0.25, 0.3125], [0.375, 0.4375]]]}


def test_alike_images_have_the_rows_shape_and_hold_its_rows() -> None:
    rows = np.ones((2, 1, 2, 2))
    holds = np.concatenate([np.zeros((1, 1, 2, 2)), rows])
    other_shape = np.ones((2, 1, 3, 3))
    found = _alike(rows, {"X": rows, "holds": holds, "o": other_shape}, [])
    assert [a.shape for a in found] == [(2, 1, 2, 2), (3, 1, 2, 2)]


def test_alike_frames_may_have_more_columns_cut_to_the_inputs() -> None:
    """`test_df[features].head(5)`: `test_df` (with its target) bounds the features."""
    rows = pd.DataFrame({"a": [1], "b": [2]})
    wider = pd.DataFrame({"target": [0, 0], "b": [9, 8], "a": [7, 6]})
    found = _alike(rows, {"rows": rows, "df": wider}, [])
    assert [f.to_dict("list") for f in found] == [{"a": [1], "b": [2]}, {"a": [7, 6], "b": [9, 8]}]


def test_float32_results_may_round_differently_in_a_smaller_batch() -> None:
    """A torch module's float32 kernels: 1e-7 apart is row-wise, 1e-3 is not."""
    rows = np.array([[1.0], [2.0], [3.0]])
    full = rows[:, 0] * 100

    def nudged(rows: Any) -> Any:
        return rows[:, 0] * 100 * (1 + 1e-7)

    assert not_row_wise("rows", nudged, {"rows": rows}, {"p": full}) is not None
    assert not_row_wise("rows", nudged, {"rows": rows}, {"p": full}, single_precision=True) is None

    def off(rows: Any) -> Any:
        return rows[:, 0] * 100 * (1 + 1e-3)

    assert not_row_wise("rows", off, {"rows": rows}, {"p": full}, single_precision=True)

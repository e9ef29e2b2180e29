"""An ONNX Runtime twin of the scikit-learn model, for fast serving.

scikit-learn spends milliseconds per call in Python; ONNX Runtime answers the same
question in microseconds. Training converts the model with skl2onnx and keeps the
twin only when it agrees with scikit-learn on every reference row (the training rows and
every table like them), answering them all at once and each on its own: a classifier's
twin predicts the same labels, and probabilities within PROBABILITY_TOLERANCE (float32);
a regressor's twin computes in float64 and predicts values within REGRESSION_TOLERANCE.
Otherwise the service keeps using the scikit-learn model, and the model's metadata says
why.

Fitted transformers the predict code only calls `.transform` on (a scaler stored with a
torch model, say) get float64 twins the same way (`transform_twins`), so the service does
not unpickle scikit-learn for them either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

PROBABILITY_TOLERANCE = 1e-5
REGRESSION_TOLERANCE = 1e-9
"""Relative (and absolute, near zero): a float64 twin sums in another order, no more."""


class OnnxModel:
    """`predict` and `predict_proba` of the scikit-learn model, computed by ONNX Runtime."""

    def __init__(self, onnx: bytes, classes: Any, columns: list[str] | None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one request, one core: no thread hand-offs
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            onnx, options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name
        double = self.session.get_inputs()[0].type == "tensor(double)"
        self.dtype = np.float64 if double else np.float32  # regressors' twins: float64
        self.classes_ = classes
        self.columns = columns
        self._in_order: Any = None  # the last column labels found in training order

    def _run(self, rows: Any) -> list[Any]:
        labels = getattr(rows, "columns", None)
        if self.columns is not None and labels is not None:
            if labels is self._in_order:
                pass  # labels are immutable: checked already
            elif list(labels) == self.columns:
                self._in_order = labels
            else:
                rows = rows[self.columns]
        # pandas' own conversion takes a quarter of np.asarray's time on a one-row frame.
        if hasattr(rows, "iloc"):
            features = rows.to_numpy(dtype=self.dtype)
        else:
            features = np.asarray(rows, dtype=self.dtype)
        return self.session.run(None, {self.input_name: features})

    def predict(self, rows: Any) -> np.ndarray:
        """Class labels or values, as the scikit-learn model's `predict` returns them (a
        single-output regressor's as a vector, not a column)."""
        answer = self._run(rows)[0]
        return answer.ravel() if answer.ndim == 2 and answer.shape[1] == 1 else answer

    def predict_proba(self, rows: Any) -> np.ndarray:
        """Class probabilities (float32 precision, widened to float64)."""
        return self._run(rows)[1].astype(np.float64)

    def transform(self, rows: Any) -> np.ndarray:
        """The transformed rows, as a fitted scikit-learn transformer's `transform`
        returns them (see `transform_twins`)."""
        return self._run(rows)[0]


def onnx_twin(model: Any, rows: Any) -> tuple[bytes | None, str]:
    """The model as ONNX when it agrees with scikit-learn on every row of `rows`, else
    (None, why not).

    The twin answers all rows at once (as `/predict_batch` may) and each row on its own
    (as `/predict` does); on every row its label must equal scikit-learn's and each of its
    probabilities be within PROBABILITY_TOLERANCE.
    """
    try:
        from skl2onnx import to_onnx
    except ImportError:
        return None, "skl2onnx is not installed"
    if len(rows) == 0:
        return None, "no reference rows to check an ONNX twin on"
    if _is_regressor(model):
        return _regression_twin(model, rows)
    if not hasattr(model, "predict_proba"):
        return (
            None,
            "it has no predict_proba: only regressors and classifiers with one get a twin",
        )
    try:
        features = np.asarray(rows, dtype=np.float32)
        onnx = to_onnx(
            model, features[:1], options={"zipmap": False}
        ).SerializeToString()
        twin = load_twin(onnx, twin_facts(model))
        answers = _at_once_and_row_by_row(
            lambda part: (twin.predict(part), twin.predict_proba(part)), rows
        )
    except Exception as error:  # noqa: BLE001 - skl2onnx raises many kinds of errors
        return None, f"skl2onnx cannot convert it ({type(error).__name__}: {error})"
    labels = np.asarray(model.predict(rows))
    probabilities = np.asarray(model.predict_proba(rows), dtype=np.float64)
    worst = 0.0
    for how, (twin_labels, twin_probabilities) in answers:
        if twin_labels.shape != labels.shape:
            return None, f"its labels have shape {twin_labels.shape} ({how})"
        differ = np.flatnonzero(twin_labels != labels)
        if len(differ):
            where = f"row {differ[0]} of {len(labels)}"
            return None, f"its labels differ from scikit-learn's ({how}, {where})"
        if twin_probabilities.shape != probabilities.shape:
            return (
                None,
                f"its probabilities have shape {twin_probabilities.shape} ({how})",
            )
        gaps = np.abs(twin_probabilities - probabilities)
        both_nan = np.isnan(twin_probabilities) & np.isnan(probabilities)
        gaps = np.where(both_nan, 0.0, gaps)
        gap = float(np.max(gaps)) if np.isfinite(gaps).all() else float("inf")
        if not gap <= PROBABILITY_TOLERANCE:
            row = int(np.argmax(np.nan_to_num(gaps, nan=np.inf).max(axis=-1)))
            return None, (
                f"its probabilities differ by {gap:.2g} (> {PROBABILITY_TOLERANCE}; {how}, "
                f"row {row} of {len(labels)})"
            )
        worst = max(worst, gap)
    return (
        onnx,
        f"labels equal, probabilities within {worst:.2g} on all {len(labels)} rows",
    )


def _regression_twin(model: Any, rows: Any) -> tuple[bytes | None, str]:
    """A regressor's twin, in float64 (as scikit-learn computes), when its values are
    within REGRESSION_TOLERANCE of scikit-learn's on every row, at once and row by row."""
    from skl2onnx import to_onnx

    try:
        features = np.asarray(rows, dtype=np.float64)
        onnx = to_onnx(model, features[:1]).SerializeToString()
        twin = load_twin(onnx, twin_facts(model))
        answers = _at_once_and_row_by_row(lambda part: (twin.predict(part),), rows)
    except Exception as error:  # noqa: BLE001 - skl2onnx raises many kinds of errors
        return (
            None,
            f"skl2onnx cannot convert it in float64 ({type(error).__name__}: {error})",
        )
    values = np.asarray(model.predict(rows), dtype=np.float64)
    worst, why = _float64_gap(answers, values, "predictions")
    if worst is None:
        return None, why
    return onnx, f"float64, predictions within {worst:.2g} on all {len(values)} rows"


def transform_twins(
    state: dict[str, Any], names: list[str] | tuple[str, ...], rows: Any
) -> tuple[dict[str, tuple[bytes, dict[str, Any]]], dict[str, str]]:
    """Float64 ONNX twins of the fitted scikit-learn transformers among `state[names]`
    (values the predict code only calls `.transform` on), and for each name why it was
    twinned or not. A scaler stored with the model would otherwise make the service import
    scikit-learn (and scipy) just to subtract and divide."""
    twins: dict[str, tuple[bytes, dict[str, Any]]] = {}
    reasons: dict[str, str] = {}
    for name in names:
        onnx, reasons[name] = _transform_twin(state[name], rows)
        if onnx is not None:
            twins[name] = (onnx, twin_facts(state[name]))
    return twins, reasons


def _transform_twin(transformer: Any, rows: Any) -> tuple[bytes | None, str]:
    """The transformer in float64 ONNX when its output is within REGRESSION_TOLERANCE of
    scikit-learn's on the reference rows' values of its own columns, at once and row by
    row; else (None, why not). Only a transformer fitted on named columns that the
    reference rows hold can be checked on what the service will give it."""
    if not type(transformer).__module__.startswith("sklearn."):
        return None, "not a scikit-learn transformer"
    if rows is None or len(rows) == 0:
        return None, "no reference rows to check an ONNX twin on"
    columns = _columns(transformer)
    if columns is None:
        return (
            None,
            "fitted on an array: no reference rows hold its input to check a twin on",
        )
    if not hasattr(rows, "columns") or not set(columns) <= set(rows.columns):
        return None, "the reference rows do not hold all of its columns"
    table = rows[columns]
    try:
        from skl2onnx import to_onnx

        expected = transformer.transform(table)
        if not isinstance(expected, np.ndarray):
            return (
                None,
                f"its transform returns a {type(expected).__name__}, not an array",
            )
        expected = expected.astype(np.float64)
        features = table.to_numpy(dtype=np.float64)
        onnx = to_onnx(transformer, features[:1]).SerializeToString()
        twin = load_twin(onnx, twin_facts(transformer))
        answers = _at_once_and_row_by_row(lambda part: (twin.transform(part),), table)
    except Exception as error:  # noqa: BLE001 - skl2onnx raises many kinds of errors
        return None, f"no float64 ONNX twin ({type(error).__name__}: {error})"
    worst, why = _float64_gap(answers, expected, "values")
    if worst is None:
        return None, why
    return onnx, f"float64 ONNX twin, within {worst:.2g} on all {len(table)} rows"


def load_state_twins(
    stored: dict[str, tuple[bytes, dict[str, Any]]],
) -> dict[str, OnnxModel]:
    """The state's transformer twins, as `transform_twins` stored them."""
    return {name: load_twin(onnx, facts) for name, (onnx, facts) in stored.items()}


def _float64_gap(
    answers: list[tuple[str, tuple[np.ndarray, ...]]], expected: np.ndarray, what: str
) -> tuple[float | None, str]:
    """The twin's largest relative gap to scikit-learn's float64 `expected` (absolute near
    zero) over its answers, or (None, why) when one has another shape or a gap above
    REGRESSION_TOLERANCE."""
    worst = 0.0
    for how, (values,) in answers:
        if values.shape != expected.shape:
            return None, f"its {what} have shape {values.shape} ({how})"
        gaps = np.abs(values - expected) / np.maximum(np.abs(expected), 1.0)
        gap = float(np.max(gaps)) if np.isfinite(gaps).all() else float("inf")
        if not gap <= REGRESSION_TOLERANCE:
            return (
                None,
                f"its {what} differ by {gap:.2g} (> {REGRESSION_TOLERANCE}; {how})",
            )
        worst = max(worst, gap)
    return worst, ""


def _at_once_and_row_by_row(
    answer: Callable[[Any], tuple[np.ndarray, ...]], rows: Any
) -> list[tuple[str, tuple[np.ndarray, ...]]]:
    """The twin's `answer` for all rows at once (as `/predict_batch` may ask) and row by
    row (as `/predict` does), each row's parts stacked in row order."""
    single = [answer(row) for row in _each_row(rows)]
    by_row = tuple(np.concatenate(parts) for parts in zip(*single, strict=True))
    return [("all rows at once", answer(rows)), ("row by row", by_row)]


def _each_row(rows: Any) -> Any:
    """The rows one at a time, each still a table (or 2-D array) of one row."""
    if hasattr(rows, "iloc"):
        return (rows.iloc[i : i + 1] for i in range(len(rows)))
    array = np.asarray(rows)
    return (array[i : i + 1] for i in range(len(array)))


def twin_facts(model: Any) -> dict[str, Any]:
    """What the twin needs of the scikit-learn model (its classes and column order),
    stored beside the twin at training time: the service then loads the twin without
    unpickling the model, so its process never imports scikit-learn."""
    return {"classes": getattr(model, "classes_", None), "columns": _columns(model)}


def twin_tolerance(model: Any) -> dict[str, float]:
    """How close the twin's answers were checked to be (`rtol`, `atol`), for the model's
    metadata: `nb2prod verify` compares the service's answers within it."""
    if _is_regressor(model):
        return {"rtol": REGRESSION_TOLERANCE, "atol": REGRESSION_TOLERANCE}
    return {"rtol": 0.0, "atol": PROBABILITY_TOLERANCE}


def _is_regressor(model: Any) -> bool:
    """scikit-learn's own answer (searches and pipelines answer for what they wrap): a
    classifier without predict_proba (LinearSVC, Perceptron, hard voting) is no regressor.
    Imported here, at training: the service never asks."""
    from sklearn.base import is_regressor

    return bool(is_regressor(model))


def load_twin(onnx: bytes, facts: dict[str, Any]) -> OnnxModel:
    """The ONNX twin, with the classes and column order `twin_facts` kept."""
    return OnnxModel(onnx, facts["classes"], facts["columns"])


def reads_arrays(model: Any, columns: list[str]) -> bool:
    """Whether `model` is a twin that reads a plain array whose values are in `columns`'
    order as it reads a table of those columns (it would pick exactly those)."""
    return isinstance(model, OnnxModel) and model.columns in (None, list(columns))


def _columns(model: Any) -> list[str] | None:
    names = getattr(model, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else None

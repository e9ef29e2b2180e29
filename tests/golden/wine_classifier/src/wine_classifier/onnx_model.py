"""An ONNX Runtime twin of the scikit-learn model, for fast serving.

scikit-learn spends milliseconds per call in Python; ONNX Runtime answers the same
question in microseconds. Training converts the model with skl2onnx and keeps the
twin only when it predicts the same labels, and probabilities within
PROBABILITY_TOLERANCE, on every reference row; otherwise the service keeps using
the scikit-learn model, and the model's metadata says why.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PROBABILITY_TOLERANCE = 1e-5


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
        self.classes_ = classes
        self.columns = columns

    def _run(self, rows: Any) -> list[Any]:
        if (
            self.columns is not None
            and hasattr(rows, "columns")
            and list(rows.columns) != self.columns
        ):
            rows = rows[self.columns]
        features = np.asarray(rows, dtype=np.float32)
        return self.session.run(None, {self.input_name: features})

    def predict(self, rows: Any) -> np.ndarray:
        """Class labels, as the scikit-learn model's `predict` returns them."""
        return self._run(rows)[0].ravel()

    def predict_proba(self, rows: Any) -> np.ndarray:
        """Class probabilities (float32 precision, widened to float64)."""
        return self._run(rows)[1].astype(np.float64)


def onnx_twin(model: Any, rows: Any) -> tuple[bytes | None, str]:
    """The model as ONNX when it agrees with scikit-learn on `rows`, else (None, why not)."""
    try:
        from skl2onnx import to_onnx
    except ImportError:
        return None, "skl2onnx is not installed"
    if not hasattr(model, "predict_proba"):
        return (
            None,
            "only classifiers get an ONNX twin (regression stays exact in float64)",
        )
    try:
        features = np.asarray(rows, dtype=np.float32)
        onnx = to_onnx(
            model, features[:1], options={"zipmap": False}
        ).SerializeToString()
        twin = OnnxModel(onnx, getattr(model, "classes_", None), _columns(model))
    except Exception as error:  # noqa: BLE001 - skl2onnx raises many kinds of errors
        return None, f"skl2onnx cannot convert it ({type(error).__name__}: {error})"
    if not np.array_equal(twin.predict(rows), np.asarray(model.predict(rows))):
        return None, "its labels differ from scikit-learn's on the reference rows"
    gap = float(np.max(np.abs(twin.predict_proba(rows) - model.predict_proba(rows))))
    if gap > PROBABILITY_TOLERANCE:
        return (
            None,
            f"its probabilities differ by {gap:.2g} (> {PROBABILITY_TOLERANCE})",
        )
    return onnx, f"labels equal, probabilities within {gap:.2g} on {len(features)} rows"


def load_twin(onnx: bytes, model: Any) -> OnnxModel:
    """The ONNX twin, with the scikit-learn model's classes and column order."""
    return OnnxModel(onnx, getattr(model, "classes_", None), _columns(model))


def _columns(model: Any) -> list[str] | None:
    names = getattr(model, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else None

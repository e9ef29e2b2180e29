"""Train the two models of the serving benchmark and write sample requests.

The benchmark needs the same models every time, built without a network: both
are fitted on scikit-learn's bundled wine data (178 rows, 13 features, 3
classes) with fixed seeds, the way a notebook would fit them (on a DataFrame,
so the models remember the feature names):

* ``forest``: ``RandomForestClassifier(n_estimators=100, random_state=0)``, a
  model whose single-row ``predict`` costs milliseconds, so serving overhead is
  small next to it and batching pays;
* ``linear``: ``StandardScaler`` + ``LogisticRegression(max_iter=1000)``, a
  model that costs microseconds, so the benchmark measures the server.

Written into ``--out`` (default ``bench/serve/artifacts``):

* ``forest.joblib``, ``linear.joblib``: the fitted estimators (``joblib.dump``);
* ``forest.onnx``, ``linear.onnx``: the same models converted with skl2onnx
  (``zipmap=False``, float32 input named ``input``), for the ONNX variant of the
  reference service; skipped with a note if skl2onnx is not installed;
* ``row.json``: one request row, feature name -> value (the payload of a
  single-row ``/predict``), taken from the data so the models see real values;
* ``rows.json``: ``{"rows": [row]}``, the same row as a one-element list (the
  payload of ``/predict_batch``; adaptive batching merges such requests);
* ``models.json``: what was written, library versions, and the predictions of
  every model for ``row.json`` (the servers must answer the same).

Usage::

    python bench/serve/models.py --out bench/serve/artifacts
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "artifacts"
MODEL_NAMES = ("forest", "linear")
SAMPLE_INDEX = 42  # a class-0 row that both models label alike


def load_data() -> tuple[pd.DataFrame, pd.Series]:
    """The wine data as a DataFrame (named columns, as in a notebook) and its target."""
    data = load_wine(as_frame=True)
    return data.data, data.target


def build_models() -> dict[str, RandomForestClassifier | Pipeline]:
    """The unfitted estimators, by benchmark name; seeds make the fits repeatable."""
    return {
        "forest": RandomForestClassifier(n_estimators=100, random_state=0),
        "linear": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    }


def to_onnx_bytes(model: Any, n_features: int) -> bytes:
    """Convert a fitted model with skl2onnx: plain label/probability outputs, float32 input.

    ``zipmap=False`` makes the probabilities a plain tensor instead of a list of
    dicts, which is both faster and what a service can return directly.
    """
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    onnx_model = convert_sklearn(
        model,
        initial_types=[("input", FloatTensorType([None, n_features]))],
        options={id(model): {"zipmap": False}},
        target_opset=17,
    )
    return onnx_model.SerializeToString()


def sample_row(features: pd.DataFrame, index: int = SAMPLE_INDEX) -> dict[str, float]:
    """One data row as feature name -> float, in column order (the JSON request body)."""
    return {name: float(value) for name, value in features.iloc[index].items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX export")
    args = parser.parse_args(argv)

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    features, target = load_data()
    row = sample_row(features)
    row_frame = pd.DataFrame([row], columns=features.columns)

    info: dict[str, Any] = {
        "data": "sklearn.datasets.load_wine(as_frame=True), all 178 rows",
        "features": list(features.columns),
        "sample_index": SAMPLE_INDEX,
        "versions": {"python": sys.version.split()[0], "scikit-learn": sklearn.__version__},
        "models": {},
    }
    for name, model in build_models().items():
        model.fit(features, target)
        path = out / f"{name}.joblib"
        joblib.dump(model, path)
        entry: dict[str, Any] = {
            "joblib": path.name,
            "estimator": repr(model),
            "prediction": int(model.predict(row_frame)[0]),
        }
        if not args.no_onnx:
            try:
                onnx_bytes = to_onnx_bytes(model, features.shape[1])
            except ImportError as exc:
                print(f"skipping ONNX export ({exc}); pip install skl2onnx", file=sys.stderr)
            else:
                (out / f"{name}.onnx").write_bytes(onnx_bytes)
                entry["onnx"] = f"{name}.onnx"
                entry["onnx_prediction"] = _onnx_predict(onnx_bytes, row_frame.to_numpy())
        info["models"][name] = entry
        print(f"{name}: {path} (prediction for row.json: {entry['prediction']})", file=sys.stderr)

    (out / "row.json").write_text(json.dumps(row, indent=2) + "\n", encoding="utf-8")
    (out / "rows.json").write_text(json.dumps({"rows": [row]}, indent=2) + "\n", encoding="utf-8")
    (out / "models.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
    return 0


def _onnx_predict(onnx_bytes: bytes, rows: np.ndarray) -> int | None:
    """The ONNX model's label for ``rows[0]``, or None if onnxruntime is missing."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    label = session.run(["label"], {"input": rows.astype(np.float32)})[0]
    return int(label[0])


if __name__ == "__main__":
    sys.exit(main())

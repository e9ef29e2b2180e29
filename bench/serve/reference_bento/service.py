"""Reference BentoML 1.4 service: how nb2prod means to generate ``service.py``.

Written by hand so that the serving benchmark can be proven before the
generator exists; the generated service should copy these settings, each of
which was measured (``bench/serve/README.md``; ``/work/shared/notes/bentoml.md``):

* ``traffic={"timeout": 10}``: BentoML keeps every request's objects alive until
  the traffic timeout fires (60 s by default), so the collector has ever more
  live objects to scan;
* at the end of ``__init__``: ``gc.collect(); gc.freeze()`` (the model and the
  imported modules leave the scanned generations) and
  ``gc.set_threshold(10_000, 50, 1_000)`` (rare full collections): without the
  thresholds p99 at concurrency 1 was 17-100x p50, with them ~2x;
* ONNX runtime (skl2onnx ``zipmap=False``; onnxruntime, one intra-op thread),
  with ``async def`` endpoints (no hop to a worker thread); scikit-learn models
  keep plain ``def`` endpoints (they run in BentoML's thread and release the GIL);
* pydantic input (``input_spec``, so the body is the flat row, the column with
  a ``/`` in its name by alias) and a pydantic output model (a bare list or
  array output rebuilds a JSON schema per response);
* ``/predict_batch``: adaptive batching, ``max_batch_size=64`` (a batch of 64
  rows costs a RandomForest about what one row does) and
  ``max_latency_ms=1000`` (a *rejection deadline*, not a wait: lower values
  turn load into 503 "process is overloaded");
* the environment: ``uvloop`` and ``httptools`` installed (``uvicorn[standard]``),
  which BentoML's uvicorn picks up by itself; without them p99 at concurrency
  32 was ~250 ms instead of ~40 ms.

Access logs, metrics and one worker stay as BentoML ships them.

Bench-only differences from the generated service: the model is a file named by
``NB2PROD_BENCH_MODEL`` (a ``.joblib`` path; the ``.onnx`` file beside it is used
when ``NB2PROD_BENCH_RUNTIME=onnx``), where the real service loads it from the
BentoML model store (``bentoml.models.BentoModel("name:latest")``);
``NB2PROD_BENCH_TUNING=off`` keeps only the notes' settings (timeout, freeze)
to show what the rest is worth.

Run (from this folder, after ``python ../models.py --out ../artifacts``)::

    NB2PROD_BENCH_MODEL=../artifacts/forest.joblib NB2PROD_BENCH_RUNTIME=onnx \\
        bentoml serve service:WineClassifier --host 127.0.0.1 --port 3000
"""

from __future__ import annotations

import gc
import os
import warnings
from pathlib import Path
from typing import Any

import bentoml
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

# Column order of the training DataFrame (the generator writes it from the notebook).
FEATURES: tuple[str, ...] = (
    "alcohol",
    "malic_acid",
    "ash",
    "alcalinity_of_ash",
    "magnesium",
    "total_phenols",
    "flavanoids",
    "nonflavanoid_phenols",
    "proanthocyanins",
    "color_intensity",
    "hue",
    "od280/od315_of_diluted_wines",
    "proline",
)

# A model fitted on a DataFrame warns on every numpy input; the columns are
# ordered by FEATURES (checked against feature_names_in_ at load), so the
# warning says nothing here and building a DataFrame per request costs more
# than the linear model's prediction.
warnings.filterwarnings("ignore", message="X does not have valid feature names")


class WineFeatures(BaseModel):
    """One row: the training column names (``/`` is not a Python name, hence the alias)."""

    model_config = ConfigDict(populate_by_name=True)

    alcohol: float
    malic_acid: float
    ash: float
    alcalinity_of_ash: float
    magnesium: float
    total_phenols: float
    flavanoids: float
    nonflavanoid_phenols: float
    proanthocyanins: float
    color_intensity: float
    hue: float
    od280_od315_of_diluted_wines: float = Field(alias="od280/od315_of_diluted_wines")
    proline: float


# Field names in FEATURES order, to build an array row without a DataFrame.
_FIELDS: tuple[str, ...] = tuple(
    name
    for feature in FEATURES
    for name, field in WineFeatures.model_fields.items()
    if (field.alias or name) == feature
)


class Prediction(BaseModel):
    """The predicted class label."""

    prediction: int


class _OnnxModel:
    """An onnxruntime session behind a ``predict(array) -> labels`` method."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # One thread per session: the server's event loop and the load
        # generator share two cores; more threads only contend.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(["label"], {self.input_name: x.astype(np.float32)})[0]


# Bench knobs, read at import because they decide how the class is defined.
RUNTIME = os.environ.get("NB2PROD_BENCH_RUNTIME", "sklearn")
# "off": only the settings of the notes (timeout, gc.freeze), to show what the rest buys.
TUNED = os.environ.get("NB2PROD_BENCH_TUNING", "on") != "off"
# onnxruntime predicts a row in ~5 us: run it on the event loop (``async def``)
# rather than paying BentoML's hop to a worker thread (~0.3 ms). scikit-learn
# stays in the thread: a forest takes milliseconds, releasing the GIL meanwhile.
ASYNC_API = TUNED and RUNTIME == "onnx"


def load_model() -> Any:
    """The model named by the environment (bench only; the real service uses the store)."""
    path = Path(os.environ.get("NB2PROD_BENCH_MODEL", "../artifacts/forest.joblib"))
    if RUNTIME == "onnx":
        return _OnnxModel(path.with_suffix(".onnx"))
    if RUNTIME != "sklearn":
        raise ValueError(f"NB2PROD_BENCH_RUNTIME must be sklearn or onnx, not {RUNTIME!r}")
    import joblib

    model = joblib.load(path)
    names = tuple(getattr(model, "feature_names_in_", FEATURES))
    if names != FEATURES:
        raise ValueError(f"{path} was trained on columns {names}, expected {FEATURES}")
    return model


def _rows_to_array(rows: list[WineFeatures]) -> np.ndarray:
    return np.array([[getattr(row, name) for name in _FIELDS] for row in rows], dtype=np.float64)


@bentoml.service(traffic={"timeout": 10})
class WineClassifier:
    """Wine class from 13 chemical measurements, one row or adaptively batched."""

    def __init__(self) -> None:
        self.model = load_model()
        # Everything loaded so far lives as long as the process: take it out of
        # the collector's scans.
        gc.collect()
        gc.freeze()
        if TUNED:
            # BentoML keeps ~50 objects per request alive until the traffic
            # timeout fires, so at ~1,000 requests/s the oldest generation holds
            # hundreds of thousands of live objects and default thresholds scan
            # them every second or two: 25-260 ms pauses, p99 at concurrency 1
            # at 17-100x p50. Rarer young collections, and full ones only after
            # 1,000 middle ones, bring p99 to ~2x p50; memory stayed flat over
            # 87,000 requests (those objects die by reference counting).
            gc.set_threshold(10_000, 50, 1_000)

    def _predict_one(self, features: dict[str, float]) -> Prediction:
        x = np.array([[features[name] for name in _FIELDS]], dtype=np.float64)
        return Prediction(prediction=int(self.model.predict(x)[0]))

    def _predict_many(self, rows: list[WineFeatures]) -> list[Prediction]:
        return [Prediction(prediction=int(y)) for y in self.model.predict(_rows_to_array(rows))]

    # The generator writes one of the two pairs below, by runtime.
    if ASYNC_API:

        @bentoml.api(route="/predict", input_spec=WineFeatures, output_spec=Prediction)
        async def predict(self, **features: float) -> Prediction:
            return self._predict_one(features)

        @bentoml.api(route="/predict_batch", batchable=True, max_batch_size=64, max_latency_ms=1000)
        async def predict_batch(self, rows: list[WineFeatures]) -> list[Prediction]:
            return self._predict_many(rows)

    else:

        @bentoml.api(route="/predict", input_spec=WineFeatures, output_spec=Prediction)
        def predict(self, **features: float) -> Prediction:
            return self._predict_one(features)

        @bentoml.api(route="/predict_batch", batchable=True, max_batch_size=64, max_latency_ms=1000)
        def predict_batch(self, rows: list[WineFeatures]) -> list[Prediction]:
            return self._predict_many(rows)

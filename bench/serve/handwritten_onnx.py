"""The strong baseline: FastAPI + ONNX Runtime, the service a latency-minded expert writes.

The same ``model.onnx`` the generated service serves (from the BentoML store),
one ``InferenceSession`` made at import with one thread per operator (one row
is microseconds of work: thread hand-offs cost more), a pydantic model of the
row (finite floats, no extra fields), the row turned into a float32 array in
the training column order, ``async def`` (the prediction is shorter than a
hop to the thread pool). Run with uvloop and httptools; the access log stays on,
as in the generated service.

Run (from ``bench/serve``)::

    MODEL_PATH=path/to/model.onnx uvicorn handwritten_onnx:app --loop uvloop \\
        --http httptools --host 127.0.0.1 --port 8000
"""

from __future__ import annotations

import os

import numpy as np
import onnxruntime
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

options = onnxruntime.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
session = onnxruntime.InferenceSession(
    os.environ.get("MODEL_PATH", "model.onnx"), options, providers=["CPUExecutionProvider"]
)
INPUT = session.get_inputs()[0].name
LABEL = session.get_outputs()[0].name

app = FastAPI(title="wine classifier (ONNX Runtime)")


class WineFeatures(BaseModel):
    """One wine, by the column names the model was trained with, in that order."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", allow_inf_nan=False)

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


class Prediction(BaseModel):
    predictions: int


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/predict")
async def predict(features: WineFeatures) -> Prediction:
    row = np.array([list(features.__dict__.values())], dtype=np.float32)
    (label,) = session.run([LABEL], {INPUT: row})[0]
    return Prediction(predictions=int(label))

"""The baseline: the prediction service people write by hand, FastAPI + uvicorn.

Plain and idiomatic on purpose, not tuned: the model is loaded with joblib when
the module is imported, a pydantic model declares the features (the one that is
not a Python name gets an alias), and ``/predict`` turns the row into a
one-row DataFrame with the training column names, the way most tutorials and
notebooks do, and returns the label. One uvicorn worker.

Run (from ``bench/serve``, after ``python models.py``)::

    MODEL_PATH=artifacts/forest.joblib uvicorn handwritten_fastapi:app \\
        --host 127.0.0.1 --port 8000

    curl -s -X POST 127.0.0.1:8000/predict -H 'content-type: application/json' \\
        -d @artifacts/row.json
"""

from __future__ import annotations

import os

import joblib
import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

model = joblib.load(os.environ.get("MODEL_PATH", "artifacts/forest.joblib"))

app = FastAPI(title="wine classifier")


class WineFeatures(BaseModel):
    """One wine, by the column names the model was trained with."""

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


class Prediction(BaseModel):
    prediction: int


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/predict")
def predict(features: WineFeatures) -> Prediction:
    row = pd.DataFrame([features.model_dump(by_alias=True)])
    return Prediction(prediction=int(model.predict(row)[0]))

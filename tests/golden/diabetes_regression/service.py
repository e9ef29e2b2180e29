"""HTTP service of diabetes-regression: the notebook's predict section behind a validated API.

Train first (`diabetes-regression-train` saves the model in BentoML's store), then run
`bentoml serve service:DiabetesRegressionService`. `POST /predict` takes one row,
`POST /predict_batch` a list of 1 to MAX_BATCH_ROWS rows (concurrent batch requests
are merged into one model call); both answer with the predict section's outputs.
Invalid requests get HTTP 4xx with a one-line reason (see `request_guard.py`).
`/readyz`, `/livez` and `/metrics` come with BentoML.
"""

from __future__ import annotations

import gc
import os
from typing import Annotated

import bentoml
from pydantic import Field

from diabetes_regression.config import Config
from diabetes_regression.fast_path import FastPath
from diabetes_regression.model_store import MODEL_NAME, load_model
from diabetes_regression.onnx_model import reads_arrays
from diabetes_regression.prediction import predict
from diabetes_regression.request_guard import RequestGuard
from diabetes_regression.request_timers import cancel_request_timers
from diabetes_regression.row_faults import row_faults
from diabetes_regression.schema import (
    COLUMNS,
    MAX_BATCH_ROWS,
    DiabetesRegressionPrediction,
    DiabetesRegressionRow,
    to_input,
    to_predictions,
)

CONFIG = Config()
cancel_request_timers()  # BentoML keeps each request's timeout timer for the whole timeout


# Per-request work no prediction needs is off: each cost more CPU than an ONNX model.
# Each comes back without editing this file, e.g. the access log with
# BENTOML_CONFIG_OVERRIDES='{"services": {"diabetes-regression":
#     {"logging": {"access": {"enabled": true}}}}}'
@bentoml.service(
    name="diabetes-regression",
    traffic={"timeout": 10},
    workers=1,
    # No line per request: the guard logs rejections, BentoML logs errors, and
    # /metrics (kept: Prometheus and autoscalers read it) counts requests and latencies.
    logging={"access": {"enabled": False}},
    # No span per request: BentoML exports none unless told to, yet built them all;
    # to trace, configure an exporter and set excluded_urls to [].
    tracing={"excluded_urls": [".*"]},
)
class DiabetesRegressionService:
    """Serves the model `diabetes-regression-train` saved, with the notebook's predict code.

    The endpoints are `async`: the ONNX twin answers in microseconds, so running it on
    the event loop beats a hand-off to a thread pool.
    """

    stored_model = bentoml.models.BentoModel(f"{MODEL_NAME}:latest")

    def __init__(self) -> None:
        # MODEL_RUNTIME: "best" (training's choice, `model.json`'s `runtime`), "trained" (the model as trained) or "onnx" (its ONNX twin).
        runtime = os.environ.get("MODEL_RUNTIME", "best")
        self.model = load_model(self.stored_model, runtime=runtime)
        # ONNX twins read the rows as one array: no DataFrame (nor pandas) per request.
        self.table = not reads_arrays(self.model, COLUMNS)
        # Freeze what loading allocated (the collector never rescans it) and collect
        # less often: fewer collector pauses mid-request.
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 50, 1_000)

    @bentoml.api(route="/predict")
    async def predict(
        self, row: DiabetesRegressionRow, /
    ) -> DiabetesRegressionPrediction:
        """Predict one row."""
        return self.predict_rows([row])[0]

    @bentoml.api(
        route="/predict_batch", batchable=True, max_batch_size=64, max_latency_ms=1000
    )
    async def predict_batch(
        self,
        rows: Annotated[
            list[DiabetesRegressionRow], Field(min_length=1, max_length=MAX_BATCH_ROWS)
        ],
        /,
    ) -> list[DiabetesRegressionPrediction]:
        """Predict a list of rows."""
        return self.predict_rows(rows)

    def predict_rows(
        self, rows: list[DiabetesRegressionRow]
    ) -> list[DiabetesRegressionPrediction]:
        """Run the notebook's predict section on `rows`, exactly as training code does."""
        # A ValueError, KeyError or TypeError of the notebook's code on a valid row is
        # the row's fault: HTTP 400 naming the function (see row_faults.py).
        with row_faults(predict):
            predictions = predict(self.model, to_input(rows, table=self.table))
        return to_predictions(
            {
                "predictions": predictions,
            }
        )


# Bad requests get a one-line 4xx before BentoML reads them, and one log line each.
# The guard also answers /predict itself, past BentoML's per-request dispatch (same
# validation, method and answer; see fast_path.py): NB2PROD_FAST_PATH=0 turns it off.
DiabetesRegressionService.add_asgi_middleware(
    RequestGuard,
    row_routes=("/predict",),
    batch_routes=("/predict_batch",),
    fast_path=FastPath(DiabetesRegressionService, routes=("/predict",)),
)

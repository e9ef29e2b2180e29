"""HTTP service of messy-churn: the notebook's predict section behind a validated API.

Train first (`messy-churn-train` saves the model in BentoML's store), then run
`bentoml serve service:MessyChurnService`. `POST /predict` takes one row,
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

from messy_churn.config import Config
from messy_churn.fast_path import FastPath
from messy_churn.model_store import MODEL_NAME, load_model
from messy_churn.prediction import add_ratio_features, predict
from messy_churn.request_guard import RequestGuard
from messy_churn.request_timers import cancel_request_timers
from messy_churn.row_faults import row_faults
from messy_churn.schema import (
    MAX_BATCH_ROWS,
    MessyChurnPrediction,
    MessyChurnRow,
    to_input,
    to_predictions,
)

CONFIG = Config()
cancel_request_timers()  # BentoML keeps each request's timeout timer for the whole timeout


# Per-request work no prediction needs is off: each cost more CPU than an ONNX model.
# Each comes back without editing this file, e.g. the access log with
# BENTOML_CONFIG_OVERRIDES='{"services": {"messy-churn":
#     {"logging": {"access": {"enabled": true}}}}}'
@bentoml.service(
    name="messy-churn",
    traffic={"timeout": 10},
    workers=1,
    # No line per request: the guard logs rejections, BentoML logs errors, and
    # /metrics (kept: Prometheus and autoscalers read it) counts requests and latencies.
    logging={"access": {"enabled": False}},
    # No span per request: BentoML exports none unless told to, yet built them all;
    # to trace, configure an exporter and set excluded_urls to [].
    tracing={"excluded_urls": [".*"]},
)
class MessyChurnService:
    """Serves the model `messy-churn-train` saved, with the notebook's predict code.

    The endpoints are `async`: the ONNX twin answers in microseconds, so running it on
    the event loop beats a hand-off to a thread pool.
    """

    stored_model = bentoml.models.BentoModel(f"{MODEL_NAME}:latest")

    def __init__(self) -> None:
        # MODEL_RUNTIME: "best" (training's choice, `model.json`'s `runtime`), "trained" (the model as trained) or "onnx" (its ONNX twin).
        runtime = os.environ.get("MODEL_RUNTIME", "best")
        self.model = load_model(self.stored_model, runtime=runtime)
        # Freeze what loading allocated (the collector never rescans it) and collect
        # less often: fewer collector pauses mid-request.
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 50, 1_000)

    @bentoml.api(route="/predict")
    async def predict(self, row: MessyChurnRow, /) -> MessyChurnPrediction:
        """Predict one row."""
        return self.predict_rows([row])[0]

    @bentoml.api(
        route="/predict_batch", batchable=True, max_batch_size=64, max_latency_ms=1000
    )
    async def predict_batch(
        self,
        rows: Annotated[
            list[MessyChurnRow], Field(min_length=1, max_length=MAX_BATCH_ROWS)
        ],
        /,
    ) -> list[MessyChurnPrediction]:
        """Predict a list of rows."""
        return self.predict_rows(rows)

    def predict_rows(self, rows: list[MessyChurnRow]) -> list[MessyChurnPrediction]:
        """Run the notebook's predict section on `rows`, exactly as training code does."""
        # A ValueError, KeyError or TypeError of the notebook's code on a valid row is
        # the row's fault: HTTP 400 naming the function (see row_faults.py).
        with row_faults(predict, add_ratio_features):
            predictions, probabilities = predict(
                self.model, add_ratio_features(to_input(rows))
            )
        return to_predictions(
            {
                "predictions": predictions,
                "probabilities": probabilities,
            }
        )


# Bad requests get a one-line 4xx before BentoML reads them, and one log line each.
# The guard also answers /predict itself, past BentoML's per-request dispatch (same
# validation, method and answer; see fast_path.py): NB2PROD_FAST_PATH=0 turns it off.
MessyChurnService.add_asgi_middleware(
    RequestGuard,
    row_routes=("/predict",),
    batch_routes=("/predict_batch",),
    fast_path=FastPath(MessyChurnService, routes=("/predict",)),
)

"""HTTP service of digits-cnn: the notebook's predict section behind a validated API.

Train first (`digits-cnn-train` saves the model in BentoML's store), then run
`bentoml serve service:DigitsCnnService`. `POST /predict` takes one row,
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
import torch
from pydantic import Field

from digits_cnn.config import Config
from digits_cnn.model_store import MODEL_NAME, load_model, load_state
from digits_cnn.prediction import predict
from digits_cnn.request_guard import RequestGuard
from digits_cnn.request_timers import cancel_request_timers
from digits_cnn.row_faults import row_faults
from digits_cnn.schema import (
    MAX_BATCH_ROWS,
    DigitsCnnPrediction,
    DigitsCnnRow,
    to_input,
    to_predictions,
)

CONFIG = Config()
cancel_request_timers()  # BentoML keeps each request's timeout timer for the whole timeout


# Per-request work no prediction needs is off: each cost more CPU than an ONNX model.
# Each comes back without editing this file, e.g. the access log with
# BENTOML_CONFIG_OVERRIDES='{"services": {"digits-cnn":
#     {"logging": {"access": {"enabled": true}}}}}'
@bentoml.service(
    name="digits-cnn",
    traffic={"timeout": 10},
    workers=1,
    # No line per request: the guard logs rejections, BentoML logs errors, and
    # /metrics (kept: Prometheus and autoscalers read it) counts requests and latencies.
    logging={"access": {"enabled": False}},
    # No span per request: BentoML exports none unless told to, yet built them all;
    # to trace, configure an exporter and set excluded_urls to [].
    tracing={"excluded_urls": [".*"]},
)
class DigitsCnnService:
    """Serves the model `digits-cnn-train` saved, with the notebook's predict code.

    The model runs on the device it trained on when this machine has it, else the CPU
    (see `torch_model.py`), or as its ONNX twin when training found that
    twin agrees and is faster (`model.json`'s `runtime` says which). The
    endpoints run in BentoML's thread pool: torch releases the GIL while it computes.
    """

    stored_model = bentoml.models.BentoModel(f"{MODEL_NAME}:latest")

    def __init__(self) -> None:
        # One thread per request: torch's default (one per core) splits each small input
        # over threads that then spin (bench/serve: 4-5x the req/s on the digits CNN).
        torch.set_num_threads(int(os.environ.get("TORCH_NUM_THREADS", "1")))
        # MODEL_RUNTIME: "best" (training's choice, `model.json`'s `runtime`), "trained" (the model as trained) or "onnx" (its ONNX twin).
        runtime = os.environ.get("MODEL_RUNTIME", "best")
        self.model = load_model(self.stored_model, runtime=runtime)
        # What the predict code reads besides the model: device.
        self.state = load_state(self.stored_model)
        # Freeze what loading allocated (the collector never rescans it) and collect
        # less often: fewer collector pauses mid-request.
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 50, 1_000)

    @bentoml.api(route="/predict")
    def predict(self, row: DigitsCnnRow, /) -> DigitsCnnPrediction:
        """Predict one row."""
        return self.predict_rows([row])[0]

    @bentoml.api(
        route="/predict_batch", batchable=True, max_batch_size=64, max_latency_ms=1000
    )
    def predict_batch(
        self,
        rows: Annotated[
            list[DigitsCnnRow], Field(min_length=1, max_length=MAX_BATCH_ROWS)
        ],
        /,
    ) -> list[DigitsCnnPrediction]:
        """Predict a list of rows."""
        return self.predict_rows(rows)

    def predict_rows(self, rows: list[DigitsCnnRow]) -> list[DigitsCnnPrediction]:
        """Run the notebook's predict section on `rows`, exactly as training code does."""
        # A ValueError, KeyError or TypeError of the notebook's code on a valid row is
        # the row's fault: HTTP 400 naming the function (see row_faults.py).
        # inference_mode: no autograd bookkeeping, so faster and less memory.
        with torch.inference_mode(), row_faults(predict):
            probabilities, digit = predict(
                self.model, to_input(rows), self.state["device"]
            )
        return to_predictions(
            {
                "probabilities": probabilities,
                "digit": digit,
            }
        )


# Bad requests get a one-line 4xx before BentoML reads them, and one log line each.
DigitsCnnService.add_asgi_middleware(
    RequestGuard, row_routes=("/predict",), batch_routes=("/predict_batch",)
)

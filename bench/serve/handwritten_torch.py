"""The CNN baseline: FastAPI + uvicorn + torch, as a skilled engineer would write it.

The same network as ``examples/digits_cnn.ipynb`` (its class copied, as people do),
loaded from a state dict (``torch.save(model.state_dict())`` of the module nb2prod's
training stored; ``bench_cnn.py`` writes it, strict loading). One image per request:
``{"input": [[[8 floats] x 8]]}``, shape (1, 8, 8) and finite numbers checked (else
422 with a one-line reason); answers ``{"probabilities": [10 floats], "digit": d}``
like the generated service.

Tuned where it pays for a tiny model on a CPU: one torch thread (a forward pass is
~0.1 ms of work; intra-op threads only add hand-offs, and on a small machine they
compete with the event loop and the load generator), ``inference_mode``, and an
``async def`` endpoint (no thread-pool hop: the forward pass is shorter than the hop).

    MODEL_PATH=state_dict.pt uvicorn handwritten_torch:app --loop uvloop --http httptools
"""

from __future__ import annotations

import os

import numpy as np
import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, field_validator
from torch import nn

torch.set_num_threads(1)
torch.set_num_interop_threads(1)


class DigitsCNN(nn.Module):
    def __init__(self, n_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


model = DigitsCNN()
model.load_state_dict(torch.load(os.environ.get("MODEL_PATH", "state_dict.pt"), weights_only=True))
model.eval()

app = FastAPI(title="digits cnn")


class Image(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    input: list[list[list[float]]]

    @field_validator("input")
    @classmethod
    def _shape(cls, value: list[list[list[float]]]) -> list[list[list[float]]]:
        if len(value) != 1 or len(value[0]) != 8 or any(len(r) != 8 for r in value[0]):
            raise ValueError("input must have shape (1, 8, 8)")
        return value


class Prediction(BaseModel):
    probabilities: list[float]
    digit: int


@app.exception_handler(RequestValidationError)
async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 with one line; FastAPI's default echoes the input, and a NaN in it makes a 500."""
    reasons = (f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in error.errors())
    return JSONResponse({"error": "; ".join(reasons)}, status_code=422)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/predict")
async def predict(image: Image) -> Prediction:
    x = torch.from_numpy(np.asarray(image.input, dtype=np.float32)).unsqueeze(0)
    with torch.inference_mode():
        probabilities = torch.softmax(model(x), dim=1)[0]
    return Prediction(probabilities=probabilities.tolist(), digit=int(probabilities.argmax()))

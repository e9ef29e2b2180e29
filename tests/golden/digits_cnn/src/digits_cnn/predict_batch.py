"""Batch scoring of digits-cnn: the service's predictions for every row of a file.

    digits-cnn-predict --input rows.npy --output predictions.parquet

runs it a chunk at a time (see `batch_scoring.py`), calling `Scorer.predict_frame`, which runs the notebook's predict section as `service.py`
does: the same function, stored state and config, on rows checked against the service's
own row model (`DigitsCnnRow`), so each row gets the prediction a request gets.
"""

from __future__ import annotations

from collections.abc import Sequence

import bentoml
import numpy as np
import pandas as pd
import torch

from digits_cnn.batch_io import (
    ROWS,
    BadInput,
    Place,
    check_array,
    output_frame,
    rules_of,
)
from digits_cnn.batch_scoring import main as run
from digits_cnn.config import Config
from digits_cnn.model_store import MODEL_NAME, load_model, load_state
from digits_cnn.pipeline import predict
from digits_cnn.schema import SHAPE, DigitsCnnRow

CONFIG = Config()
RULES = rules_of(DigitsCnnRow)
"""What the service accepts in each field, read from its row model."""


class Scorer:
    """The stored model and what its predict code reads besides, loaded once."""

    def __init__(self, tag: str | None = None, runtime: str = "best") -> None:
        tag = tag or f"{MODEL_NAME}:latest"
        try:
            stored = bentoml.models.get(tag)
        except bentoml.exceptions.NotFound:
            raise BadInput(
                f"no model {tag} in BentoML's store ($BENTOML_HOME): run "
                "`digits-cnn-train` first, or pick a tag from `bentoml models list`"
            ) from None
        try:
            self.model = load_model(stored, runtime=runtime)
        except ValueError as error:  # no ONNX twin for --runtime onnx
            raise BadInput(str(error)) from None
        # What the predict code reads besides the model: device.
        self.state = load_state(stored)

    def predict_frame(self, rows: np.ndarray, place: Place = ROWS) -> pd.DataFrame:
        """The predict section's outputs for `rows`, one column per output, in row order.

        The rows are checked first as the service checks a request: BadInput names the
        first row (counted from `place`) that the service would refuse.
        """
        check_array(rows, RULES[0], SHAPE, place)
        with torch.inference_mode():  # as the service: no autograd bookkeeping
            probabilities, digit = predict(
                self.model, input_of(rows), self.state["device"]
            )
        return output_frame(
            {
                "probabilities": probabilities,
                "digit": digit,
            }
        )


def input_of(rows: np.ndarray) -> torch.Tensor:
    """Rows of shape `(rows, *SHAPE)` as the predict section takes them, as `to_input`
    builds them from requests."""
    return torch.as_tensor(np.asarray(rows, dtype="float32"))


def main(argv: Sequence[str] | None = None) -> int:
    """`digits-cnn-predict`: see `--help`."""
    return run(
        argv,
        prog="digits-cnn-predict",
        load=Scorer,
        rules=RULES,
        shape=SHAPE,
    )


if __name__ == "__main__":
    raise SystemExit(main())

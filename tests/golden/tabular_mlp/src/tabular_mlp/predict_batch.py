"""Batch scoring of tabular-mlp: the service's predictions for every row of a file.

    tabular-mlp-predict --input rows.parquet --output predictions.parquet

runs it a chunk at a time (see `batch_scoring.py`); `scripts/batch_ray.py` runs it
on a Ray cluster. Both call `Scorer.predict_frame`, which runs the notebook's predict section as `service.py`
does: the same function, stored state and config, on rows checked against the service's
own row model (`TabularMlpRow`), so each row gets the prediction a request gets.
"""

from __future__ import annotations

from collections.abc import Sequence

import bentoml
import numpy as np
import pandas as pd
import torch

from tabular_mlp.batch_io import (
    ROWS,
    BadInput,
    Place,
    check_frame,
    output_frame,
    rules_of,
)
from tabular_mlp.batch_scoring import main as run
from tabular_mlp.config import Config
from tabular_mlp.model_store import MODEL_NAME, load_model, load_state
from tabular_mlp.pipeline import predict
from tabular_mlp.schema import COLUMNS, DTYPES, TabularMlpRow

CONFIG = Config()
RULES = rules_of(TabularMlpRow)
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
                "`tabular-mlp-train` first, or pick a tag from `bentoml models list`"
            ) from None
        try:
            self.model = load_model(stored, runtime=runtime)
        except ValueError as error:  # no ONNX twin for --runtime onnx
            raise BadInput(str(error)) from None
        # What the predict code reads besides the model: scaler, y_std, y_mean.
        self.state = load_state(stored, runtime=runtime)

    def predict_frame(self, rows: pd.DataFrame, place: Place = ROWS) -> pd.DataFrame:
        """The predict section's outputs for `rows`, one column per output, in row order.

        The rows are checked first as the service checks a request: BadInput names the
        first row (counted from `place`) that the service would refuse.
        """
        check_frame(rows, RULES, place)
        with torch.inference_mode():  # as the service: no autograd bookkeeping
            progression = predict(
                self.model,
                self.state["scaler"],
                input_of(rows),
                self.state["y_std"],
                self.state["y_mean"],
            )
        return output_frame(
            {
                "progression": progression,
            }
        )


def input_of(rows: pd.DataFrame) -> pd.DataFrame:
    """The service's columns of `rows` as the table the predict section takes: the
    columns, order and dtypes `to_input` gives requests."""
    return pd.DataFrame(
        {name: _values(rows[name], DTYPES[name]) for name in COLUMNS}, columns=COLUMNS
    )


def _values(column: pd.Series, dtype: str) -> np.ndarray:
    """A column as an array of `dtype`; missing text values are None, as in JSON."""
    if dtype == "object":
        return column.astype(object).where(column.notna(), None).to_numpy()
    return column.to_numpy(dtype=dtype)


def main(argv: Sequence[str] | None = None) -> int:
    """`tabular-mlp-predict`: see `--help`."""
    return run(
        argv,
        prog="tabular-mlp-predict",
        load=Scorer,
        rules=RULES,
        shape=None,
    )


if __name__ == "__main__":
    raise SystemExit(main())

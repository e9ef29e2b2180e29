"""Request and response models of the service, from the data the notebook really has.

nb2prod recorded them from `new_scans` (the predict section's input) and
from every table that has those columns, 360 rows at most: field types,
categories, and ranges widened by 10% of their width on each side (never below
zero for data that never was). Values outside them get HTTP 400, and so do values of
the wrong JSON type: the rows are strict (no "13.5" or `false` where a number goes, an
integer is fine for a float). Edit to taste.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_BATCH_ROWS = 1000
"""Most rows one batch request may carry."""

COLUMNS = ["input"]
FIELDS = ["input"]
DTYPES = {"input": "float32"}
VALUES_PER_ROW = 64
ROW_DEPTH = 4
"""How deeply one request row nests: an object, then a list per dimension of SHAPE."""
SHAPE = (1, 8, 8)
"""Each row's `input`: nested lists of this shape (one row of `new_scans`)."""
Value = Annotated[float, Field(ge=0.0, le=1.1)]
"""One value of a row, within the range the notebook's data had."""


class DigitsCnnRow(BaseModel):
    """One row of `new_scans`: the model's features, as the notebook had them."""

    # strict: no strings or booleans for numbers; allow_inf_nan: no NaN or 1e999 either.
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        frozen=True,
        strict=True,
        allow_inf_nan=False,
    )

    input: list[list[list[Value]]]

    @field_validator("input", mode="before")
    @classmethod
    def _has_the_row_shape(cls, value: Any) -> Any:
        """The shape first, so that a wrong one gets one reason, not one per value."""
        check_shape(value, SHAPE)
        return value


def check_shape(value: Any, shape: tuple[int, ...], where: str = "") -> None:
    """A ValueError naming the first list that is not one, or not of the shape's length."""
    if not isinstance(value, list):
        kind = "a number" if isinstance(value, (int, float)) else type(value).__name__
        raise ValueError(  # noqa: TRY004 - pydantic makes a 400 of ValueError only
            f"{where or 'the row'} is {kind}, not a list of {shape[0]} (shape {SHAPE})"
        )
    if len(value) != shape[0]:
        raise ValueError(
            f"{where or 'the row'} has {len(value)} entries, not {shape[0]} (shape {SHAPE})"
        )
    for index, item in enumerate(value):
        if len(shape) > 1:
            check_shape(item, shape[1:], f"{where}[{index}]")
        elif isinstance(item, list):
            raise ValueError(
                f"{where}[{index}] is a list, not a number (shape {SHAPE})"
            )


class DigitsCnnPrediction(BaseModel):
    """What the predict section returns for one row."""

    probabilities: list[float]
    digit: int


def to_input(rows: list[DigitsCnnRow]) -> torch.Tensor:
    """Rows as the tensor the predict section expects: `(rows, *SHAPE)`, its dtype."""
    values = np.array([row.input for row in rows], dtype="float32")
    return torch.as_tensor(values)


def to_predictions(values: dict[str, Any]) -> list[DigitsCnnPrediction]:
    """The predict section's outputs (one value per row each) as response models."""
    columns = {name: _as_array(value).tolist() for name, value in values.items()}
    count = len(next(iter(columns.values())))
    return [
        DigitsCnnPrediction(**{name: column[i] for name, column in columns.items()})
        for i in range(count)
    ]


def _as_array(value: Any) -> np.ndarray:
    """An output as an array: a torch tensor is detached and moved to the CPU first."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)

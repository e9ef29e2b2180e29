"""Request and response models of the service, from the data the notebook really has.

nb2prod recorded them from `sample` (the predict section's input, as raw
rows: `X` before `preprocess_rows` derives the model's features) and
from every table that has those raw columns, 178 rows at most: field types,
categories, and ranges widened by 10% of their width on each side (never below
zero for data that never was). Values outside them get HTTP 400, and so do values of
the wrong JSON type: the rows are strict (no "13.5" or `false` where a number goes, an
integer is fine for a float). Edit to taste.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

MAX_BATCH_ROWS = 1000
"""Most rows one batch request may carry."""

COLUMNS = [
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
]
COLUMN_INDEX = pd.Index(COLUMNS)
"""COLUMNS as the table's labels, made once: pandas infers their dtype on each call."""
FIELDS = [
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
    "od280_od315_of_diluted_wines",
    "proline",
]
DTYPES = {
    "alcohol": "float64",
    "malic_acid": "float64",
    "ash": "float64",
    "alcalinity_of_ash": "float64",
    "magnesium": "float64",
    "total_phenols": "float64",
    "flavanoids": "float64",
    "nonflavanoid_phenols": "float64",
    "proanthocyanins": "float64",
    "color_intensity": "float64",
    "hue": "float64",
    "od280/od315_of_diluted_wines": "float64",
    "proline": "float64",
}
VALUES_PER_ROW = 13
ROW_DEPTH = 1
"""How deeply one request row nests: an object."""


class WineClassifierRow(BaseModel):
    """One row of `X` before `preprocess_rows`: raw data, as loaded."""

    # strict: no strings or booleans for numbers; allow_inf_nan: no NaN or 1e999 either.
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        frozen=True,
        strict=True,
        allow_inf_nan=False,
    )

    alcohol: float = Field(ge=10.65, le=15.21)
    malic_acid: float = Field(ge=0.234, le=6.306)
    ash: float = Field(ge=1.173, le=3.417)
    alcalinity_of_ash: float = Field(ge=8.66, le=31.94)
    magnesium: float = Field(ge=60.8, le=171.2)
    total_phenols: float = Field(ge=0.69, le=4.17)
    flavanoids: float = Field(ge=0.0, le=5.554)
    nonflavanoid_phenols: float = Field(ge=0.077, le=0.713)
    proanthocyanins: float = Field(ge=0.093, le=3.897)
    color_intensity: float = Field(ge=0.108, le=14.172)
    hue: float = Field(ge=0.357, le=1.833)
    od280_od315_of_diluted_wines: float = Field(
        alias="od280/od315_of_diluted_wines", ge=0.997, le=4.273
    )
    proline: float = Field(ge=137.8, le=1820.2)


class WineClassifierPrediction(BaseModel):
    """What the predict section returns for one row."""

    predictions: int


def to_input(rows: list[WineClassifierRow]) -> pd.DataFrame:
    """Rows as the table the predict section expects: same columns, order and dtype.

    One array, one block: a fraction of the cost of building it from records.
    """
    values = [[getattr(row, name) for name in FIELDS] for row in rows]
    return pd.DataFrame(np.array(values, dtype="float64"), columns=COLUMN_INDEX)


def to_predictions(values: dict[str, Any]) -> list[WineClassifierPrediction]:
    """The predict section's outputs (one value per row each) as response models."""
    columns = {name: _as_array(value).tolist() for name, value in values.items()}
    count = len(next(iter(columns.values())))
    return [
        WineClassifierPrediction(
            **{name: column[i] for name, column in columns.items()}
        )
        for i in range(count)
    ]


def _as_array(value: Any) -> np.ndarray:
    """An output as an array: a torch tensor is detached and moved to the CPU first."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)

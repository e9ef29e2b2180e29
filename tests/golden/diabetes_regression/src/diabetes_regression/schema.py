"""Request and response models of the service, from the data the notebook really has.

nb2prod recorded them from `sample` (the predict section's input) and
from every table that has those columns, 442 rows at most: field types,
categories, and ranges widened by 10% of their width on each side (never below
zero for data that never was). Values outside them get HTTP 400, and so do values of
the wrong JSON type: the rows are strict (no "13.5" or `false` where a number goes, an
integer is fine for a float). Edit to taste.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

MAX_BATCH_ROWS = 1000
"""Most rows one batch request may carry."""

COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s5", "s6", "bmi_x_bp", "s5_sq"]
FIELDS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s5", "s6", "bmi_x_bp", "s5_sq"]
DTYPES = {
    "age": "float64",
    "sex": "float64",
    "bmi": "float64",
    "bp": "float64",
    "s1": "float64",
    "s2": "float64",
    "s3": "float64",
    "s5": "float64",
    "s6": "float64",
    "bmi_x_bp": "float64",
    "s5_sq": "float64",
}
VALUES_PER_ROW = 11
ROW_DEPTH = 1
"""How deeply one request row nests: an object."""


class DiabetesRegressionRow(BaseModel):
    """One row of `sample`: the model's features, as the notebook had them."""

    # strict: no strings or booleans for numbers; allow_inf_nan: no NaN or 1e999 either.
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        frozen=True,
        strict=True,
        allow_inf_nan=False,
    )

    age: float = Field(ge=-0.12306, le=0.110541)
    sex: float = Field(ge=-0.0541738, le=0.0602123)
    bmi: float = Field(ge=-0.204948, le=0.29476)
    bp: float = Field(ge=-0.112932, le=0.126483)
    s1: float = Field(ge=-0.12156, le=0.149822)
    s2: float = Field(ge=-0.122066, le=0.150471)
    s3: float = Field(ge=-0.101298, le=0.169788)
    s5: float = Field(ge=-0.119043, le=0.152253)
    s6: float = Field(ge=-0.124334, le=0.152872)
    bmi_x_bp: float = Field(ge=-3.28832, le=5.9979)
    s5_sq: float = Field(ge=0.0, le=8.2619)


class DiabetesRegressionPrediction(BaseModel):
    """What the predict section returns for one row."""

    predictions: float


def to_input(rows: list[DiabetesRegressionRow], *, table: bool = True) -> Any:
    """Rows as the table the predict section expects: same columns, order and dtype.

    One array, one block: a fraction of the cost of building it from records.
    With `table=False`, that array itself: ONNX twins read it as they read the table.
    """
    values = [[getattr(row, name) for name in FIELDS] for row in rows]
    array = np.array(values, dtype="float64")
    if not table:
        return array
    import pandas as pd  # here, not at the top: a service the twin serves never loads it

    return pd.DataFrame(array, columns=COLUMNS)


def to_predictions(values: dict[str, Any]) -> list[DiabetesRegressionPrediction]:
    """The predict section's outputs (one value per row each) as response models."""
    columns = {name: _as_array(value).tolist() for name, value in values.items()}
    count = len(next(iter(columns.values())))
    return [
        DiabetesRegressionPrediction(
            **{name: column[i] for name, column in columns.items()}
        )
        for i in range(count)
    ]


def _as_array(value: Any) -> np.ndarray:
    """An output as an array: a torch tensor is detached and moved to the CPU first."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)

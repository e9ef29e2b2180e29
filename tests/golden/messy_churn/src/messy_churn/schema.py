"""Request and response models of the service, from the data the notebook really has.

nb2prod recorded them from `sample` (the predict section's input, as raw
rows: `X` before `add_ratio_features` derives the model's features) and
from every table that has those raw columns, 569 rows at most: field types,
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
    "mean radius",
    "mean texture",
    "mean perimeter",
    "mean area",
    "mean smoothness",
    "mean compactness",
    "mean concavity",
    "mean concave points",
    "mean symmetry",
    "mean fractal dimension",
    "radius error",
    "texture error",
    "perimeter error",
    "area error",
    "smoothness error",
    "compactness error",
    "concavity error",
    "concave points error",
    "symmetry error",
    "fractal dimension error",
    "worst radius",
    "worst texture",
    "worst perimeter",
    "worst area",
    "worst smoothness",
    "worst compactness",
    "worst concavity",
    "worst concave points",
    "worst symmetry",
    "worst fractal dimension",
]
COLUMN_INDEX = pd.Index(COLUMNS)
"""COLUMNS as the table's labels, made once: pandas infers their dtype on each call."""
FIELDS = [
    "mean_radius",
    "mean_texture",
    "mean_perimeter",
    "mean_area",
    "mean_smoothness",
    "mean_compactness",
    "mean_concavity",
    "mean_concave_points",
    "mean_symmetry",
    "mean_fractal_dimension",
    "radius_error",
    "texture_error",
    "perimeter_error",
    "area_error",
    "smoothness_error",
    "compactness_error",
    "concavity_error",
    "concave_points_error",
    "symmetry_error",
    "fractal_dimension_error",
    "worst_radius",
    "worst_texture",
    "worst_perimeter",
    "worst_area",
    "worst_smoothness",
    "worst_compactness",
    "worst_concavity",
    "worst_concave_points",
    "worst_symmetry",
    "worst_fractal_dimension",
]
DTYPES = {
    "mean radius": "float64",
    "mean texture": "float64",
    "mean perimeter": "float64",
    "mean area": "float64",
    "mean smoothness": "float64",
    "mean compactness": "float64",
    "mean concavity": "float64",
    "mean concave points": "float64",
    "mean symmetry": "float64",
    "mean fractal dimension": "float64",
    "radius error": "float64",
    "texture error": "float64",
    "perimeter error": "float64",
    "area error": "float64",
    "smoothness error": "float64",
    "compactness error": "float64",
    "concavity error": "float64",
    "concave points error": "float64",
    "symmetry error": "float64",
    "fractal dimension error": "float64",
    "worst radius": "float64",
    "worst texture": "float64",
    "worst perimeter": "float64",
    "worst area": "float64",
    "worst smoothness": "float64",
    "worst compactness": "float64",
    "worst concavity": "float64",
    "worst concave points": "float64",
    "worst symmetry": "float64",
    "worst fractal dimension": "float64",
}
VALUES_PER_ROW = 30
ROW_DEPTH = 1
"""How deeply one request row nests: an object."""


class MessyChurnRow(BaseModel):
    """One row of `X` before `add_ratio_features`: raw data, as loaded."""

    # strict: no strings or booleans for numbers; allow_inf_nan: no NaN or 1e999 either.
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        frozen=True,
        strict=True,
        allow_inf_nan=False,
    )

    mean_radius: float = Field(alias="mean radius", ge=4.8681, le=30.2229)
    mean_texture: float = Field(alias="mean texture", ge=6.753, le=42.237)
    mean_perimeter: float = Field(alias="mean perimeter", ge=29.319, le=202.971)
    mean_area: float = Field(alias="mean area", ge=0.0, le=2736.75)
    mean_smoothness: float = Field(alias="mean smoothness", ge=0.041553, le=0.174477)
    mean_compactness: float = Field(alias="mean compactness", ge=0.0, le=0.378002)
    mean_concavity: float = Field(alias="mean concavity", ge=0.0, le=0.46948)
    mean_concave_points: float = Field(alias="mean concave points", ge=0.0, le=0.22132)
    mean_symmetry: float = Field(alias="mean symmetry", ge=0.0862, le=0.3238)
    mean_fractal_dimension: float = Field(
        alias="mean fractal dimension", ge=0.045212, le=0.102188
    )
    radius_error: float = Field(alias="radius error", ge=0.0, le=3.14915)
    texture_error: float = Field(alias="texture error", ge=0.0, le=5.33748)
    perimeter_error: float = Field(alias="perimeter error", ge=0.0, le=24.1023)
    area_error: float = Field(alias="area error", ge=0.0, le=595.74)
    smoothness_error: float = Field(alias="smoothness error", ge=0.0, le=0.0340717)
    compactness_error: float = Field(alias="compactness error", ge=0.0, le=0.148715)
    concavity_error: float = Field(alias="concavity error", ge=0.0, le=0.4356)
    concave_points_error: float = Field(
        alias="concave points error", ge=0.0, le=0.058069
    )
    symmetry_error: float = Field(alias="symmetry error", ge=0.0007752, le=0.0860568)
    fractal_dimension_error: float = Field(
        alias="fractal dimension error", ge=0.0, le=0.0327345
    )
    worst_radius: float = Field(alias="worst radius", ge=5.119, le=38.851)
    worst_texture: float = Field(alias="worst texture", ge=8.268, le=53.292)
    worst_perimeter: float = Field(alias="worst perimeter", ge=30.331, le=271.279)
    worst_area: float = Field(alias="worst area", ge=0.0, le=4660.88)
    worst_smoothness: float = Field(alias="worst smoothness", ge=0.056027, le=0.237743)
    worst_compactness: float = Field(alias="worst compactness", ge=0.0, le=1.16107)
    worst_concavity: float = Field(alias="worst concavity", ge=0.0, le=1.3772)
    worst_concave_points: float = Field(alias="worst concave points", ge=0.0, le=0.3201)
    worst_symmetry: float = Field(alias="worst symmetry", ge=0.10577, le=0.71453)
    worst_fractal_dimension: float = Field(
        alias="worst fractal dimension", ge=0.039794, le=0.222746
    )


class MessyChurnPrediction(BaseModel):
    """What the predict section returns for one row."""

    predictions: int
    probabilities: float


def to_input(rows: list[MessyChurnRow]) -> pd.DataFrame:
    """Rows as the table the predict section expects: same columns, order and dtype.

    One array, one block: a fraction of the cost of building it from records.
    """
    values = [[getattr(row, name) for name in FIELDS] for row in rows]
    return pd.DataFrame(np.array(values, dtype="float64"), columns=COLUMN_INDEX)


def to_predictions(values: dict[str, Any]) -> list[MessyChurnPrediction]:
    """The predict section's outputs (one value per row each) as response models."""
    columns = {name: _as_array(value).tolist() for name, value in values.items()}
    count = len(next(iter(columns.values())))
    return [
        MessyChurnPrediction(**{name: column[i] for name, column in columns.items()})
        for i in range(count)
    ]


def _as_array(value: Any) -> np.ndarray:
    """An output as an array: a torch tensor is detached and moved to the CPU first."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)

"""The notebook's own checks (its `test` cells), run against the pipeline's results."""

from __future__ import annotations

from typing import Any


def test_notebook_cell_17(pipeline_outputs: dict[str, Any]) -> None:
    """Sanity checks.

    From notebook cell 17.
    """
    metrics = pipeline_outputs["metrics"]
    predictions = pipeline_outputs["predictions"]
    assert metrics["r2"] > 0.3, metrics
    assert metrics["mae"] <= metrics["rmse"]
    assert predictions.shape == (5,)

"""The notebook's own checks (its `test` cells), run against the pipeline's results."""

from __future__ import annotations

from typing import Any


def test_notebook_cell_15(pipeline_outputs: dict[str, Any]) -> None:
    """Sanity checks.

    From notebook cell 15.
    """
    accuracy = pipeline_outputs["accuracy"]
    f1_macro = pipeline_outputs["f1_macro"]
    predictions = pipeline_outputs["predictions"]
    sample = pipeline_outputs["sample"]
    assert accuracy > 0.8, accuracy
    assert 0.0 <= f1_macro <= 1.0
    assert len(predictions) == len(sample)

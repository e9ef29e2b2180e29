"""The notebook's own checks (its `test` cells), run against the pipeline's results."""

from __future__ import annotations

from typing import Any


def test_notebook_cell_16(pipeline_outputs: dict[str, Any]) -> None:
    """The notebook's checks.

    From notebook cell 16.
    """
    accuracy = pipeline_outputs["accuracy"]
    digit = pipeline_outputs["digit"]
    assert accuracy > 0.9, accuracy
    assert digit.shape == (6,)

"""The notebook's own checks (its `test` cells), run against the pipeline's results."""

from __future__ import annotations

from typing import Any


def test_notebook_cell_20(pipeline_outputs: dict[str, Any]) -> None:
    """The notebook's checks.

    From notebook cell 20.
    """
    accuracy = pipeline_outputs["accuracy"]
    roc_auc = pipeline_outputs["roc_auc"]
    assert accuracy > 0.9
    assert roc_auc > 0.95

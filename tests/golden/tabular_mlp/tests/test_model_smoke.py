"""Smoke test: a quick training run still gives a model about as good as the notebook's.

The quick parameters come from the notebook's `# nb2prod: quick` line
({'epochs': 40}); the reference metrics are the notebook's, with its
default parameters, recorded by nb2prod in `reference/metrics.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

import bentoml

from tabular_mlp.model_store import load_model
from tabular_mlp.train import main as train

REFERENCE = Path(__file__).resolve().parent.parent / "reference"
NOTEBOOK_METRICS: dict[str, float] = json.loads(
    (REFERENCE / "metrics.json").read_text()
)["defaults"]
MARGIN = 0.1
"""How far (relative to the notebook's value) a quick run may fall short."""
BETTER: dict[str, str] = {"mae": "lower", "r2": "higher"}
"""The metrics compared, and which way each improves: `higher` (accuracy) or `lower`
(errors, losses)."""


def test_quick_training_scores_close_to_the_notebook(tmp_path: Path) -> None:
    assert train(["--quick", "--output-dir", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for name, better in BETTER.items():
        reference = NOTEBOOK_METRICS[name]
        allowed = MARGIN * abs(reference)
        if better == "higher":
            assert metrics[name] >= reference - allowed, (
                name,
                metrics[name],
                reference,
            )
        else:
            assert metrics[name] <= reference + allowed, (
                name,
                metrics[name],
                reference,
            )
    metadata = json.loads((tmp_path / "model.json").read_text())
    model = load_model(bentoml.models.get(metadata["bentoml_tag"]))
    assert callable(getattr(model, "predict", None)) or callable(model), (
        "the model cannot predict"
    )

"""Smoke tests: training with the notebook's defaults writes a model and its metrics."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import bentoml

from tabular_mlp.config import Config, add_arguments, from_namespace
from tabular_mlp.model_store import load_model
from tabular_mlp.train import main

EXPECTED_METRICS = ["mae", "r2"]


def test_training_writes_model_and_metrics(tmp_path: Path) -> None:
    assert main(["--output-dir", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert sorted(metrics) == EXPECTED_METRICS
    assert all(math.isfinite(value) for value in metrics.values())
    metadata = json.loads((tmp_path / "model.json").read_text())
    assert metadata["metrics"] == metrics
    assert metadata["parameters"] == Config().to_dict()
    assert len(metadata["data_sha256"]) == 64
    assert (tmp_path / "model.bentomodel").is_file()
    stored = bentoml.models.get(metadata["bentoml_tag"])
    assert stored.info.metadata["metrics"] == metrics
    model = load_model(stored)
    assert callable(getattr(model, "predict", None)) or callable(model)


def test_every_parameter_is_a_flag_with_the_notebook_default() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert from_namespace(parser.parse_args([])) == Config()


def test_a_flag_overrides_its_parameter() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = from_namespace(parser.parse_args(["--hidden-units", "33"]))
    assert config.hidden_units == 33

"""Shared fixtures: the pipeline runs once per test session, with the notebook's defaults."""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Callable
from typing import Any

import pytest

# Tests save models: keep them out of the user's BentoML store (~/bentoml).
os.environ["BENTOML_HOME"] = tempfile.mkdtemp(prefix="bentoml-tests-")

from messy_churn import pipeline
from messy_churn.config import Config

STEP_FUNCTIONS = ["load_data", "preprocess", "train_model", "evaluate", "predict"]


@pytest.fixture(scope="session")
def pipeline_outputs() -> dict[str, Any]:
    """Every value the pipeline's sections hand on, from one run with default parameters."""
    return pipeline.run_pipeline(Config())


@pytest.fixture(scope="session")
def step_arguments() -> dict[str, tuple[tuple[Any, ...], dict[str, Any]]]:
    """The arguments each pipeline function got in a default run, copied before the call."""
    arguments: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}

    def recording(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            arguments[name] = copy.deepcopy((args, kwargs))
            return function(*args, **kwargs)

        return run

    originals = {name: getattr(pipeline, name) for name in STEP_FUNCTIONS}
    try:
        for name, function in originals.items():
            setattr(pipeline, name, recording(name, function))
        pipeline.run_pipeline(Config())
    finally:
        for name, function in originals.items():
            setattr(pipeline, name, function)
    return arguments

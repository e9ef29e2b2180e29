"""Shared fixtures: the pipeline runs once per test session, with the notebook's defaults."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import pytest

# Tests save models: keep them out of the user's BentoML store (~/bentoml).
os.environ["BENTOML_HOME"] = tempfile.mkdtemp(prefix="bentoml-tests-")

from messy_churn.config import Config
from messy_churn.pipeline import run_pipeline


@pytest.fixture(scope="session")
def pipeline_outputs() -> dict[str, Any]:
    """Every value the pipeline's sections hand on, from one run with default parameters."""
    return run_pipeline(Config())

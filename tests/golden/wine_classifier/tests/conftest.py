"""Shared fixtures: the pipeline runs once per test session, with the notebook's defaults."""

from __future__ import annotations

from typing import Any

import pytest

from wine_classifier.config import Config
from wine_classifier.pipeline import run_pipeline


@pytest.fixture(scope="session")
def pipeline_outputs() -> dict[str, Any]:
    """Every value the pipeline's sections hand on, from one run with default parameters."""
    return run_pipeline(Config())

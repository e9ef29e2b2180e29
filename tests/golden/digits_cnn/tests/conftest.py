"""Shared fixtures: the pipeline runs with the notebook's defaults; files go to tmp_path.

Every file a test writes (models, BentoML's store, artifacts) lands in pytest's temporary
folders, never in the project, the user's `~/bentoml` or a stray folder in /tmp.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digits_cnn import pipeline
from digits_cnn.config import Config


@pytest.fixture(scope="session", autouse=True)
def bentoml_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests save models: into a store of their own, not the user's (`~/bentoml`)."""
    home = tmp_path_factory.mktemp("bentoml")
    previous = os.environ.get("BENTOML_HOME")
    os.environ["BENTOML_HOME"] = str(
        home
    )  # BentoML reads it when a store is first used
    yield home
    if previous is None:
        os.environ.pop("BENTOML_HOME", None)
    else:
        os.environ["BENTOML_HOME"] = previous


@pytest.fixture(scope="session")
def pipeline_outputs() -> dict[str, Any]:
    """Every value the pipeline's sections hand on, from one run with default parameters."""
    return pipeline.run_pipeline(Config())

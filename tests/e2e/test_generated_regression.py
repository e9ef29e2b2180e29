"""The generated papermill test records the notebook's metrics where verify does.

`nb2prod verify` and the project's own `tests/test_notebook_regression.py` both run
the notebook with papermill and compare its metrics with the pipeline's. They follow
one rule (`plan/metrics_record.py`), so a project verify passes does not fail its own
CI: printed scores are named as in the pipeline, a later (skipped) cell that rebinds a
metric does not change what is recorded, and nb2prod's score for a notebook that
computes no metric is computed in the notebook too, a metric that is NaN on both
sides agrees, as verify counts it, and a skipped cell may fail, as verify lets it. Each
notebook here is one that verify passes (tests/e2e/test_trust.py); the generated test runs
for real with pytest in the project, with this interpreter and the project's `src/` on the
path.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nb2prod.commands.convert import convert
from tests.conftest import generated_env, make_notebook
from tests.e2e.test_trust import LIST_INPUT, NO_METRIC_SHOWN_PREDICTION, PRINTED_SCORES

pytestmark = pytest.mark.e2e

NOTEBOOKS = {
    "printed": PRINTED_SCORES,  # scores only printed: named as in the pipeline
    "listin": LIST_INPUT,  # a skipped cell after predict sets `train_accuracy = 0.0`
    "shown": NO_METRIC_SHOWN_PREDICTION,  # no metric: nb2prod's score step
    "nan": [  # a NaN metric: equal to the pipeline's NaN, as in verify
        ("rows = [1.0, 2.0, float('nan')]", ["nb2prod:load"]),
        # a skipped cell may fail, as in verify (a plot needing a package not installed)
        ("raise ModuleNotFoundError('no matplotlib here')", ["skip"]),
        ("mean = sum(rows) / len(rows)", ["nb2prod:evaluate"]),
    ],
}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_generated_notebook_regression_test_passes(name: str, tmp_path: Path) -> None:
    project = tmp_path / name
    convert(make_notebook(tmp_path / f"{name}.ipynb", NOTEBOOKS[name]), project, service=False)
    assert (project / "tests" / "test_notebook_regression.py").exists()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp",
         str(tmp_path / "basetemp"), "tests/test_notebook_regression.py"],
        cwd=project, env=generated_env(project, tmp_path / "bentoml"),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    assert "1 passed" in result.stdout

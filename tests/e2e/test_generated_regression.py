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
from collections.abc import Iterator
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


def _convert_and_start(name: str, root: Path) -> subprocess.Popen[str]:
    """Convert the notebook, then start its project's regression test with pytest, its
    output going to `root`/stdout and `root`/stderr."""
    project = root / name
    convert(make_notebook(root / f"{name}.ipynb", NOTEBOOKS[name]), project, service=False)
    assert (project / "tests" / "test_notebook_regression.py").exists()
    with open(root / "stdout", "w") as stdout, open(root / "stderr", "w") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp",
             str(root / "basetemp"), "tests/test_notebook_regression.py"],
            cwd=project, env=generated_env(project, root / "bentoml"),
            stdout=stdout, stderr=stderr, text=True,
        )  # fmt: skip


Started = tuple[Path, "subprocess.Popen[str] | Exception"]


@pytest.fixture(scope="module")
def started(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Started]]:
    """Each selected notebook converted and its generated test started, side by side: the
    next converts while the earlier ones run (each mostly waits on its kernel). A case's
    failure to convert is kept for its own test to raise."""
    names = [
        item.callspec.params["name"]
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec")
    ]
    runs: dict[str, Started] = {}
    try:
        for name in names:
            root = tmp_path_factory.mktemp(name)
            try:
                runs[name] = (root, _convert_and_start(name, root))
            except Exception as error:  # reported by the case's own test
                runs[name] = (root, error)
        yield runs
    finally:
        for _, run in runs.values():
            if isinstance(run, subprocess.Popen) and run.poll() is None:
                run.kill()
                run.wait()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_generated_notebook_regression_test_passes(name: str, started) -> None:
    root, run = started[name]
    if isinstance(run, Exception):
        raise run
    run.wait(timeout=600)
    stdout, stderr = (root / "stdout").read_text(), (root / "stderr").read_text()
    assert run.returncode == 0, stdout[-5000:] + stderr[-3000:]
    assert "1 passed" in stdout

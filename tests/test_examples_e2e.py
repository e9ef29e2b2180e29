"""End to end, per example: convert, install into a fresh venv, train, and compare with papermill.

The generated project must train the same model as the notebook: with the
same (non-default) parameters, its `metrics.json` equals the metrics of a
papermill run of the notebook, exactly. Its own tests must pass and ruff must
find nothing to say about it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, run_cli
from tests.notebook_runs import notebook_metrics

pytestmark = pytest.mark.e2e

# Non-default parameters, so the parity check also proves flags reach the code.
OVERRIDES: dict[str, dict[str, Any]] = {
    "wine_classifier": {"n_estimators": 30, "random_state": 7},
    "diabetes_regression": {"alpha": 0.8, "random_state": 7},
    "messy_churn": {"C": 0.3, "random_state": 3},
}


def _flags(parameters: dict[str, Any]) -> list[str]:
    flags: list[str] = []
    for name, value in parameters.items():
        flags += ["--" + name.replace("_", "-"), str(value)]
    return flags


def _run(command: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module", params=sorted(OVERRIDES))
def installed_project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """An example converted and installed with its test extra into a fresh venv."""
    name: str = request.param
    root = tmp_path_factory.mktemp(name)
    project = root / "project"
    result = run_cli("convert", str(EXAMPLES / f"{name}.ipynb"), "-o", str(project))
    assert result.returncode == 0, result.stderr
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--quiet", f"{project}[test]"], cwd=root)
    return name, project, python, root


def test_training_matches_the_notebook_run_by_papermill(installed_project) -> None:
    name, project, python, root = installed_project
    parameters = OVERRIDES[name]
    train = Path(python).parent / f"{name.replace('_', '-')}-train"
    _run([str(train), "--output-dir", str(root / "artifacts"), *_flags(parameters)], cwd=project)
    generated = json.loads((root / "artifacts" / "metrics.json").read_text())
    expected = notebook_metrics(EXAMPLES / f"{name}.ipynb", parameters, root / "papermill")
    assert generated == expected  # exact: same seeds, same code, same data
    metadata = json.loads((root / "artifacts" / "model.json").read_text())
    assert {k: metadata["parameters"][k] for k in parameters} == parameters


def test_generated_tests_pass_in_the_fresh_venv(installed_project) -> None:
    _, project, python, _ = installed_project
    result = _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project)
    assert " passed" in result.stdout


def test_generated_code_is_ruff_clean(installed_project) -> None:
    _, project, _, _ = installed_project
    ruff = [sys.executable, "-m", "ruff"]
    _run([*ruff, "check", "--no-cache", "."], cwd=project)
    _run([*ruff, "format", "--check", "--no-cache", "."], cwd=project)


def test_generated_code_never_calls_get_ipython(installed_project) -> None:
    _, project, _, _ = installed_project
    for path in project.rglob("*.py"):
        assert "get_ipython" not in path.read_text(), path

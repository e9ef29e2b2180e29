"""End to end, per example: convert, install into a fresh venv, train, and compare with papermill.

The generated project must train the same model as the notebook: with the
same (non-default) parameters, its `metrics.json` equals the metrics of a
papermill run of the notebook, exactly. Its own tests must pass and ruff must
find nothing to say about it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import EXAMPLES, bentoml_server, notebook_results, run_cli

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


def _run(
    command: list[str], cwd: Path, timeout: int = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, env=env
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
    expected = notebook_results(EXAMPLES / f"{name}.ipynb", parameters, root / "papermill")
    assert generated == expected["metrics"]  # exact: same seeds, same code, same data
    metadata = json.loads((root / "artifacts" / "model.json").read_text())
    assert {k: metadata["parameters"][k] for k in parameters} == parameters


def test_the_served_model_predicts_what_the_notebook_predicted(installed_project) -> None:
    """Train with defaults, start `bentoml serve`, send the notebook's rows, compare."""
    name, project, python, root = installed_project
    env = {**os.environ, "BENTOML_HOME": str(root / "bentoml")}
    train = Path(python).parent / f"{name.replace('_', '-')}-train"
    _run([str(train), "--output-dir", str(root / "served-artifacts")], cwd=project, env=env)
    expected = notebook_results(EXAMPLES / f"{name}.ipynb", {}, root / "papermill-defaults")
    service = "service:" + _service_class(project)
    with bentoml_server(Path(python).parent / "bentoml", service, project, env) as url:
        answer = httpx.post(f"{url}/predict_batch", json=expected["rows"], timeout=60)
        assert answer.status_code == 200, answer.text
        served = {key: [row[key] for row in answer.json()] for key in expected["predictions"]}
        assert served.keys() == expected["predictions"].keys()
        metadata = json.loads((root / "served-artifacts" / "model.json").read_text())
        # labels exact; probabilities from an ONNX twin within the tolerance training checked
        tolerance = 1e-5 if metadata["runtime"] == "onnx" else 1e-12
        for key, values in expected["predictions"].items():
            assert served[key] == pytest.approx(values, rel=1e-9, abs=tolerance), key
        for bad in ({"no": "such column"}, [expected["rows"][0]], "text"):
            rejected = httpx.post(f"{url}/predict", json=bad, timeout=30)
            assert rejected.status_code == 400 and rejected.json()["detail"], rejected.text
        assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200  # survived them


def _service_class(project: Path) -> str:
    source = (project / "service.py").read_text()
    return re.search(r"^class (\w+)", source, re.M).group(1)  # type: ignore[union-attr]


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

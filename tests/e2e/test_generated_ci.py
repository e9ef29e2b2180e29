"""The generated CI workflow is valid GitHub Actions, with the jobs the project needs.

Checked against GitHub's workflow schema (check-jsonschema's vendored copy,
offline) and by actionlint, which also type-checks `${{ }}` expressions and
job dependencies.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLES, make_notebook, run_cli

WORKFLOW = ".github/workflows/ml-validation.yml"


@pytest.fixture(scope="module")
def workflows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The workflow of a served model, and of a notebook with no model at all."""
    root = tmp_path_factory.mktemp("ci")
    wine = root / "wine"
    result = run_cli("convert", str(EXAMPLES / "wine_classifier.ipynb"), "-o", str(wine))
    assert result.returncode == 0, result.stderr
    notebook = make_notebook(
        root / "report.ipynb",
        [
            ("rows = 10", ["parameters"]),
            ("data = list(range(rows))", ["nb2prod:load"]),
            ("total = float(sum(data))", ["nb2prod:evaluate"]),
        ],
    )
    plain = root / "plain"
    result = run_cli("convert", str(notebook), "-o", str(plain), "--no-run")
    assert result.returncode == 0, result.stderr
    return {"wine": wine / WORKFLOW, "plain": plain / WORKFLOW}


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is missing: `pip install -e .[dev]` installs it"
    return found


@pytest.mark.parametrize("project", ["wine", "plain"])
def test_the_workflow_matches_githubs_schema(workflows: dict[str, Path], project: str) -> None:
    command = [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]
    result = subprocess.run([*command, str(workflows[project])], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("project", ["wine", "plain"])
def test_actionlint_finds_nothing(workflows: dict[str, Path], project: str) -> None:
    result = subprocess.run(
        [_tool("actionlint"), "-no-color", str(workflows[project])],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_served_model_gets_every_job(workflows: dict[str, Path]) -> None:
    jobs = yaml.safe_load(workflows["wine"].read_text())["jobs"]
    assert list(jobs) == [
        "unit-tests", "data-validation", "model-smoke", "notebook-regression", "image",
    ]  # fmt: skip
    steps = "\n".join(str(step.get("run", "")) for job in jobs.values() for step in job["steps"])
    for command in (
        "scripts/check_data_quality.py",
        "scripts/test_model_inference.py",
        "wine-classifier-train",
        "pytest -m notebook",
        "docker build",
    ):
        assert command in steps, command
    assert jobs["image"]["needs"] == ["model-smoke"]


def test_a_project_without_model_or_run_gets_only_what_applies(
    workflows: dict[str, Path],
) -> None:
    jobs = yaml.safe_load(workflows["plain"].read_text())["jobs"]
    assert list(jobs) == ["unit-tests", "notebook-regression"]

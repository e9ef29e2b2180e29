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
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from nb2prod.commands.verify import service_tolerance
from tests.conftest import (
    EXAMPLES,
    Early,
    as_requests,
    bentoml_server,
    notebook_results,
    prepares,
    run_cli,
)
from tests.tolerant import within

pytestmark = pytest.mark.e2e

EXPORT_TRAINING_DATA = """
import sys
import pandas as pd
from {package}.config import Config
from {package}.pipeline import load_training_data
tables = load_training_data(Config())
name = next(n for n, v in tables.items() if isinstance(v, pd.DataFrame))
tables[name].to_csv(sys.argv[1], index=False)
print(name)
"""
METRICS = {
    "wine_classifier": ["accuracy", "f1_macro"],
    "diabetes_regression": ["rmse", "r2", "mae"],
    "messy_churn": ["accuracy", "roc_auc"],
    "digits_cnn": ["accuracy"],
    "tabular_mlp": ["mae", "r2"],
}
# Non-default parameters, so the parity check also proves flags reach the code.
OVERRIDES: dict[str, dict[str, Any]] = {
    "wine_classifier": {"n_estimators": 30, "random_state": 7},
    "diabetes_regression": {"alpha": 0.8, "random_state": 7},
    "messy_churn": {"C": 0.3, "random_state": 3},
    "digits_cnn": {"epochs": 3, "seed": 1},
    "tabular_mlp": {"hidden_units": 16, "seed": 7},
}


def _flags(parameters: dict[str, Any]) -> list[str]:
    flags: list[str] = []
    for name, value in parameters.items():
        flags += ["--" + name.replace("_", "-"), str(value)]
    return flags


TRAINING_ROWS = """
import json
from {package}.config import Config
from {package}.pipeline import run_pipeline
rows = run_pipeline(Config())[{table!r}]
if hasattr(rows, "columns"):
    print(rows.to_json(orient="records", double_precision=15))
else:  # a tensor of rows that are arrays themselves (images): one nested-list field each
    print(json.dumps([{{"input": row}} for row in rows.tolist()]))
"""
"""The table each example's model is fitted on, as a request's rows."""
TRAINING_TABLES = {"tabular_mlp": "df"}
"""Where the training rows are not `X_train`: tabular_mlp's model learns from scaled tensors
and its service takes raw rows, so every loaded row (`df`, cut to the request's columns)."""


def _run(
    command: list[str], cwd: Path, timeout: int = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, env=env
    )
    return _ok(result)


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"{result.args} failed:\n{result.stdout}\n{result.stderr}"
    return result


@prepares("installed_project")
def _install_examples(early: Early, folder: Path) -> dict[str, Any]:
    """One fresh venv (not nb2prod's) with each selected example converted and installed with
    its test extra: each brings the same pinned packages, so one install of them serves all
    three. {"python": the venv's python, name: the example's folder (its project in
    `project/`), or what stopped its conversion or install, for its tests to raise}."""
    names = [
        item.callspec.params["installed_project"]
        for item in early.items
        if item.module is sys.modules[__name__] and "installed_project" in item.fixturenames
    ]
    _ok(early.run([sys.executable, "-m", "venv", str(folder / "venv")], cwd=folder))
    prepared: dict[str, Any] = {"python": folder / "venv" / "bin" / "python"}
    for name in dict.fromkeys(names):
        root = folder / name
        root.mkdir()
        notebook = str(EXAMPLES / f"{name}.ipynb")
        pip = [str(prepared["python"]), "-m", "pip", "install", "--quiet"]
        try:
            converted = early.cli("convert", notebook, "-o", str(root / "project"))
            assert converted.returncode == 0, converted.stderr
            _ok(early.run([*pip, f"{root / 'project'}[test]"], cwd=root))
        except AssertionError as error:
            prepared[name] = error
        else:
            prepared[name] = root
    return prepared


@pytest.fixture(
    scope="module",
    # wine in `make test`; all three in `make test-slow` (the other two are golden-tested)
    params=[
        pytest.param(n, marks=[] if n == "wine_classifier" else [pytest.mark.slow])
        for n in sorted(OVERRIDES)
    ],
)
def installed_project(request: pytest.FixtureRequest, early: Early):
    """An example converted and installed with its test extra into the fresh venv (in the
    background from the session's start: tests/conftest.py, Early)."""
    name: str = request.param
    prepared = early.result(__name__, "installed_project")
    root = prepared[name]
    if isinstance(root, AssertionError):
        raise root
    return name, root / "project", prepared["python"], root


def test_verify_passes_with_non_default_parameters(installed_project) -> None:
    """`nb2prod verify`: papermill vs generated training, predict code and service, exactly."""
    name, project, _, root = installed_project
    flags = [text for k, v in OVERRIDES[name].items() for text in ("-p", k, str(v))]
    report_path = root / "verify.json"
    result = run_cli("verify", str(project), *flags, "--json", str(report_path), timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(report_path.read_text())
    assert report["passed"] and report["parameters"] == OVERRIDES[name]
    checks = {(c["kind"], c["name"]) for c in report["checks"]}
    assert ("metadata", "data_sha256") in checks
    predicted = {name for kind, name in checks if kind == "prediction"}
    assert predicted and {("service", name) for name in predicted} <= checks
    assert {("metric", metric) for metric in METRICS[name]} <= checks


def test_the_data_check_passes_the_data_and_fails_a_drifted_copy(installed_project) -> None:
    """`scripts/check_data_quality.py` in the fresh venv: today's data, then a shifted copy."""
    _, project, python, root = installed_project
    script = str(project / "scripts" / "check_data_quality.py")
    if not (project / "reference" / "data_profile.json").exists():
        assert not Path(script).exists(), "a data check without a data profile"
        pytest.skip("the load section gives no table (digits_cnn: arrays), so no data profile")
    _run([str(python), script], cwd=project)  # the data the pipeline loads now
    frame_name = _run(
        [
            str(python),
            "-c",
            EXPORT_TRAINING_DATA.format(package=project_package(project)),
            str(root / "data.csv"),
        ],
        cwd=project,
    ).stdout.strip()
    _run([str(python), script, "--table", frame_name, "--data", str(root / "data.csv")], project)
    frame = pd.read_csv(root / "data.csv")
    column = frame.select_dtypes("number").columns[0]
    frame[column] = frame[column] * 1.5 + frame[column].std()
    frame.to_csv(root / "drifted.csv", index=False)
    drifted = subprocess.run(
        [str(python), script, "--data", str(root / "drifted.csv")],
        cwd=project, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    assert column in drifted.stdout and "Traceback" not in drifted.stderr


def test_the_served_model_predicts_what_the_notebook_predicted(installed_project) -> None:
    """Train with defaults, start `bentoml serve`, send the notebook's rows, compare."""
    name, project, python, root = installed_project
    env = {**os.environ, "BENTOML_HOME": str(root / "bentoml")}
    train = Path(python).parent / f"{name.replace('_', '-')}-train"
    _run([str(train), "--output-dir", str(root / "served-artifacts")], cwd=project, env=env)
    expected = notebook_results(
        EXAMPLES / f"{name}.ipynb", {}, root / "papermill-defaults", project
    )
    training_rows = json.loads(
        _run(
            [str(python), "-c", TRAINING_ROWS.format(
                package=project_package(project), table=TRAINING_TABLES.get(name, "X_train"))],
            cwd=project, env=env,
        ).stdout.splitlines()[-1]  # the notebook's code prints too
    )  # fmt: skip
    requests = as_requests(project, expected["rows"])
    request_columns = list(requests[0])
    training_rows = [{k: row[k] for k in request_columns} for row in training_rows]
    service = "service:" + _service_class(project)
    with bentoml_server(Path(python).parent / "bentoml", service, project, env) as url:
        answer = httpx.post(f"{url}/predict_batch", json=requests, timeout=60)
        assert answer.status_code == 200, answer.text
        served = {key: [row[key] for row in answer.json()] for key in expected["predictions"]}
        assert served.keys() == expected["predictions"].keys()
        metadata = json.loads((root / "served-artifacts" / "model.json").read_text())
        # labels exact; floats within what training checked the runtime it serves to
        rtol, atol, _ = service_tolerance(metadata)
        for key, values in expected["predictions"].items():
            assert within(served[key], values, max(rtol, 1e-9), atol), (key, served[key], values)
        for start in range(0, len(training_rows), 500):  # every row the model learned from
            chunk = training_rows[start : start + 500]
            accepted = httpx.post(f"{url}/predict_batch", json=chunk, timeout=60)
            assert accepted.status_code == 200, (start, accepted.text)
            assert len(accepted.json()) == len(chunk)
        for bad in ({"no": "such column"}, [requests[0]], "text"):
            rejected = httpx.post(f"{url}/predict", json=bad, timeout=30)
            assert rejected.status_code == 400 and rejected.json()["error"], rejected.text
        assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200  # survived them


def project_package(project: Path) -> str:
    return json.loads((project / "nb2prod.json").read_text())["package"]


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

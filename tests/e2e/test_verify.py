"""`nb2prod verify`: passes on faithful code, fails (exit 1) when code drifts from the notebook."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, Early, make_notebook, prepares, run_cli

pytestmark = pytest.mark.e2e


@prepares("converted")
def _convert_examples(early: Early, root: Path) -> dict[str, Path]:
    projects = {}
    for name in ("wine_classifier", "diabetes_regression"):
        result = early.cli("convert", str(EXAMPLES / f"{name}.ipynb"), "-o", str(root / name))
        assert result.returncode == 0, result.stderr
        projects[name] = root / name
    return projects


@pytest.fixture(scope="module")
def converted(early: Early) -> dict[str, Path]:
    """Two examples converted (in the background from the session's start:
    tests/conftest.py, Early); tests copy them before they change them."""
    return early.result(__name__, "converted")


def _copy(project: Path, tmp_path: Path) -> Path:
    target = tmp_path / project.name
    shutil.copytree(project, target)
    return target


def test_verify_passes_with_parameters_and_writes_a_report(
    converted: dict[str, Path], tmp_path: Path
) -> None:
    report_path = tmp_path / "report.json"
    result = run_cli(
        "verify",
        str(converted["wine_classifier"]),
        "-p", "n_estimators", "20",
        "-p", "random_state", "5",
        "--json", str(report_path),
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verified" in result.stdout
    report = json.loads(report_path.read_text())
    assert report["passed"] and report["parameters"] == {"n_estimators": 20, "random_state": 5}
    kinds = {(c["kind"], c["name"]) for c in report["checks"]}
    assert {("metric", "accuracy"), ("metric", "f1_macro"), ("prediction", "predictions")} <= kinds
    assert Path(report["executed_notebook"]).is_file()


def test_verify_fails_and_names_the_metric_when_the_code_changes_a_result(
    converted: dict[str, Path], tmp_path: Path
) -> None:
    project = _copy(converted["wine_classifier"], tmp_path)
    pipeline = project / "src" / "wine_classifier" / "pipeline.py"
    text = pipeline.read_text()
    assert "max_depth=max_depth" in text
    pipeline.write_text(text.replace("max_depth=max_depth", "max_depth=1"))
    relative = project.relative_to(tmp_path)  # a relative project path works too
    result = run_cli("verify", str(relative), cwd=tmp_path, timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    failing = [line for line in result.stdout.splitlines() if "FAIL" in line]
    assert any(line.startswith("metric") and "accuracy" in line for line in failing)
    assert "verify failed" in result.stdout


def test_verify_catches_a_dropped_in_place_mutation(
    converted: dict[str, Path], tmp_path: Path
) -> None:
    project = _copy(converted["diabetes_regression"], tmp_path)
    pipeline = project / "src" / "diabetes_regression" / "pipeline.py"
    text = pipeline.read_text()
    mutation = '    df["bmi"] *= 2.0\n'
    assert mutation in text
    pipeline.write_text(text.replace(mutation, ""))
    result = run_cli("verify", str(project), timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    rmse = next(
        line for line in result.stdout.splitlines() if line.split()[:2] == ["metric", "rmse"]
    )
    notebook_value, generated_value = rmse.split()[2:4]
    assert notebook_value != generated_value and rmse.endswith("FAIL")


def test_a_notebook_failing_under_papermill_names_its_cell(tmp_path: Path) -> None:
    cells = [
        ("rows = 4  # how many rows", ["parameters"]),
        ("values = list(range(rows))", ["nb2prod:load"]),
        ("assert len(values) < 10, 'too many rows'\ntotal_score = float(sum(values))",
         ["nb2prod:evaluate"]),
    ]  # fmt: skip
    notebook = make_notebook(tmp_path / "small.ipynb", cells)
    assert run_cli("convert", str(notebook), "-o", str(tmp_path / "out")).returncode == 0
    result = run_cli("verify", str(tmp_path / "out"), "-p", "rows", "20", timeout=300)
    assert result.returncode == 2
    assert "cell 2" in result.stderr and "AssertionError: too many rows" in result.stderr
    assert "Traceback" not in result.stderr
    unknown = run_cli("verify", str(tmp_path / "out"), "-p", "nope", "1")
    assert unknown.returncode == 2 and "`nope` is not a parameter" in unknown.stderr


def test_verify_quick_runs_the_recorded_quick_parameters(
    converted: dict[str, Path], tmp_path: Path
) -> None:
    report_path = tmp_path / "report.json"
    project = str(converted["wine_classifier"])
    result = run_cli("verify", project, "--quick", "--json", str(report_path), timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "parameters: n_estimators=10 (quick)" in result.stdout
    report = json.loads(report_path.read_text())
    assert report["parameters"] == {"n_estimators": 10}
    # an explicit parameter wins over the quick set
    both = run_cli("verify", project, "--quick", "-p", "n_estimators", "12", timeout=600)
    assert both.returncode == 0 and "parameters: n_estimators=12 (quick)" in both.stdout


def test_verify_checks_the_service_and_the_models_metadata(
    converted: dict[str, Path], tmp_path: Path
) -> None:
    """A service that answers rows out of order, and metadata that hashes other data."""
    project = _copy(converted["wine_classifier"], tmp_path)
    service = project / "service.py"
    text = service.read_text()
    call = "predict(self.model, preprocess_rows(to_input(rows)))"  # raw rows: see test_raw_rows
    assert call in text
    service.write_text(text.replace(call, call.replace("(rows)", "(rows[::-1])")))
    pipeline = project / "src" / "wine_classifier" / "pipeline.py"
    text = pipeline.read_text()
    fingerprint = "data_sha256 = fingerprint([df])"
    assert fingerprint in text
    pipeline.write_text(text.replace(fingerprint, "data_sha256 = fingerprint([df.head(9)])"))
    result = run_cli("verify", str(project), timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    failing = {tuple(line.split()[:2]) for line in result.stdout.splitlines() if "FAIL" in line}
    assert failing == {("service", "predictions"), ("metadata", "data_sha256")}


def test_a_failing_service_is_named_and_a_project_without_one_verifies(
    converted: dict[str, Path], tmp_path: Path
) -> None:
    project = _copy(converted["wine_classifier"], tmp_path)
    service = project / "service.py"
    call = "predictions = predict(self.model, preprocess_rows(to_input(rows)))"
    service.write_text(service.read_text().replace(call, 'raise RuntimeError("broken")'))
    broken = run_cli("verify", str(project), "--quick", timeout=600)
    assert broken.returncode == 2, broken.stdout + broken.stderr
    assert "the generated service failed on the notebook's rows" in broken.stderr
    assert "RuntimeError: broken" in broken.stderr and "tests/test_service.py" in broken.stderr
    plain = tmp_path / "plain"
    notebook = EXAMPLES / "wine_classifier.ipynb"
    assert run_cli("convert", str(notebook), "-o", str(plain), "--no-service").returncode == 0
    result = run_cli("verify", str(plain), "--quick", timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "service " not in result.stdout and "schema " not in result.stdout


def test_verify_runs_the_notebook_with_this_python_whatever_kernelspecs_say(
    converted: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `python3` kernelspec for another Python (first on JUPYTER_PATH) is not used."""
    spec = tmp_path / "kernels" / "python3" / "kernel.json"
    spec.parent.mkdir(parents=True)
    argv = ["/nonexistent/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.write_text(json.dumps({"argv": argv, "display_name": "Other", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    project = _copy(converted["wine_classifier"], tmp_path / "copy")
    result = run_cli("verify", str(project), "--quick", timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr

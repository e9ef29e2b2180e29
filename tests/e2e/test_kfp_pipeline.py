"""The Kubeflow pipeline: compiled by the kfp SDK, run with kfp.local, same results as training.

`nb2prod convert --kfp` writes `pipelines/pipeline.yaml`; the project's own
`python pipelines/pipeline.py` compiles the same YAML again. `--local --quick` runs
every task with kfp.local's SubprocessRunner (no cluster, no container) with the
project's src/ on PYTHONPATH, and its Metrics artifact must EQUAL the metrics.json
that `<name>-train --quick` writes; the Model artifact's metadata must be its
model.json, but for the timestamp and the BentoML tag (a new one per save). A
Kale-tagged notebook keeps Kale's DAG: the compiled YAML's `dependentTasks` are the
notebook's `prev:` tags (and no more, where no value flows otherwise).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLES, Early, generated_env, make_notebook, prepares, run_cli

pytestmark = pytest.mark.e2e
pytest.importorskip("kfp")

CHANGES_PER_SAVE = {"created", "bentoml_tag", "code_version", "runtime_reason"}
"""model.json keys that differ between two saves of the same model (`runtime_reason` quotes
the timings of the ONNX twin's check)."""
TIMINGS = {"torch_ms_per_row", "onnx_ms_per_row"}
"""Keys of model.json's `onnx` record measured in milliseconds, different on every run."""


def _same_per_save(metadata: dict[str, Any]) -> dict[str, Any]:
    """`metadata` without what differs between two saves of the same model."""
    kept = {k: v for k, v in metadata.items() if k not in CHANGES_PER_SAVE}
    if isinstance(kept.get("onnx"), dict):
        kept["onnx"] = {k: v for k, v in kept["onnx"].items() if k not in TIMINGS}
    return kept


def _convert(notebook: Path, output: Path, *extra: str) -> None:
    result = run_cli("convert", str(notebook), "-o", str(output), "--kfp", *extra, timeout=600)
    assert result.returncode == 0, result.stderr


def _train_and_run_pipeline(
    project: Path, package: str, tmp_path: Path
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """metrics.json and model.json of `<name>-train --quick`, and the pipeline's summary."""
    env = generated_env(project, tmp_path / "bentoml")
    trained = tmp_path / "trained"
    subprocess.run(
        [sys.executable, "-m", f"{package}.train", "--quick", "--output-dir", str(trained)],
        cwd=project, env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    run = subprocess.run(
        [sys.executable, "pipelines/pipeline.py", "--local", "--quick",
         "--pipeline-root", str(tmp_path / "kfp-root")],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    metrics = json.loads((trained / "metrics.json").read_text())
    model = json.loads((trained / "model.json").read_text())
    return metrics, model, summary


def _check_same_as_training(
    metrics: dict[str, Any], model: dict[str, Any], summary: dict[str, Any]
) -> None:
    assert metrics, "training wrote no metrics"
    assert summary["metrics"] == metrics  # equal, not close
    folder = Path(summary["model"]["path"])
    assert json.loads((folder / "metrics.json").read_text()) == metrics
    saved = json.loads((folder / "model.json").read_text())
    for kept in (saved, summary["model"]["metadata"]):  # the folder's file, the metadata
        assert _same_per_save(kept) == _same_per_save(model)


@prepares("wine_pipeline")
def _wine_pipeline(early: Early, root: Path) -> dict[str, Any]:
    """wine_classifier converted with --kfp, its pipeline compiled again by the project's own
    command, trained with --quick and run under kfp.local with --quick: in the background
    from the session's start (tests/conftest.py, Early), as it runs nine Python processes."""
    project = root / "wine"
    early.convert(EXAMPLES / "wine_classifier.ipynb", project, "--kfp")
    env = generated_env(project, root / "bentoml", early.environ, early.path)
    again = root / "again.yaml"
    compiled = early.run(
        [sys.executable, "pipelines/pipeline.py", "--output", str(again)], project, env
    )
    assert compiled.returncode == 0, compiled.stderr
    trained = root / "trained"
    training = early.run(
        [sys.executable, "-m", "wine_classifier.train", "--quick", "--output-dir", str(trained)],
        project, env,
    )  # fmt: skip
    assert training.returncode == 0, training.stderr[-3000:]
    run = early.run(
        [sys.executable, "pipelines/pipeline.py", "--local", "--quick",
         "--pipeline-root", str(root / "kfp-root")],
        project, env,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return {
        "written": (project / "pipelines" / "pipeline.yaml").read_bytes(),
        "again": again.read_bytes(),
        "metrics": json.loads((trained / "metrics.json").read_text()),
        "model": json.loads((trained / "model.json").read_text()),
        "summary": json.loads(run.stdout.strip().splitlines()[-1]),
    }


@pytest.fixture(scope="module")
def wine_pipeline(early: Early) -> dict[str, Any]:
    return early.result(__name__, "wine_pipeline")


def test_wine_pipeline_compiles_runs_locally_and_equals_training(
    wine_pipeline: dict[str, Any],
) -> None:
    written = wine_pipeline["written"]
    assert wine_pipeline["again"] == written
    spec = yaml.safe_load(written)
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {
        "load-data", "preprocess", "train-model", "evaluate", "select-rows", "predict",
        "save-model",
    }  # fmt: skip
    # data flow, not notebook order: select_rows reads only X_test, so it does not wait
    # for training, and predict waits for both
    assert tasks["select-rows"]["dependentTasks"] == ["preprocess"]
    assert sorted(tasks["predict"]["dependentTasks"]) == ["select-rows", "train-model"]
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert parameters["n_estimators"] == {"defaultValue": 50.0, "isOptional": True,
                                          "parameterType": "NUMBER_INTEGER"}  # fmt: skip
    summary = wine_pipeline["summary"]
    _check_same_as_training(wine_pipeline["metrics"], wine_pipeline["model"], summary)
    assert summary["model"]["metadata"]["parameters"]["n_estimators"] == 10  # the quick run


@pytest.mark.slow
def test_torch_pipeline_equals_training(tmp_path: Path) -> None:
    project = tmp_path / "digits"
    _convert(EXAMPLES / "digits_cnn.ipynb", project)
    metrics, model, summary = _train_and_run_pipeline(project, "digits_cnn", tmp_path)
    _check_same_as_training(metrics, model, summary)


KALE_CELLS = [
    ("import pandas as pd\nfrom sklearn.linear_model import LogisticRegression", ["imports"]),
    ("C = 1.0", ["pipeline-parameters"]),
    (
        "df = pd.DataFrame({'a': [float(i % 7) for i in range(40)],"
        " 'b': [float(i % 3) for i in range(40)], 'y': [i % 2 for i in range(40)]})",
        ["step:load_data"],
    ),
    ("scaled_a = df[['a']] / 7.0", ["step:feature_a", "prev:load_data"]),
    ("scaled_b = df[['b']] / 3.0", ["step:feature_b", "prev:load_data"]),
    ("print('both features ready')", ["step:checkpoint", "prev:feature_a", "prev:feature_b"]),
    (
        "X = scaled_a.join(scaled_b)\nmodel = LogisticRegression(C=C).fit(X, df['y'])",
        ["step:train_model", "prev:checkpoint"],
    ),
    ("accuracy = model.score(X, df['y'])", ["step:evaluate", "prev:train_model"]),
    ("print(accuracy)", ["pipeline-metrics"]),
]


def test_kale_notebook_keeps_its_dag(tmp_path: Path) -> None:
    notebook = make_notebook(tmp_path / "kale_dag.ipynb", KALE_CELLS)  # type: ignore[arg-type]
    project = tmp_path / "kale"
    _convert(notebook, project, "--no-service")
    spec = yaml.safe_load((project / "pipelines" / "pipeline.yaml").read_text())
    depends = {
        name: sorted(task.get("dependentTasks", []))
        for name, task in spec["root"]["dag"]["tasks"].items()
    }
    # each Kale step is a task of its own, named after the function its cell became
    functions = {
        cell["index"]: cell["function"]
        for cell in json.loads((project / "nb2prod.json").read_text())["cells"]
    }
    task = {
        tag.removeprefix("step:"): functions[index].replace("_", "-")
        for index, (_, tags) in enumerate(KALE_CELLS)
        for tag in tags
        if tag.startswith("step:")
    }
    assert len(set(task.values())) == len(task) and set(task.values()) <= set(depends)

    def upstream(step: str) -> list[str]:
        return depends[task[step]]

    def named(*steps: str) -> list[str]:
        return sorted(task[s] for s in steps)

    # Kale's prev: edges, as tagged: two branches off load_data, joined by a checkpoint
    # that reads nothing; training waits for it although no value flows from it, and
    # for the steps whose values it reads (Kale implies those edges too)
    assert upstream("feature_a") == named("load_data")
    assert upstream("feature_b") == named("load_data")
    assert upstream("checkpoint") == named("feature_a", "feature_b")
    assert upstream("train_model") == named("checkpoint", "feature_a", "feature_b", "load_data")
    assert upstream("evaluate") == named("load_data", "train_model")
    assert upstream("load_data") == []


def test_convert_kfp_without_a_model_is_one_line_and_exit_2(tmp_path: Path) -> None:
    notebook = make_notebook(
        tmp_path / "no_model.ipynb",
        [("x = [1, 2, 3]", ["nb2prod:load"]), ("total = sum(x)", ["nb2prod:evaluate"])],
    )
    result = run_cli("convert", str(notebook), "-o", str(tmp_path / "out"), "--kfp")
    assert result.returncode == 2
    assert "--kfp" in result.stderr and "trains no model" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()

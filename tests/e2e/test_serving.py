"""The service's request schema comes from the data: names, types, categories, ranges."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nb2prod.commands.convert import convert
from nb2prod.errors import UserError
from tests.conftest import generated_env, make_notebook, served, train_generated

CELLS = [
    "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression",
    ("c = 1.0  # regularisation", ["parameters"]),
    (
        "df = pd.DataFrame({'petal width': [0.1, 0.4, 2.0, 2.4] * 5, 'class': [1, 2, 3, 4] * 5,"
        " 'colour': ['red', 'blue', 'red', 'green'] * 5, 'label': [0, 0, 1, 1] * 5})\n"
        "X = pd.get_dummies(df.drop(columns='label'), columns=['colour'])\ny = df['label']",
        ["nb2prod:load"],
    ),
    ("model = LogisticRegression(C=c).fit(X, y)", ["nb2prod:train"]),
    ("accuracy = float(model.score(X, y))\nsample = df.head(3)", ["nb2prod:evaluate"]),
    (
        "features = pd.get_dummies(sample.drop(columns='label'), columns=['colour'])\n"
        "labels = model.predict(features.reindex(columns=X.columns, fill_value=False))",
        ["nb2prod:predict"],
    ),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("serving")
    convert(make_notebook(root / "flowers.ipynb", CELLS), root / "out")
    return root / "out"


def test_schema_keeps_column_names_types_categories_and_ranges(project: Path) -> None:
    schema = (project / "src" / "flowers" / "schema.py").read_text()
    assert 'petal_width: float = Field(alias="petal width", ge=0.0, le=2.63)' in schema
    assert 'class_: int = Field(alias="class", ge=0, le=5)' in schema
    assert 'colour: Literal["blue", "green", "red"]' in schema
    sys.path.insert(0, str(project / "src"))
    try:
        module = importlib.import_module("flowers.schema")
        row = module.FlowersRow.model_validate(
            {"petal width": 0.2, "class": 2, "colour": "red", "label": 0}
        )
        frame = module.to_input([row])
        assert list(frame.columns) == ["petal width", "class", "colour", "label"]
        with pytest.raises(ValueError, match="less than or equal"):
            module.FlowersRow.model_validate(
                {"petal width": 9.0, "class": 2, "colour": "red", "label": 0}
            )
        with pytest.raises(ValueError, match="'blue', 'green' or 'red'"):
            module.FlowersRow.model_validate(
                {"petal width": 0.2, "class": 2, "colour": "pink", "label": 0}
            )
    finally:
        sys.path.remove(str(project / "src"))
        for name in [m for m in sys.modules if m.startswith("flowers")]:
            del sys.modules[name]


def test_examples_hold_the_rows_and_what_the_pipeline_predicted(project: Path) -> None:
    request = json.loads((project / "examples" / "request.json").read_text())
    response = json.loads((project / "examples" / "response.json").read_text())
    assert request["path"] == "/predict_batch"
    assert [row["petal width"] for row in request["body"]] == [0.1, 0.4, 2.0]
    assert response == [{"labels": 0}, {"labels": 0}, {"labels": 1}]
    manifest = json.loads((project / "nb2prod.json").read_text())
    assert manifest["probe"]["input"]["name"] == "sample"


def test_no_service_and_no_predict_section_mean_no_service_files(tmp_path: Path) -> None:
    path = make_notebook(tmp_path / "flowers.ipynb", CELLS)
    convert(path, tmp_path / "without", service=False)
    assert not (tmp_path / "without" / "service.py").exists()
    result = convert(make_notebook(tmp_path / "plain.ipynb", CELLS[:-1]), tmp_path / "plain")
    assert not (tmp_path / "plain" / "service.py").exists()
    assert [w.code for w in result.warnings] == ["no-service"]
    assert (tmp_path / "plain" / "src" / "plain" / "model_store.py").exists()


def test_a_pipeline_that_fails_while_profiling_is_a_clear_error(tmp_path: Path) -> None:
    cells = [*CELLS[:3], ("model = LogisticRegression(C=c).fit(X, y[:2])", ["nb2prod:train"])]
    cells += CELLS[4:]
    with pytest.raises(UserError) as error:
        convert(make_notebook(tmp_path / "broken.ipynb", cells), tmp_path / "out")
    problem = error.value.problems[0]
    assert problem.code == "pipeline-failed" and "ValueError" in problem.message
    assert "--no-run" in problem.fix
    assert problem.cell is not None and problem.cell.index == 3  # the train cell
    assert not (tmp_path / "out").exists()


def test_nb2prod_serve_runs_the_trained_service(project: Path, tmp_path: Path) -> None:
    import httpx

    env = generated_env(project, tmp_path / "bentoml")
    missing = subprocess.run(
        [sys.executable, "-m", "nb2prod", "serve", str(project)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2 and "flowers-train" in missing.stderr
    train_generated(project, "flowers", str(tmp_path / "artifacts"), env)
    request = json.loads((project / "examples" / "request.json").read_text())
    expected = json.loads((project / "examples" / "response.json").read_text())
    command = [sys.executable, "-m", "nb2prod", "serve", str(project)]
    with served(command, env, tmp_path) as url:
        answer = httpx.post(url + request["path"], json=request["body"], timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json() == expected


def test_a_predict_section_that_picks_its_own_rows_is_served(tmp_path: Path) -> None:
    """`batch = sample.sample(3)` then `model.predict(batch)` in one cell: the picking
    becomes `select_rows`, and a request's rows take the place of `batch`."""
    picky = "batch = sample.sample(n=3, random_state=0)\nlabels = model.predict(batch)"
    cells = [*CELLS[:4], ("accuracy = float(model.score(X, y))\nsample = X", ["nb2prod:evaluate"])]
    cells.append((picky, ["nb2prod:predict"]))
    convert(make_notebook(tmp_path / "picky.ipynb", cells), tmp_path / "out")
    pipeline = (tmp_path / "out" / "src" / "picky" / "pipeline.py").read_text()
    assert "def select_rows(sample: Any) -> Any:" in pipeline
    prediction = (tmp_path / "out" / "src" / "picky" / "prediction.py").read_text()
    assert "def predict(model: Any, batch: Any) -> Any:" in prediction  # serving's own module
    assert "from picky.prediction import predict" in pipeline
    service = (tmp_path / "out" / "service.py").read_text()
    assert "predict(self.model, to_input(rows))" in service
    request = json.loads((tmp_path / "out" / "examples" / "request.json").read_text())
    assert len(request["body"]) == 3


def test_a_predict_section_that_is_not_row_wise_gets_no_service(tmp_path: Path) -> None:
    """Predictions that depend on the whole batch cannot answer a request's rows alone."""
    batchwise = "labels = model.predict(sample)[: len(sample) // 2]"
    cells = [*CELLS[:4], ("accuracy = float(model.score(X, y))\nsample = X", ["nb2prod:evaluate"])]
    cells.append((batchwise, ["nb2prod:predict"]))
    result = convert(make_notebook(tmp_path / "batchwise.ipynb", cells), tmp_path / "out")
    assert not (tmp_path / "out" / "service.py").exists()
    warning = next(w for w in result.warnings if w.code == "no-service")
    assert "cannot predict a request's rows on their own" in warning.message
    assert warning.cell is not None and warning.cell.index == 5


def test_a_single_value_prediction_gets_no_service_and_says_why(tmp_path: Path) -> None:
    """Fuzz finding scalar-prediction: `model.predict(X[:1])[0]` is 0-d, and the probe's
    row-wise check indexed it (IndexError outside any step, exit 2 on a notebook that runs)."""
    cells = [*CELLS[:4], ("pred = model.predict(X[:1])[0]", ["nb2prod:predict"])]
    result = convert(make_notebook(tmp_path / "scalar.ipynb", cells), tmp_path / "out")
    assert not (tmp_path / "out" / "service.py").exists()
    warning = next(w for w in result.warnings if w.code == "no-service")
    assert "`pred` is a single value, not one per row" in warning.message


def test_the_row_wise_check_of_a_single_value_is_a_reason() -> None:
    from nb2prod.run.probe import not_row_wise

    reason = not_row_wise("rows", lambda rows: 7, {"rows": [1, 2]}, {"p": 7})
    assert reason == "`p` is a single value, not one per row (`7`)"

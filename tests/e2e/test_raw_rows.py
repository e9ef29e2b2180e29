"""Raw-row requests: the service runs the notebook's row-wise preprocessing itself.

Each test converts a notebook, trains the generated project, starts it with a real
`nb2prod serve` and sends rows of the training data as the load section gave them
(minus the target). The expected answers come from the notebook itself, run by a
Jupyter kernel, with a last cell of ours that predicts the same rows through the
notebook's own feature table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from nb2prod.commands.convert import convert
from tests.conftest import ROOT, generated_env, make_notebook, run_cli, served, train_generated

ROWS = 40
"""Training rows sent to each service."""


def notebook_answers(notebook: Path, workdir: Path, table: str, features: str) -> dict[str, Any]:
    """Run `notebook` with a kernel (skipped cells and install lines left out), then pick
    ROWS training rows: their raw values (`table` minus the target, as the load section
    gave them) and the notebook model's predictions on its own `features` for them."""
    from nbclient import NotebookClient

    node = nbformat.read(notebook, as_version=4)
    kept = []
    for cell in node.cells:
        tags = set(cell.metadata.get("tags", []))
        first = cell.source.split("\n", 1)[0] if cell.cell_type == "code" else ""
        if cell.cell_type != "code" or tags & {"skip", "nb2prod:skip"} or "nb2prod: skip" in first:
            continue
        lines = [line for line in cell.source.split("\n") if not line.startswith(("!", "%pip"))]
        cell.source = "\n".join(lines)
        kept.append(cell)
    out = workdir / "answers.json"
    kept.append(
        nbformat.v4.new_code_cell(
            "import json as _json\n"
            f"_index = list(X_train.index[:{ROWS}])\n"
            f"_raw = {table}.loc[_index].drop(columns=['target'])\n"
            f"_labels = model.predict({features}.loc[_index]).tolist()\n"
            "_answers = {'rows': _raw.to_dict('records'), 'labels': _labels}\n"
            f"_json.dump(_answers, open({str(out)!r}, 'w'))"
        )
    )
    node.cells = kept
    NotebookClient(
        node, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    ).execute()
    return json.loads(out.read_text())


def serve_and_send(project: Path, package: str, tmp: Path, rows: list[dict[str, Any]]) -> list[Any]:
    """Train the project, serve it, send `rows` to /predict_batch; the answers' labels."""
    import httpx

    env = generated_env(project, tmp / "bentoml")
    train_generated(project, package, str(tmp / "artifacts"), env)
    with served([sys.executable, "-m", "nb2prod", "serve", str(project)], env, tmp) as url:
        batch = httpx.post(url + "/predict_batch", json=rows, timeout=60)
        assert batch.status_code == 200, batch.text
        one = httpx.post(url + "/predict", json=rows[0], timeout=60)
        assert one.status_code == 200, one.text
        assert one.json() == batch.json()[0]
        featured = httpx.post(url + "/predict", json={**rows[0], "derived": 1.0}, timeout=60)
        assert featured.status_code == 400 and "derived" in featured.text
    return [answer["predictions"] for answer in batch.json()]


@pytest.mark.parametrize(
    ("example", "derived"),
    [("wine_classifier", "flavanoid_share"), ("messy_churn", "area_per_perimeter")],
)
def test_raw_rows_of_the_training_data_get_the_notebooks_predictions(
    example: str, derived: str, tmp_path: Path
) -> None:
    project = tmp_path / "out"
    result = convert(ROOT / "examples" / f"{example}.ipynb", project)
    assert "feature-rows" not in [w.code for w in result.warnings]
    schema = (project / "src" / example / "schema.py").read_text()
    assert derived not in schema  # the notebook derives it: clients never send it
    assert "before `" in schema
    request = json.loads((project / "examples" / "request.json").read_text())
    assert request["body"] and all(derived not in row for row in request["body"])
    assert "raw row" in (project / "README.md").read_text()

    answers = notebook_answers(ROOT / "examples" / f"{example}.ipynb", tmp_path, "df", "X")
    assert len(answers["rows"]) == ROWS and all(derived not in r for r in answers["rows"])
    assert serve_and_send(project, example, tmp_path, answers["rows"]) == answers["labels"]


FITTED = [
    "import pandas as pd\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "from sklearn.model_selection import train_test_split\n"
    "from sklearn.preprocessing import OrdinalEncoder",
    ("scale = 0.5  # area units", ["parameters"]),
    (
        "df = pd.DataFrame({'width': [1.0, 2.5, 3.0, 0.5, 4.0, 2.0] * 10,"
        " 'height': [2.0, 1.0, 3.5, 0.5, 1.5, 2.5] * 10,"
        " 'colour': ['red', 'blue', 'red', 'green', 'blue', 'green'] * 10,"
        " 'target': [0, 1, 1, 0, 1, 0] * 10})",
        ["nb2prod:load"],
    ),
    (
        "encoder = OrdinalEncoder().fit(df[['colour']])\n"
        "X = df.drop(columns=['target'])\n"
        "X['colour'] = encoder.transform(X[['colour']])[:, 0]\n"
        "X['area'] = X['width'] * X['height'] * scale\n"
        "y = df['target']\n"
        "X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)",
        ["nb2prod:preprocess"],
    ),
    ("model = LogisticRegression().fit(X_train, y_train)", ["nb2prod:train"]),
    ("accuracy = float(model.score(X_test, y_test))", ["nb2prod:evaluate"]),
    ("predictions = model.predict(X_test.head(4))", ["nb2prod:predict"]),
]


def test_fitted_state_and_parameters_travel_with_the_model(tmp_path: Path) -> None:
    """An encoder fitted on the whole table, then applied row by row, and a parameter:
    the encoder is stored with the model, the parameter comes from the config."""
    notebook = make_notebook(tmp_path / "shapes.ipynb", FITTED)
    project = tmp_path / "out"
    result = convert(notebook, project)
    assert "feature-rows" not in [w.code for w in result.warnings]
    pipeline = (project / "src" / "shapes" / "pipeline.py").read_text()
    prediction = (project / "src" / "shapes" / "prediction.py").read_text()
    assert "def preprocess_rows(X: Any, encoder: Any, scale: Any) -> Any:" in prediction
    assert "from shapes.prediction import predict, preprocess_rows" in pipeline
    assert "X = preprocess_rows(X, encoder, scale)" in pipeline
    service = (project / "service.py").read_text()
    assert 'preprocess_rows(to_input(rows), self.state["encoder"], CONFIG.scale)' in service
    schema = (project / "src" / "shapes" / "schema.py").read_text()
    assert 'colour: Literal["blue", "green", "red"]' in schema and "area" not in schema

    answers = notebook_answers(notebook, tmp_path, "df", "X")
    assert {"colour", "width", "height"} == set(answers["rows"][0])
    labels = serve_and_send(project, "shapes", tmp_path, answers["rows"])
    assert labels == answers["labels"]


def test_table_wide_preprocessing_falls_back_to_feature_rows_with_the_reason(
    tmp_path: Path,
) -> None:
    cells = list(FITTED)
    cells[3] = (
        "X = df.drop(columns=['target', 'colour'])\n"
        "X['width'] = (X['width'] - X['width'].mean()) / X['width'].std()\n"
        "y = df['target']\n"
        "X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)",
        ["nb2prod:preprocess"],
    )
    notebook = make_notebook(tmp_path / "standard.ipynb", [*cells[:1], cells[2], *cells[3:]])
    result = convert(notebook, tmp_path / "out")
    warning = next(w for w in result.warnings if w.code == "feature-rows")
    assert "not row-wise" in warning.message and "another `width`" in warning.message
    assert "`X['width'] = (X['width'] - X['width'].mean()) / X['width'].std()`" in warning.message
    pipeline = (tmp_path / "out" / "src" / "standard" / "pipeline.py").read_text()
    assert "preprocess_rows" not in pipeline  # the section stays as the notebook wrote it
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "feature rows because" in readme and "another `width`" in readme


def test_check_says_which_rows_the_service_will_take(tmp_path: Path) -> None:
    candidate = run_cli("check", str(make_notebook(tmp_path / "shapes.ipynb", FITTED)))
    assert candidate.returncode == 0, candidate.stderr
    assert "service rows: raw, through `preprocess_rows` (cell 3), if it proves" in candidate.stdout
    split_first = list(FITTED)
    split_first[3] = (
        "X_train, X_test, y_train, y_test = train_test_split("
        "df.drop(columns=['target', 'colour']), df['target'], random_state=0)\n"
        "X_test = X_test * 2.0",
        ["nb2prod:preprocess"],
    )
    none = run_cli("check", str(make_notebook(tmp_path / "split.ipynb", split_first)))
    assert "service rows: features: the preprocess section has no code" in none.stdout

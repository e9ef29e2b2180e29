"""Notebooks as people write them: the served model is the one that predicts, verify
compares what matters or fails saying why, Kale steps are read by meaning.

Each notebook here is written the usual way (rows picked inside the predict cell,
scores printed, models chosen in a loop, arrays and lists), converted, trained and
verified for real: papermill on a kernel, the generated code in a child process.
"""

from __future__ import annotations

import json
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import (
    Early,
    generated_env,
    make_notebook,
    prepares,
    run_cli,
    train_generated,
)

pytestmark = pytest.mark.e2e

GRID_SEARCH = [
    "from sklearn.datasets import load_iris\n"
    "from sklearn.model_selection import GridSearchCV, train_test_split\n"
    "from sklearn.neighbors import KNeighborsClassifier",
    ("test_size = 0.3", ["parameters"]),
    (
        "X, y = load_iris(return_X_y=True)\n"
        "X_train, X_test, y_train, y_test = train_test_split(\n"
        "    X, y, test_size=test_size, random_state=0\n)",
        ["nb2prod:load"],
    ),
    (
        "knn = KNeighborsClassifier()\n"
        "grid = GridSearchCV(knn, {'n_neighbors': [1, 3, 5, 7]}, cv=3)\n"
        "grid.fit(X_train, y_train)\nprint(grid.best_params_)",
        ["nb2prod:train"],
    ),
    ("accuracy = grid.score(X_test, y_test)\nprint('accuracy', accuracy)", ["nb2prod:evaluate"]),
    ("sample = X_test[:5]\nlabels = grid.predict(sample)\nlabels", ["nb2prod:predict"]),
]

BEST_OF_THREE = [
    "from sklearn.datasets import load_wine\n"
    "from sklearn.ensemble import RandomForestClassifier\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "from sklearn.metrics import accuracy_score\n"
    "from sklearn.model_selection import train_test_split\n"
    "from sklearn.pipeline import make_pipeline\n"
    "from sklearn.preprocessing import StandardScaler\n"
    "from sklearn.svm import SVC",
    ("n_estimators = 50\nC = 1.0", ["parameters"]),
    (
        "df = load_wine(as_frame=True).frame\nX = df.drop(columns='target')\ny = df['target']\n"
        "X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=1)",
        ["nb2prod:load"],
    ),
    (
        "models = {\n"
        "    'logreg': make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000)),\n"
        "    'forest': RandomForestClassifier(n_estimators=n_estimators, random_state=0),\n"
        "    'svc': make_pipeline(StandardScaler(), SVC(C=C)),\n"
        "}\nfor name, model in models.items():\n    model.fit(X_train, y_train)",
        ["nb2prod:train"],
    ),
    (
        "scores = {}\nfor name, model in models.items():\n"
        "    scores[name] = accuracy_score(y_test, model.predict(X_test))\n"
        "    print(f'{name}: {scores[name]:.3f}')\n"
        "best_name = max(scores, key=scores.get)\nbest_model = models[best_name]\n"
        "print('best:', best_name)",
        ["nb2prod:evaluate"],
    ),
    ("rows = X_test.head(5)\npredictions = best_model.predict(rows)\nprint(predictions)",
     ["nb2prod:predict"]),
]  # fmt: skip

PRINT_ONLY = [
    "from sklearn.datasets import load_iris\nfrom sklearn.metrics import accuracy_score\n"
    "from sklearn.model_selection import train_test_split\n"
    "from sklearn.tree import DecisionTreeClassifier",
    (
        "X, y = load_iris(return_X_y=True, as_frame=True)\n"
        "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)",
        ["nb2prod:load"],
    ),
    ("clf = DecisionTreeClassifier(random_state=0).fit(X_train, y_train)", ["nb2prod:train"]),
    ("print(classification_report(y_test, clf.predict(X_test)))", ["nb2prod:evaluate"]),
    ("few = X_test.iloc[:3]\npredicted = clf.predict(few)", ["nb2prod:predict"]),
]
PRINT_ONLY[0] += "\nfrom sklearn.metrics import classification_report"

PRINTED_SCORES = [  # scores printed, never named: each becomes a compared metric
    *PRINT_ONLY[:3],
    (
        "y_pred = clf.predict(X_test)\n"
        "print('Test accuracy: %.3f' % clf.score(X_test, y_test))\n"
        "print('accuracy:', accuracy_score(y_test, y_pred))",
        ["nb2prod:evaluate"],
    ),
    PRINT_ONLY[4],
]

LIST_INPUT = [
    "from sklearn.datasets import load_iris\nfrom sklearn.linear_model import LogisticRegression\n"
    "from sklearn.metrics import accuracy_score",
    ("X, y = load_iris(return_X_y=True)", ["nb2prod:load"]),
    ("clf = LogisticRegression(max_iter=500)\nclf.fit(X, y)", ["nb2prod:train"]),
    ("train_accuracy = accuracy_score(y, clf.predict(X))\nprint(train_accuracy)",
     ["nb2prod:evaluate"]),
    (
        "new_flowers = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]\n"
        "species = clf.predict(new_flowers)\nprint(species)",
        ["nb2prod:predict"],
    ),
    # exploring afterwards rebinds the names: verify keeps what predict made
    ("species = clf.predict([[7.0, 3.2, 4.7, 1.4]])\ntrain_accuracy = 0.0", ["skip"]),
]  # fmt: skip

KALE = [
    (
        "from sklearn.datasets import load_breast_cancer\n"
        "from sklearn.ensemble import GradientBoostingClassifier\n"
        "from sklearn.metrics import accuracy_score, f1_score\n"
        "from sklearn.model_selection import train_test_split",
        ["imports"],
    ),
    ("N_ESTIMATORS = 30\nLR = 0.1", ["pipeline-parameters"]),
    (
        "data = load_breast_cancer()\nx_train, x_test, y_train, y_test = train_test_split(\n"
        "    data.data, data.target, random_state=42\n)",
        ["step:data-loading"],
    ),
    (
        "clf = GradientBoostingClassifier(n_estimators=N_ESTIMATORS, learning_rate=LR, "
        "random_state=0)\nclf.fit(x_train, y_train)",
        ["step:training", "prev:data-loading"],
    ),
    (
        "y_hat = clf.predict(x_test)\naccuracy = accuracy_score(y_test, y_hat)\n"
        "f1 = f1_score(y_test, y_hat)",
        ["step:evaluation", "prev:training"],
    ),
    ("print(accuracy)\nprint(f1)\nprint(N_ESTIMATORS)", ["pipeline-metrics"]),
]

ROWS_IN_THE_CALL = [
    "from sklearn.datasets import load_iris\nfrom sklearn.tree import DecisionTreeClassifier",
    ("X, y = load_iris(return_X_y=True)", ["nb2prod:load"]),
    ("model = DecisionTreeClassifier(random_state=0).fit(X, y)", ["nb2prod:train"]),
    ("accuracy = model.score(X, y)", ["nb2prod:evaluate"]),
    # a slow cell kept for the record (a grid search, say): verify stops it after its budget
    ("import time\nfor _ in range(600):\n    time.sleep(0.1)", ["nb2prod:skip"]),
    ("predictions = model.predict(X[100:104])\npredictions", ["nb2prod:predict"]),
]

SCORED_IN_THE_LOOP = [  # no evaluate section: the training loop prints its loss
    "from sklearn.datasets import load_diabetes\nfrom sklearn.linear_model import SGDRegressor\n"
    "from sklearn.metrics import mean_squared_error\nfrom sklearn.preprocessing import scale",
    ("epochs = 20", ["parameters"]),
    ("X, y = load_diabetes(return_X_y=True)\nX = scale(X)", ["nb2prod:load"]),
    (
        "model = SGDRegressor(random_state=0)\nhistory = []\nfor epoch in range(epochs):\n"
        "    model.partial_fit(X, y)\n    loss = mean_squared_error(y, model.predict(X))\n"
        "    history.append(loss)\n    if epoch % 5 == 0:\n"
        "        print(f'epoch {epoch}: loss {loss:.1f}')",
        ["nb2prod:train"],
    ),
    ("model.predict(X[:3])", ["nb2prod:predict"]),
]

NO_METRIC_SHOWN_PREDICTION = [  # a textbook cell: fit, then show one prediction
    (
        "from sklearn.datasets import load_iris\n"
        "from sklearn.tree import DecisionTreeClassifier\n\n"
        "iris = load_iris(as_frame=True)\n"
        "X_iris = iris.data[['petal length (cm)', 'petal width (cm)']].values\n"
        "y_iris = iris.target\n\n"
        "tree_clf = DecisionTreeClassifier(max_depth=2, random_state=42)\n"
        "tree_clf.fit(X_iris, y_iris)",
        ["nb2prod:train"],
    ),
    ("%matplotlib inline\ntree_clf.predict([[5, 1.5]])", ["nb2prod:predict"]),
]

NOTEBOOKS = {
    "grid": GRID_SEARCH,
    "best3": BEST_OF_THREE,
    "printonly": PRINT_ONLY,
    "printed": PRINTED_SCORES,
    "listin": LIST_INPUT,
    "kale": KALE,
    "inline": ROWS_IN_THE_CALL,
    "loop": SCORED_IN_THE_LOOP,
    "shown": NO_METRIC_SHOWN_PREDICTION,
}


@prepares("projects")
def _convert_all(early: Early, root: Path) -> dict[str, Path]:
    def convert(name: str) -> Path:
        notebook = make_notebook(root / f"{name}.ipynb", NOTEBOOKS[name])
        result = early.cli("convert", str(notebook), "-o", str(root / name), timeout=300)
        assert result.returncode == 0, result.stderr
        return root / name

    with ThreadPoolExecutor(max_workers=2) as pool:  # each convert is a process: two cores
        return dict(zip(NOTEBOOKS, pool.map(convert, NOTEBOOKS), strict=True))


@pytest.fixture(scope="module")
def projects(early: Early) -> dict[str, Path]:
    """Every notebook above converted (in the background from the session's start:
    tests/conftest.py, Early)."""
    return early.result(__name__, "projects")


def _verify(project: Path, *arguments: str) -> tuple[int, str, dict]:
    report = project.parent / f"{project.name}-report.json"
    result = run_cli("verify", str(project), *arguments, "--json", str(report), timeout=600)
    assert "Traceback" not in result.stderr, result.stderr
    data = json.loads(report.read_text()) if report.exists() else {}
    return result.returncode, result.stdout + result.stderr, data


def _trained_model(project: Path, tmp_path: Path, *flags: str) -> object:
    """Train the generated project (with `flags`) and load the model it saved."""
    manifest = json.loads((project / "nb2prod.json").read_text())
    env = generated_env(project, tmp_path / "bentoml")
    out = tmp_path / "artifacts"
    if flags:
        import subprocess
        import sys

        done = subprocess.run(
            [sys.executable, "-m", f"{manifest['package']}.train", "--output-dir", str(out),
             *flags],
            cwd=project, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    else:
        train_generated(project, manifest["package"], str(out), env)
    tag = json.loads((out / "model.json").read_text())["bentoml_tag"]
    name, version = tag.split(":")
    stored = tmp_path / "bentoml" / "models" / name / version / "model.pkl"
    return pickle.loads(stored.read_bytes())


def _kinds(report: dict) -> dict[str, int]:
    counts: dict[str, int] = {}
    for check in report["checks"]:
        if check["passed"] and not check["note"]:
            counts[check["kind"]] = counts.get(check["kind"], 0) + 1
    return counts


def test_a_grid_search_serves_the_fitted_search_not_its_base_estimator(
    projects: dict[str, Path], tmp_path: Path
) -> None:
    project = projects["grid"]
    assert json.loads((project / "nb2prod.json").read_text())["model"] == "grid"
    model = _trained_model(project, tmp_path)
    assert type(model).__name__ == "GridSearchCV" and hasattr(model, "best_estimator_")
    code, output, report = _verify(project)
    assert code == 0, output
    assert _kinds(report) == {"metric": 1, "prediction": 1, "service": 1, "schema": 1,
                              "metadata": 4}  # fmt: skip
    assert "1 metric, 5 predictions x 2 (function, service)" in output


def test_the_best_of_three_is_served_even_when_a_parameter_changes_the_winner(
    projects: dict[str, Path], tmp_path: Path
) -> None:
    project = projects["best3"]
    assert json.loads((project / "nb2prod.json").read_text())["model"] == "best_model"
    by_default = _trained_model(project, tmp_path / "default")
    with_tiny_c = _trained_model(project, tmp_path / "tiny", "--C", "0.001")
    assert type(by_default).__name__ == "Pipeline"  # the scaled logistic regression wins
    assert type(with_tiny_c).__name__ == "RandomForestClassifier"  # C cripples the others
    code, output, report = _verify(project, "-p", "C", "0.001")
    assert code == 0, output
    assert {"metric", "prediction", "service"} <= set(_kinds(report))
    pipeline = (project / "src" / "best3" / "pipeline.py").read_text()
    prediction = (project / "src" / "best3" / "prediction.py").read_text()
    assert "def predict(best_model: Any, rows: Any) -> Any:" in prediction
    assert "def select_rows(X_test: Any) -> Any:" in pipeline  # picked inside the cell


def test_a_print_only_evaluate_makes_verify_fail_saying_why(projects: dict[str, Path]) -> None:
    code, output, report = _verify(projects["printonly"])
    assert code == 1, output
    assert "nothing compared for metric" in output
    assert "printed scores are not kept" in output
    assert _kinds(report)["prediction"] == 1 and _kinds(report)["service"] == 1


def test_printed_scores_are_named_and_compared(projects: dict[str, Path]) -> None:
    project = projects["printed"]
    pipeline = (project / "src" / "printed" / "pipeline.py").read_text()
    assert "score = clf.score(X_test, y_test)" in pipeline
    assert 'print(f"Test accuracy: {score:.3f}")' in pipeline  # ruff made it an f-string
    assert "accuracy = accuracy_score(y_test, y_pred)" in pipeline
    code, output, report = _verify(project)
    assert code == 0, output
    compared = {c["name"] for c in report["checks"] if c["kind"] == "metric" and c["passed"]}
    assert compared == {"score", "accuracy"}, output


def test_a_list_input_is_compared_through_function_and_service(
    projects: dict[str, Path],
) -> None:
    project = projects["listin"]
    request = json.loads((project / "examples" / "request.json").read_text())
    assert request["body"][0] == {"x0": 5.1, "x1": 3.5, "x2": 1.4, "x3": 0.2}
    code, output, report = _verify(project)
    assert code == 0, output
    species = [c for c in report["checks"] if c["name"] == "species"]
    assert [c["kind"] for c in species] == ["prediction", "service"]
    assert species[0]["notebook"] == [0, 2, 1]  # not the skipped cell's later [1]
    accuracy = next(c for c in report["checks"] if c["name"] == "train_accuracy")
    assert accuracy["passed"] and accuracy["notebook"] > 0.9


def test_kale_training_and_evaluation_steps_save_a_model_and_take_parameters(
    projects: dict[str, Path], tmp_path: Path
) -> None:
    project = projects["kale"]
    manifest = json.loads((project / "nb2prod.json").read_text())
    assert manifest["model"] == "clf" and manifest["metrics"] == ["accuracy", "f1"]
    assert type(_trained_model(project, tmp_path)).__name__ == "GradientBoostingClassifier"
    code, output, report = _verify(project, "-p", "N_ESTIMATORS", "5")
    assert code == 0, output  # the notebook got N_ESTIMATORS=5 too, or the metrics would differ
    assert report["parameters"] == {"N_ESTIMATORS": 5}
    default_accuracy = manifest["probe"]["metrics"]["defaults"]["accuracy"]
    accuracy = next(c for c in report["checks"] if c["name"] == "accuracy")
    assert accuracy["notebook"] != default_accuracy


def test_kale_metrics_cells_printing_parameters_and_arrays_are_notes(tmp_path: Path) -> None:
    """`print(d1)` (a parameter) and `print(conf_matrix)` (an array) in pipeline-metrics
    used to crash convert; they are not metrics, and convert says so."""
    from nb2prod.commands.convert import convert

    cells = [
        *KALE[:4],
        (
            "from sklearn.metrics import confusion_matrix\ny_hat = clf.predict(x_test)\n"
            "accuracy = accuracy_score(y_test, y_hat)\n"
            "conf_matrix = confusion_matrix(y_test, y_hat)",
            ["step:evaluation", "prev:training"],
        ),
        ("print(accuracy)\nprint(conf_matrix)\nprint(LR)", ["pipeline-metrics"]),
    ]
    result = convert(make_notebook(tmp_path / "kale_matrix.ipynb", cells), tmp_path / "out")
    notes = {w.message.split("`")[1] for w in result.warnings if w.code == "printed-not-a-metric"}
    assert notes == {"conf_matrix", "LR"}
    assert result.plan.metrics.sources == ("accuracy",)


def test_quick_without_a_quick_line_is_an_error(projects: dict[str, Path]) -> None:
    code, output, _ = _verify(projects["listin"], "--quick")
    assert code == 2, output
    assert "no `# nb2prod: quick ...` line" in output


def test_skipped_cells_never_install_or_run_shell_cells() -> None:
    from nb2prod.plan.skipped_cells import without_installs

    assert without_installs("import x\n!pip install -q torchmetrics\nx.run()") == (
        "import x\npass  # not run by nb2prod verify: !pip install -q torchmetrics\nx.run()"
    )
    assert without_installs("if ok:\n    %pip install a") == (
        "if ok:\n    pass  # not run by nb2prod verify: %pip install a"
    )
    assert without_installs("%%bash\nrm -rf data").startswith("# not run by nb2prod verify")


def test_rows_picked_inside_the_models_call_are_served_and_compared(
    projects: dict[str, Path],
) -> None:
    project = projects["inline"]
    request = json.loads((project / "examples" / "request.json").read_text())
    assert len(request["body"]) == 4  # X[100:104]
    code, output, report = _verify(project, "--skipped-timeout", "2")
    assert code == 0, output
    assert _kinds(report)["prediction"] == 1 and _kinds(report)["service"] == 1
    assert any("skipped cell 4 (`import time`) was stopped" in n for n in report["notes"])


def test_verify_fails_when_the_notebook_gives_nothing_to_compare(tmp_path: Path) -> None:
    cells = [
        "from sklearn.datasets import load_iris\nfrom sklearn.tree import DecisionTreeClassifier",
        ("X, y = load_iris(return_X_y=True)", ["nb2prod:load"]),
        ("model = DecisionTreeClassifier(random_state=0).fit(X, y)", ["nb2prod:train"]),
    ]
    notebook = make_notebook(tmp_path / "bare.ipynb", cells)
    assert run_cli("convert", str(notebook), "-o", str(tmp_path / "bare")).returncode == 0
    code, output, report = _verify(tmp_path / "bare")
    assert code == 1, output
    assert "no evaluate or predict section" in output
    assert any(c["kind"] == "metadata" and c["passed"] for c in report["checks"])


def test_a_training_loop_without_evaluate_is_scored_by_its_last_loss(
    projects: dict[str, Path],
) -> None:
    project = projects["loop"]
    assert json.loads((project / "nb2prod.json").read_text())["metric_sources"] == ["loss"]
    code, output, report = _verify(project, "-p", "epochs", "7")
    assert code == 0, output
    assert _kinds(report)["metric"] == 1 and _kinds(report)["prediction"] == 1, output
    assert report["parameters"] == {"epochs": 7}


def test_a_shown_prediction_is_compared_and_a_fit_without_metric_is_scored(
    projects: dict[str, Path],
) -> None:
    project = projects["shown"]
    pipeline = (project / "src" / "shown" / "pipeline.py").read_text()
    assert "training_score = tree_clf.score(X_iris, y_iris)" in pipeline
    assert "Added by nb2prod after notebook cell 0." in pipeline
    prediction = (project / "src" / "shown" / "prediction.py").read_text()
    assert "predictions = tree_clf.predict(rows)" in prediction
    code, output, report = _verify(project)
    assert code == 0, output
    kinds = _kinds(report)
    assert kinds["metric"] == 1 and kinds["prediction"] == 1 and kinds["service"] == 1, output
    assert report["checks"][0]["name"] == "training_score"

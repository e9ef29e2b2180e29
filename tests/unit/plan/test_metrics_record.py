"""Where and how a papermill run of the notebook records its metrics (`metrics_record`).

One rule for `nb2prod verify` and the generated `tests/test_notebook_regression.py`:
right after the evaluate section (the train section when there is none), printed
scores bound to the pipeline's names, nb2prod's score step run first when the notebook
computes no metric. The golden projects' papermill tests carry exactly what the rule
gives for their notebooks, the rule verify runs.
"""

from __future__ import annotations

import ast
import json
import shutil
import sys
from pathlib import Path

import pytest

from nb2prod.commands.verify import plan_of
from nb2prod.plan.build import build_plan
from nb2prod.plan.metrics_record import MetricsRecord, metrics_record
from nb2prod.read.notebook import load_notebook
from tests.conftest import ROOT, make_notebook

GOLDEN = ROOT / "tests" / "golden"
CONTRACTS = ROOT / "nb2prod" / "generate" / "runtime" / "contracts.py"

PRINTED_THEN_REBOUND = [
    "from sklearn.metrics import accuracy_score\nfrom sklearn.tree import DecisionTreeClassifier",
    ("X = [[0], [1], [2], [3]]\ny = [0, 1, 1, 1]", ["nb2prod:load"]),
    "#md ## Training",
    ("clf = DecisionTreeClassifier(max_depth=1).fit(X, y)", ["nb2prod:train"]),
    ("y_pred = clf.predict(X)\nprint('accuracy:', accuracy_score(y, [1, 1, 1, 1]))\n"
     "error = 1 - clf.score(X, y)", ["nb2prod:evaluate"]),
    ("error = 0.5", ["skip"]),  # exploring afterwards: the record must not see it
    ("rows = [[5]]\nlabels = clf.predict(rows)", ["nb2prod:predict"]),
]  # fmt: skip


def _record(tmp_path: Path, cells: list) -> MetricsRecord | None:
    return metrics_record(build_plan(load_notebook(make_notebook(tmp_path / "nb.ipynb", cells))))


def _run_as_papermill_would(
    tmp_path: Path, cells: list, record: MetricsRecord, package: str = "nb"
) -> dict[str, float]:
    """The notebook's code cells in order in one namespace, the named-score cells as the
    rule writes them and the record cell inserted where it says; what the cell wrote."""
    src = tmp_path / "src"
    (src / package).mkdir(parents=True)
    (src / package / "__init__.py").write_text("")
    shutil.copy(CONTRACTS, src / package / "contracts.py")
    written = tmp_path / "metrics.json"
    sources = [c if isinstance(c, str) else c[0] for c in cells]
    code = {index: record.named_scores.get(index, text) for index, text in enumerate(sources)}
    code[record.after_cell + 0.5] = record.code(str(src), str(written))
    namespace: dict[str, object] = {}
    try:
        for index in sorted(code):
            if not code[index].startswith("#md "):
                exec(compile(code[index], f"cell {index}", "exec"), namespace)
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] == package]:
            del sys.modules[name]
    assert str(src) not in sys.path  # the record cell leaves the kernel's path as it was
    return json.loads(written.read_text())


def test_metrics_are_recorded_after_evaluate_with_printed_scores_named(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    record = _record(tmp_path, PRINTED_THEN_REBOUND)
    assert record is not None
    assert record.after_cell == 4  # the evaluate cell; the markdown cell counts
    assert record.named_scores == {
        4: "y_pred = clf.predict(X)\naccuracy = accuracy_score(y, [1, 1, 1, 1])\n"
        "print('accuracy:', accuracy)\nerror = 1 - clf.score(X, y)"
    }
    assert "['y_pred', 'accuracy', 'error']" in record.cell  # the probe has not run: all
    assert "score_model" not in record.cell
    metrics = _run_as_papermill_would(tmp_path, PRINTED_THEN_REBOUND, record)
    assert metrics == {"accuracy": 0.75, "error": 0.0}  # not the skipped cell's 0.5


def test_a_notebook_without_a_metric_is_scored_by_nb2prods_step_first(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    cells = [
        ("from sklearn.tree import DecisionTreeClassifier\nX = [[0], [1]]\ny = [0, 1]\n"
         "tree = DecisionTreeClassifier()\ntree.fit(X, y)", ["nb2prod:train"]),
        ("tree.predict([[1]])", ["nb2prod:predict"]),
    ]  # fmt: skip
    record = _record(tmp_path, cells)
    assert record is not None and record.after_cell == 0 and record.named_scores == {}
    score = record.cell.index("training_score = tree.score(X, y)\n")
    assert "`score_model` step" in record.cell
    assert score < record.cell.index("_nb2prod_metric_values(globals(), ['training_score'])")
    assert _run_as_papermill_would(tmp_path, cells, record) == {"training_score": 1.0}


def test_a_training_loop_without_evaluate_is_recorded_after_training(tmp_path: Path) -> None:
    cells = [
        ("history = []\nfor epoch in range(3):\n    loss = 1 / (epoch + 1)\n"
         "    history.append(loss)", ["nb2prod:train"]),
        ("loss = -1.0", ["skip"]),
    ]  # fmt: skip
    record = _record(tmp_path, cells)
    assert record is not None and record.after_cell == 0
    assert "['loss']" in record.cell and "score_model" not in record.cell
    assert _run_as_papermill_would(tmp_path, cells, record) == {"loss": 1 / 3}


def test_nothing_is_recorded_when_the_notebook_has_no_metric(tmp_path: Path) -> None:
    cells = [
        ("rows = [1, 2, 3]", ["nb2prod:load"]),
        ("print('rows:', len(rows))", ["nb2prod:evaluate"]),
    ]
    assert _record(tmp_path, cells) is None


def test_the_record_cell_fills_in_paths_as_python_literals(tmp_path: Path) -> None:
    record = _record(tmp_path, [("score = 0.5", ["nb2prod:evaluate"])])
    assert record is not None
    code = record.code("/src/it's", 'C:\\records\\"m".json')
    assert "<src>" not in code and "<record-path>" not in code
    assert {"/src/it's", 'C:\\records\\"m".json'} <= {
        node.value for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Constant)
    }


def _constants(test: Path) -> dict[str, object]:
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(test.read_text()).body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in {"RECORD_AFTER_CELL", "NAMED_SCORES", "RECORD_METRICS"}
    }


@pytest.mark.parametrize(
    "project",
    sorted(p for p in GOLDEN.iterdir() if (p / "tests" / "test_notebook_regression.py").exists()),
    ids=lambda p: p.name,
)
def test_the_generated_papermill_test_records_as_verify_does(project: Path) -> None:
    """Verify's plan of the project gives its notebook run the record the test carries."""
    record = metrics_record(plan_of(project, json.loads((project / "nb2prod.json").read_text())))
    assert record is not None
    constants = _constants(project / "tests" / "test_notebook_regression.py")
    assert constants == {
        "RECORD_AFTER_CELL": record.after_cell,
        **({"NAMED_SCORES": record.named_scores} if record.named_scores else {}),
        "RECORD_METRICS": record.cell,
    }

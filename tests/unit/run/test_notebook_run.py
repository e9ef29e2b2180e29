"""notebook_run.py: verify's papermill run of the notebook, and what it reads back.

The copy nb2prod runs differs from the user's notebook in known ways: numbered cells,
recording cells after the load, evaluate and predict sections, skipped cells that may
fail (and may not install anything), a `parameters` tag where papermill needs one.
Those preparations are tested on their own; one real papermill run of a six-cell
notebook (a few seconds) checks that the recorded results come back.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from nb2prod.errors import UserError
from nb2prod.generate.install_hints import MISSING_PACKAGE
from nb2prod.plan.build import Plan, build_plan
from nb2prod.plan.metrics_record import metrics_record
from nb2prod.read.notebook import from_node, load_notebook
from nb2prod.run.notebook_run import (
    ALLOWED_TO_FAIL,
    RECORD_TAG,
    SKIPPED_TAG,
    NotebookRun,
    _cell_timeout,
    _failed_cell,
    _input_expression,
    _mark_cells,
    _recording_cells,
    _skipped_failures,
    _tag_parameters,
    run_notebook,
)
from tests.conftest import ROOT
from tests.unit.notebooks import Cells, notebook_node, write_notebook

CELLS: Cells = [
    ("n = 3", ["parameters"]),
    ("rows = [[float(i), 1.0] for i in range(n)]\ny = [r[0] for r in rows]", ["nb2prod:load"]),
    (
        "class Model:\n    def predict(self, rows):\n        return [r[0] * 2 for r in rows]\n\n"
        "model = Model()",
        ["nb2prod:train"],
    ),
    ("score = float(sum(model.predict(rows)))", ["nb2prod:evaluate"]),
    ("!pip install nothing-at-all\nraise RuntimeError('download failed')", ["nb2prod:skip"]),
    ("import time\ntime.sleep(60)", ["nb2prod:skip"]),
    ("predictions = model.predict(rows[:2])", ["nb2prod:predict"]),
]
"""Every recorded result without a library: a hand-made model, a skipped cell that fails
and one that runs past its time."""


def plan_of(cells: Cells) -> Plan:
    return build_plan(from_node(notebook_node(cells), Path("nb.ipynb")))


def node_of(cells: Cells) -> Any:
    return nbformat.from_dict(notebook_node(cells))


# ---- preparing the copy -------------------------------------------------------------------


def test_a_skipped_cell_gets_its_own_time_and_the_rest_the_full_timeout() -> None:
    per_cell = _cell_timeout(1800, 120)
    assert per_cell({"metadata": {"tags": [SKIPPED_TAG]}}) == 120
    assert per_cell({"metadata": {"tags": ["nb2prod:train"]}}) == 1800
    assert per_cell({}) == 1800
    assert _cell_timeout(60, 120)({"metadata": {"tags": [SKIPPED_TAG]}}) == 60
    assert _cell_timeout(60, 0)({"metadata": {"tags": [SKIPPED_TAG]}}) == 60  # 0: no limit


def test_cells_are_numbered_and_skipped_cells_may_fail() -> None:
    node = node_of(CELLS)
    plan = plan_of(CELLS)
    _mark_cells(node, plan, metrics_record(plan))
    assert [cell.metadata["nb2prod"]["index"] for cell in node.cells] == list(range(len(CELLS)))
    skipped = node.cells[4]
    assert skipped.metadata.tags == ["nb2prod:skip", ALLOWED_TO_FAIL, SKIPPED_TAG]
    assert skipped.source.startswith("pass  # not run by nb2prod verify: !pip install")
    assert node.cells[3].metadata.tags == ["nb2prod:evaluate"]  # kept cells: as they are


def test_a_parameters_cell_tagged_another_way_gets_papermills_tag() -> None:
    """Kale's `pipeline-parameters`: papermill injects only after a cell tagged `parameters`."""
    kale: Cells = [("n = 3", ["pipeline-parameters"]), *CELLS[1:]]
    node = node_of(kale)
    _tag_parameters(node, plan_of(kale))
    assert node.cells[0].metadata.tags == ["pipeline-parameters", "parameters"]
    tagged = node_of(CELLS)
    _tag_parameters(tagged, plan_of(CELLS))
    assert tagged.cells[0].metadata.tags == ["parameters"]  # not twice
    bare = node_of(CELLS[1:])
    _tag_parameters(bare, plan_of(CELLS[1:]))
    assert all("parameters" not in c.metadata.tags for c in bare.cells)


def test_results_are_recorded_right_after_the_sections_that_make_them(tmp_path: Path) -> None:
    """Later cells may rebind `predictions`; each record comes right after its section."""
    plan = plan_of(CELLS)
    cells = dict(_recording_cells(plan, tmp_path / "src", tmp_path / "in.pkl"))
    assert sorted(cells) == [2, 7]  # after load (cell 1) and predict (6)
    assert "_nb2prod_fingerprint([rows])" in cells[2]
    assert f"{str(tmp_path / 'src')!r}" in cells[2] and "from nb.contracts import" in cells[2]
    assert "in ['predictions'] if" in cells[7] and "(rows[:2])" in cells[7]
    recorded = metrics_record(plan)  # the metrics: the rule verify and the project's test share
    assert recorded is not None and recorded.after_cell == 3  # after evaluate


def test_the_predict_input_is_the_rows_the_model_was_called_with() -> None:
    plan = plan_of(CELLS)
    assert _input_expression(plan, plan.predict) == "(rows[:2])"  # lifted from the call
    assert _input_expression(plan, None) == "_nb2prod_no_input"


# ---- failures -----------------------------------------------------------------------------


def executed(tmp_path: Path, outputs: dict[int, tuple[str, str]], tags: dict[int, str]) -> Path:
    """An executed copy whose cells `outputs` ended in errors (ename, evalue)."""
    node = node_of([(f"line_{i} = {i}", [tags[i]] if i in tags else []) for i in range(3)])
    for index, cell in enumerate(node.cells):
        cell.metadata["nb2prod"] = {"index": index}
        if index in outputs:
            ename, evalue = outputs[index]
            cell.outputs = [
                nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[])
            ]
    path = tmp_path / "executed-nb.ipynb"
    nbformat.write(node, path)
    return path


class Failed(Exception):
    """What papermill raises: the first error's name and value."""

    def __init__(self, ename: str, evalue: str) -> None:
        super().__init__(evalue)
        self.ename, self.evalue = ename, evalue


def test_a_failing_kept_cell_is_the_users_error_at_that_cell(tmp_path: Path) -> None:
    path = executed(
        tmp_path, {0: ("OSError", "no net"), 1: ("ValueError", "bad")}, {0: SKIPPED_TAG}
    )
    with pytest.raises(UserError) as raised:
        _skipped_failures(Path("nb.ipynb"), path, Failed("ValueError", "bad"))
    problem = raised.value.problems[0]
    assert problem.code == "notebook-failed"
    assert problem.message == "the notebook failed under papermill: ValueError: bad"
    assert problem.cell is not None and (problem.cell.index, problem.cell.first_line) == (
        1,
        "line_1 = 1",
    )
    assert str(path) in problem.fix


def test_failing_skipped_cells_are_notes(tmp_path: Path) -> None:
    path = executed(
        tmp_path,
        {0: ("OSError", "no net"), 2: ("KeyboardInterrupt", "")},
        {0: SKIPPED_TAG, 2: SKIPPED_TAG},
    )
    notes = _skipped_failures(Path("nb.ipynb"), path, Failed("OSError", "no net"))
    assert notes[0].startswith(
        "skipped cell 0 (`line_0 = 0`) failed under papermill (OSError: no net)"
    )
    assert notes[1].startswith("skipped cell 2 (`line_2 = 2`) was stopped after its time")


def test_an_unreadable_executed_copy_still_names_the_error(tmp_path: Path) -> None:
    with pytest.raises(UserError) as raised:
        _skipped_failures(Path("nb.ipynb"), tmp_path / "gone.ipynb", Failed("ValueError", "bad"))
    assert raised.value.problems[0].message.endswith("ValueError: bad")
    assert raised.value.problems[0].cell is None


def test_a_cell_past_its_time_says_how_to_give_it_more() -> None:
    error = _failed_cell(Path("nb.ipynb"), Path("x"), "KeyboardInterrupt", "", None)
    assert "ran past the time allowed per cell" in error.problems[0].message
    assert "--timeout" in error.problems[0].fix


def test_a_missing_module_in_the_notebook_is_a_package_to_install_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The kernel runs on this Python: the pip line is for this environment."""
    sub = _failed_cell(
        Path("nb.ipynb"), Path("x"), "ModuleNotFoundError", "No module named 'sklearn.gone'", None
    )
    assert sub.problems[0].code == "notebook-failed"  # sklearn is installed: not a pip line
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if it were not
    error = _failed_cell(
        Path("nb.ipynb"), Path("x"), "ModuleNotFoundError", "No module named 'sklearn'", None
    )
    problem = error.problems[0]
    assert problem.code == MISSING_PACKAGE
    assert problem.fix == "`pip install scikit-learn`, then verify again"


# ---- one real run -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, NotebookRun]:
    """CELLS run by papermill with n=4; the project's src/ holds the runtime contracts."""
    folder = tmp_path_factory.mktemp("run")
    notebook = write_notebook(folder / "nb.ipynb", CELLS)
    plan = build_plan(load_notebook(notebook))
    (folder / "src" / plan.package).mkdir(parents=True)
    runtime = ROOT / "nb2prod" / "generate" / "runtime" / "contracts.py"
    shutil.copy(runtime, folder / "src" / plan.package / "contracts.py")
    before = notebook.read_bytes()
    run = run_notebook(
        notebook, plan, {"n": 4}, folder / "work",
        project_src=folder / "src", timeout=120, skipped_timeout=2,
    )  # fmt: skip
    return notebook, before, run


def test_a_run_records_metrics_predictions_and_the_data_fingerprint(
    real_run: tuple[Path, bytes, NotebookRun],
) -> None:
    _, _, run = real_run
    assert run.metrics == {"score": 12.0}  # n=4 reached the notebook: 2 * (0+1+2+3)
    assert run.predictions == {"predictions": [0.0, 2.0]}
    assert run.input_problem is None
    assert run.data_sha256 is not None and len(run.data_sha256) == 64


def test_the_predict_input_comes_back_as_the_notebook_had_it(
    real_run: tuple[Path, bytes, NotebookRun],
) -> None:
    _, _, run = real_run
    assert run.predict_input() == [[0.0, 1.0], [1.0, 1.0]]
    assert run.rows == [{"x0": 0.0, "x1": 1.0}, {"x0": 1.0, "x1": 1.0}]


def test_skipped_cells_that_fail_or_run_too_long_are_notes(
    real_run: tuple[Path, bytes, NotebookRun],
) -> None:
    _, _, run = real_run
    failed, stopped = run.skipped_failures
    assert failed.startswith("skipped cell 4 (")
    assert "failed under papermill (RuntimeError: download failed)" in failed
    assert stopped.startswith("skipped cell 5 (`import time`) was stopped after its time")


def test_a_skipped_cells_note_quotes_the_users_first_line(
    real_run: tuple[Path, bytes, NotebookRun],
) -> None:
    _, _, run = real_run
    assert run.skipped_failures[0].startswith("skipped cell 4 (`!pip install nothing-at-all`)")


def test_the_users_notebook_is_never_touched_and_the_copy_is_kept(
    real_run: tuple[Path, bytes, NotebookRun],
) -> None:
    notebook, before, run = real_run
    assert notebook.read_bytes() == before
    copy = nbformat.read(run.executed, as_version=4)
    assert run.executed.name == "executed-nb.ipynb"
    assert [c.metadata.get("tags") for c in copy.cells].count([RECORD_TAG]) == 4
    assert any(c.metadata.get("tags") == ["injected-parameters"] for c in copy.cells)

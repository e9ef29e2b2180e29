"""Run a notebook with papermill and read back what its sections produced.

nb2prod runs its own copy of the notebook (the user's file is never touched)
with cells inserted that record the evaluate section's metrics (as the generated
papermill test does: `plan/metrics_record.py`), the rows the predict section
predicted and its predictions. Papermill injects the
parameters the usual way and does not save the notebook after every cell
(`request_save_on_cell_execute=False`), which costs seconds per hundred cells.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nb2prod.analyse.shown_predictions import bind_in_cell
from nb2prod.errors import CellRef, Problem, Severity, UserError
from nb2prod.generate.install_hints import (
    MISSING_PACKAGE,
    absent_module,
    distribution_line,
    missing_module,
    not_installed,
)
from nb2prod.plan.build import Plan, data_step_position
from nb2prod.plan.metrics_record import MetricsRecord, metrics_record
from nb2prod.plan.serving import data_input_of
from nb2prod.plan.skipped_cells import ALLOWED_TO_FAIL, without_installs
from nb2prod.read.roles import PREDICT, SKIP

IMPORT_CONTRACTS = """\
import sys as _nb2prod_sys
_nb2prod_sys.path.insert(0, {src!r})
from {package}.contracts import {name} as _nb2prod_{name}
_nb2prod_sys.path.remove({src!r})
"""
PREDICTIONS_CELL = """\
import pickle as _nb2prod_pickle
_nb2prod_predictions = {{
    _nb2prod_name: _nb2prod_plain(globals()[_nb2prod_name])
    for _nb2prod_name in {predictions!r} if _nb2prod_name in globals()
}}
_nb2prod_input_problem = None
try:
    _nb2prod_input = {input_expression}
    with open({input_path!r}, "wb") as _nb2prod_file:
        _nb2prod_pickle.dump(_nb2prod_input, _nb2prod_file)
except NameError:
    pass  # no predict input to keep
except Exception as _nb2prod_error:
    _nb2prod_input_problem = f"{{type(_nb2prod_error).__name__}}: {{_nb2prod_error}}"
"""
RECORD_CELL = """\
import json as _nb2prod_json
with open({path!r}, "w") as _nb2prod_file:
    _nb2prod_json.dump(
        {{
            "predictions": globals().get("_nb2prod_predictions", {{}}),
            "input_problem": globals().get("_nb2prod_input_problem"),
            "data_sha256": globals().get("_nb2prod_data_sha256"),
        }},
        _nb2prod_file,
        default=str,
    )
"""
"""Results are taken right after the section that makes them (later cells, skipped
ones included, may rebind `y_preds`), and written once at the end; the metrics are
written by their own cell, the one the generated papermill test inserts too
(`plan/metrics_record.py`)."""


RECORD_TAG = "nb2prod-record"

SKIPPED_TAG = "nb2prod-skipped"
SKIPPED_TIMEOUT = 120  # seconds a skipped cell may run under verify
"""nbclient's tag: an error in the cell does not stop the run."""


@dataclass
class NotebookRun:
    """What one papermill run of the notebook produced."""

    metrics: dict[str, float]
    predictions: dict[str, Any]
    executed: Path
    input_path: Path | None = None
    """The predict section's input, pickled as the notebook had it (any type)."""
    input_problem: str | None = None
    """Why the input could not be kept, when it could not."""
    data_sha256: str | None = None
    """The training data's fingerprint right after the load section, as the pipeline's."""
    skipped_failures: list[str] = field(default_factory=list)
    """Skipped cells that failed (downloads, missing programs): notes, not failures."""

    def predict_input(self) -> Any:
        """The notebook's predict input (same interpreter, so pickle is exact)."""
        import pickle

        if self.input_path is None or not self.input_path.exists():
            return None
        return pickle.loads(self.input_path.read_bytes())

    @property
    def rows(self) -> list[dict[str, Any]] | None:
        """The predict input as a service request's rows (see `rows.py`)."""
        from nb2prod.plan.rows import request_rows

        value = self.predict_input()
        return None if value is None else request_rows(value)


def run_notebook(
    notebook: Path,
    plan: Plan,
    parameters: dict[str, Any],
    workdir: Path,
    *,
    cwd: Path | None = None,
    timeout: int = 1800,
    skipped_timeout: int = SKIPPED_TIMEOUT,
    project_src: Path,
) -> NotebookRun:
    """Execute a copy of `notebook` with `parameters`; `UserError` naming the failing cell.

    `project_src` is the generated project's `src/`: its own code records the metrics
    and fingerprints the training data right after the load section. A skipped cell
    gets `skipped_timeout` seconds, then is interrupted and noted: a grid search kept
    for the record must not hold the check for an hour (0 runs it to `timeout`).
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    workdir = workdir.resolve()  # the kernel runs in `cwd`: hand it absolute paths
    notebook = notebook.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    record = workdir / "notebook-record.json"
    record.unlink(missing_ok=True)
    metrics = workdir / "notebook-metrics.json"
    metrics.unlink(missing_ok=True)
    (workdir / "kernel.log").unlink(missing_ok=True)
    input_path = workdir / "predict-input.pkl"
    input_path.unlink(missing_ok=True)
    node = nbformat.read(notebook, as_version=4)
    project_src = project_src.resolve()
    recorded = metrics_record(plan)
    _mark_cells(node, plan, recorded)
    _tag_parameters(node, plan)
    inserted = _recording_cells(plan, project_src, input_path)
    if recorded is not None:  # as the generated papermill test records them
        inserted.append((recorded.after_cell + 1, recorded.code(str(project_src), str(metrics))))
    for position, source in sorted(inserted, key=lambda item: -item[0]):
        node.cells.insert(
            position, nbformat.v4.new_code_cell(source, metadata={"tags": [RECORD_TAG]})
        )
    node.cells.append(
        nbformat.v4.new_code_cell(
            RECORD_CELL.format(path=str(record)), metadata={"tags": [RECORD_TAG]}
        )
    )
    source = workdir / f"input-{notebook.name}"
    executed = workdir / f"executed-{notebook.name}"
    for written in (source, executed):  # a link planted here is replaced, never followed
        written.unlink(missing_ok=True)
    nbformat.write(node, source)
    # `!pip` in a cell must reach this interpreter's pip, as in an activated environment.
    saved_path = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{saved_path}"
    try:
        papermill.execute_notebook(
            str(source),
            str(executed),
            parameters=parameters,
            kernel_name="python3",
            kernel_manager_class=_kernel_manager(workdir / "kernel.log"),
            cwd=str(cwd or notebook.parent),
            progress_bar=False,
            request_save_on_cell_execute=False,
            execution_timeout=timeout,
            timeout_func=_cell_timeout(timeout, skipped_timeout),
            interrupt_on_timeout=True,
        )
    except PapermillExecutionError as error:
        skipped_failures = _skipped_failures(notebook, executed, error)
    else:
        skipped_failures = []
    finally:
        os.environ["PATH"] = saved_path
    if not record.exists():
        raise UserError(
            notebook,
            [
                Problem(
                    "notebook-incomplete",
                    "the notebook's run ended before nb2prod could record its results "
                    "(the kernel stopped?)",
                    f"see the kernel's log {workdir / 'kernel.log'} and the executed copy "
                    f"{executed}",
                    Severity.ERROR,
                    None,
                )
            ],
        )
    data = json.loads(record.read_text())
    return NotebookRun(
        metrics=json.loads(metrics.read_text()) if metrics.exists() else {},
        predictions=data["predictions"],
        executed=executed,
        input_path=input_path if input_path.exists() else None,
        input_problem=data["input_problem"],
        data_sha256=data.get("data_sha256"),
        skipped_failures=skipped_failures,
    )


def _cell_timeout(timeout: int, skipped_timeout: int) -> Callable[[Any], int]:
    """nbclient's per-cell timeout: a skipped cell's budget, `timeout` for the rest.

    nbclient interrupts the kernel when a cell runs out (`interrupt_on_timeout`): a
    skipped cell then ends in `KeyboardInterrupt`, which it is allowed; any other cell's
    interrupt is its failure, named as usual.
    """

    def for_cell(cell: Any) -> int:
        if skipped_timeout and SKIPPED_TAG in cell.get("metadata", {}).get("tags", []):
            return min(skipped_timeout, timeout)
        return timeout

    return for_cell


def _mark_cells(node: Any, plan: Plan, recorded: MetricsRecord | None) -> None:
    """Number the user's cells (inserted cells shift positions), name predictions a cell
    only shows (as the generated code does), and let skipped cells fail.

    Skipped cells still run, so a skipped cell that changes the data shows up as a
    difference; one that cannot run here (a download, a missing program) is noted, and
    the run goes on, since the project does not contain it.
    """
    shown = next((s.shown_predictions for s in plan.steps if s.shown_predictions), None)
    scores = recorded.named_scores if recorded is not None else {}
    for index, cell in enumerate(node.cells):
        cell.setdefault("metadata", {})["nb2prod"] = {"index": index}
        if shown is not None and shown[0] == index:  # the name the generated code gave
            cell.source = bind_in_cell(cell.source, shown[1], plan.model or "") or cell.source
        if index in scores:  # printed scores, named as in the generated code
            cell.source = scores[index]
        if plan.cell_roles.get(index) == SKIP:  # see plan/skipped_cells.py
            cell["metadata"].setdefault("tags", []).extend([ALLOWED_TO_FAIL, SKIPPED_TAG])
            cell.source = without_installs(cell.source)


def _first_line_as_written(notebook: Path, index: int | None, run_source: str) -> str:
    """A cell's first line as the user wrote it: the run's copy has nb2prod's rewrites
    (`pass  # not run by nb2prod verify: !pip ...`)."""
    import nbformat

    try:
        source = nbformat.read(notebook, as_version=4).cells[index].source
    except (OSError, ValueError, IndexError, TypeError):
        source = run_source
    return next((line.strip() for line in source.splitlines() if line.strip()), "")


def _skipped_failures(notebook: Path, executed: Path, error: Any) -> list[str]:
    """Failures of skipped cells, as notes; a failure anywhere else is the `UserError`."""
    import nbformat

    try:
        cells = nbformat.read(executed, as_version=4).cells
    except (OSError, ValueError):
        raise _failed_cell(notebook, executed, error.ename, error.evalue, None) from None
    notes: list[str] = []
    for cell in cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            index = cell.get("metadata", {}).get("nb2prod", {}).get("index")
            if SKIPPED_TAG in cell.get("metadata", {}).get("tags", []):
                first = _first_line_as_written(notebook, index, cell.source)
                if output.ename == "KeyboardInterrupt":
                    notes.append(
                        f"skipped cell {index} (`{first[:60]}`) was stopped after its "
                        "time for skipped cells (verify --skipped-timeout); the run went on "
                        "from where it stopped"
                    )
                    continue
                notes.append(
                    f"skipped cell {index} (`{first[:60]}`) failed under papermill "
                    f"({output.ename}: {str(output.evalue)[:120]}); it is not part of the "
                    "project, so the run went on"
                )
            else:
                raise _failed_cell(notebook, executed, output.ename, output.evalue, cell)
    if not notes:
        raise _failed_cell(notebook, executed, error.ename, error.evalue, None)
    return notes


def _tag_parameters(node: Any, plan: Plan) -> None:
    """Papermill injects `-p` values after the cell tagged `parameters`: a notebook whose
    parameters cell carries another tag (Kale's `pipeline-parameters`, a directive) gets
    the tag in nb2prod's copy, so the values always reach it."""
    if not plan.parameters:
        return
    if any("parameters" in cell.get("metadata", {}).get("tags", []) for cell in node.cells):
        return
    last = max(p.cell_index for p in plan.parameters)
    cell = node.cells[last]
    cell.setdefault("metadata", {}).setdefault("tags", []).append("parameters")


def _kernel_manager(log: Path) -> type:
    """A kernel manager that runs this interpreter's kernel, its stderr going to `log`.

    papermill's `python3` is looked up among Jupyter's kernelspecs, where one a
    user installed for another Python (`ipykernel install --user`) wins: the
    notebook would then run elsewhere than the generated code it is compared
    with. The kernel's stderr (warnings, crashes) goes to `log`, not over the
    table `verify` prints.
    """
    from jupyter_client.manager import AsyncKernelManager

    class ThisPythonKernelManager(AsyncKernelManager):  # type: ignore[misc]
        @property
        def kernel_spec(self) -> Any:
            spec = super().kernel_spec
            if spec is not None:
                spec.argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
            return spec

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            with log.open("ab") as stream:
                kw["stderr"] = stream
                await super()._async_launch_kernel(kernel_cmd, **kw)

    return ThisPythonKernelManager


def _input_expression(plan: Plan, predict: Any) -> str:
    """How the notebook's predict input is reached after the predict cell: its name, or
    the expression a lifted `select_rows` took out of the model's call (`X_test[:2]`)."""
    if predict is None:
        return "_nb2prod_no_input"  # a NameError: nothing to keep
    name = data_input_of(plan, predict)
    for step in plan.steps:
        if step.rows_source and name in step.outputs:
            return f"({step.rows_source})"
    return name


def _recording_cells(plan: Plan, src: Path, input_path: Path) -> list[tuple[int, str]]:
    """Cells to insert (at a position in the user's notebook): the data's fingerprint after
    the load section, the predictions after predict. The metrics' cell is the rule's
    (`plan/metrics_record.py`)."""
    cells: list[tuple[int, str]] = []

    def after(role: str) -> int | None:
        positions = [c for s in plan.steps if s.role == role for c in s.cells]
        return max(positions) + 1 if positions else None

    def contracts(name: str) -> str:
        return IMPORT_CONTRACTS.format(src=str(src), package=plan.package, name=name)

    data_step = data_step_position(plan)
    if data_step is not None:
        step = plan.steps[data_step]
        cells.append(
            (
                max(step.cells) + 1,
                contracts("fingerprint")
                + f"_nb2prod_data_sha256 = _nb2prod_fingerprint([{', '.join(step.outputs)}])\n",
            )
        )
    predict = plan.predict
    predicted = after(PREDICT)
    if predicted is not None:
        step = next(s for s in plan.steps if s.role == PREDICT)
        cells.append(
            (
                predicted,
                contracts("plain")
                + PREDICTIONS_CELL.format(
                    predictions=list(step.outputs),
                    input_expression=_input_expression(plan, predict),
                    input_path=str(input_path),
                ),
            )
        )
    return cells


def _failed_cell(notebook: Path, executed: Path, ename: str, evalue: str, cell: Any) -> UserError:
    """The user's cell that failed, by its index in the user's notebook."""
    index = None if cell is None else cell.get("metadata", {}).get("nb2prod", {}).get("index")
    source = "" if cell is None else str(cell.source)
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    module = absent_module(missing_module(str(evalue))) if ename == "ModuleNotFoundError" else None
    code = "notebook-failed"
    if ename == "KeyboardInterrupt":  # nbclient interrupts a cell that runs out of time
        message = "the cell ran past the time allowed per cell and was stopped"
        fix = "raise --timeout, or verify with --quick (smaller parameters)"
    elif module is not None:  # the kernel runs in this interpreter: install it here
        code = MISSING_PACKAGE
        message = f"the notebook failed under papermill: {not_installed(module)}"
        fix = f"`{distribution_line(module)}`, then verify again"
    else:
        message = f"the notebook failed under papermill: {ename}: {evalue}"
        fix = (
            "run the notebook top to bottom in Jupyter with these parameters and fix the "
            f"cell; the executed copy with the full traceback is {executed}"
        )
    return UserError(
        notebook,
        [
            Problem(
                code,
                message,
                fix,
                Severity.ERROR,
                CellRef(index, first[:80]) if index is not None else None,
            )
        ],
    )

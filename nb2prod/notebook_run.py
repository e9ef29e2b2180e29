"""Run a notebook with papermill and read back what its sections produced.

nb2prod runs its own copy of the notebook (the user's file is never touched)
with one cell appended that records the evaluate section's metrics, the rows
the predict section predicted and its predictions. Papermill injects the
parameters the usual way and does not save the notebook after every cell
(`request_save_on_cell_execute=False`), which costs seconds per hundred cells.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2prod.errors import CellRef, Problem, Severity, UserError
from nb2prod.plan import Plan, data_step_position
from nb2prod.serving import data_input_of, predict_step

RECORD_CELL = """\
import json as _nb2prod_json
import numpy as _nb2prod_np
_nb2prod_metric_names = {names!r}
_nb2prod_metric_dict = {dict_name!r}
if _nb2prod_metric_dict:
    _nb2prod_metrics = {{
        str(k): float(v) for k, v in globals()[_nb2prod_metric_dict].items()
    }}
else:
    _nb2prod_metrics = {{n: float(globals()[n]) for n in _nb2prod_metric_names}}
_nb2prod_rows = globals().get({data_input!r})
_nb2prod_record = {{
    "metrics": _nb2prod_metrics,
    "rows": _nb2prod_rows.to_dict(orient="records") if hasattr(_nb2prod_rows, "to_dict")
    else None,
    "dtypes": {{str(k): str(v) for k, v in _nb2prod_rows.dtypes.items()}}
    if hasattr(_nb2prod_rows, "dtypes") and hasattr(_nb2prod_rows.dtypes, "items") else None,
    "predictions": {{
        n: _nb2prod_np.asarray(globals()[n]).tolist() for n in {predictions!r}
    }},
    "data_sha256": globals().get("_nb2prod_data_sha256"),
}}
with open({path!r}, "w") as _nb2prod_file:
    _nb2prod_json.dump(_nb2prod_record, _nb2prod_file, default=lambda v: v.item())
"""


FINGERPRINT_CELL = """\
import sys as _nb2prod_sys
_nb2prod_sys.path.insert(0, {src!r})
from {package}.contracts import fingerprint as _nb2prod_fingerprint
_nb2prod_data_sha256 = _nb2prod_fingerprint([{names}])
_nb2prod_sys.path.remove({src!r})
"""
RECORD_TAG = "nb2prod-record"


@dataclass
class NotebookRun:
    """What one papermill run of the notebook produced."""

    metrics: dict[str, float]
    rows: list[dict[str, Any]] | None
    dtypes: dict[str, str] | None
    predictions: dict[str, list[Any]]
    executed: Path
    data_sha256: str | None = None
    """The training data's fingerprint right after the load section, as the pipeline's."""


def run_notebook(
    notebook: Path,
    plan: Plan,
    parameters: dict[str, Any],
    workdir: Path,
    *,
    cwd: Path | None = None,
    timeout: int = 1800,
    project_src: Path | None = None,
) -> NotebookRun:
    """Execute a copy of `notebook` with `parameters`; `UserError` naming the failing cell.

    With `project_src` (a generated project's `src/`), the training data is
    fingerprinted right after the load section with the project's own code.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    workdir = workdir.resolve()  # the kernel runs in `cwd`: hand it absolute paths
    notebook = notebook.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    record = workdir / "notebook-record.json"
    record.unlink(missing_ok=True)
    (workdir / "kernel.log").unlink(missing_ok=True)
    node = nbformat.read(notebook, as_version=4)
    predict = predict_step(plan)
    node.cells.append(
        nbformat.v4.new_code_cell(
            RECORD_CELL.format(
                names=list(plan.metrics.names),
                dict_name=plan.metrics.dict_name,
                data_input=data_input_of(plan, predict) if predict else None,
                predictions=predict.outputs if predict else [],
                path=str(record),
            ),
            metadata={"tags": [RECORD_TAG]},
        )
    )
    if project_src is not None and (project_src / plan.package / "contracts.py").exists():
        _insert_fingerprint(node, plan, project_src.resolve())
    source = workdir / f"input-{notebook.name}"
    executed = workdir / f"executed-{notebook.name}"
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
        )
    except PapermillExecutionError as error:
        raise _failed_cell(notebook, executed, error) from None
    finally:
        os.environ["PATH"] = saved_path
    data = json.loads(record.read_text())
    return NotebookRun(
        metrics=data["metrics"],
        rows=data["rows"],
        dtypes=data["dtypes"],
        predictions=data["predictions"],
        executed=executed,
        data_sha256=data.get("data_sha256"),
    )


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


def _insert_fingerprint(node: Any, plan: Plan, project_src: Path) -> None:
    """A cell after the load section that hashes its outputs as `run_pipeline` does."""
    import nbformat

    position = data_step_position(plan)
    if position is None:
        return
    step = plan.steps[position]
    cell = nbformat.v4.new_code_cell(
        FINGERPRINT_CELL.format(
            src=str(project_src), package=plan.package, names=", ".join(step.outputs)
        ),
        metadata={"tags": [RECORD_TAG]},
    )
    node.cells.insert(max(step.cells) + 1, cell)


def _failed_cell(notebook: Path, executed: Path, error: Any) -> UserError:
    """The user's cell that failed: papermill's index minus the cells it inserted."""
    import nbformat

    index = error.cell_index
    try:
        tags = [
            set(cell.get("metadata", {}).get("tags", []))
            for cell in nbformat.read(executed, as_version=4).cells
        ]
        ran = [t for t in tags if "papermill-error-cell-tag" not in t]  # as papermill counts
        inserted = sum(1 for t in ran[:index] if {"injected-parameters", RECORD_TAG} & t)
        index -= inserted
    except (OSError, ValueError):
        pass
    first = next((line.strip() for line in str(error.source).splitlines() if line.strip()), "")
    return UserError(
        notebook,
        [
            Problem(
                "notebook-failed",
                f"the notebook failed under papermill: {error.ename}: {error.evalue}",
                "run the notebook top to bottom in Jupyter with these parameters and fix the "
                f"cell; the executed copy with the full traceback is {executed}",
                Severity.ERROR,
                CellRef(index, first[:80]),
            )
        ],
    )

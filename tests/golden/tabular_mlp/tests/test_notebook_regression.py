"""The notebook, run by papermill, and the generated pipeline agree on every metric.

This is `nb2prod verify` inside the project's own tests: papermill runs the
copy of the notebook in `notebooks/` with the quick parameters and records its
metrics where and as verify does: one cell inserted right after the section that
computes them (later cells may rebind their names). The pipeline runs with the same
parameters. Same code, same seeds, same data: the metrics must be equal, not just close.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
from jupyter_client.manager import AsyncKernelManager
from papermill.exceptions import PapermillExecutionError

from tabular_mlp.config import QUICK_OVERRIDES, quick_config
from tabular_mlp.contracts import metric_differences
from tabular_mlp.pipeline import run_pipeline
from tabular_mlp.train import collect_metrics

PROJECT = Path(__file__).resolve().parent.parent
NOTEBOOK = PROJECT / "notebooks" / "tabular_mlp.ipynb"
RECORD_AFTER_CELL = 12
"""The metrics are recorded right after this cell of the notebook (counting from 0)."""

SKIPPED_CELLS = [5, 10]
"""Cells tagged skip: they run (one that changed the data would show here), but may fail, as
under `nb2prod verify` (a download, a plot needing a package this project does not list)."""

RECORD_METRICS = """\
import json as _nb2prod_json
import sys as _nb2prod_sys
_nb2prod_sys.path.insert(0, <src>)
from tabular_mlp.contracts import metric_values as _nb2prod_metric_values
_nb2prod_sys.path.remove(<src>)
with open(<record-path>, "w") as _nb2prod_file:
    _nb2prod_json.dump(_nb2prod_metric_values(globals(), ['mae', 'r2']), _nb2prod_file)
"""
"""The inserted cell: the project's `metric_values` (from <src>) reads the metrics, which
go to <record-path> as JSON; its own names are prefixed, so later cells run as before."""


class ThisPythonKernelManager(AsyncKernelManager):
    """Runs the notebook with this interpreter, the one the pipeline runs with.

    papermill's `python3` is looked up among Jupyter's kernelspecs, where one
    installed for another Python (`ipykernel install --user`) would win.
    """

    @property
    def kernel_spec(self) -> Any:
        spec = super().kernel_spec
        if spec is not None:
            spec.argv = [
                sys.executable,
                "-m",
                "ipykernel_launcher",
                "-f",
                "{connection_file}",
            ]
        return spec


@pytest.mark.notebook
def test_the_notebook_and_the_pipeline_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for index in SKIPPED_CELLS:
        notebook.cells[index].metadata.setdefault("tags", []).append("raises-exception")
    record = tmp_path / "notebook-metrics.json"
    cell = RECORD_METRICS.replace("<src>", repr(str(PROJECT / "src")))
    cell = cell.replace("<record-path>", repr(str(record)))
    notebook.cells.insert(RECORD_AFTER_CELL + 1, nbformat.v4.new_code_cell(cell))
    source = tmp_path / NOTEBOOK.name
    nbformat.write(notebook, source)
    # `!pip` in the notebook must reach this environment's pip, as if it were activated.
    monkeypatch.setenv(
        "PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    executed = tmp_path / f"executed-{NOTEBOOK.name}"
    try:
        papermill.execute_notebook(
            str(source),
            str(executed),
            parameters=QUICK_OVERRIDES,
            kernel_name="python3",
            kernel_manager_class=ThisPythonKernelManager,
            cwd=str(NOTEBOOK.parent),
            progress_bar=False,
            request_save_on_cell_execute=False,
        )
    except PapermillExecutionError:
        # papermill reports any cell's error once the run ends, skipped cells' too
        if _failed_cells_not_skipped(executed):
            raise
    notebook_metrics = json.loads(record.read_text())
    pipeline_metrics = collect_metrics(run_pipeline(quick_config()))
    # {name: (notebook's, pipeline's)}; NaN on both sides agrees, as in `nb2prod verify`
    assert metric_differences(notebook_metrics, pipeline_metrics) == {}


def _failed_cells_not_skipped(executed: Path) -> list[str]:
    """The first lines of the cells that failed although not allowed to (not skipped)."""
    cells = nbformat.read(executed, as_version=4).cells
    return [
        cell.source.split("\n", 1)[0]
        for cell in cells
        if "raises-exception" not in cell.metadata.get("tags", [])
        and any(
            output.get("output_type") == "error" for output in cell.get("outputs", [])
        )
    ]

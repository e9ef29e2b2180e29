"""Run a notebook under papermill and read back the metrics its evaluate section computed.

Test support for the parity checks: nb2prod's plan names the metrics; a cell
appended to a copy of the notebook writes their values to JSON. The user's
notebook is never modified.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import nbformat

from nb2prod.notebook import load_notebook
from nb2prod.plan import build_plan

DUMP_CELL = """\
import json as _nb2prod_json
import numpy as _nb2prod_np
_nb2prod_names = {names!r}
_nb2prod_dict = {dict_name!r}
if _nb2prod_dict:
    _nb2prod_values = {{str(k): float(v) for k, v in globals()[_nb2prod_dict].items()}}
else:
    _nb2prod_values = {{n: float(globals()[n]) for n in _nb2prod_names}}
_nb2prod_rows = globals().get({data_input!r})
_nb2prod_result = {{
    "metrics": _nb2prod_values,
    "rows": _nb2prod_rows.to_dict(orient="records") if hasattr(_nb2prod_rows, "to_dict") else None,
    "predictions": {{
        n: _nb2prod_np.asarray(globals()[n]).tolist() for n in {predictions!r}
    }},
}}
with open({path!r}, "w") as _nb2prod_file:
    _nb2prod_json.dump(_nb2prod_result, _nb2prod_file, default=lambda v: v.item())
"""


def notebook_results(notebook: Path, parameters: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Metrics, predicted rows and predictions of a papermill run of `notebook`."""
    import papermill

    plan = build_plan(load_notebook(notebook))
    workdir.mkdir(parents=True, exist_ok=True)
    result = workdir / "notebook_metrics.json"
    node = nbformat.read(notebook, as_version=4)
    predict = next((s for s in plan.steps if s.role == "predict"), None)
    data_inputs = [a.name for a in (predict.arguments if predict else []) if a.name != plan.model]
    dump = DUMP_CELL.format(
        names=list(plan.metrics.names),
        dict_name=plan.metrics.dict_name,
        data_input=data_inputs[0] if data_inputs else None,
        predictions=predict.outputs if predict else [],
        path=str(result),
    )
    node.cells.append(nbformat.v4.new_code_cell(dump))
    source = workdir / notebook.name
    nbformat.write(node, source)
    # `!pip` in a cell must find this interpreter's pip, as in an activated venv.
    path = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{path}"
    try:
        papermill.execute_notebook(
            str(source),
            str(workdir / f"executed-{notebook.name}"),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(notebook.parent),
            progress_bar=False,
            request_save_on_cell_execute=False,
            execution_timeout=300,
        )
    finally:
        os.environ["PATH"] = path
    return json.loads(result.read_text())

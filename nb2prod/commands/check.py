"""`check`: a per-cell report of roles, data flow, problems and suggested roles.

The same report backs `nb2prod check` (table or `--json`) and the JupyterLab
panel, so both always agree with what `convert` will do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nb2prod.analyse.role_outputs import looks_like_metric
from nb2prod.plan.build import Plan, build_plan
from nb2prod.read.notebook import load_notebook
from nb2prod.read.suggest import suggest_role


def check_report(notebook_path: Path) -> dict[str, Any]:
    """The check report of a notebook, as plain JSON-ready data."""
    plan = build_plan(load_notebook(notebook_path))
    return report_of(plan)


def report_of(plan: Plan) -> dict[str, Any]:
    cells: list[dict[str, Any]] = []
    for cell in plan.source.cells:
        if cell.kind != "code" or not cell.source.strip():
            continue
        role = plan.cell_roles.get(cell.index)
        declared = cell.index in plan.declared_cells
        inputs, outputs = plan.cell_flows.get(cell.index, ((), ()))
        cells.append(
            {
                "index": cell.index,
                "first_line": cell.first_line,
                "role": role,
                "declared": declared,
                "function": plan.cell_functions.get(cell.index),
                "inputs": list(inputs),
                "outputs": list(outputs),
                "suggested_role": None if declared else suggest_role(cell),
                "problems": [
                    p.to_json() for p in plan.problems if p.cell and p.cell.index == cell.index
                ],
            }
        )
    return {
        "notebook": str(plan.source.path),
        "convertible": not plan.blocking,
        "project": plan.project,
        "parameters": [
            {"name": p.name, "default": p.default, "type": p.type_name, "help": p.help}
            for p in plan.parameters
        ],
        "quick_parameters": plan.quick,
        "model": plan.model,
        "metrics": list(plan.metrics.names) or _likely_metrics(plan.metrics.sources),
        "metric_candidates": list(plan.metrics.sources),
        "functions": [
            {
                "name": step.function,
                "role": step.role,
                "cells": list(step.cells),
                "inputs": [a.name for a in step.arguments],
                "outputs": list(step.outputs),
            }
            for step in plan.steps + plan.tests
        ],
        "cells": cells,
        "problems": [p.to_json() for p in plan.problems],
        "service_rows": _service_rows(plan),
    }


def _service_rows(plan: Plan) -> dict[str, Any] | None:
    """What the service's requests will carry: raw rows through the notebook's row-wise
    preprocess code (a candidate until convert runs it on single rows), or feature rows
    and why. None without a predict step."""
    if plan.predict is None:
        return None
    row = plan.row_function
    if row is None:
        return {"rows": "feature", "reason": plan.feature_rows_reason}
    return {"rows": "raw", "function": row.function, "cell": row.cells[0]}


def _likely_metrics(sources: tuple[str, ...]) -> list[str]:
    """Before a run shows which values are numbers, the names that read like metrics."""
    return [name for name in sources if looks_like_metric(name)] or list(sources)

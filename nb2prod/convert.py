"""`convert`: a notebook in, a generated project out (the CLI and the server call this)."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2prod import __version__
from nb2prod.errors import Problem, Severity, UserError, user_error
from nb2prod.notebook import load_notebook
from nb2prod.plan import Plan, build_plan
from nb2prod.probe import ProbeFailed, run_probe
from nb2prod.render import render_project
from nb2prod.serving import Serving, build_serving, data_input_of, predict_step
from nb2prod.write import MANIFEST, WriteReport, check_output, write_project


@dataclass
class Conversion:
    """The result of a conversion: the plan, what was written, and the warnings."""

    plan: Plan
    report: WriteReport
    warnings: list[Problem]
    serving: Serving | None = None


def convert(
    notebook_path: Path,
    output: Path,
    *,
    name: str | None = None,
    force: bool = False,
    service: bool = True,
    onnx: bool = True,
) -> Conversion:
    """Convert `notebook_path` into a project at `output`; `UserError` on bad input."""
    notebook = load_notebook(notebook_path)
    check_output(output, notebook_path)
    plan = build_plan(notebook, name)
    if plan.blocking:
        raise UserError(notebook_path, plan.blocking)
    problems = list(plan.problems)
    probe: dict[str, Any] | None = None
    serving: Serving | None = None
    step = predict_step(plan) if service else None
    if step is not None:
        probe = _cached_probe(output, notebook.sha256) or _probe(plan, step.function)
        serving = build_serving(plan, step, probe, onnx=onnx)
    elif service and plan.model:
        problems.append(_no_service(plan))
    files = render_project(plan, problems, serving)
    manifest = {
        "source": {"path": notebook_path.name, "sha256": notebook.sha256},
        "project": plan.project,
        "package": plan.package,
        "cells": [
            {
                "index": index,
                "role": plan.cell_roles.get(index),
                "function": plan.cell_functions.get(index),
            }
            for index in sorted(plan.cell_roles)
        ],
        "model": plan.model,
        "metrics": list(plan.metrics.names),
        "service": serving.class_name if serving else None,
        "probe": probe,
    }
    report = write_project(output, files, manifest, notebook=notebook_path, force=force)
    return Conversion(plan, report, [p for p in problems if not p.blocking], serving)


def _no_service(plan: Plan) -> Problem:
    predict = next((s for s in plan.steps if s.role == "predict"), None)
    why = (
        "no cell has the predict role"
        if predict is None
        else f"`{predict.function}` does not read both the model and the rows to predict"
    )
    return Problem(
        "no-service",
        f"no service was generated: {why}",
        f"add a cell tagged nb2prod:predict that predicts from new rows, e.g. "
        f"`predictions = {plan.model}.predict(sample)` with `sample` picked in a cell above",
        Severity.WARNING,
    )


def _probe(plan: Plan, function: str) -> dict[str, Any]:
    """Run the generated pipeline once (in a child process) to profile the service's data."""
    step = next(s for s in plan.steps if s.function == function)
    training_files = render_project(plan, [])
    with tempfile.TemporaryDirectory(prefix="nb2prod-probe-src-") as folder:
        root = Path(folder)
        for path, body in training_files.items():
            if path.startswith("src/"):
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).write_bytes(body)
        try:
            return run_probe(
                root / "src",
                plan.package,
                data_input_of(plan, step),
                step.outputs,
                str(plan.model),
            )
        except ProbeFailed as failure:
            raise user_error(
                plan.notebook.path,
                "pipeline-failed",
                f"running the generated pipeline to profile the service's data failed: {failure}",
                "run the notebook top to bottom to check it works in this environment; "
                "convert with --no-service to skip the service",
            ) from None


def _cached_probe(output: Path, source_sha256: str) -> dict[str, Any] | None:
    """The probe of an earlier conversion of the same notebook by the same nb2prod."""
    try:
        manifest = json.loads((output / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    same = (
        manifest.get("source", {}).get("sha256") == source_sha256
        and manifest.get("nb2prod_version") == __version__
    )
    probe = manifest.get("probe")
    return probe if same and isinstance(probe, dict) else None

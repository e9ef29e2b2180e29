"""`convert`: a notebook in, a generated project out (the CLI and the server call this)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nb2prod.errors import Problem, UserError
from nb2prod.notebook import load_notebook
from nb2prod.plan import Plan, build_plan
from nb2prod.render import render_project
from nb2prod.write import WriteReport, check_output, write_project


@dataclass
class Conversion:
    """The result of a conversion: the plan, what was written, and the warnings."""

    plan: Plan
    report: WriteReport
    warnings: list[Problem]


def convert(
    notebook_path: Path,
    output: Path,
    *,
    name: str | None = None,
    force: bool = False,
) -> Conversion:
    """Convert `notebook_path` into a project at `output`; `UserError` on bad input."""
    notebook = load_notebook(notebook_path)
    check_output(output, notebook_path)
    plan = build_plan(notebook, name)
    if plan.blocking:
        raise UserError(notebook_path, plan.blocking)
    problems = list(plan.problems)
    files = render_project(plan, problems)
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
    }
    report = write_project(output, files, manifest, notebook=notebook_path, force=force)
    return Conversion(plan, report, [p for p in problems if not p.blocking])

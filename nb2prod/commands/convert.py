"""`convert`: a notebook in, a generated project out (the CLI and the server call this)."""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2prod import __version__
from nb2prod.analyse.role_outputs import Metrics
from nb2prod.errors import Problem, Severity, UserError
from nb2prod.generate.install_hints import (
    MISSING_PACKAGE,
    absent_module,
    distribution_line,
    install_line,
    missing_module,
    not_installed,
    require,
)
from nb2prod.generate.render import falls_short, render_project, render_sources, smoke_metrics
from nb2prod.generate.write import (
    MANIFEST,
    WriteReport,
    check_output,
    read_manifest,
    write_project,
)
from nb2prod.plan.build import (
    MODEL_FIX,
    Analysis,
    Plan,
    Step,
    analyse_notebook,
    data_step_position,
    plan_from,
    project_name_of,
)
from nb2prod.plan.serving import Serving, build_serving, data_input_of
from nb2prod.protocol import ProbeResult, ProbeSpec, ProbeStep, ProtocolError
from nb2prod.read.notebook import Notebook, load_notebook
from nb2prod.run.kfp_compile import PIPELINE_YAML, compile_pipeline, no_pipeline_error
from nb2prod.run.probe import PROBE_TIMEOUT, ProbeFailed, run_probe


@dataclass
class Conversion:
    """The result of a conversion: the plan, what was written, and the warnings."""

    plan: Plan
    report: WriteReport
    warnings: list[Problem]
    serving: Serving | None = None

    def to_json(self) -> dict[str, Any]:
        """What was written and the warnings, as `nb2prod convert --json` prints it."""
        report = self.report
        return {
            "output": str(report.output),
            "project": self.plan.project,
            "written": report.written,
            "unchanged": report.unchanged,
            "removed": report.removed,
            "overwritten_after_backup": report.kept_edited,
            "backup": str(report.backup) if report.backup else None,
            "warnings": [p.to_json() for p in self.warnings],
        }


def default_output(notebook: Path, name: str | None = None, parent: Path | None = None) -> Path:
    """Where a project goes unless told: in `parent` (else next to the notebook), named
    after the project."""
    return (parent or notebook.parent) / project_name_of(name or notebook.stem)


def convert(
    notebook_path: Path,
    output: Path,
    *,
    name: str | None = None,
    force: bool = False,
    service: bool = True,
    onnx: bool = True,
    run_pipeline: bool = True,
    kfp: bool | None = None,
    timeout: int = PROBE_TIMEOUT,
    announce: Callable[[str], None] | None = None,
    analysis: Analysis | None = None,
) -> Conversion:
    """Convert `notebook_path` into a project at `output`; `UserError` on bad input.

    With `run_pipeline`, the generated pipeline runs once (in a child process, killed
    with what it started after `timeout` seconds) to record the references its tests
    compare with and the service's schema; `announce` is told before it runs, since
    that runs the notebook's own code. `analysis` is one made earlier (the server's, as it
    accepted the job): used while the notebook still holds what was analysed. With
    `kfp`, the Kubeflow pipeline is compiled into `pipelines/pipeline.yaml` (kfp SDK);
    None keeps the project's choice (compiled again when an earlier convert compiled it).
    """
    notebook = load_notebook(notebook_path)
    check_output(output, notebook_path)
    if analysis is None or _changed_since(analysis, notebook):
        analysis = analyse_notebook(notebook)
    plan = plan_from(analysis, name)
    if plan.blocking:
        raise UserError(notebook_path, plan.blocking)
    if kfp is None:
        kfp = _compiled_pipeline_before(output)
    if kfp:  # before the probe runs: a missing extra or model stops at once
        require("kfp", notebook_path)
        if not plan.model:
            raise no_pipeline_error(notebook_path)
    problems = list(plan.problems)
    probe: ProbeResult | None = None
    serving: Serving | None = None
    step = plan.predict if service and run_pipeline else None
    if run_pipeline and plan.steps:
        cached = _cached_probe(output, notebook.sha256)
        if cached is not None and step is not None and cached.model is None:
            cached = None  # recorded without what the service needs
        if cached is None and announce is not None:
            announce(
                "running the notebook's pipeline once to record references for tests and the "
                f"service (up to {timeout} s; --no-run skips it)"
            )
        probe = cached or _probe(plan, step, timeout)
        _check_model(plan, probe)
        probe = _row_function_named(plan, probe)
        plan, probe = _with_measured_metrics(analysis, probe, name)
        problems = list(plan.problems) + _printed_non_numbers(plan, probe)
        step = plan.predict if service else None
    if step is not None and probe is not None and _servable(probe):
        serving = _serving(plan, step, probe, onnx, problems)
        if serving is not None and probe.raw_rows_problem:
            problems.append(_feature_rows(plan, probe.raw_rows_problem))
    elif service and plan.model:
        problems.append(_no_service(plan, run_pipeline, probe))
    if probe is not None:
        problems.extend(_weak_quick_run(plan, probe))
    files = render_project(plan, problems, serving, probe)
    if kfp:
        files[PIPELINE_YAML] = compile_pipeline(files, notebook_path)
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
        "metric_sources": list(plan.metrics.sources),
        "quick_parameters": plan.quick,
        "service": serving.class_name if serving else None,
        "service_row": serving.row_model if serving else None,
        "probe": probe.to_json() if probe else None,
    }
    report = write_project(output, files, manifest, notebook=notebook_path, force=force)
    return Conversion(plan, report, [p for p in problems if not p.blocking], serving)


def _changed_since(analysis: Analysis, notebook: Notebook) -> bool:
    """Whether `notebook` is not (or no longer) the one `analysis` was made of."""
    earlier = analysis.notebook
    return (earlier.path, earlier.sha256) != (notebook.path, notebook.sha256)


def _weak_quick_run(plan: Plan, probe: ProbeResult) -> list[Problem]:
    """A warning when the quick parameters score too far below the notebook's defaults."""
    quick, defaults = probe.metrics.quick, probe.metrics.defaults
    if not quick:
        return []
    weak = [
        f"{name} {quick[name]:.4g} (notebook {defaults[name]:.4g})"
        for name in smoke_metrics(defaults)
        if name in quick and falls_short(name, quick[name], defaults[name])
    ]
    if not weak:
        return []
    cell = plan.cell_ref(plan.parameters[0].cell_index) if plan.parameters else None
    return [
        Problem(
            "weak-quick-parameters",
            f"the quick parameters {plan.quick} score {', '.join(weak)}: the generated "
            "smoke test (tests/test_model_smoke.py) would fail",
            "pick quick values closer to the defaults in the `# nb2prod: quick` line, or "
            "widen MARGIN in the generated smoke test",
            Severity.WARNING,
            cell,
        )
    ]


def _servable(probe: ProbeResult) -> bool:
    return probe.input is not None and not probe.not_row_wise


def _serving(
    plan: Plan, step: Step, probe: ProbeResult, onnx: bool, problems: list[Problem]
) -> Serving | None:
    """The service, or None and a warning: a service nb2prod cannot plan is left out,
    never a reason to stop the rest of the project."""
    try:
        return build_serving(plan, step, probe, onnx=onnx)
    except (KeyError, IndexError, TypeError, ValueError) as error:
        problems.append(
            Problem(
                "no-service",
                f"no service was generated: its request could not be described "
                f"({type(error).__name__}: {error})",
                "report this notebook to nb2prod; the rest of the project is complete",
                Severity.WARNING,
                plan.cell_ref(step.cells[0]),
            )
        )
        return None


def _row_function_named(plan: Plan, probe: ProbeResult) -> ProbeResult:
    """The probe's reason for feature rows, naming the notebook's lines rather than the
    function nb2prod made of them (the final plan keeps them where they were)."""
    row = plan.row_function
    if row is None or not probe.raw_rows_problem or not row.generated:
        return probe
    cells = ("cells " if len(row.cells) > 1 else "cell ") + ", ".join(map(str, row.cells))
    lines = f"the code of `{row.step}` from `{row.statement}` ({cells})"
    reason = probe.raw_rows_problem.replace(f"`{row.function}`", lines, 1)
    return dataclasses.replace(probe, raw_rows_problem=reason)


def _feature_rows(plan: Plan, reason: str) -> Problem:
    """The service takes feature rows although the preprocess section looked row-wise."""
    step = next((s for s in plan.steps if s.role == "preprocess"), plan.predict)
    return Problem(
        "feature-rows",
        f"the service takes rows after preprocessing (feature rows), not raw rows: {reason}",
        "keep table-wide steps (filters, splits, statistics of the whole table) apart from "
        "the lines that derive each row's features, or send feature rows",
        Severity.WARNING,
        plan.cell_ref(step.cells[0]) if step else None,
    )


def _check_model(plan: Plan, probe: ProbeResult) -> None:
    """Stop when the object chosen as the model cannot be it (not fitted, cannot predict)."""
    why = probe.model_problem
    if not why or plan.model is None:
        return
    binder = next((s for s in reversed(plan.steps) if plan.model in s.outputs), None)
    cell = plan.cell_ref(binder.cells[0]) if binder else None
    raise UserError(
        plan.source.path,
        [Problem("wrong-model", f"the model to save is unclear: {why}", MODEL_FIX,
                 Severity.ERROR, cell)],
    )  # fmt: skip


def _printed_non_numbers(plan: Plan, probe: ProbeResult) -> list[Problem]:
    """Notes for names an evaluate cell prints that hold no number (Kale's pipeline-metrics
    printing a parameter or a confusion matrix): they are not metrics, and that is fine."""
    parameters = {p.name for p in plan.parameters}
    notes = []
    for name, cell in dict(plan.metrics.printed).items():
        if name in probe.metric_sources:
            continue
        what = "a parameter" if name in parameters else "not a number"
        notes.append(
            Problem(
                "printed-not-a-metric",
                f"`{name}` is printed as a metric but is {what}: it is not recorded as one",
                f"nothing to do if `{name}` is not a metric; else bind the number to a name",
                Severity.WARNING,
                plan.cell_ref(cell),
            )
        )
    return notes


def _with_measured_metrics(
    analysis: Analysis, probe: ProbeResult, name: str | None
) -> tuple[Plan, ProbeResult]:
    """The plan again (from the same analysis), its evaluate step handing on only the
    values that held metrics; the probe's contracts without the outputs the steps no
    longer return."""
    measured = Metrics(probe.metric_sources, tuple(probe.metrics.defaults))
    final = plan_from(analysis, name, measured, feature_rows=probe.raw_rows_problem)
    outputs = {step.function: set(step.outputs) for step in final.steps}
    functions = {
        function: dataclasses.replace(
            recorded,
            outputs={k: v for k, v in recorded.outputs.items() if k in outputs[function]},
        )
        if function in outputs
        else recorded
        for function, recorded in probe.contracts.functions.items()
    }
    contracts = dataclasses.replace(probe.contracts, functions=functions)
    return final, dataclasses.replace(probe, contracts=contracts)


def _no_service(plan: Plan, ran_pipeline: bool, probe: ProbeResult | None) -> Problem:
    predict = next((s for s in plan.steps if s.role == "predict"), None)
    not_row_wise = probe.not_row_wise if probe else None
    input_problem = probe.input_problem if probe else None
    why = (
        "the pipeline did not run (--no-run), so the request schema is unknown"
        if not ran_pipeline
        else f"its input cannot be a request: {input_problem}"
        if predict and input_problem
        else f"`{predict.function}` cannot predict a request's rows on their own: {not_row_wise}"
        if predict and not_row_wise
        else "no cell has the predict role"
        if predict is None
        else f"`{predict.function}` keeps its predictions in no variable (it only prints them)"
        if not predict.outputs
        else f"`{predict.function}` does not read both the model and the rows to predict"
    )
    return Problem(
        "no-service",
        f"no service was generated: {why}",
        "tag the cell that predicts on a few rows nb2prod:predict, with the rows as a "
        "DataFrame, an array, a list of rows or a tensor "
        f"(`predictions = {plan.model}.predict(X_test.head(5))`)",
        Severity.WARNING,
        plan.cell_ref(predict.cells[0]) if predict else None,
    )


def _probe(plan: Plan, predict: Step | None, timeout: int) -> ProbeResult:
    """Run the generated pipeline once (in a child process) and record what it saw."""
    data_step = data_step_position(plan)
    spec = ProbeSpec(
        package=plan.package,
        steps=tuple(ProbeStep(s.function, tuple(s.outputs)) for s in plan.steps),
        data_function=None if data_step is None else plan.steps[data_step].function,
        metric_sources=tuple(plan.metrics.sources),
        fit_tables=tuple(plan.fit_tables),
        quick=plan.quick,
        data_input=data_input_of(plan, predict) if predict else None,
        predict_function=predict.function if predict else None,
        outputs=tuple(predict.outputs) if predict else (),
        model=plan.model,
        row_function=plan.row_function.function if predict and plan.row_function else None,
    )
    with tempfile.TemporaryDirectory(prefix="nb2prod-probe-src-") as folder:
        root = Path(folder)
        for path, body in render_sources(plan).items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(body)
        try:
            return run_probe(root / "src", spec, timeout)
        except ProbeFailed as failure:
            failed = next((s for s in plan.steps if s.function == failure.function), None)
            where = f" in `{failed.function}`" if failed else ""
            module = absent_module(missing_module(str(failure)))
            if module is not None:
                raise UserError(plan.source.path, [_missing(plan, module, failed)]) from None
            raise UserError(
                plan.source.path,
                [
                    Problem(
                        "pipeline-failed",
                        f"running the generated pipeline to record its references failed"
                        f"{where}: {failure}",
                        "run the notebook top to bottom to check it works in this environment; "
                        "convert with --no-run to skip running it (no references, no service)",
                        Severity.ERROR,
                        plan.cell_ref(failed.cells[0]) if failed else None,
                    )
                ],
            ) from None


def _missing(plan: Plan, module: str, failed: Step | None) -> Problem:
    """The pipeline stopped on an import: which package to install, at the cell that
    imports it (else the failing step's), not the generic "run the notebook" advice."""
    cell = plan.module_cells.get(module)
    if cell is not None:
        fix = f"`{distribution_line(module)}`, then convert again"
    else:  # a package the notebook's own imports need, or one of nb2prod's extras
        fix = f"`{install_line(module)}`, then convert again"
        cell = plan.cell_ref(failed.cells[0]) if failed else None
    return Problem(MISSING_PACKAGE, not_installed(module), fix, Severity.ERROR, cell)


def _cached_probe(output: Path, source_sha256: str) -> ProbeResult | None:
    """The probe of an earlier conversion of the same notebook by the same nb2prod (one of
    another shape, from a hand-edited manifest or an older build, is not used)."""
    try:
        manifest = json.loads((output / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    same = (
        manifest.get("source", {}).get("sha256") == source_sha256
        and manifest.get("nb2prod_version") == __version__
    )
    if not same or manifest.get("probe") is None:
        return None
    try:
        return ProbeResult.from_json(manifest.get("probe"))
    except ProtocolError:
        return None


def _compiled_pipeline_before(output: Path) -> bool:
    """An earlier convert of this project compiled the Kubeflow pipeline: a re-export that
    does not ask again keeps it, rather than removing a file the user asked for."""
    try:
        files = read_manifest(output).get("files")
    except UserError:  # no project yet, or a damaged manifest: the writer reports that
        return False
    return isinstance(files, dict) and PIPELINE_YAML in files

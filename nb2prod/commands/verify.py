"""`verify`: prove that a generated project still does what its notebook does.

1. papermill runs the project's copy of the notebook with the parameters
   (see `notebook_run.py`) and records metrics, predicted rows and predictions;
2. the generated training runs in a child process with the same parameters
   (as `<project>-train` would) and writes metrics.json and the model;
3. the generated predict function runs on the notebook's rows with that model;
4. metrics (exact by default: seeded runs must agree), predictions (labels
   exact, floats within the tolerance) and the predict input's columns and
   dtypes (against the profile recorded at convert time) are compared.

The child gets a `VerifySpec`, then a `RowsRequest` on stdin, and answers a
`VerifyResult` (`protocol.py`); it marks each phase (training, predict,
service) as it starts, so a failure names the phase it was in.
"""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nb2prod.analyse.role_outputs import Metrics
from nb2prod.confine import inside
from nb2prod.errors import Problem, Severity, UserError, user_error
from nb2prod.generate.install_hints import (
    MISSING_PACKAGE,
    absent_module,
    install_line,
    missing_module,
    not_installed,
    project_requirement,
    shown_path,
)
from nb2prod.generate.write import read_manifest
from nb2prod.plan.build import MODEL_FIX, Plan, build_plan
from nb2prod.plan.serving import argument_sources
from nb2prod.protocol import (
    InputProfile,
    PredictCall,
    ProbeResult,
    ProtocolError,
    RowsRequest,
    ServiceClass,
    VerifyResult,
    VerifySpec,
    read_failure,
    read_result,
)
from nb2prod.read.notebook import load_notebook
from nb2prod.read.roles import EVALUATE, PREDICT
from nb2prod.run.child_process import child_env, kill_group, start_child
from nb2prod.run.notebook_run import SKIPPED_TIMEOUT, NotebookRun, run_notebook
from nb2prod.run.probe import FLOAT32_ATOL, FLOAT32_RTOL

FLOAT_ATOL = 1e-12
SERVICE_ATOL = 1e-5
"""A service answering from the ONNX twin: training checked its probabilities to this."""


@dataclass
class Check:
    """One compared value: a metric, a prediction column, or the input schema."""

    kind: str
    name: str
    notebook: Any
    generated: Any
    difference: float | None
    passed: bool
    note: str = ""
    """Why a check could not compare anything, when it could not."""
    rows: int = 1
    """How many values were compared (a prediction's rows: `notebook` shows only five)."""


@dataclass
class VerifyReport:
    project: str
    parameters: dict[str, Any]
    rtol: float
    checks: list[Check] = field(default_factory=list)
    executed_notebook: str = ""
    code_version: str | None = None
    notes: list[str] = field(default_factory=list)
    """What the run met that is not a difference: skipped cells that could not run."""

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        data["coverage"] = self.coverage
        return data

    @property
    def coverage(self) -> str:
        """What was compared: "2 metrics, 5 predictions x 2 (function, service), schema,
        metadata" — never a bare count, so a pass on nothing cannot look like a pass."""
        compared = [c for c in self.checks if not c.note]
        metrics = sum(1 for c in compared if c.kind == "metric")
        parts = [f"{metrics} metric{'s' if metrics != 1 else ''}"]
        sides = [k for k in ("prediction", "service") if any(c.kind == k for c in compared)]
        rows = max((c.rows for c in compared if c.kind in sides), default=0)
        if sides:
            names = ", ".join("function" if k == "prediction" else k for k in sides)
            parts.append(f"{rows} prediction{'s' if rows != 1 else ''} x {len(sides)} ({names})")
        else:
            parts.append("no predictions")
        parts += [k for k in ("schema", "metadata") if any(c.kind == k for c in compared)]
        return ", ".join(parts)


def verify(
    project: Path,
    parameters: dict[str, str],
    *,
    quick: bool = False,
    rtol: float = 0.0,
    timeout: int = 1800,
    skipped_timeout: int | None = None,
    workdir: Path | None = None,
    cwd: Path | None = None,
) -> VerifyReport:
    """Run notebook and generated code with `parameters` and compare what they produce.

    The generated side trains in a child process while papermill runs the notebook,
    so verify costs about the longer of the two, not their sum.
    """
    project = project.resolve()
    manifest = _manifest(project)
    notebook_path = project / "notebooks" / manifest["source"]["path"]
    plan = plan_of(project, manifest)
    if quick and not plan.quick:
        raise user_error(
            notebook_path,
            "no-quick-parameters",
            "--quick asks for the notebook's quick parameters, but its parameters cell has "
            "no `# nb2prod: quick ...` line",
            "add one, e.g. `# nb2prod: quick n_estimators=10`, and convert again; or verify "
            "without --quick",
        )
    typed = {**(plan.quick if quick else {}), **_typed_parameters(plan, parameters, project)}
    workdir = (workdir or inside(project, "verification", about=project)).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    run_in = (cwd or notebook_path.parent).resolve()
    with tempfile.TemporaryDirectory(prefix="nb2prod-verify-") as folder:
        generated = GeneratedRun.start(project, plan, manifest, typed, Path(folder), run_in)
        try:
            run = run_notebook(
                notebook_path, plan, typed, workdir,
                cwd=run_in, timeout=timeout,
                skipped_timeout=SKIPPED_TIMEOUT if skipped_timeout is None else skipped_timeout,
                project_src=project / "src",
            )  # fmt: skip
        except BaseException:
            generated.stop()
            raise
        result = generated.finish(run, timeout)
    report = VerifyReport(plan.project, typed, rtol, executed_notebook=str(run.executed))
    report.notes += run.skipped_failures
    report.checks += _compare_metrics(run.metrics, result.metrics, rtol)
    if not run.metrics and not result.metrics and any(s.role == EVALUATE for s in plan.steps):
        report.checks.append(_nothing("metric", NO_METRICS))
    predicts = any(s.role == PREDICT for s in plan.steps)
    if result.predictions is not None:
        report.checks += _compare_predictions(run.predictions, result.predictions, rtol)
    elif predicts:
        report.checks.append(_nothing("prediction", _why_no_predictions(plan, run, result)))
    if result.service_predictions is not None:
        service_rtol, atol, why = service_tolerance(result.metadata)
        if why:
            report.notes.append(
                f"service floats compared within rtol {service_rtol:g}, atol {atol:g}: {why}"
            )
        report.checks += _compare_predictions(
            run.predictions, result.service_predictions, max(rtol, service_rtol),
            kind="service", atol=atol,
        )  # fmt: skip
    elif manifest.get("service") and predicts:
        report.checks.append(_nothing("service", _why_no_predictions(plan, run, result)))
    compared = [c for c in report.checks if c.kind in {"metric", "prediction"} and not c.note]
    if not compared and not any(c.note for c in report.checks):
        report.checks.append(_nothing("result", NOTHING_TO_COMPARE))
    report.checks += _compare_schema(_recorded_input(project, manifest), result.schema)
    report.checks += _compare_metadata(plan, manifest, typed, run, result)
    report.code_version = result.metadata.get("code_version")
    (workdir / "report.json").unlink(missing_ok=True)  # replace a planted link, never follow
    (workdir / "report.json").write_text(json.dumps(report.to_json(), indent=2, default=str))
    return report


NO_METRICS = (
    "the evaluate section binds no number to compare (printed scores are not kept): "
    "assign them to names, e.g. `accuracy = accuracy_score(...)`"
)


NOTHING_TO_COMPARE = (
    "the notebook has no evaluate or predict section, so no result of it can be compared "
    "(only the data and parameters were): tag the cell that scores the model nb2prod:evaluate "
    "(Kale: pipeline-metrics), or the cell that predicts nb2prod:predict"
)


def plan_of(project: Path, manifest: dict[str, Any]) -> Plan:
    """The plan of a generated project's notebook, with the metrics its conversion measured."""
    notebook = load_notebook(project / "notebooks" / manifest["source"]["path"])
    sources = manifest.get("metric_sources")
    measured = None if sources is None else Metrics(tuple(sources), tuple(manifest["metrics"]))
    return build_plan(notebook, manifest["project"], measured)


def _nothing(kind: str, why: str) -> Check:
    """A check that could compare nothing: it fails, and says why."""
    return Check(kind, "(none compared)", None, None, None, False, note=why)


def _why_no_predictions(plan: Plan, run: NotebookRun, result: VerifyResult) -> str:
    predict = next(s for s in plan.steps if s.role == PREDICT)
    if not predict.outputs:
        return (
            "the predict section keeps its predictions in no variable (it only prints or "
            "shows them): assign them, e.g. `predictions = model.predict(rows)`"
        )
    if plan.predict is None:
        return (
            "the predict section does not predict from the model and some rows, so nb2prod "
            "cannot call it: " + MODEL_FIX
        )
    if run.input_problem:
        return f"the notebook's predict input could not be kept: {run.input_problem}"
    if not run.predictions:
        return "the notebook's predict section left no predictions to compare"
    return result.service_problem or "the generated side returned no predictions"


def _count(values: Any) -> int:
    return len(values) if isinstance(values, list) else 1


def _raw_table(manifest: dict[str, Any]) -> str | None:
    """Where the child looks the notebook's rows up as raw rows ("" when the service takes
    raw rows but no value of the pipeline holds them), None for feature rows."""
    probe = manifest.get("probe") or {}
    if not isinstance(probe, dict) or probe.get("raw_input") is None:
        return None
    return str(probe.get("raw_table") or "")


class GeneratedRun:
    """The generated project's side (`verify_child.py`), running beside the notebook."""

    def __init__(
        self, process: subprocess.Popen[bytes], scratch: Path, plan: Plan, project: Path
    ) -> None:
        """Use `start`: the child runs in the background (it trains while papermill runs
        the notebook), so unlike the probe it is started here and waited on in `finish`."""
        self.process, self.scratch, self.plan, self.project = process, scratch, plan, project

    @classmethod
    def start(
        cls,
        project: Path,
        plan: Plan,
        manifest: dict[str, Any],
        parameters: dict[str, Any],
        scratch: Path,
        cwd: Path,
    ) -> GeneratedRun:
        step = plan.predict
        service, row_model = manifest.get("service"), manifest.get("service_row")
        spec = VerifySpec(
            package=plan.package,
            project=str(project),
            parameters=parameters,
            artifacts=str(scratch / "artifacts"),
            predict=None
            if step is None
            else PredictCall(
                step.function, tuple(step.outputs), tuple(argument_sources(plan, step))
            ),
            service=ServiceClass(service, row_model, _raw_table(manifest))
            if service and row_model and (project / "service.py").exists()
            else None,
        )
        env = child_env(project / "src", BENTOML_HOME=str(scratch / "bentoml"), MPLBACKEND="Agg")
        with (scratch / "output.log").open("wb") as log:
            process = start_child(
                "nb2prod.run.verify_child", spec, scratch, env=env, cwd=cwd, log=log
            )
        return cls(process, scratch, plan, project)

    def finish(self, run: NotebookRun, timeout: int) -> VerifyResult:
        """Hand the child the notebook's rows; its results, or a `UserError` with its error."""
        given = str(run.input_path) if run.input_path and run.predictions else None
        rows = json.dumps(RowsRequest(given).to_json()).encode()
        try:
            self.process.communicate(rows, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise self._failure("timeout", f"it did not finish in {timeout} s") from None
        finally:  # the child leads a session of its own: on a timeout, Ctrl-C or a clean
            self.stop()  # end alike, stop it and whatever it left running (a service)
        ended = self.process.returncode == 0
        result = read_result(self.scratch, VerifyResult.from_json) if ended else None
        if result is None:
            failure = read_failure((self.scratch / "output.log").read_text(errors="replace"))
            lines = failure.lines
            module = absent_module(missing_module(lines[-1])) if lines else None
            if module is not None:
                raise self._missing(module)
            raise self._failure(failure.step or "training", "\n".join(lines[-8:]))
        return result

    def stop(self) -> None:
        """Kill the child and everything it started (a service, a kernel, workers)."""
        kill_group(self.process)

    def _missing(self, module: str) -> UserError:
        """The generated code stopped on an import: the project's requirements are not
        installed where verify runs (the notebook's kernel had what it needed)."""
        requirement = project_requirement(self.project, module)
        if requirement is not None:
            fix = (
                f"`pip install -e {shown_path(self.project)}` (the project with the "
                f"requirements its pyproject.toml pins, `{requirement}` among them), "
                "then verify again"
            )
        else:
            fix = f"`{install_line(module)}`, then verify again"
        message = f"the generated code stopped on an import: {not_installed(module)}"
        cell = self.plan.module_cells.get(module)
        problem = Problem(MISSING_PACKAGE, message, fix, Severity.ERROR, cell)
        return UserError(self.plan.source.path, [problem])

    def _failure(self, phase: str, details: str) -> Exception:
        project = self.plan.project
        what, fix = {
            "training": ("the generated training failed", f"run `{project}-train` in the project"),
            "predict": (
                "the generated predict function failed on the notebook's rows",
                "compare the predict section with the generated pipeline.py",
            ),
            "service": (
                "the generated service failed on the notebook's rows",
                "run the project's tests/test_service.py to see the whole error",
            ),
        }.get(phase, ("the generated code timed out", "raise --timeout, or verify with --quick"))
        return user_error(self.plan.source.path, "generated-failed", f"{what}:\n{details}", fix)


def _manifest(project: Path) -> dict[str, Any]:
    """The manifest, its notebook path confined to the project's `notebooks/` (a path
    in it is untrusted: verify runs that notebook)."""
    manifest = read_manifest(project)
    source = manifest.get("source")
    path = source.get("path") if isinstance(source, dict) else None
    inside(project, f"notebooks/{path}", about=project)
    if not (project / "notebooks" / str(path)).is_file():
        raise user_error(
            project,
            "no-notebook",
            f"the project's copy of the notebook (notebooks/{manifest['source']['path']}) is gone",
            "convert the notebook again to restore it",
        )
    return manifest


def _typed_parameters(plan: Plan, raw: dict[str, str], project: Path) -> dict[str, Any]:
    """`-p NAME VALUE` strings as the parameter's own type, as papermill would inject them."""
    known = {p.name: p for p in plan.parameters}
    typed: dict[str, Any] = {}
    for name, text in raw.items():
        parameter = known.get(name)
        if parameter is None:
            raise user_error(
                project,
                "unknown-parameter",
                f"`{name}` is not a parameter of the notebook",
                f"use one of: {', '.join(known) or '(the notebook has no parameters cell)'}",
            )
        typed[name] = _cast(text, parameter.type_name, project, name)
    return typed


def _cast(text: str, type_name: str, project: Path, name: str) -> Any:
    try:
        if type_name == "int":
            try:
                return int(text)
            except ValueError:
                value = float(text)  # papermill injects `C = 0.5` as written; so does verify
            import sys

            print(f"note: `{name}` defaults to an int; given the float {value}", file=sys.stderr)
            return value
        if type_name == "float":
            return float(text)
        if type_name == "bool":
            if text.lower() not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(text)
            return text.lower() in {"true", "1", "yes"}
        if type_name in {"str", "str | None"}:
            return text
        return json.loads(text)
    except ValueError:
        raise user_error(
            project,
            "bad-parameter",
            f"`{name}` takes a {type_name}, not `{text}`",
            f"pass a {type_name}, e.g. -p {name} <value>",
        ) from None


def _compare_metrics(
    notebook: dict[str, float], generated: dict[str, float], rtol: float
) -> list[Check]:
    checks = []
    for name in sorted(set(notebook) | set(generated)):
        a, b = notebook.get(name), generated.get(name)
        if a is None or b is None:
            checks.append(Check("metric", name, a, b, None, False))
            continue
        difference = abs(a - b) if math.isfinite(a) and math.isfinite(b) else None
        both_nan = math.isnan(a) and math.isnan(b)
        passed = both_nan or (math.isclose(a, b, rel_tol=rtol, abs_tol=0.0) if rtol else a == b)
        checks.append(Check("metric", name, a, b, difference, passed))
    return checks


def service_tolerance(metadata: dict[str, Any]) -> tuple[float, float, str | None]:
    """(rtol, atol) within which the service's floats must match the notebook's, and why
    when they are not exact but for the last bits: what training checked the ONNX twin it
    serves to (recorded in the model's metadata), or float32 rounding for a torch model."""
    twin = metadata.get("onnx")
    if metadata.get("runtime") == "onnx" and isinstance(twin, dict):
        rtol, atol = float(twin.get("rtol", 0.0)), float(twin.get("atol", SERVICE_ATOL))
        return rtol, atol, "the service answers from the ONNX twin training checked to this"
    if metadata.get("runtime") == "onnx":
        return 0.0, SERVICE_ATOL, "the service answers from the ONNX twin training checked to this"
    if metadata.get("framework") == "pytorch":
        # float32 kernels round a row differently in a batch of another size, and the
        # service batches requests its own way
        return FLOAT32_RTOL, FLOAT32_ATOL, "float32 rounds differently in the service's batches"
    return 0.0, FLOAT_ATOL, None


def _compare_predictions(
    notebook: dict[str, list[Any]],
    generated: dict[str, list[Any]],
    rtol: float,
    *,
    kind: str = "prediction",
    atol: float = FLOAT_ATOL,
) -> list[Check]:
    checks = []
    for name, expected in notebook.items():
        got = generated.get(name)
        difference, passed = _list_difference(expected, got, rtol, atol)
        shown = (_short(expected), _short(got))
        checks.append(Check(kind, name, *shown, difference, passed, rows=_count(expected)))
    return checks


def _list_difference(
    expected: Any, got: Any, rtol: float, atol: float
) -> tuple[float | None, bool]:
    """The largest difference of two predictions (a value, or nested lists of them; None
    when no floats were compared), and whether they agree: the same shape, floats within
    the tolerance, the rest equal."""
    if _shape(expected) != _shape(got):
        return None, False
    largest: float | None = None  # stays None when no floats were compared (labels)
    for a, b in zip(_flatten([expected]), _flatten([got]), strict=True):
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
        if numbers and (isinstance(a, float) or isinstance(b, float)):
            if math.isnan(a) and math.isnan(b):
                continue
            if not math.isclose(a, b, rel_tol=max(rtol, 1e-9), abs_tol=atol):
                return abs(a - b), False
            largest = max(largest or 0.0, abs(a - b))
        elif a != b:
            return None, False
    return largest, True


def _shape(value: Any) -> Any:
    """Nested lists' lengths at every level (None for a value): `[[1, 2], [3]]` is not
    `[[1], [2, 3]]`, although both flatten to the same values."""
    return tuple(_shape(item) for item in value) if isinstance(value, list) else None


def _flatten(values: list[Any]) -> list[Any]:
    flat: list[Any] = []
    for value in values:
        flat.extend(_flatten(value) if isinstance(value, list) else [value])
    return flat


def _recorded_input(project: Path, manifest: dict[str, Any]) -> InputProfile | None:
    """The predict input the conversion recorded (the manifest's probe), if any."""
    if manifest.get("probe") is None:
        return None
    try:
        return ProbeResult.from_json(manifest.get("probe")).input
    except ProtocolError as error:
        raise user_error(
            project,
            "not-a-project",
            f"the probe in the manifest is damaged: {error}",
            "convert again",
        ) from None


def _compare_schema(recorded_input: InputProfile | None, now: dict[str, str] | None) -> list[Check]:
    """The predict input still has the columns and kinds recorded at convert time."""
    if recorded_input is None or now is None:
        return []  # converted without a service: no request schema was recorded
    recorded = {c.name: c.type for c in recorded_input.columns}
    agree = recorded.keys() == now.keys() and all(
        kind == now[name] or (kind, now[name]) == ("float", "int")  # `[[5, 2]]`: ints fit
        for name, kind in recorded.items()
    )
    return [Check("schema", recorded_input.name, recorded, now, None, agree)]


def _short(values: Any, limit: int = 5) -> Any:
    if isinstance(values, list) and len(values) > limit:
        return [*values[:limit], "..."]
    return values


def _compare_metadata(
    plan: Plan,
    manifest: dict[str, Any],
    parameters: dict[str, Any],
    run: NotebookRun,
    result: VerifyResult,
) -> list[Check]:
    """The model's metadata agrees with the run: parameters, metrics, data, notebook."""
    metadata = result.metadata
    expected = json.loads(json.dumps({p.name: p.default for p in plan.parameters} | parameters))
    pairs = [
        ("parameters", expected, metadata.get("parameters")),
        ("metrics", result.metrics, metadata.get("metrics")),
        ("source_sha256", manifest["source"]["sha256"], metadata.get("source_sha256")),
    ]
    if run.data_sha256 is not None:
        pairs.append(("data_sha256", run.data_sha256, metadata.get("data_sha256")))
    return [
        Check("metadata", name, *_shown(want, got), None, want == got) for name, want, got in pairs
    ]


def _shown(want: Any, got: Any) -> tuple[Any, Any]:
    """What the table shows: hashes shortened, and of differing mappings only what differs."""
    if isinstance(want, dict) and isinstance(got, dict) and want != got:
        keys = [k for k in want.keys() | got.keys() if want.get(k) != got.get(k)]
        return {k: want.get(k) for k in keys}, {k: got.get(k) for k in keys}
    if isinstance(want, str) and isinstance(got, str) and len(want) == 64:
        return want[:12], got[:12]
    return want, got

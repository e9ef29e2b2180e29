"""`verify`: prove that a generated project still does what its notebook does.

1. papermill runs the project's copy of the notebook with the parameters
   (see `notebook_run.py`) and records metrics, predicted rows and predictions;
2. the generated training runs in a child process with the same parameters
   (as `<project>-train` would) and writes metrics.json and the model;
3. the generated predict function runs on the notebook's rows with that model;
4. metrics (exact by default: seeded runs must agree), predictions (labels
   exact, floats within the tolerance) and the predict input's columns and
   dtypes (against the profile recorded at convert time) are compared.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nb2prod.errors import user_error
from nb2prod.notebook import load_notebook
from nb2prod.notebook_run import NotebookRun, run_notebook
from nb2prod.plan import Plan, build_plan
from nb2prod.serving import predict_call, predict_step
from nb2prod.write import read_manifest

FLOAT_ATOL = 1e-12


@dataclass
class Check:
    """One compared value: a metric, a prediction column, or the input schema."""

    kind: str
    name: str
    notebook: Any
    generated: Any
    difference: float | None
    passed: bool


@dataclass
class VerifyReport:
    project: str
    parameters: dict[str, Any]
    rtol: float
    checks: list[Check] = field(default_factory=list)
    executed_notebook: str = ""

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        return data


def verify(
    project: Path,
    parameters: dict[str, str],
    *,
    rtol: float = 0.0,
    timeout: int = 1800,
    workdir: Path | None = None,
    cwd: Path | None = None,
) -> VerifyReport:
    """Run notebook and generated code with `parameters` and compare what they produce."""
    project = project.resolve()
    manifest = _manifest(project)
    notebook_path = project / "notebooks" / manifest["source"]["path"]
    plan = build_plan(load_notebook(notebook_path), manifest["project"])
    typed = _typed_parameters(plan, parameters, project)
    workdir = workdir or project / "verification"
    workdir.mkdir(parents=True, exist_ok=True)
    run = run_notebook(
        notebook_path, plan, typed, workdir, cwd=cwd or notebook_path.parent, timeout=timeout
    )
    report = VerifyReport(plan.project, typed, rtol, executed_notebook=str(run.executed))
    with tempfile.TemporaryDirectory(prefix="nb2prod-verify-") as folder:
        scratch = Path(folder)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(project / "src"), *sys.path]),
            "BENTOML_HOME": str(scratch / "bentoml"),
            "MPLBACKEND": "Agg",
        }
        generated = _train(project, plan, parameters, scratch, env, timeout)
        report.checks += _compare_metrics(run.metrics, generated, rtol)
        step = predict_step(plan)
        if step is not None and run.rows is not None:
            predicted = _predict(plan, scratch, env, run.rows, run.dtypes, timeout)
            report.checks += _compare_predictions(run.predictions, predicted, rtol)
            report.checks += _compare_schema(manifest.get("probe"), run)
    (workdir / "report.json").write_text(json.dumps(report.to_json(), indent=2, default=str))
    return report


def _manifest(project: Path) -> dict[str, Any]:
    manifest = read_manifest(project)
    if not (project / "notebooks" / manifest["source"]["path"]).is_file():
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
            return int(text)
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


def _train(
    project: Path,
    plan: Plan,
    parameters: dict[str, str],
    scratch: Path,
    env: dict[str, str],
    timeout: int,
) -> dict[str, float]:
    flags = [f"--{name.replace('_', '-')}={value}" for name, value in parameters.items()]
    command = [sys.executable, "-m", f"{plan.package}.train", "--output-dir", "artifacts"]
    _child(
        [*command, *flags],
        scratch,
        env,
        timeout,
        failure=(
            project,
            "training-failed",
            "the generated training failed",
            f"run `{plan.project}-train` in the project to see the whole error",
        ),
    )
    return json.loads((scratch / "artifacts" / "metrics.json").read_text())


def _child(
    command: list[str],
    cwd: Path,
    env: dict[str, str],
    timeout: int,
    *,
    failure: tuple[Path, str, str, str],
    stdin: str | None = None,
) -> str:
    """Run generated code in a child process; its stdout, or a `UserError` with its last
    lines (`failure` is where, code, message, fix)."""
    done = subprocess.run(
        command,
        input=stdin,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        where, code, message, fix = failure
        tail = "\n".join(done.stderr.strip().splitlines()[-8:])
        raise user_error(where, code, f"{message}:\n{tail}", fix)
    return done.stdout


PREDICT_SCRIPT = """\
import json, sys
import bentoml
import pandas as pd
from {package}.model_store import load_model, load_state
from {package}.pipeline import {function}
from {package}.config import Config
rows = json.loads(sys.stdin.read())
dtypes = {dtypes!r}
frame = pd.DataFrame.from_records(rows)
if dtypes:
    frame = frame.astype(dtypes)
stored = bentoml.models.get("{project}:latest")
model = load_model(stored, runtime="python")
state = load_state(stored)
config = Config()
result = {function}({call})
names = {outputs!r}
values = result if len(names) > 1 else (result,)
import numpy as np
print(json.dumps({{n: np.asarray(v).tolist() for n, v in zip(names, values)}}))
"""


def _predict(
    plan: Plan,
    scratch: Path,
    env: dict[str, str],
    rows: list[dict[str, Any]],
    dtypes: dict[str, str] | None,
    timeout: int,
) -> dict[str, list[Any]]:
    """The generated predict function, on the notebook's rows, with the trained model."""
    step = predict_step(plan)
    assert step is not None
    script = PREDICT_SCRIPT.format(
        package=plan.package,
        function=step.function,
        project=plan.project,
        dtypes=dtypes,
        call=predict_call(plan, step, model="model", rows="frame", state="state", config="config"),
        outputs=step.outputs,
    )
    done = _child(
        [sys.executable, "-c", script],
        scratch,
        env,
        timeout,
        stdin=json.dumps(rows),
        failure=(
            plan.notebook.path,
            "predict-failed",
            f"the generated `{step.function}` failed on the notebook's rows",
            "compare the predict section with the generated pipeline.py",
        ),
    )
    return json.loads(done.strip().splitlines()[-1])


def _compare_metrics(
    notebook: dict[str, float], generated: dict[str, float], rtol: float
) -> list[Check]:
    checks = []
    for name in sorted(set(notebook) | set(generated)):
        a, b = notebook.get(name), generated.get(name)
        if a is None or b is None:
            checks.append(Check("metric", name, a, b, None, False))
            continue
        difference = abs(a - b)
        passed = math.isclose(a, b, rel_tol=rtol, abs_tol=0.0) if rtol else a == b
        checks.append(Check("metric", name, a, b, difference, passed))
    return checks


def _compare_predictions(
    notebook: dict[str, list[Any]], generated: dict[str, list[Any]], rtol: float
) -> list[Check]:
    checks = []
    for name, expected in notebook.items():
        got = generated.get(name)
        difference, passed = _list_difference(expected, got, rtol)
        checks.append(Check("prediction", name, _short(expected), _short(got), difference, passed))
    return checks


def _list_difference(expected: Any, got: Any, rtol: float) -> tuple[float | None, bool]:
    if not isinstance(expected, list) or not isinstance(got, list) or len(expected) != len(got):
        return None, expected == got
    flat_expected, flat_got = _flatten(expected), _flatten(got)
    largest = 0.0
    for a, b in zip(flat_expected, flat_got, strict=True):
        if isinstance(a, float) or isinstance(b, float):
            if not math.isclose(a, b, rel_tol=max(rtol, 1e-9), abs_tol=FLOAT_ATOL):
                return abs(a - b), False
            largest = max(largest, abs(a - b))
        elif a != b:
            return None, False
    return largest, True


def _flatten(values: list[Any]) -> list[Any]:
    flat: list[Any] = []
    for value in values:
        flat.extend(_flatten(value) if isinstance(value, list) else [value])
    return flat


def _compare_schema(probe: dict[str, Any] | None, run: NotebookRun) -> list[Check]:
    """The predict input still has the columns and dtypes recorded at convert time."""
    if not probe or run.dtypes is None:
        return []
    recorded = {c["name"]: c["type"] for c in probe["input"]["columns"]}
    now = {name: _kind(dtype) for name, dtype in run.dtypes.items()}
    return [Check("schema", probe["input"]["name"], recorded, now, None, recorded == now)]


def _kind(dtype: str) -> str:
    if dtype.startswith(("int", "uint", "Int", "UInt")):
        return "int"
    if dtype.startswith(("float", "Float")):
        return "float"
    return "bool" if dtype in {"bool", "boolean"} else "str"


def _short(values: Any, limit: int = 5) -> Any:
    if isinstance(values, list) and len(values) > limit:
        return [*values[:limit], "..."]
    return values

"""Run the generated pipeline once and record what the project's tests and service need.

- each function's inputs and outputs (type, shape, columns, dtypes), for the
  per-function unit tests (`reference/pipeline_contracts.json`);
- the training data's profile, for the data-quality and drift checks
  (`reference/data_profile.json`);
- the metrics with the default and the quick parameters, for the smoke test;
- the service's request schema from the data the notebook really has: the
  predict section's input (columns, dtypes), the ranges and categories
  observed in every frame with those columns, a few rows with predictions.

The describing code is the generated project's own (`contracts.py`,
`data_quality.py`), so the references and the tests that read them agree.
The pipeline runs in a separate process with this interpreter (where the
notebook's packages are installed), so a crash cannot take nb2prod down.
"""

from __future__ import annotations

import inspect
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from nb2prod.child_process import child_command, child_env

FAILED_IN = "nb2prod-probe: failed in "
SAMPLE_ROWS = 5
MAX_CATEGORIES = 50


def run_probe(src_dir: Path, spec: dict[str, Any], timeout: int = 900) -> dict[str, Any]:
    """Run the generated pipeline (defaults, then the quick parameters) and record it.

    `spec` names the package, the step functions and their outputs, the data
    step, the metrics, the predict input and outputs and the model.
    """
    with tempfile.TemporaryDirectory(prefix="nb2prod-probe-") as folder:
        spec_path, result_path = Path(folder) / "spec.json", Path(folder) / "probe.json"
        spec_path.write_text(json.dumps(spec))
        command = child_command("nb2prod.probe", str(spec_path), str(result_path))
        env = child_env(src_dir)
        env.setdefault("MPLBACKEND", "Agg")
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
        if completed.returncode != 0 or not result_path.exists():
            failed_in = [
                line.removeprefix(FAILED_IN).strip()
                for line in completed.stderr.splitlines()
                if line.startswith(FAILED_IN)
            ]
            raise ProbeFailed(_last_error(completed.stderr), failed_in[0] if failed_in else None)
        return json.loads(result_path.read_text())


class ProbeFailed(Exception):
    """The generated pipeline raised while nb2prod ran it (in `function`, when known)."""

    def __init__(self, message: str, function: str | None = None) -> None:
        super().__init__(message)
        self.function = function


def main() -> None:
    """Entry point of the probe process: run the pipeline, write what it saw as JSON."""
    import importlib

    spec = json.loads(Path(sys.argv[1]).read_text())
    package = spec["package"]
    config = importlib.import_module(f"{package}.config")
    pipeline = importlib.import_module(f"{package}.pipeline")
    contracts = importlib.import_module(f"{package}.contracts")
    data_quality = importlib.import_module(f"{package}.data_quality")
    recorded: dict[str, Any] = {"functions": {}, "data": {}}

    def recording(name: str, outputs: list[str], function: Any) -> Any:
        signature = inspect.signature(function)

        def run(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs).arguments
            inputs = {k: contracts.describe(v) for k, v in bound.items()}
            try:
                result = function(*args, **kwargs)
            except Exception:
                print(f"{FAILED_IN}{name}", file=sys.stderr)
                raise
            returned = result if len(outputs) > 1 else (result,)
            values = dict(zip(outputs, returned, strict=True)) if outputs else {}
            recorded["functions"][name] = {
                "inputs": inputs,
                "outputs": {k: contracts.describe(v) for k, v in values.items()},
            }
            if name == spec["data_function"]:  # before later steps change it in place
                recorded["data"] = data_quality.profile_tables(values)
            if name == spec.get("predict_function"):
                recorded["predict_call"] = (function, dict(bound), values)
            return result

        return run

    originals = {step["function"]: getattr(pipeline, step["function"]) for step in spec["steps"]}
    for step in spec["steps"]:
        function = originals[step["function"]]
        setattr(pipeline, step["function"], recording(step["function"], step["outputs"], function))
    try:
        values = pipeline.run_pipeline(config.Config())
    finally:
        for name, function in originals.items():
            setattr(pipeline, name, function)
    profile: dict[str, Any] = {
        "contracts": {"functions": recorded["functions"]},
        "data_profile": recorded["data"],
        "metrics": {"defaults": _metrics(spec, values)},
    }
    if spec["quick"]:
        profile["metrics"]["quick"] = _metrics(spec, pipeline.run_pipeline(config.quick_config()))
    if spec.get("data_input"):
        model = values[spec["model"]]
        profile["input"] = profile_input(
            spec["data_input"], values[spec["data_input"]], list(values.values())
        )
        profile["outputs"] = {name: describe_output(values[name]) for name in spec["outputs"]}
        profile["model"] = {
            "module": type(model).__module__,
            "classifier": hasattr(model, "predict_proba"),
        }
        if "predict_call" in recorded:
            profile["not_row_wise"] = not_row_wise(spec["data_input"], *recorded["predict_call"])
    Path(sys.argv[2]).write_text(json.dumps(profile, indent=2, default=_plain))


def not_row_wise(
    data_input: str, function: Any, arguments: dict[str, Any], outputs: dict[str, Any]
) -> str | None:
    """Why the predict function cannot serve rows one request at a time, or None.

    A service calls it with the request's rows only: it must accept two rows on
    their own and answer them as it did inside the whole batch.
    """
    import numpy as np

    rows = arguments[data_input]
    few = rows.head(2) if hasattr(rows, "head") else rows[:2]
    try:
        result = function(**{**arguments, data_input: few})
    except Exception as error:  # the user's code: any error means "not row-wise"
        return f"on 2 of its rows it raised {type(error).__name__}: {error}"
    returned = result if len(outputs) > 1 else (result,)
    for (name, full), alone in zip(outputs.items(), returned, strict=True):
        expected, got = np.asarray(full)[:2], np.asarray(alone)
        if got.shape != expected.shape:
            return f"on 2 of its rows `{name}` has shape {got.shape}, not {expected.shape}"
        same = (
            np.allclose(got, expected, rtol=1e-9, atol=1e-12)
            if got.dtype.kind in "fc"
            else bool((got == expected).all())
        )
        if not same:
            return f"`{name}` for 2 rows alone differs from the same rows in the whole batch"
    return None


def _metrics(spec: dict[str, Any], values: dict[str, Any]) -> dict[str, float]:
    if spec["metric_dict"]:
        return {str(k): float(v) for k, v in values[spec["metric_dict"]].items()}
    return {name: float(values[name]) for name in spec["metrics"]}


def profile_input(name: str, value: Any, everything: list[Any]) -> dict[str, Any]:
    """Columns, dtypes, observed ranges and categories of the predict section's input."""
    import numpy as np
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        frames = [v for v in everything if isinstance(v, pd.DataFrame)]
        same = [f for f in frames if list(f.columns) == list(value.columns)]
        columns = [_column(str(c), [f[c] for f in same]) for c in value.columns]
        rows = value.head(SAMPLE_ROWS)
        return {
            "name": name,
            "kind": "dataframe",
            "columns": columns,
            "rows": [{str(k): _plain(v) for k, v in r.items()} for r in rows.to_dict("records")],
            "observed_rows": int(max(len(f) for f in same)),
        }
    array = np.asarray(value)
    if array.ndim != 2:
        raise TypeError(f"`{name}` is a {type(value).__name__}, not a table of rows")
    arrays = [np.asarray(v) for v in everything if _same_width(v, array)]
    columns = [
        _column(f"x{i}", [pd.Series(a[:, i]) for a in arrays]) for i in range(array.shape[1])
    ]
    rows = [{c["name"]: _plain(v) for c, v in zip(columns, row, strict=True)} for row in array[:5]]
    return {
        "name": name,
        "kind": "ndarray",
        "columns": columns,
        "rows": rows,
        "observed_rows": int(max(len(a) for a in arrays)),
    }


def describe_output(value: Any) -> dict[str, Any]:
    """An output of the predict section: its element type and its values for the sample."""
    import numpy as np

    array = np.asarray(value)
    kind = (
        "float"
        if array.dtype.kind == "f"
        else "int"
        if array.dtype.kind in "iu"
        else ("bool" if array.dtype.kind == "b" else "str")
    )
    if array.ndim == 2:  # one list per row, like predict_proba's class probabilities
        rows = array[:SAMPLE_ROWS]
        return {"type": f"list[{kind}]", "values": [[_plain(v) for v in row] for row in rows]}
    return {"type": kind, "values": [_plain(v) for v in array.ravel()[:SAMPLE_ROWS]]}


def _column(name: str, series: list[Any]) -> dict[str, Any]:
    import pandas as pd

    merged = pd.concat(series, ignore_index=True)
    dtype = merged.dtype
    column: dict[str, Any] = {"name": name, "nullable": bool(merged.isna().any())}
    if pd.api.types.is_bool_dtype(dtype):
        column["type"] = "bool"
    elif pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        column["type"] = "int" if pd.api.types.is_integer_dtype(dtype) else "float"
        column["min"] = _plain(merged.min())
        column["max"] = _plain(merged.max())
    else:
        values = sorted({str(v) for v in merged.dropna().unique()})
        column["type"] = "str"
        if len(values) <= MAX_CATEGORIES:
            column["categories"] = values
    return column


def _same_width(value: Any, array: Any) -> bool:
    import numpy as np

    try:
        candidate = np.asarray(value)
    except (ValueError, TypeError):
        return False
    return candidate.ndim == 2 and candidate.shape[1] == array.shape[1]


def _plain(value: Any) -> Any:
    """numpy scalars to JSON-ready Python values."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _last_error(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip() and FAILED_IN not in line]
    return lines[-1] if lines else "the process ended without a message"

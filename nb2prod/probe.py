"""Run the generated pipeline once and record what the service needs to know about the data.

The request schema of the generated service comes from the data the notebook
really has: the predict section's input (columns, dtypes), the ranges and
categories observed in every frame with those columns (training rows
included), a few rows with the predictions the pipeline made for them. The
pipeline runs in a separate process with this interpreter (where the
notebook's packages are installed), so a crash cannot take nb2prod down.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SAMPLE_ROWS = 5
MAX_CATEGORIES = 50


def run_probe(
    src_dir: Path,
    package: str,
    data_input: str,
    outputs: list[str],
    model: str,
    timeout: int = 900,
) -> dict[str, Any]:
    """Profile of the predict section's input and outputs, from a default training run."""
    with tempfile.TemporaryDirectory(prefix="nb2prod-probe-") as folder:
        result_path = Path(folder) / "probe.json"
        command = [
            sys.executable, "-c", "from nb2prod.probe import main; main()",
            package, data_input, ",".join(outputs), model, str(result_path),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src_dir), *sys.path])}
        env.setdefault("MPLBACKEND", "Agg")
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
        if completed.returncode != 0 or not result_path.exists():
            raise ProbeFailed(_last_error(completed.stderr))
        return json.loads(result_path.read_text())


class ProbeFailed(Exception):
    """The generated pipeline raised while nb2prod ran it."""


def main() -> None:
    """Entry point of the probe process: run the pipeline, write the profile as JSON."""
    package, data_input, outputs, model_name, result_path = sys.argv[1:6]
    import importlib

    config = importlib.import_module(f"{package}.config")
    pipeline = importlib.import_module(f"{package}.pipeline")
    values = pipeline.run_pipeline(config.Config())
    frame = values[data_input]
    profile = {
        "input": profile_input(data_input, frame, list(values.values())),
        "outputs": {name: describe_output(values[name]) for name in outputs.split(",") if name},
        "model": {
            "module": type(values[model_name]).__module__,
            "classifier": hasattr(values[model_name], "predict_proba"),
        },
    }
    Path(result_path).write_text(json.dumps(profile, indent=2, default=_plain))


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
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "the process ended without a message"

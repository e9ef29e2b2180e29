"""Train the model of tabular_mlp.ipynb; save it with its metadata and metrics.

Usage: `tabular-mlp-train [--output-dir artifacts] [parameter flags]`.
Saves the model in BentoML's model store (with parameters, metrics, data and
notebook hashes as metadata) and exports it to `model.bentomodel`; writes
`model.json` (the same metadata) and `metrics.json` into the output folder.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from tabular_mlp import __version__
from tabular_mlp.config import (
    QUICK_OVERRIDES,
    Config,
    add_arguments,
    from_namespace,
    quick_config,
)
from tabular_mlp.contracts import describe, metric_values
from tabular_mlp.model_store import save_model
from tabular_mlp.pipeline import predict, run_pipeline
from tabular_mlp.torch_model import make_deterministic

SOURCE_NOTEBOOK = "notebooks/tabular_mlp.ipynb"
SOURCE_SHA256 = "6c42f0c13bac9e3d29b636e82bc269cf3b01ad0a874eb1bfbed06af1d2f09f76"
NB2PROD_VERSION = "0.1.0"
MODEL_OUTPUT = "model"
METRIC_SOURCES = ["mae", "r2"]
"""Values of the evaluate section that hold its metrics (numbers, or dicts of numbers)."""
SERVING_STATE = ["scaler", "y_std", "y_mean"]
"""Values the predict section reads besides the model and its input rows."""
PREDICT_INPUT = "new_patients"
"""The predict section's input rows: the shape of what the service receives."""
MAX_REFERENCE_ROWS = 2000
"""Most tensor rows the ONNX twin is checked on (the first ones)."""


def collect_metrics(outputs: dict[str, Any]) -> dict[str, float]:
    """The evaluate section's metrics as plain floats, the keys of metrics.json."""
    return metric_values(outputs, METRIC_SOURCES)


def reference_rows(outputs: dict[str, Any]) -> Any:
    """Rows a faster runtime must agree on: the predict input and every table like it
    (frames with its columns, cut to them; tensors of its row shape and dtype)."""
    if PREDICT_INPUT is None:
        return None
    rows = outputs[PREDICT_INPUT]
    if hasattr(rows, "columns"):
        import pandas as pd

        columns = list(rows.columns)
        alike = [
            value[columns]
            for value in outputs.values()
            if isinstance(value, pd.DataFrame)
            and value.columns.is_unique
            and set(columns) <= set(value.columns)
        ]
        return pd.concat(alike, ignore_index=True)
    if isinstance(rows, torch.Tensor):
        alike = [
            value
            for value in outputs.values()
            if isinstance(value, torch.Tensor)
            and value.shape[1:] == rows.shape[1:]
            and value.dtype == rows.dtype
            and value.dim() == rows.dim()
        ]
        return torch.cat([value.to(rows.device) for value in alike])[
            :MAX_REFERENCE_ROWS
        ]
    return rows


def predict_outputs(
    model: Any, rows: Any, state: dict[str, Any], config: Config
) -> dict[str, Any]:
    """The predict section on `rows`, as the service runs it: training checks the
    model's ONNX twin with it."""
    progression = predict(model, state["scaler"], rows, state["y_std"], state["y_mean"])
    return {
        "progression": progression,
    }


def input_signature(outputs: dict[str, Any]) -> dict[str, Any] | None:
    """What the predict section takes: its type, shape (rows first, as "batch"), dtype
    or columns and dtypes."""
    if PREDICT_INPUT is None:
        return None
    described = describe(outputs[PREDICT_INPUT])
    if described.get("shape"):
        described["shape"] = ["batch", *described["shape"][1:]]
    return described


def code_version() -> str | None:
    """The git commit of the code that trained, when it runs from a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def save_artifacts(
    outputs: dict[str, Any], config: Config, output_dir: Path
) -> dict[str, float]:
    """Save the model with its metadata, write metrics.json; return the metrics."""
    output_dir.mkdir(parents=True, exist_ok=True)
    metrics = collect_metrics(outputs)
    metadata: dict[str, Any] = {
        "name": "tabular-mlp",
        "version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": config.to_dict(),
        "metrics": metrics,
        "data_sha256": outputs.get("data_sha256"),
        "source_notebook": SOURCE_NOTEBOOK,
        "source_sha256": SOURCE_SHA256,
        "code_version": code_version(),
        "nb2prod_version": NB2PROD_VERSION,
        "python": platform.python_version(),
        "input": input_signature(outputs),
    }
    state = {name: outputs[name] for name in SERVING_STATE}
    metadata = save_model(
        outputs[MODEL_OUTPUT],
        metadata,
        output_dir,
        state,
        reference_rows(outputs),
        predict=lambda model, rows: predict_outputs(model, rows, state, config),
    )
    (output_dir / "model.json").write_text(
        json.dumps(metadata, indent=2, default=str) + "\n"
    )
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line flags: the output folder and one flag per parameter."""
    parser = argparse.ArgumentParser(prog="tabular-mlp-train", description=__doc__)
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("artifacts"),
        help="where to write the model and metrics (default: %(default)s)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"start from the quick parameters {QUICK_OVERRIDES} (smoke tests, CI)",
    )
    add_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Train with the given parameters and save the artifacts; exit status 0."""
    args = parse_args(argv)
    config = from_namespace(args, base=quick_config() if args.quick else None)
    make_deterministic()
    outputs = run_pipeline(config)
    metrics = save_artifacts(outputs, config, args.output_dir)
    print(json.dumps(metrics, indent=2))
    print(f"artifacts written to {args.output_dir}", file=sys.stderr)
    edge = args.output_dir / "model.onnx"
    if edge.exists():
        print(
            f"edge: {edge} runs with onnxruntime alone: "
            f"onnxruntime.InferenceSession({str(edge)!r}).run(None, {{'input': x}}) "
            "(x: float32 array shaped as in model.json's onnx.input_shape)",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

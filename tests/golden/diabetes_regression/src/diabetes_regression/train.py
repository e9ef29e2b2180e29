"""Train the model of diabetes_regression.ipynb; save it with its metadata and metrics.

Usage: `diabetes-regression-train [--output-dir artifacts] [parameter flags]`.
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

from diabetes_regression import __version__
from diabetes_regression.config import (
    QUICK_OVERRIDES,
    Config,
    add_arguments,
    from_namespace,
    quick_config,
)
from diabetes_regression.contracts import describe, metric_values
from diabetes_regression.model_store import save_model
from diabetes_regression.pipeline import run_pipeline

SOURCE_NOTEBOOK = "notebooks/diabetes_regression.ipynb"
SOURCE_SHA256 = "c20e68b397a10091379afc4b7e817e10547b52069c5a8e148269a239ac40def5"
NB2PROD_VERSION = "0.1.0"
MODEL_OUTPUT = "model"
METRIC_SOURCES = ["metrics"]
"""Values of the evaluate section that hold its metrics (numbers, or dicts of numbers)."""
SERVING_STATE = []
"""Values the predict section reads besides the model and its input rows."""
PREDICT_INPUT = "sample"
"""The predict section's input rows: the shape of what the service receives."""


def collect_metrics(outputs: dict[str, Any]) -> dict[str, float]:
    """The evaluate section's metrics as plain floats, the keys of metrics.json."""
    return metric_values(outputs, METRIC_SOURCES)


def reference_rows(outputs: dict[str, Any]) -> Any:
    """Rows a faster runtime must agree on: the predict input and every table like it
    (frames with its columns, cut to them)."""
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
    return rows


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
        "name": "diabetes-regression",
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
        outputs[MODEL_OUTPUT], metadata, output_dir, state, reference_rows(outputs)
    )
    (output_dir / "model.json").write_text(
        json.dumps(metadata, indent=2, default=str) + "\n"
    )
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line flags: the output folder and one flag per parameter."""
    parser = argparse.ArgumentParser(
        prog="diabetes-regression-train", description=__doc__
    )
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
    outputs = run_pipeline(config)
    metrics = save_artifacts(outputs, config, args.output_dir)
    print(json.dumps(metrics, indent=2))
    print(f"artifacts written to {args.output_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train the model of messy_churn.ipynb; save it with its metadata and metrics.

Usage: `messy-churn-train [--output-dir artifacts] [parameter flags]`.
Writes `model.pkl`, `model.json` (parameters, metrics, source notebook hash,
versions) and `metrics.json` into the output folder.
"""

from __future__ import annotations

import argparse
import json
import pickle
import platform
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from messy_churn import __version__
from messy_churn.config import Config, add_arguments, from_namespace
from messy_churn.pipeline import run_pipeline

SOURCE_NOTEBOOK = "notebooks/messy_churn.ipynb"
SOURCE_SHA256 = "b282f88d8ed4dce9651c5e110c1a315f328b91974612c957b91cce78fc1124a6"
NB2PROD_VERSION = "0.1.0"
MODEL_NAME = "model"
METRIC_NAMES = ["accuracy", "roc_auc"]


def collect_metrics(outputs: dict[str, Any]) -> dict[str, float]:
    """The evaluate section's metrics as plain floats, the keys of metrics.json."""
    return {name: float(outputs[name]) for name in METRIC_NAMES}


def save_artifacts(
    outputs: dict[str, Any], config: Config, output_dir: Path
) -> dict[str, float]:
    """Write the model, its metadata and the metrics; return the metrics."""
    output_dir.mkdir(parents=True, exist_ok=True)
    metrics = collect_metrics(outputs)
    if MODEL_NAME is not None:
        with open(output_dir / "model.pkl", "wb") as file:
            pickle.dump(outputs[MODEL_NAME], file)
    metadata = {
        "name": "messy-churn",
        "version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": config.to_dict(),
        "metrics": metrics,
        "source_notebook": SOURCE_NOTEBOOK,
        "source_sha256": SOURCE_SHA256,
        "nb2prod_version": NB2PROD_VERSION,
        "python": platform.python_version(),
    }
    (output_dir / "model.json").write_text(
        json.dumps(metadata, indent=2, default=str) + "\n"
    )
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line flags: the output folder and one flag per parameter."""
    parser = argparse.ArgumentParser(prog="messy-churn-train", description=__doc__)
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("artifacts"),
        help="where to write the model and metrics (default: %(default)s)",
    )
    add_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Train with the given parameters and save the artifacts; exit status 0."""
    args = parse_args(argv)
    config = from_namespace(args)
    outputs = run_pipeline(config)
    metrics = save_artifacts(outputs, config, args.output_dir)
    print(json.dumps(metrics, indent=2))
    print(f"artifacts written to {args.output_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

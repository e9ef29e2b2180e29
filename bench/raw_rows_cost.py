"""What raw-row requests cost the service: the notebook's row-wise code on each request.

    python bench/raw_rows_cost.py [--example wine_classifier] [--rounds 5]

Converts the example into a temporary folder, trains it, then times in this process (the
service class called directly, no HTTP): `to_input` (request rows to a table), the row
function (`preprocess_rows`, the notebook's own feature code) on that table, the predict
function on the features, and the whole `predict_rows`, for 1 row and for 64 rows. Each
number is the median of `--rounds` rounds of many calls; ratios are from the same run.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def per_call(function: Callable[[], object], calls: int, rounds: int) -> float:
    """Microseconds per call, the median of `rounds` rounds of `calls` calls."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        times.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(times)


def prepare(example: str, folder: Path) -> Path:
    """The example converted and trained in `folder`; its BentoML store in `folder`."""
    project = folder / example
    notebook = ROOT / "examples" / f"{example}.ipynb"
    subprocess.run(
        [sys.executable, "-m", "nb2prod", "convert", str(notebook), "-o", str(project)],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    subprocess.run(
        [sys.executable, "-m", f"{example}.train", "--output-dir", "artifacts"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    return project


def measure(project: Path, rounds: int) -> None:
    manifest = json.loads((project / "nb2prod.json").read_text())
    package = manifest["package"]
    if not (manifest["probe"] or {}).get("raw_input"):
        raise SystemExit(f"{project.name}'s service takes feature rows: nothing to measure")
    row_function = _row_function(project / "service.py", package)
    sys.path[:0] = [str(project), str(project / "src")]
    schema = importlib.import_module(f"{package}.schema")
    pipeline = importlib.import_module(f"{package}.pipeline")
    service = getattr(importlib.import_module("service"), manifest["service"])()
    rows_of = getattr(pipeline, row_function)
    body = json.loads((project / "examples" / "request.json").read_text())["body"]
    row = getattr(schema, manifest["service_row"]).model_validate(body[0])
    for count, calls in ((1, 3000), (64, 300)):
        rows = [row] * count
        table = schema.to_input(rows)
        features = rows_of(table.copy())
        to_input = per_call(lambda rows=rows: schema.to_input(rows), calls, rounds)
        copy = per_call(lambda table=table: table.copy(), calls, rounds)
        row_code = per_call(lambda table=table: rows_of(table.copy()), calls, rounds) - copy
        predict = per_call(
            lambda features=features: pipeline.predict(service.model, features), calls, rounds
        )
        whole = per_call(lambda rows=rows: service.predict_rows(rows), calls, rounds)
        print(
            f"{count:>3} row(s): to_input {to_input:7.1f} us, {row_function} {row_code:7.1f} us, "
            f"predict {predict:7.1f} us, whole predict_rows {whole:7.1f} us; "
            f"{row_function} is {row_code / whole:.0%} of predict_rows"
        )


def _row_function(service: Path, package: str) -> str:
    """The function service.py runs on the request's rows before predicting: what it
    imports from the pipeline besides `predict`."""
    tree = ast.parse(service.read_text())
    names = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == f"{package}.pipeline"
        for alias in node.names
    ]
    return next(name for name in names if name != "predict")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--example", default="wine_classifier")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nb2prod-raw-rows-") as folder:
        os.environ["BENTOML_HOME"] = str(Path(folder) / "bentoml")
        measure(prepare(args.example, Path(folder)), args.rounds)


if __name__ == "__main__":
    main()

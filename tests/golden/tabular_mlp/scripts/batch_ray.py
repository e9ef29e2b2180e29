"""Batch scoring of tabular-mlp on Ray: `tabular-mlp-predict` for data beyond one machine.

    pip install -e '.[ray]'
    python scripts/batch_ray.py --input rows.parquet --output predictions.parquet \
        --concurrency 4 [--address ray://HEAD:10001]

Ray Data reads the input in blocks and hands batches of `--batch-size` rows to
`--concurrency` `Predictor` actors, each of which loads the model once and calls the
same `Scorer.predict_frame` as `tabular-mlp-predict` and the service: the same checks,
the same predict code, the same predictions. The output is a folder (as Spark writes
one) of Parquet or CSV files, by the output's suffix, with the id column first (the
input's `--id-column`, or `id`, or `row`: the row number from 0), rows in input order;
it appears only when every row is written. Without `--address`, Ray starts on this
machine with `--num-cpus` CPUs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import ray

from tabular_mlp.batch_io import ROW_COLUMN, BadInput, Place
from tabular_mlp.batch_scoring import CHUNK_ROWS, RUNTIMES
from tabular_mlp.predict_batch import RULES, Scorer


class Predictor:
    """One Ray actor: the model, loaded once, predicting batch after batch."""

    def __init__(
        self, tag: str | None, runtime: str, id_column: str, source: str
    ) -> None:
        self.scorer = Scorer(tag, runtime)
        self.id_column, self.source = id_column, source

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        ids = batch[self.id_column].to_numpy()
        place = Place(f"{self.source} (the batch from {self.id_column} {ids[0]})")
        predictions = self.scorer.predict_frame(batch, place)
        predictions.insert(0, self.id_column, ids)
        return predictions


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--input", required=True, help="rows: a CSV or Parquet file or folder"
    )
    parser.add_argument(
        "--output",
        required=True,
        type=Path,
        help="a folder to create, NAME.parquet or NAME.csv",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=2,
        help="Predictor actors, each with its own model (default 2)",
    )
    parser.add_argument(
        "--cpus-per-actor",
        type=float,
        default=1.0,
        help="CPUs each actor reserves (default 1); leave some for reading and writing",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=CHUNK_ROWS,
        help=f"rows per predict call (default {CHUNK_ROWS:,})",
    )
    parser.add_argument(
        "--id-column",
        help=f"input column to keep beside each prediction (default: `id` if there is one, else `{ROW_COLUMN}`)",
    )
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="best",
        help="as `tabular-mlp-predict --runtime`",
    )
    parser.add_argument(
        "--model", help="the stored model's BentoML tag (default: the latest)"
    )
    parser.add_argument(
        "--address", help="a running Ray cluster (default: start Ray here)"
    )
    parser.add_argument(
        "--num-cpus", type=int, help="CPUs of the Ray started here (default: all)"
    )
    return parser.parse_args(argv)


def score(args: argparse.Namespace) -> None:
    """Read, predict and write with Ray Data."""
    if args.output.exists():
        raise BadInput(
            f"{args.output}: already exists; remove it or name another folder"
        )
    suffix = args.output.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise BadInput(f"{args.output}: name the output NAME.parquet or NAME.csv")
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    rows = _read(args.input)
    columns = rows.columns()
    missing = [rule.column for rule in RULES if rule.column not in columns]
    if missing:
        raise BadInput(
            f"{args.input}: no column {', '.join(map(repr, missing))}; add it"
        )
    if args.id_column and args.id_column not in columns:
        raise BadInput(f"{args.input}: no column {args.id_column!r} for --id-column")
    id_column = args.id_column or ("id" if "id" in columns else ROW_COLUMN)
    wanted = list(dict.fromkeys([rule.column for rule in RULES] + [id_column]))
    if id_column == ROW_COLUMN and ROW_COLUMN not in columns:
        numbers = ray.data.range(rows.count()).rename_columns({"id": ROW_COLUMN})
        rows = rows.zip(numbers)
    predictions = rows.select_columns(wanted).map_batches(
        Predictor,
        fn_constructor_args=(args.model, args.runtime, id_column, args.input),
        concurrency=args.concurrency,
        num_cpus=args.cpus_per_actor,
        batch_size=args.batch_size,
        batch_format="pandas",
    )
    partial = args.output.with_name(f".{args.output.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        if suffix == ".parquet":
            predictions.write_parquet(str(partial.resolve()))
        else:
            predictions.write_csv(str(partial.resolve()))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(args.output)


def _read(source: str) -> Any:
    """The input as a Ray dataset, read by its suffix."""
    if source.lower().rstrip("/").endswith(".csv"):
        return ray.data.read_csv(source)
    return ray.data.read_parquet(source)


def bad_input(error: BaseException) -> BadInput | None:
    """The BadInput behind an error Ray raised for an actor, if that is what it was."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, BadInput):
            return error
        seen.add(id(error))
        error = getattr(error, "cause", None) or error.__cause__ or error.__context__
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.address:
        ray.init(address=args.address)
    else:
        ray.init(num_cpus=args.num_cpus, include_dashboard=False)
    try:
        score(args)
    except Exception as error:
        found = bad_input(error)
        if found is None:
            raise
        print(f"batch_ray.py: {str(found).splitlines()[0]}", file=sys.stderr)
        return 2
    print(f"wrote the predictions to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

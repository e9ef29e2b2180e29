"""`<name>-predict`: the service's predictions for every row of a file, in bounded memory.

`predict_batch.py` (generated beside this module) calls `main` with the project's
`Scorer` (the stored model and the notebook's predict call, as the service runs it) and
the rules of the service's row model. Rows are read, checked, predicted and written one
chunk at a time (see `batch_io.py`), so memory holds the model and a chunk or two, not
the file. The output has the id column first (the input's, or the row number), then one
column per output of the predict section, one row per input row, in input order.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .batch_io import (
    ARRAY_SUFFIX,
    ROW_COLUMN,
    AtomicWriter,
    BadInput,
    Place,
    Progress,
    Rule,
    check_suffix,
    input_columns,
    missing_columns,
    read_chunks,
)

CHUNK_ROWS = 10_000
"""Rows read, checked and predicted at a time (see docs: rows/s levels off above it)."""
RUNTIMES = ("best", "trained", "onnx")


def parse_args(
    prog: str, argv: Sequence[str] | None, shaped: bool
) -> argparse.Namespace:
    formats = "a .npy array of rows" if shaped else "CSV or Parquet, by suffix"
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Predict every row of a file with the stored model and the notebook's "
        "predict code, exactly as the service does, a chunk at a time.",
    )
    parser.add_argument("--input", required=True, type=Path, help=f"rows ({formats})")
    parser.add_argument(
        "--output",
        required=True,
        type=Path,
        help="predictions (CSV or Parquet, by suffix)",
    )
    parser.add_argument(
        "--id-column",
        help="input column copied to the output beside each prediction (default: `id` "
        f"when the input has one, else `{ROW_COLUMN}`, the row number from 0)",
    )
    parser.add_argument(
        "--chunk-rows",
        type=int,
        default=CHUNK_ROWS,
        help=f"rows held in memory at a time (default {CHUNK_ROWS:,})",
    )
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="best",
        help="best: training's choice (like the service's MODEL_RUNTIME); trained: the "
        "model as trained; onnx: its ONNX twin",
    )
    parser.add_argument(
        "--model",
        help="the stored model's BentoML tag (default: NAME:latest, as served)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="draw a progress bar on stderr (default: when stderr is a terminal)",
    )
    args = parser.parse_args(argv)
    if args.chunk_rows < 1:
        parser.error("--chunk-rows must be at least 1")
    return args


def main(
    argv: Sequence[str] | None,
    *,
    prog: str,
    load: Callable[[str | None, str], Any],
    rules: list[Rule],
    shape: tuple[int, ...] | None = None,
) -> int:
    """Run the command; exit status 2 with one line on stderr for input it refuses.

    `load(tag, runtime)` gives the scorer: `predict_frame(rows, place)` checks rows as
    the service does and returns the predict section's outputs as a table.
    """
    args = parse_args(prog, argv, shape is not None)
    try:
        id_column = _plan(args, rules, shape)
        scorer = load(args.model, args.runtime)
        _score(args, scorer, rules, id_column)
    except BadInput as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
    return 0


def _plan(args: argparse.Namespace, rules: list[Rule], shape: Any) -> str | None:
    """Check the files before the model loads (seconds): the input's format and columns,
    the output's format; return the id column to copy, if any."""
    source, output = args.input, args.output
    if not source.is_file():
        raise BadInput(f"{source}: no such file")
    check_suffix(source, arrays=shape is not None)
    check_suffix(output, arrays=False)
    if output.resolve() == source.resolve():
        raise BadInput(
            f"{output}: the output would overwrite the input; name another file"
        )
    if shape is not None:
        if args.id_column:
            raise BadInput(
                f"{source}: a {ARRAY_SUFFIX} file has no columns; drop --id-column"
            )
        return None
    columns = input_columns(source)
    missing_columns(columns, rules, str(source))
    if args.id_column and args.id_column not in columns:
        raise BadInput(f"{source}: no column {args.id_column!r} for --id-column")
    return args.id_column or ("id" if "id" in columns else None)


def _score(
    args: argparse.Namespace,
    scorer: Any,
    rules: list[Rule],
    id_column: str | None,
) -> None:
    """Read, check, predict and write chunk by chunk; the output appears only when all
    rows are written."""
    wanted = [rule.column for rule in rules]
    if id_column and id_column not in wanted:
        wanted.append(id_column)
    text = [rule.column for rule in rules if rule.kind is str]
    progress = Progress(
        show=sys.stderr.isatty() if args.progress is None else args.progress
    )
    with AtomicWriter(args.output) as writer:
        for chunk in read_chunks(args.input, wanted, args.chunk_rows, text):
            place = Place(str(args.input), chunk.first_row)
            predictions = scorer.predict_frame(chunk.values, place)
            if len(predictions) != len(chunk.values):
                raise BadInput(
                    f"{place.row(0)}: the predict section gave {len(predictions)} rows "
                    f"for {len(chunk.values)}; batch scoring needs one prediction a row"
                )
            ids = (
                chunk.values[id_column].to_numpy()
                if id_column
                else np.arange(chunk.first_row, chunk.first_row + len(predictions))
            )
            predictions.insert(0, id_column or ROW_COLUMN, ids)
            writer.write(predictions)
            progress.update(len(predictions), chunk.done)
    progress.finish(args.output)

"""Batch scoring's files: tables read in chunks, checked as the service checks a request,
and predictions written whole or not at all.

`predict_batch.py` (generated beside this module) supplies the model and the notebook's
predict call; this module knows nothing of the notebook. Memory stays bounded by the
chunk: CSV is read `chunk_rows` rows at a time (`pandas.read_csv(chunksize=)`), Parquet
one record batch at a time (`pyarrow.ParquetFile.iter_batches`), `.npy` (arrays of one
shape per row, such as images) through a memory map. Each chunk is checked against the
rules of the service's row model (`rules_of`): a missing column, text where a number
goes, NaN or a value outside the range the service accepts stops the run with one line
naming the file, the row and the fix, as the service answers such a request with a 400.
Predictions go to a temporary file beside the output, renamed into place at the end, so
a failed run leaves no half-written output.
"""

from __future__ import annotations

import json
import os
import sys
import time
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

TABLE_SUFFIXES = (".csv", ".parquet")
ARRAY_SUFFIX = ".npy"
ROW_COLUMN = "row"
"""The id column written when the input has none: the row number, from 0."""


class BadInput(Exception):
    """Input the service would refuse, or a file that cannot be read: one line, the fix."""


@dataclass(frozen=True)
class Rule:
    """What the service accepts in one request field, read from its row model."""

    column: str
    kind: type  # float, int, bool or str
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[Any, ...] = ()
    nullable: bool = False
    depth: int = 0
    """Lists around each value: 0 for a column of numbers, 3 for an image (1, 8, 8)."""


def rules_of(row_model: Any) -> list[Rule]:
    """The rules of a pydantic row model's fields, in order: read from the model itself,
    so an edited `schema.py` (a widened range) is what batch scoring checks too."""
    rules = []
    for name, field in row_model.model_fields.items():
        annotation, depth, metadata = field.annotation, 0, list(field.metadata)
        while True:
            origin, args = typing.get_origin(annotation), typing.get_args(annotation)
            if origin is list:
                annotation, depth = args[0], depth + 1
            elif origin is typing.Annotated:
                annotation = args[0]
                metadata += [m for a in args[1:] for m in getattr(a, "metadata", [a])]
            else:
                break
        rules.append(_rule(field.alias or name, annotation, depth, metadata))
    return rules


def _rule(column: str, annotation: Any, depth: int, metadata: list[Any]) -> Rule:
    """One field's rule from its annotation with the lists and `Annotated` taken off."""
    nullable = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable, annotation = (
            len(options) < len(typing.get_args(annotation)),
            options[0],
        )
    categories: tuple[Any, ...] = ()
    if typing.get_origin(annotation) is typing.Literal:
        categories = typing.get_args(annotation)
        annotation = type(categories[0])
    bounds = {k: getattr(m, k) for m in metadata for k in ("ge", "le") if hasattr(m, k)}
    return Rule(
        column,
        annotation,
        bounds.get("ge"),
        bounds.get("le"),
        categories,
        nullable,
        depth,
    )


@dataclass(frozen=True)
class Place:
    """Where a chunk's rows are: the file, and the number of its first row (from 0)."""

    source: str
    first_row: int = 0

    def row(self, position: int) -> str:
        return f"{self.source} row {self.first_row + position}"


ROWS = Place("rows")
"""The place of rows that come from no file (a caller's frame): "rows row 3"."""


def missing_columns(columns: list[str], rules: list[Rule], source: str) -> None:
    """BadInput naming the columns of `rules` that `columns` lacks, if any."""
    missing = [rule.column for rule in rules if rule.column not in columns]
    if missing:
        names = ", ".join(repr(name) for name in missing)
        raise BadInput(
            f"{source}: no column {names}; add it (the service's columns: "
            f"{', '.join(rule.column for rule in rules)}), or rename the one that holds it"
        )


def check_frame(frame: pd.DataFrame, rules: list[Rule], place: Place) -> None:
    """Raise BadInput for the first value the service would refuse, naming its row."""
    missing_columns(list(frame.columns), rules, place.source)
    for rule in rules:
        _check_values(frame[rule.column], rule, place)


def _check_values(values: pd.Series, rule: Rule, place: Place) -> None:
    """One column against its rule, vectorised; the message names the first bad row."""
    missing = values.isna()
    if missing.any() and not rule.nullable:
        _refuse(values, missing, place, "is empty (NaN), which the service refuses")
    present = values[~missing]
    if rule.categories:
        bad = ~present.isin(rule.categories)
        allowed = ", ".join(repr(c) for c in rule.categories)
        _refuse(present, bad, place, f"is not one of {allowed}")
        return
    if rule.kind is str:
        bad = present.map(lambda v: not isinstance(v, str))
        _refuse(present, bad, place, "is not text")
        return
    if rule.kind is bool:
        if not pd.api.types.is_bool_dtype(present):
            bad = present.map(lambda v: not isinstance(v, (bool, np.bool_)))
            _refuse(present, bad, place, "is not True or False")
        return
    if not pd.api.types.is_numeric_dtype(present) or pd.api.types.is_bool_dtype(
        present
    ):
        bad = present.map(lambda v: not isinstance(v, (int, float, np.number)))
        _refuse(present, bad | present.map(lambda v: isinstance(v, bool)), place,
                "is not a number")  # fmt: skip
        present = present.astype("float64")
    _check_numbers(present, rule, place)


def _check_numbers(values: pd.Series, rule: Rule, place: Place) -> None:
    _refuse(values, ~np.isfinite(values.astype("float64")), place, "is not finite")
    if rule.kind is int:
        fraction = values.astype("float64") % 1 != 0
        _refuse(values, fraction, place, "is not a whole number")
    low = -np.inf if rule.minimum is None else rule.minimum
    high = np.inf if rule.maximum is None else rule.maximum
    outside = (values < low) | (values > high)
    _refuse(values, outside, place, f"is outside the service's range {low}..{high}")


def _refuse(values: pd.Series, bad: Any, place: Place, problem: str) -> None:
    """BadInput naming the first row of `bad`, if any, its value and the fix."""
    mask = np.asarray(bad, dtype=bool)
    if not mask.any():
        return
    position = int(np.argmax(mask))
    value = values.iloc[position]
    value = (
        value.item() if isinstance(value, np.generic) else value
    )  # 9.0, not np.float64(9.0)
    raise BadInput(
        f"{place.row(position)}: column {values.name!r} value {value!r} {problem}; fix the "
        "data, or change the field in schema.py (the service accepts the same)"
    )


def check_array(
    array: np.ndarray, rule: Rule, shape: tuple[int, ...], place: Place
) -> None:
    """An array of rows (`(rows, *shape)`) against the element rule of a shaped field."""
    if tuple(array.shape[1:]) != tuple(shape):
        raise BadInput(
            f"{place.source}: rows of shape {tuple(array.shape[1:])}, not {tuple(shape)}; "
            f"save an array of shape (rows, {', '.join(map(str, shape))})"
        )
    if not np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_:
        raise BadInput(f"{place.source}: values of type {array.dtype}, not numbers")
    flat = array.reshape(len(array), -1)
    low = -np.inf if rule.minimum is None else rule.minimum
    high = np.inf if rule.maximum is None else rule.maximum
    for bad, problem in (
        (~np.isfinite(flat), "is not finite"),
        ((flat < low) | (flat > high), f"is outside the service's range {low}..{high}"),
    ):
        rows = bad.any(axis=1)
        if rows.any():
            row = int(np.argmax(rows))
            value = flat[row][bad[row]][0].item()
            raise BadInput(
                f"{place.row(row)}: a value {value!r} {problem}; fix the data, or change "
                "`Value` in schema.py (the service accepts the same)"
            )


@dataclass(frozen=True)
class Chunk:
    """Rows of the input: a table (CSV, Parquet) or an array (`.npy`), and where they are."""

    values: pd.DataFrame | np.ndarray
    first_row: int
    done: float
    """How much of the input has been read after this chunk, from 0 to 1."""


def check_suffix(path: Path, *, arrays: bool) -> None:
    """BadInput unless `path` is a format batch scoring reads or writes."""
    allowed = (ARRAY_SUFFIX,) if arrays else TABLE_SUFFIXES
    if path.suffix.lower() not in allowed:
        what = "rows that are arrays (shape (rows, ...)) " if arrays else ""
        raise BadInput(f"{path}: {what}read from {' or '.join(allowed)} files only")


def input_columns(path: Path) -> list[str]:
    """The column names of a CSV or Parquet file, read from its header or schema."""
    if path.suffix.lower() == ".csv":
        return list(pd.read_csv(path, nrows=0).columns)
    return list(_parquet(path).schema_arrow.names)


def read_chunks(
    path: Path, columns: list[str], chunk_rows: int, text: list[str] = ()
) -> Iterator[Chunk]:
    """The rows of a CSV, Parquet or `.npy` file in chunks of `chunk_rows`; of a table,
    only `columns` (`text` ones are read as strings from CSV, as JSON would give them)."""
    suffix, first = path.suffix.lower(), 0
    if suffix == ARRAY_SUFFIX:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        for first in range(0, len(array), chunk_rows):
            rows = np.asarray(array[first : first + chunk_rows])
            yield Chunk(rows, first, min(1.0, (first + len(rows)) / max(len(array), 1)))
        return
    if suffix == ".parquet":
        parquet = _parquet(path)
        total = max(parquet.metadata.num_rows, 1)
        for batch in parquet.iter_batches(batch_size=chunk_rows, columns=columns):
            frame = batch.to_pandas()
            yield Chunk(frame, first, (first + len(frame)) / total)
            first += len(frame)
        return
    size = max(path.stat().st_size, 1)
    with path.open("rb") as handle:
        dtypes = {name: "str" for name in text}
        # pandas 3 parses each decimal to its exact float by default, as the service's
        # JSON parser does (measured: 0 of 200,000 random floats differ)
        for frame in pd.read_csv(
            handle, usecols=columns, chunksize=chunk_rows, dtype=dtypes
        ):
            yield Chunk(frame[columns], first, min(1.0, handle.tell() / size))
            first += len(frame)


def _parquet(path: Path) -> Any:
    """A `pyarrow.parquet.ParquetFile` of `path`."""
    return _pyarrow(path).parquet.ParquetFile(path)


def _pyarrow(path: Path) -> Any:
    """pyarrow with its `parquet` module, or BadInput saying how to install it."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise BadInput(
            f"{path}: Parquet needs pyarrow: pip install pyarrow (the project's "
            "`batch` extra)"
        ) from None
    return pyarrow


def output_frame(outputs: dict[str, Any]) -> pd.DataFrame:
    """The predict section's outputs, one value per row each, as a table: one column per
    output, a list per row where an output has more than one value a row."""
    columns = {}
    for name, value in outputs.items():
        if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
            value = value.detach().cpu().numpy()
        array = np.asarray(value)
        columns[name] = list(array) if array.ndim > 1 else array
    return pd.DataFrame(columns)


class AtomicWriter:
    """Writes a CSV or Parquet file chunk by chunk to a temporary file beside it, renamed
    into place by `commit`; `discard` (or an exception in a `with` block) removes it."""

    def __init__(self, path: Path) -> None:
        check_suffix(path, arrays=False)
        self.path = path
        self.temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
        self._parquet: Any = None
        self._schema: Any = None
        self._started = False

    def __enter__(self) -> typing.Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()

    def write(self, frame: pd.DataFrame) -> None:
        """Append `frame`'s rows (the first call fixes the columns and their types)."""
        if self.path.suffix.lower() == ".parquet":
            self._write_parquet(frame)
        else:
            text = frame.apply(_json_lists)
            text.to_csv(self.temporary, mode="a" if self._started else "w",
                        header=not self._started, index=False)  # fmt: skip
        self._started = True

    def _write_parquet(self, frame: pd.DataFrame) -> None:
        pa = _pyarrow(self.path)
        table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
        if self._parquet is None:
            self._schema = table.schema
            self._parquet = pa.parquet.ParquetWriter(self.temporary, self._schema)
        self._parquet.write_table(table)

    def commit(self) -> None:
        """Close the temporary file and rename it to the output (an empty input gives a
        file with no rows only for CSV, where no types are needed)."""
        if self._parquet is not None:
            self._parquet.close()
        if not self._started:
            self.temporary.write_text("")
        os.replace(self.temporary, self.path)

    def discard(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        self.temporary.unlink(missing_ok=True)


def _json_lists(column: pd.Series) -> pd.Series:
    """A column of arrays as JSON text (a CSV cell holds one value); others unchanged."""
    if (
        column.dtype == object
        and len(column)
        and isinstance(column.iloc[0], np.ndarray)
    ):
        return column.map(lambda value: json.dumps(value.tolist()))
    return column


class Progress:
    """A one-line progress bar on stderr, redrawn at most 10 times a second, and the
    summary line at the end (always printed: logs of unattended runs want it)."""

    def __init__(self, *, show: bool, stream: TextIO = sys.stderr) -> None:
        self.show, self.stream = show, stream
        self.started = self._drawn = time.perf_counter()
        self.rows = 0

    def update(self, rows: int, done: float) -> None:
        self.rows += rows
        now = time.perf_counter()
        if not self.show or (now - self._drawn < 0.1 and done < 1.0):
            return
        self._drawn = now
        filled = int(30 * done)
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {done:4.0%} "
            f"{self.rows:,} rows {self.rows / max(now - self.started, 1e-9):,.0f} rows/s"
        )
        self.stream.flush()

    def finish(self, output: Path) -> None:
        seconds = time.perf_counter() - self.started
        if self.show:
            self.stream.write("\n")
        # a rate over a fraction of a second says more about start-up than throughput
        rate = f" ({self.rows / seconds:,.0f} rows/s)" if seconds >= 1.0 else ""
        self.stream.write(
            f"wrote {self.rows:,} predictions to {output} in {seconds:.1f} s{rate}\n"
        )

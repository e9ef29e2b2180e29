"""The generated project's `batch_io.py`, tested where it lives (nb2prod/generate/runtime):
rules read from a real row model, checks that refuse what the service refuses, chunked
reading of each format, and output that appears whole or not at all."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated, Literal

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel, Field

from nb2prod.generate.render import GENERATE


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("batch_io", GENERATE / "runtime" / "batch_io.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["batch_io"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


batch_io = _module()
Value = Annotated[float, Field(ge=0.0, le=1.0)]


class Row(BaseModel):
    width: float = Field(alias="petal width", ge=0.0, le=2.5)
    count: int = Field(ge=0, le=10)
    colour: Literal["red", "blue"]
    note: str | None = None


class Image(BaseModel):
    input: list[list[Value]]


def test_rules_come_from_the_row_model() -> None:
    width, count, colour, note = batch_io.rules_of(Row)
    assert (width.column, width.kind, width.minimum, width.maximum) == (
        "petal width",
        float,
        0.0,
        2.5,
    )
    assert (count.kind, count.maximum) == (int, 10)
    assert colour.categories == ("red", "blue")
    assert (note.kind, note.nullable) == (str, True)
    (image,) = batch_io.rules_of(Image)
    assert (image.depth, image.minimum, image.maximum) == (2, 0.0, 1.0)


def _frame(**changes: object) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"petal width": [0.1, 2.0, 1.0], "count": [1, 2, 3], "colour": ["red", "blue", "red"],
         "note": ["a", None, "c"]}
    )  # fmt: skip
    for column, values in changes.items():
        frame[column] = values
    return frame


def test_good_rows_pass() -> None:
    batch_io.check_frame(_frame(), batch_io.rules_of(Row), batch_io.Place("in.csv"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"petal width": [0.1, 9.0, 1.0]},
            "in.csv row 101: column 'petal width' value 9.0 is outside",
        ),
        ({"petal width": [0.1, np.nan, 1.0]}, "row 101: column 'petal width' value nan is empty"),
        (
            {"petal width": ["0.1", "x", "1"]},
            "row 100: column 'petal width' value '0.1' is not a number",
        ),
        ({"count": [1.0, 2.5, 3.0]}, "row 101: column 'count' value 2.5 is not a whole number"),
        ({"colour": ["red", "pink", "red"]}, "row 101: column 'colour' value 'pink' is not one of"),
        ({"petal width": [0.1, np.inf, 1.0]}, "value inf is not finite"),
    ],
)
def test_what_the_service_refuses_names_the_row_and_the_fix(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(batch_io.BadInput, match="change the field in schema.py") as refused:
        batch_io.check_frame(
            _frame(**changes), batch_io.rules_of(Row), batch_io.Place("in.csv", 100)
        )
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_missing_column_is_named_with_the_columns_wanted() -> None:
    with pytest.raises(batch_io.BadInput, match="in.csv: no column 'colour'; add it"):
        batch_io.check_frame(
            _frame().drop(columns="colour"), batch_io.rules_of(Row), batch_io.Place("in.csv")
        )


def test_arrays_are_checked_by_shape_then_values() -> None:
    (rule,) = batch_io.rules_of(Image)
    place = batch_io.Place("in.npy", 10)
    batch_io.check_array(np.zeros((4, 2, 2)), rule, (2, 2), place)
    with pytest.raises(batch_io.BadInput, match=r"rows of shape \(3, 2\), not \(2, 2\)"):
        batch_io.check_array(np.zeros((4, 3, 2)), rule, (2, 2), place)
    values = np.zeros((4, 2, 2))
    values[2, 1, 0] = 7.0
    with pytest.raises(batch_io.BadInput, match="in.npy row 12: a value 7.0 is outside"):
        batch_io.check_array(values, rule, (2, 2), place)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npy"])
def test_every_format_is_read_in_chunks_of_the_wanted_columns(tmp_path: Path, suffix: str) -> None:
    frame = pd.DataFrame({"a": np.arange(25) / 3, "b": np.arange(25), "c": ["x"] * 25})
    path = tmp_path / f"rows{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        np.save(path, np.arange(50.0).reshape(25, 2))
    chunks = list(batch_io.read_chunks(path, ["a", "b"], 10))
    assert [c.first_row for c in chunks] == [0, 10, 20]
    assert chunks[-1].done == 1.0
    if suffix == ".npy":
        assert np.array_equal(
            np.concatenate([c.values for c in chunks]), np.arange(50.0).reshape(25, 2)
        )
    else:
        read = pd.concat([c.values for c in chunks], ignore_index=True)
        assert list(read.columns) == ["a", "b"]
        assert read["a"].tolist() == frame["a"].tolist()  # round-trip floats, exactly


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_output_appears_whole_or_not_at_all(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"out{suffix}"
    with batch_io.AtomicWriter(path) as writer:
        writer.write(batch_io.output_frame({"label": np.array([1, 2]), "p": np.eye(2)}))
        assert not path.exists()
        writer.write(batch_io.output_frame({"label": np.array([3]), "p": np.ones((1, 2))}))
    read = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    assert read["label"].tolist() == [1, 2, 3]
    first = read["p"].iloc[0]
    assert (first == "[1.0, 0.0]") if suffix == ".csv" else (list(first) == [1.0, 0.0])

    failed = tmp_path / f"failed{suffix}"
    with pytest.raises(RuntimeError), batch_io.AtomicWriter(failed) as writer:
        writer.write(batch_io.output_frame({"label": np.array([1])}))
        raise RuntimeError("the predict code failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"out{suffix}"]


def test_progress_draws_only_when_asked_and_always_sums_up() -> None:
    quiet, shown = io.StringIO(), io.StringIO()
    for stream, show in ((quiet, False), (shown, True)):
        progress = batch_io.Progress(show=show, stream=stream)
        progress.update(10, 1.0)
        progress.finish(Path("out.csv"))
    assert quiet.getvalue().startswith("wrote 10 predictions to out.csv in ")
    assert quiet.getvalue().count("\n") == 1
    assert shown.getvalue().startswith("\r[") and "100% 10 rows" in shown.getvalue()
    assert "rows/s)" not in quiet.getvalue()  # no rate over a blink: it would measure start-up


def test_progress_gives_a_rate_for_runs_of_a_second_or_more() -> None:
    stream = io.StringIO()
    progress = batch_io.Progress(show=False, stream=stream)
    progress.started -= 2.0
    progress.update(5000, 1.0)
    progress.finish(Path("out.csv"))
    rate = float(stream.getvalue().split("(")[1].split(" rows/s")[0].replace(",", ""))
    assert 1000 < rate <= 2500


def test_formats_are_by_suffix() -> None:
    batch_io.check_suffix(Path("a.PARQUET"), arrays=False)
    with pytest.raises(batch_io.BadInput, match="read from .csv or .parquet files only"):
        batch_io.check_suffix(Path("a.json"), arrays=False)
    with pytest.raises(batch_io.BadInput, match=r"\(shape \(rows, ...\)\) read from .npy"):
        batch_io.check_suffix(Path("a.csv"), arrays=True)

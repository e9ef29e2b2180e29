"""The probe's verdict on preprocess code: row-wise or table-wide, found by running it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from nb2prod.run.raw_rows import row_wise_problem


@pytest.fixture
def table() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "a": rng.normal(10, 3, 60),
            "b": rng.uniform(1, 2, 60),
            "group": rng.choice(["x", "y", "z"], 60),
        },
        index=pd.RangeIndex(100, 160),
    )


def derived(frame: pd.DataFrame) -> pd.DataFrame:
    frame["ratio"] = frame["a"] / frame["b"]
    frame["b"] = frame["b"].astype("float32")
    frame["is_x"] = (frame["group"] == "x").astype(int)
    return frame


def test_a_derived_column_and_a_cast_are_row_wise(table: pd.DataFrame) -> None:
    assert row_wise_problem(derived, table) is None


def test_an_encoding_learned_from_the_rows_is_not(table: pd.DataFrame) -> None:
    def codes(frame: pd.DataFrame) -> pd.DataFrame:
        frame["group"] = frame["group"].astype("category").cat.codes
        return frame

    why = row_wise_problem(codes, table)
    assert why is not None and "alone gives another `group`" in why


def test_a_fitted_scaler_transform_is_row_wise(table: pd.DataFrame) -> None:
    scaler = StandardScaler().fit(table[["a", "b"]])

    def scaled(frame: pd.DataFrame) -> pd.DataFrame:
        frame[["a", "b"]] = scaler.transform(frame[["a", "b"]])
        return frame

    assert row_wise_problem(scaled, table) is None


def test_fitting_the_scaler_on_the_rows_is_not(table: pd.DataFrame) -> None:
    def refit(frame: pd.DataFrame) -> pd.DataFrame:
        frame[["a", "b"]] = StandardScaler().fit_transform(frame[["a", "b"]])
        return frame

    why = row_wise_problem(refit, table)
    assert why is not None and "alone gives another `a`" in why


def test_dropna_drops_rows(table: pd.DataFrame) -> None:
    table.loc[105, "a"] = np.nan
    why = row_wise_problem(lambda frame: frame.dropna(), table)
    assert why is not None and "drops or adds rows (60 rows in, 59 out)" in why


def test_a_group_mean_depends_on_other_rows(table: pd.DataFrame) -> None:
    def group_mean(frame: pd.DataFrame) -> pd.DataFrame:
        frame["group_mean"] = frame.groupby("group")["a"].transform("mean")
        return frame

    why = row_wise_problem(group_mean, table)
    assert why is not None and "another `group_mean`" in why
    aggregated = row_wise_problem(lambda f: f.groupby("group")[["a"]].mean(), table)
    assert aggregated is not None and "drops or adds rows" in aggregated


def test_a_split_and_a_sort_are_not_row_wise(table: pd.DataFrame) -> None:
    split = row_wise_problem(lambda f: train_test_split(f, random_state=0)[0], table)
    assert split is not None and "drops or adds rows" in split
    ordered = row_wise_problem(lambda f: f.sort_values("a"), table)
    assert ordered is not None and "reorders rows" in ordered


def test_code_that_fails_on_one_row_says_so(table: pd.DataFrame) -> None:
    def needs_many(frame: pd.DataFrame) -> Any:
        frame["q"] = pd.qcut(frame["a"], 4, labels=False)
        return frame

    why = row_wise_problem(needs_many, table)
    assert why is not None and ("raised" in why or "another `q`" in why)


def test_arrays_are_not_tables() -> None:
    why = row_wise_problem(lambda a: a, np.zeros((4, 2)))
    assert why == "it takes a ndarray, not a table with named columns"

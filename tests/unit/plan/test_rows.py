"""rows.py: the predict input as a service request's JSON rows and column kinds.

verify and the generated tests send the notebook's own input through the service,
so frames, arrays and lists must become the same rows the probe described.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nb2prod.plan.rows import as_array, input_schema, plain_value, request_rows


def test_frame_rows_are_keyed_by_column_with_nan_as_none() -> None:
    """JSON has no NaN: a missing value is sent as null."""
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, float("nan")]})
    assert request_rows(frame) == [{"a": 1, "b": 0.5}, {"a": 2, "b": None}]


def test_array_and_list_rows_are_keyed_x0_x1() -> None:
    """Values without column names get the probe's names."""
    assert request_rows(np.array([[1, 2]])) == [{"x0": 1, "x1": 2}]
    assert request_rows([[1.5, 2]]) == [{"x0": 1.5, "x1": 2.0}]


def test_a_flat_value_is_not_a_table() -> None:
    """One value per row is no request: the message gives the shape."""
    with pytest.raises(TypeError, match=r"a ndarray of shape \(3,\) is not a table of rows"):
        request_rows(np.arange(3))


def test_input_schema_kinds() -> None:
    """Nullable pandas ints are ints; objects are strings."""
    frame = pd.DataFrame(
        {"a": [1], "b": [0.5], "c": [True], "d": ["x"], "e": pd.array([1], dtype="Int64")}
    )
    assert input_schema(frame) == {"a": "int", "b": "float", "c": "bool", "d": "str", "e": "int"}
    assert input_schema(np.zeros((1, 2), dtype=np.int8)) == {"x0": "int", "x1": "int"}


def test_as_array_refuses_what_is_not_array_like() -> None:
    """A string or a ragged list is not rows."""
    assert as_array("x") is None
    assert as_array([[1], [2, 3]]) is None
    assert as_array(pd.DataFrame({"a": [1]})).shape == (1, 1)


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        (np.float32(1.5), 1.5),
        (np.int64(3), 3),
        (float("inf"), None),
        (float("nan"), None),
        ("s", "s"),
    ],
)
def test_plain_value(value: object, plain: object) -> None:
    """numpy scalars become Python values; non-finite floats become None."""
    assert plain_value(value) == plain

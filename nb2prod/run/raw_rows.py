"""Whether preprocess code is row-wise, decided by running it (in the probe child).

A service that takes raw rows runs the notebook's preprocess code on each request's
rows alone. That gives the notebook's features only if every output row depends on its
own input row alone: derived columns, casts, encodings with fitted state pass; filters,
splits, sorting, aggregates, dropping rows and statistics of the whole table do not.
Reading code cannot tell `X["a"] / X["b"]` from `X["a"] / X["a"].std()` in general, so
the probe runs the candidate (`analyse/row_wise.py`) on the whole table, on single rows
and on a shuffled subset, and compares each output row with the whole table's.
"""

from __future__ import annotations

from typing import Any

SINGLE_ROWS = 20
"""Rows run one at a time (spread over the table)."""
SUBSET_ROWS = 500
"""Most rows of the shuffled subset run at once."""
RTOL, ATOL = 1e-9, 1e-12


def row_wise_problem(function: Any, table: Any) -> str | None:
    """Why `function` (rows -> rows) does not compute each row from that row alone, or
    None. `table` is the whole input; `function` must not change it (pass copies)."""
    import numpy as np
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        return f"it takes a {type(table).__name__}, not a table with named columns"
    if len(table) < 2 or not table.index.is_unique:
        return "its input has fewer than 2 rows or a repeated index, so rows cannot be matched"
    whole, error = _run(function, table)
    if error:
        return f"on the whole table it raised {error}"
    if not isinstance(whole, pd.DataFrame):
        return f"it returns a {type(whole).__name__}, not a table with named columns"
    if not whole.index.equals(table.index):
        change = (
            "reorders rows"
            if len(whole) == len(table)
            and whole.index.sort_values().equals(table.index.sort_values())
            else f"drops or adds rows ({len(table)} rows in, {len(whole)} out)"
        )
        return f"it {change}, so a request's rows would not each get their own answer"
    count = min(SINGLE_ROWS, len(table))
    for position in np.unique(np.linspace(0, len(table) - 1, count).astype(int)):
        alone, error = _run(function, table.iloc[[position]])
        label = table.index[position]
        if error:
            return f"on row {label!r} alone it raised {error}"
        differs = difference(alone, whole.iloc[[position]])
        if differs:
            return f"row {label!r} alone gives {differs} than within the whole table"
    order = np.random.default_rng(0).permutation(len(table))[
        : max(2, min(SUBSET_ROWS, len(table) // 2))
    ]
    part, error = _run(function, table.iloc[order])
    if error:
        return f"on {len(order)} shuffled rows it raised {error}"
    differs = difference(part, whole.iloc[order])
    if differs:
        return f"{len(order)} shuffled rows give {differs} than within the whole table"
    return None


def difference(got: Any, expected: Any) -> str | None:
    """What differs between two frames (type, rows, columns, then the first column whose
    values differ: floats within RTOL/ATOL, NaN equal to NaN), or None."""
    import numpy as np
    import pandas as pd

    if not isinstance(got, pd.DataFrame):
        return f"a {type(got).__name__} instead of a table"
    if not got.index.equals(expected.index):
        return f"other rows ({len(got)} instead of {len(expected)})"
    if list(got.columns) != list(expected.columns):
        return f"other columns ({_names(got.columns)} instead of {_names(expected.columns)})"
    for column in expected.columns:
        want, have = expected[column].to_numpy(), got[column].to_numpy()
        if want.dtype.kind in "fc" and have.dtype.kind in "fciub":
            same = np.allclose(have.astype(float), want, rtol=RTOL, atol=ATOL, equal_nan=True)
        else:
            same = bool(pd.Series(have).equals(pd.Series(want))) or bool(
                (pd.Series(have).astype(object) == pd.Series(want).astype(object)).all()
            )
        if not same:
            return f"another `{column}`"
    return None


def _run(function: Any, rows: Any) -> tuple[Any, str | None]:
    try:
        return function(rows.copy()), None
    except Exception as error:  # the user's code: any error is the reason
        return None, f"{type(error).__name__}: {error}"


def _names(columns: Any) -> str:
    shown = [str(c) for c in list(columns)[:4]]
    more = len(columns) - len(shown)
    return "[" + ", ".join(shown) + (f", +{more}" if more > 0 else "") + "]"

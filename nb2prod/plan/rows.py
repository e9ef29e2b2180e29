"""The predict input as a service sees it: JSON rows, and the kind of each column.

A notebook predicts on a DataFrame, a 2-D array, a list of rows or a 2-D tensor;
the service's request is a list of rows, keyed by column name (`x0`, `x1`, ...
for values without column names). Rows that are arrays themselves (images: a
`(N, 1, 8, 8)` tensor) are one field, TENSOR_FIELD, of nested lists. `verify` and the
tests turn the notebook's own input into such rows to send them through the
generated service.
"""

from __future__ import annotations

import math
from typing import Any

TENSOR_FIELD = "input"
"""The request field of a row that is an array of 2 or more dimensions itself."""


def request_rows(value: Any) -> list[dict[str, Any]]:
    """`value` (the predict section's input) as a service request's rows."""
    if hasattr(value, "to_dict") and hasattr(value, "columns"):
        return [
            {str(k): plain_value(v) for k, v in row.items()} for row in value.to_dict("records")
        ]
    array = _array(value)
    if array.ndim > 2:
        return [{TENSOR_FIELD: row} for row in array.tolist()]
    return [{f"x{i}": plain_value(v) for i, v in enumerate(row)} for row in array.tolist()]


def input_schema(value: Any) -> dict[str, str]:
    """Each column's kind (`int`, `float`, `bool`, `str`), as the probe records them."""
    if hasattr(value, "dtypes") and hasattr(value, "columns"):
        return {str(name): _kind(str(dtype)) for name, dtype in value.dtypes.items()}
    array = _array(value)
    if array.ndim > 2:
        return {TENSOR_FIELD: _kind(str(array.dtype))}
    return {f"x{i}": _kind(str(array.dtype)) for i in range(array.shape[1])}


def as_array(value: Any) -> Any:
    """An array-like value (array, list, frame, tensor) as a numpy array, else None."""
    import numpy as np

    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, (list, tuple, np.ndarray)) or hasattr(value, "to_numpy"):
        try:
            return np.asarray(value)
        except (ValueError, TypeError):
            return None
    return None


def _array(value: Any) -> Any:
    array = as_array(value)
    if array is None or array.ndim < 2:
        shape = "" if array is None else f" of shape {array.shape}"
        raise TypeError(f"a {type(value).__name__}{shape} is not a table of rows")
    return array


def _kind(dtype: str) -> str:
    if dtype.startswith(("int", "uint", "Int", "UInt")):
        return "int"
    if dtype.startswith(("float", "Float")):
        return "float"
    return "bool" if dtype in {"bool", "boolean"} else "str"


def plain_value(value: Any) -> Any:
    """A numpy scalar as a JSON-ready Python value; NaN and infinities as None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

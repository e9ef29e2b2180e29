"""What the values handed between pipeline steps look like: type, shape, columns, dtypes.

`reference/pipeline_contracts.json` records them for one run of the notebook's
code with its default parameters; `tests/test_pipeline_functions.py` checks
that each function still takes and returns values of that shape, so a change
that silently drops a column or a row fails a test named after the function.
`fingerprint` hashes values' content: the model's metadata records the
training data's, and `nb2prod verify` compares it with the notebook's.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path
from typing import Any


def describe(value: Any) -> dict[str, Any]:
    """The type of `value` and, for tables and arrays, their shape, columns and dtypes."""
    kind = type(value)
    description: dict[str, Any] = {
        "type": f"{kind.__module__.split('.')[0]}.{kind.__qualname__}"
    }
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple):
        description["shape"] = [int(n) for n in shape]
    columns = getattr(value, "columns", None)
    dtypes = getattr(value, "dtypes", None)
    if columns is not None and hasattr(dtypes, "items"):
        description["columns"] = [str(c) for c in columns]
        description["dtypes"] = {str(k): str(v) for k, v in dtypes.items()}
    elif hasattr(value, "dtype"):
        description["dtype"] = str(value.dtype)
    elif isinstance(value, (list, tuple, dict, set)):
        description["length"] = len(value)
    return description


def differences(expected: dict[str, Any], value: Any) -> list[str]:
    """How `value` differs from an `expected` description; empty when it matches."""
    actual = describe(value)
    return [
        f"{key}: expected {expected[key]!r}, got {actual.get(key)!r}"
        for key in expected
        if actual.get(key) != expected[key]
    ]


def load_contracts(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """Recorded descriptions: function name -> {"inputs": {...}, "outputs": {...}}."""
    return json.loads(path.read_text())["functions"]


def fingerprint(values: list[Any]) -> str:
    """SHA-256 of the values' content, the same across runs and machines for equal data."""
    digest = hashlib.sha256()
    for value in values:
        if type(value).__module__.startswith("pandas") and hasattr(value, "index"):
            import pandas as pd

            hashed = pd.util.hash_pandas_object(value, index=True)
            digest.update(hashed.to_numpy().tobytes())
        elif hasattr(value, "tobytes"):
            digest.update(value.tobytes())
        else:
            digest.update(pickle.dumps(value))
    return digest.hexdigest()

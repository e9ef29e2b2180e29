"""What the values handed between pipeline steps look like: type, shape, columns, dtypes.

`reference/pipeline_contracts.json` records them for one run of the notebook's
code with its default parameters; `tests/test_pipeline_functions.py` checks
that each function still takes and returns values of that shape, so a change
that silently drops a column or a row fails a test named after the function.
`metric_differences` compares the notebook's metrics with the pipeline's as `nb2prod
verify` does. `fingerprint` hashes values' content: the model's metadata records the
training data's, and `nb2prod verify` compares it with the notebook's.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
from pathlib import Path
from typing import Any


def metric_values(values: dict[str, Any], sources: list[str]) -> dict[str, float]:
    """The metrics among `values`: each source that is a number (int, float, numpy
    scalar, 0-d array or tensor), or a dict of them (its keys are the names).

    Training, `nb2prod verify` and the notebook regression test all read metrics
    with this one function, so they agree on what a metric is.
    """
    metrics: dict[str, float] = {}
    for source in sources:
        value = values.get(source)
        number = _number(value)
        if number is not None:
            metrics[source] = number
        elif isinstance(value, dict):
            for key, item in value.items():
                number = _number(item)
                if number is not None:
                    name = str(key) if str(key) not in metrics else f"{source}.{key}"
                    metrics[name] = number
    return metrics


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if getattr(value, "shape", None) == () or getattr(value, "ndim", None) == 0:
        try:
            item = value.item()
        except (AttributeError, TypeError, ValueError, RuntimeError):
            return None
        return None if isinstance(item, (bool, complex)) else _number(item)
    return None


def metric_differences(
    notebook: dict[str, float], pipeline: dict[str, float], rtol: float = 0.0
) -> dict[str, tuple[float | None, float | None]]:
    """The metrics that differ, as (notebook's, pipeline's), None where one side has none.

    Compared as `nb2prod verify` compares them: equal within a relative `rtol`, 0 (its
    default) meaning exactly equal, and NaN on both sides the same value.
    """
    found: dict[str, tuple[float | None, float | None]] = {}
    for name in sorted(notebook.keys() | pipeline.keys()):
        a, b = notebook.get(name), pipeline.get(name)
        same = (
            a is not None
            and b is not None
            and ((math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rtol))
        )
        if not same:
            found[name] = (a, b)
    return found


def plain(value: Any) -> Any:
    """A prediction as JSON-ready lists: arrays, frames, series, tensors, lists, dicts."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "to_numpy"):
        value = value.to_numpy()
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


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
    """SHA-256 of the values' content, the same across runs and machines for equal data.

    Tables, arrays (any dtype, object arrays element by element), tensors, scalars and
    lists, tuples, dicts and sets of them are hashed from their content, type and shape,
    never from `id()` or Python's per-process string hashes; anything else is pickled
    (or, when it cannot be, hashed by its type and attributes).
    """
    digest = hashlib.sha256()
    for value in values:
        _feed(digest, value, set())
    return digest.hexdigest()


def _put(digest: Any, tag: str, payload: bytes = b"") -> None:
    """One length-prefixed record, so that no two different sequences hash alike."""
    for part in (tag.encode(), payload):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)


def _feed(digest: Any, value: Any, active: set[int]) -> None:
    kind = type(value)
    name = f"{kind.__module__}.{kind.__qualname__}"
    root = kind.__module__.split(".")[0]
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        payload = value if isinstance(value, bytes) else repr(value).encode()
        _put(digest, name, payload)
    elif root == "torch" and hasattr(value, "detach"):
        _feed_tensor(digest, value, name, active)
    elif root == "pandas" and _feed_pandas(digest, value, name, active):
        pass
    elif root == "numpy" and hasattr(value, "dtype"):
        _feed_array(digest, value, name, active)
    elif isinstance(value, (list, tuple, dict, set, frozenset)):
        if id(value) in active:  # a container holding itself
            _put(digest, "cycle")
            return
        active.add(id(value))
        if isinstance(value, (list, tuple)):
            _put(digest, name, str(len(value)).encode())
            for item in value:
                _feed(digest, item, active)
        else:  # equal dicts and sets hash alike whatever their order
            items = (
                value.items() if isinstance(value, dict) else ((v, None) for v in value)
            )
            parts = sorted(_digest(pair, active) for pair in items)
            _put(digest, name, b"".join(parts))
        active.discard(id(value))
    elif hasattr(value, "tobytes"):
        _put(digest, name, value.tobytes())
    else:
        try:
            _put(digest, name, pickle.dumps(value, protocol=4))
        except Exception:  # noqa: BLE001 - unpicklable (a lock, a connection): its attributes
            _put(digest, name)
            if isinstance(getattr(value, "__dict__", None), dict):
                _feed(digest, vars(value), active)


def _digest(value: Any, active: set[int]) -> bytes:
    """The digest of one item of a dict or set, to sort them into a stable order."""
    digest = hashlib.sha256()
    _feed(digest, value, active)
    return digest.digest()


def _feed_array(digest: Any, value: Any, name: str, active: set[int]) -> None:
    import numpy as np

    array = np.asarray(value)
    _put(digest, name, f"{array.dtype.str} {array.dtype.descr} {array.shape}".encode())
    if array.dtype.hasobject:  # object arrays: each element by its content
        _feed(digest, array.reshape(-1).tolist(), active)
    else:
        _put(digest, "data", np.ascontiguousarray(array).tobytes())


def _feed_tensor(digest: Any, value: Any, name: str, active: set[int]) -> None:
    tensor = value.detach().cpu()
    try:
        array = tensor.resolve_conj().resolve_neg().numpy()
    except TypeError:  # dtypes numpy lacks (bfloat16): exact in float32
        array = tensor.float().numpy()
    _put(digest, name, f"{tensor.dtype} {tuple(tensor.shape)}".encode())
    _feed_array(digest, array, "data", active)


def _feed_pandas(digest: Any, value: Any, name: str, active: set[int]) -> bool:
    import pandas as pd

    if not isinstance(value, (pd.DataFrame, pd.Series, pd.Index)):
        return False
    columns = [str(c) for c in value.columns] if isinstance(value, pd.DataFrame) else []
    dtypes = value.dtypes if isinstance(value, pd.DataFrame) else [value.dtype]
    header = {
        "shape": list(value.shape),
        "columns": columns,
        "dtypes": [str(d) for d in dtypes],
    }
    _put(digest, name, json.dumps(header).encode())
    try:
        hashed = pd.util.hash_pandas_object(
            value, index=not isinstance(value, pd.Index)
        )
        _put(digest, "hashed", hashed.to_numpy().tobytes())
    except TypeError:  # unhashable cells (lists, dicts): each column by its content
        frame = value.to_frame() if not isinstance(value, pd.DataFrame) else value
        _feed_array(digest, frame.index.to_numpy(), "index", active)
        for position in range(frame.shape[1]):
            _feed_array(digest, frame.iloc[:, position].to_numpy(), "column", active)
    return True

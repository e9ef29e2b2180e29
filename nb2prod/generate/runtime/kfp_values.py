"""One value to and from a Kubeflow Pipelines artifact, in a format chosen by its type.

Each pipeline task runs in its own process (its own container on a cluster), so
every value a section hands on is written to an artifact folder and read back by
the tasks that use it. The round trip must be exact, or the pipeline's metrics
would drift from `metrics.json`:

| value                                   | format    | file         |
|-----------------------------------------|-----------|--------------|
| pandas DataFrame or Series              | `parquet` | value.parquet|
| numpy array (not of Python objects)     | `npy`     | value.npy    |
| None, bool, int, float, str, and lists  | `json`    | value.json   |
| or str-keyed dicts of them              |           |              |
| scikit-learn estimator                  | `joblib`  | value.joblib |
| torch module or tensor                  | `torch`   | value.pt     |
| anything else                           | `pickle`  | value.pkl    |

A table is written as Parquet (index, column order and dtypes kept) only when
reading it back gives an equal table, down to the class of its index and column
labels; otherwise (a RangeIndex of column labels, which Parquet gives back as
integers, or columns of mixed objects) it is pickled. The format is recorded in
`format.json` beside the value and in the artifact's metadata, so reading never
guesses. Files are written under a temporary name and renamed, so a task that dies
leaves no half-written value.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

FORMAT_FILE = "format.json"
FILES = {
    "parquet": "value.parquet",
    "npy": "value.npy",
    "json": "value.json",
    "joblib": "value.joblib",
    "torch": "value.pt",
    "pickle": "value.pkl",
}
SERIES_COLUMN = "__series__"
"""The column a Series is stored in (its own name, any type, goes to format.json)."""


class ArtifactLike(Protocol):
    """What a KFP artifact offers here: a path and a metadata mapping."""

    path: str
    metadata: dict[str, Any]


def write_value(value: Any, artifact: ArtifactLike) -> str:
    """Write `value` into `artifact` (a folder at its path); return the format used."""
    details = save(value, Path(artifact.path))
    artifact.metadata["format"] = details["format"]
    artifact.metadata["python_type"] = details["python_type"]
    return details["format"]


def read_value(artifact: ArtifactLike) -> Any:
    """The value `write_value` wrote into `artifact`."""
    return load(Path(artifact.path))


def save(value: Any, folder: Path) -> dict[str, Any]:
    """Write `value` into `folder` and its format into `folder/format.json`."""
    folder.mkdir(parents=True, exist_ok=True)
    details: dict[str, Any] = {"python_type": _type_name(value)}
    details.update(_write(value, folder))
    _atomic(folder / FORMAT_FILE, lambda path: path.write_text(json.dumps(details)))
    return details


def load(folder: Path) -> Any:
    """Read the value `save` wrote into `folder`, in the format it recorded."""
    record = folder / FORMAT_FILE
    if not record.is_file():
        raise FileNotFoundError(
            f"{record} is missing: {folder} was not written by kfp_values.write_value"
        )
    details = json.loads(record.read_text())
    path = folder / FILES[details["format"]]
    kind = details["format"]
    if kind == "parquet":
        return _read_table(path, details)
    if kind == "npy":
        import numpy as np

        return np.load(path, allow_pickle=False)
    if kind == "json":
        return json.loads(path.read_text())
    if kind == "joblib":
        import joblib

        return joblib.load(path)
    if kind == "torch":
        import torch

        return torch.load(path, map_location="cpu", weights_only=False)
    with path.open("rb") as stream:
        return pickle.load(stream)


def _write(value: Any, folder: Path) -> dict[str, Any]:
    """Write `value` in the first format that holds it exactly; its details."""
    if _is_json(value):
        text = json.dumps(value)
        _atomic(folder / FILES["json"], lambda path: path.write_text(text))
        return {"format": "json"}
    table = _write_table(value, folder)
    if table is not None:
        return table
    if _is_plain_array(value):
        import numpy as np

        _atomic(
            folder / FILES["npy"], lambda path: np.save(path, value, allow_pickle=False)
        )
        return {"format": "npy"}
    if _is_torch(value):
        import torch

        _atomic(folder / FILES["torch"], lambda path: torch.save(value, path))
        return {"format": "torch"}
    if _is_sklearn(value):
        import joblib

        _atomic(folder / FILES["joblib"], lambda path: joblib.dump(value, path))
        return {"format": "joblib"}
    _atomic(
        folder / FILES["pickle"], lambda path: path.write_bytes(pickle.dumps(value))
    )
    return {"format": "pickle"}


def _write_table(value: Any, folder: Path) -> dict[str, Any] | None:
    """Parquet for a DataFrame or Series that reads back equal; None otherwise."""
    pandas = sys.modules.get("pandas")
    if pandas is None or not isinstance(value, (pandas.DataFrame, pandas.Series)):
        return None
    details: dict[str, Any] = {"format": "parquet", "kind": "frame"}
    frame = value
    if isinstance(value, pandas.Series):
        if not _is_json(value.name):
            return None
        details.update(kind="series", name=value.name)
        frame = value.to_frame(name=SERIES_COLUMN)
    path = folder / FILES["parquet"]
    try:
        _atomic(path, lambda target: frame.to_parquet(target, engine="pyarrow"))
        back = _read_table(path, details)
    except (ValueError, TypeError, NotImplementedError, ImportError, OSError) as error:
        if isinstance(error, OSError) and not _is_arrow_error(error):
            raise
        path.unlink(missing_ok=True)
        return None
    if not _equal_tables(value, back):
        path.unlink()
        return None
    return details


def _read_table(path: Path, details: dict[str, Any]) -> Any:
    import pandas as pd

    frame = pd.read_parquet(path, engine="pyarrow")
    if details.get("kind") == "series":
        return frame[SERIES_COLUMN].rename(details["name"])
    return frame


def _equal_tables(value: Any, back: Any) -> bool:
    """Equal values, dtypes, index and column order: what the next task must see."""
    import pandas as pd

    try:
        if isinstance(value, pd.Series):
            pd.testing.assert_series_equal(
                value, back, check_exact=True, check_index_type=True, check_flags=True
            )
        else:
            pd.testing.assert_frame_equal(
                value,
                back,
                check_exact=True,
                check_index_type=True,
                check_column_type=True,
                check_flags=True,
            )
    except AssertionError:
        return False
    if isinstance(value, pd.DataFrame) and list(value.columns) != list(back.columns):
        return False
    return value.index.names == back.index.names and value.attrs == back.attrs


def _is_arrow_error(error: OSError) -> bool:
    """pyarrow reports some unsupported values as OSError subclasses (ArrowException)."""
    return type(error).__module__.startswith("pyarrow")


def _is_json(value: Any) -> bool:
    """Values JSON gives back exactly: builtins only (no tuples, no numpy scalars)."""
    if value is None or type(value) in (bool, int, float, str):
        return True
    if type(value) is list:
        return all(_is_json(item) for item in value)
    if type(value) is dict:
        return all(type(k) is str and _is_json(v) for k, v in value.items())
    return False


def _is_plain_array(value: Any) -> bool:
    numpy = sys.modules.get("numpy")
    return (
        numpy is not None
        and type(value) is numpy.ndarray
        and not value.dtype.hasobject
        and value.dtype.fields is None
    )


def _is_torch(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, (torch.nn.Module, torch.Tensor))


def _is_sklearn(value: Any) -> bool:
    """An object of a scikit-learn class (or a class built on one): joblib stores
    their numpy arrays efficiently."""
    return any(
        (cls.__module__ or "").split(".")[0] == "sklearn" for cls in type(value).__mro__
    )


def _type_name(value: Any) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _atomic(path: Path, write: Callable[[Path], Any]) -> None:
    """Write `path` through a temporary sibling renamed into place."""
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix
    )
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

"""The generated project's `kfp_values.py`, tested where it lives (nb2prod/generate/runtime).

Every value a pipeline task hands on must come back exactly (dtypes, index, column
order, names) in the format its type calls for, with the format recorded so that
reading never guesses; a table Parquet cannot hold exactly is pickled instead.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from nb2prod.generate.runtime import kfp_values


@dataclass
class FakeArtifact:
    """What a KFP artifact offers the module: a path and a metadata mapping."""

    path: str
    metadata: dict[str, Any] = field(default_factory=dict)


def _round_trip(value: Any, tmp_path: Path) -> tuple[Any, str, FakeArtifact]:
    artifact = FakeArtifact(str(tmp_path / "value"))
    written = kfp_values.write_value(value, artifact)
    return kfp_values.read_value(FakeArtifact(artifact.path)), written, artifact


def _frame() -> pd.DataFrame:
    index = pd.Index([10, 3, 7], name="row_id")
    return pd.DataFrame(
        {
            "z_last_first": [1.5, float("nan"), 0.1 + 0.2],
            "count": np.array([1, 2, 3], dtype="int32"),
            "flag": [True, False, True],
            "city": pd.Categorical(["a", "b", "a"], categories=["b", "a"]),
            "when": pd.to_datetime(["2024-01-01", "2024-02-29", "2025-12-31"]),
            "label": ["x", None, "z"],
        },
        index=index,
    )


def test_a_frame_comes_back_exactly_as_parquet(tmp_path: Path) -> None:
    frame = _frame()
    back, written, artifact = _round_trip(frame, tmp_path)
    assert written == "parquet"
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert list(back.columns) == list(frame.columns)
    assert back.index.name == "row_id" and back.dtypes.equals(frame.dtypes)
    assert artifact.metadata == {"format": "parquet", "python_type": _type(frame)}
    record = json.loads((Path(artifact.path) / "format.json").read_text())
    assert record["format"] == "parquet" and (Path(artifact.path) / "value.parquet").is_file()


@pytest.mark.parametrize("name", ["target", None, 3])
def test_a_series_keeps_its_name_index_and_dtype(tmp_path: Path, name: Any) -> None:
    series = pd.Series([0.25, 1e-300, -3.0], index=["b", "a", "c"], name=name, dtype="float32")
    back, written, _ = _round_trip(series, tmp_path)
    assert written == "parquet"
    pd.testing.assert_series_equal(back, series, check_exact=True)
    assert back.name == name


def test_column_labels_keep_their_index_class(tmp_path: Path) -> None:
    labels = pd.DataFrame(np.arange(6.0).reshape(3, 2), columns=pd.Index([4, 9]))
    back, written, _ = _round_trip(labels, tmp_path / "labels")
    assert written == "parquet"
    pd.testing.assert_frame_equal(back, labels, check_exact=True, check_column_type=True)
    ranged = pd.DataFrame(np.arange(6.0).reshape(3, 2))  # Parquet drops the RangeIndex
    back, written, _ = _round_trip(ranged, tmp_path / "ranged")
    assert written == "pickle" and isinstance(back.columns, pd.RangeIndex)


def test_a_frame_parquet_cannot_hold_exactly_is_pickled(tmp_path: Path) -> None:
    frame = pd.DataFrame({"mixed": [1, "two", 3.0]})
    back, written, artifact = _round_trip(frame, tmp_path)
    assert written == "pickle" and artifact.metadata["format"] == "pickle"
    assert back["mixed"].tolist() == [1, "two", 3.0]
    assert not (Path(artifact.path) / "value.parquet").exists()  # no stale file beside it


def test_arrays_are_npy_and_object_arrays_pickled(tmp_path: Path) -> None:
    array = np.random.default_rng(0).normal(size=(4, 1, 8, 8)).astype("float32")
    back, written, _ = _round_trip(array, tmp_path / "a")
    assert written == "npy" and back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)
    objects = np.array([{"a": 1}, None], dtype=object)
    back, written, _ = _round_trip(objects, tmp_path / "b")
    assert written == "pickle" and back.tolist() == objects.tolist()


@pytest.mark.parametrize(
    "value",
    [0.1 + 0.2, 7, True, None, "cpu", [1, 2.5, "x"], {"a": [1, {"b": None}]}, float("inf")],
)
def test_plain_values_are_json(tmp_path: Path, value: Any) -> None:
    back, written, _ = _round_trip(value, tmp_path)
    assert written == "json"
    assert back == value and type(back) is type(value)


@pytest.mark.parametrize(
    "value",
    [np.float64(0.9166666666666666), np.int64(3), (1, 2), {1: "a"}, {"a": (1,)}],
)
def test_values_json_would_change_are_pickled(tmp_path: Path, value: Any) -> None:
    back, written, _ = _round_trip(value, tmp_path)
    assert written == "pickle"
    assert back == value and type(back) is type(value)


def test_nan_survives_json(tmp_path: Path) -> None:
    back, written, _ = _round_trip(float("nan"), tmp_path)
    assert written == "json" and math.isnan(back)


def test_a_scikit_learn_model_is_joblib_and_predicts_the_same(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    back, written, artifact = _round_trip(model, tmp_path)
    assert written == "joblib"
    assert artifact.metadata["python_type"] == _type(model)
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))


def test_torch_modules_and_tensors_use_torch_save(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.Linear(3, 2)
    tensor = torch.randn(5, 3)
    back, written, _ = _round_trip(tensor, tmp_path / "t")
    assert written == "torch" and torch.equal(back, tensor) and back.dtype == tensor.dtype
    back, written, _ = _round_trip(module, tmp_path / "m")
    assert written == "torch"
    assert torch.equal(back(tensor), module(tensor))


def test_reading_a_folder_without_a_format_record_says_so(tmp_path: Path) -> None:
    (tmp_path / "value.pkl").write_bytes(b"not ours")
    with pytest.raises(FileNotFoundError, match="format.json is missing"):
        kfp_values.load(tmp_path)


def test_no_temporary_files_are_left(tmp_path: Path) -> None:
    kfp_values.save(_frame(), tmp_path)
    kfp_values.save({"a": 1}, tmp_path / "j")
    names = sorted(p.name for p in tmp_path.rglob("*"))
    assert names == ["format.json", "format.json", "j", "value.json", "value.parquet"]


def _type(value: Any) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"

"""The generated project's `contracts.py`, tested where it lives (nb2prod/generate/runtime).

What a value looks like (`describe`, `differences`), what a metric is (`metric_values`),
when two metrics agree (`metric_differences`, as verify), predictions as JSON (`plain`)
and `fingerprint()`: equal data, equal hash, in any process.
The module is imported in two fresh interpreters (each with its own string-hash seed),
which hash the same values; the hashes must agree, and values that differ in content,
dtype, shape or column names must hash differently.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nb2prod.commands.verify import _compare_metrics
from nb2prod.generate.runtime import contracts
from tests.conftest import ROOT

VALUES = """
import datetime
import decimal
import threading

import numpy as np
import pandas as pd

frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, None, 2.5], "c": ["x", "y", None]})
frame["d"] = pd.Categorical(["p", "q", "p"])
VALUES = {
    "int": [np.arange(12, dtype=np.int32).reshape(3, 4)],
    "float": [np.linspace(0, 1, 7)],
    "bool": [np.array([True, False])],
    "text": [np.array(["ab", "c"])],
    "datetime": [np.array(["2024-01-01", "2024-02-01"], dtype="datetime64[D]")],
    "object": [np.array(["x", 1, None, 2.5, ("t", 1), decimal.Decimal("1.5")], dtype=object)],
    "object lists": [np.array([[1, 2], ["a"]], dtype=object)],
    "structured": [np.array([(1, 2.0)], dtype=[("i", "i4"), ("f", "f8")])],
    "frame": [frame],
    "series": [frame["c"]],
    "index": [frame.index],
    "frame with lists": [pd.DataFrame({"a": [[1, 2], [3]], "b": [{"k": 1}, {"k": 2}]})],
    "containers": [[1, "a", {"k": {"set", "of", "words"}}, (2.0, None)], {"z": 1, "y": [2]}],
    "scalars": [1, 2.5, "text", b"bytes", None, True, np.float32(1.5), np.int64(3)],
    "datetime scalar": [datetime.date(2024, 1, 1), pd.Timestamp("2024-01-01")],
    "nested arrays": [{"X": np.ones((2, 2)), "y": pd.Series([1, 2])}],
    "unpicklable": [{"lock": threading.Lock(), "rows": [1, 2]}],
}
try:
    import torch
except ImportError:
    pass
else:
    generator = torch.Generator().manual_seed(0)
    VALUES["tensor"] = [torch.randn(3, 4, generator=generator)]
    VALUES["tensor int"] = [torch.arange(6).reshape(2, 3)]
    VALUES["tensor bfloat16"] = [torch.ones(3, dtype=torch.bfloat16)]
    VALUES["tensor grad"] = [torch.ones(2, requires_grad=True) * 2]
    VALUES["tensors in a list"] = [[torch.zeros(2), {"t": torch.ones(1)}]]
"""

# Pairs that hold different data and must not hash alike.
DIFFERENT = """
import numpy as np
import pandas as pd

PAIRS = {
    "value": ([np.array([1.0, 2.0])], [np.array([1.0, 2.5])]),
    "dtype": ([np.array([1, 2], dtype=np.int64)], [np.array([1, 2], dtype=np.int32)]),
    "shape": ([np.arange(6).reshape(2, 3)], [np.arange(6).reshape(3, 2)]),
    "columns": ([pd.DataFrame({"a": [1]})], [pd.DataFrame({"b": [1]})]),
    "object": ([np.array(["a", 1], dtype=object)], [np.array(["a", "1"], dtype=object)]),
    "order": ([[1, 2]], [[2, 1]]),
    "split": ([["ab", "c"]], [["a", "bc"]]),
    "type": ([[1]], [[1.0]]),
}
try:
    import torch
except ImportError:
    pass
else:
    PAIRS["tensor"] = ([torch.zeros(2)], [torch.zeros(3)])
    PAIRS["tensor dtype"] = ([torch.zeros(2)], [torch.zeros(2, dtype=torch.float64)])
    PAIRS["tensor or array"] = ([torch.zeros(2)], [np.zeros(2, dtype=np.float32)])
"""

HASH = """
import json, sys
sys.path.insert(0, sys.argv[1])
from nb2prod.generate.runtime.contracts import fingerprint
namespace = {}
exec(sys.argv[2], namespace)
print(json.dumps({name: fingerprint(values) for name, values in namespace["VALUES"].items()}))
"""


@pytest.fixture(scope="module")
def hashes_of_two_processes() -> tuple[dict[str, str], dict[str, str]]:
    """The fingerprints of VALUES from two fresh interpreters with different string-hash
    seeds, run side by side; both tests below read them (each child imports torch, slow)."""
    children = [
        subprocess.Popen(
            [sys.executable, "-c", HASH, str(ROOT), VALUES],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        for seed in ("1", "2")
    ]
    try:
        outputs = [child.communicate(timeout=300) for child in children]
    finally:
        for child in children:
            child.kill()  # only if still running (a timeout)
    for child, (_, stderr) in zip(children, outputs, strict=True):
        assert child.returncode == 0, stderr
    return json.loads(outputs[0][0]), json.loads(outputs[1][0])


def test_equal_data_hashes_alike_in_two_processes(hashes_of_two_processes) -> None:
    first, second = hashes_of_two_processes
    assert first == second
    assert len(set(first.values())) == len(first)  # and the cases do not collide


def test_tensors_hash_alike_in_two_processes(hashes_of_two_processes) -> None:
    pytest.importorskip("torch")
    first, second = hashes_of_two_processes
    tensors = {name for name in first if name.startswith("tensor")}
    assert len(tensors) == 5
    assert {n: first[n] for n in tensors} == {n: second[n] for n in tensors}


def test_different_data_hashes_differently() -> None:
    namespace: dict = {}
    exec(DIFFERENT, namespace)
    for name, (a, b) in namespace["PAIRS"].items():
        assert contracts.fingerprint(a) != contracts.fingerprint(b), name
        assert contracts.fingerprint(a) == contracts.fingerprint(a), name
    cyclic: list = [1]
    cyclic.append(cyclic)
    assert contracts.fingerprint([cyclic]) == contracts.fingerprint([cyclic])


# ---- what a value looks like -------------------------------------------------------------------


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"age": [31, 45, 27], "income": [1.5, 2.0, 0.5]})


def test_a_value_matches_its_own_description_through_json(tmp_path: Path) -> None:
    recorded = {"functions": {"clean": {"inputs": {}, "outputs": {}}}}
    recorded["functions"]["clean"]["outputs"]["frame"] = contracts.describe(_frame())
    path = tmp_path / "pipeline_contracts.json"
    path.write_text(json.dumps(recorded))
    expected = contracts.load_contracts(path)["clean"]["outputs"]["frame"]
    assert expected == {
        "type": "pandas.DataFrame",
        "shape": [3, 2],
        "columns": ["age", "income"],
        "dtypes": {"age": "int64", "income": "float64"},
    }
    assert contracts.differences(expected, _frame()) == []


def test_a_wrong_dtype_a_lost_column_and_a_lost_row_are_named() -> None:
    expected = contracts.describe(_frame())
    assert contracts.differences(expected, _frame().astype({"age": float})) == [
        "dtypes: expected {'age': 'int64', 'income': 'float64'}, "
        "got {'age': 'float64', 'income': 'float64'}"
    ]
    found = contracts.differences(expected, _frame().drop(columns=["income"]))
    assert [line.split(":")[0] for line in found] == ["shape", "columns", "dtypes"]
    assert contracts.differences(expected, _frame().head(2)) == [
        "shape: expected [3, 2], got [2, 2]"
    ]
    array = contracts.describe(np.zeros((2, 3), dtype=np.float32))
    assert contracts.differences(array, np.zeros((2, 3))) == [
        "dtype: expected 'float32', got 'float64'"
    ]
    assert contracts.differences({"type": "builtins.list", "length": 2}, [1, 2, 3]) == [
        "length: expected 2, got 3"
    ]


def test_metrics_are_numbers_or_dicts_of_numbers() -> None:
    values = {
        "rmse": np.float64(0.5),
        "n_test": 30,
        "report": {"accuracy": 0.9, "macro": {"f1": 0.8}, "rmse": 0.1},
        "flag": True,
        "frame": _frame(),
        "scalar_array": np.array(2.0),
    }
    assert contracts.metric_values(values, list(values)) == {
        "rmse": 0.5,
        "n_test": 30.0,
        "accuracy": 0.9,
        "report.rmse": 0.1,  # the name is taken: the source names it
        "scalar_array": 2.0,
    }
    assert contracts.metric_values(values, ["missing"]) == {}


def test_what_counts_as_a_metric_number() -> None:
    """Training, the probe, verify and the generated papermill test all read metrics with
    `metric_values`; these cases pin its edges, so a change to them is a decision."""
    import decimal
    import fractions

    numbers = {
        "np_int": np.int64(3),
        "np_float16": np.float16(0.5),
        "nan": float("nan"),  # kept, not dropped: verify reports it (NaN equals NaN there)
        "inf": np.float32("inf"),
        "zero_d": np.array(2.0),
    }
    not_numbers = {
        "bool": True,
        "np_bool": np.bool_(True),
        "complex": np.complex128(1 + 2j),
        "one_element": np.array([1.0]),  # 1-d, not 0-d
        "text": "0.5",
        "text_0d": np.array("x"),
        "decimal": decimal.Decimal("1.5"),
        "fraction": fractions.Fraction(1, 2),
        "none": None,
    }
    found = contracts.metric_values({**numbers, **not_numbers}, [*numbers, *not_numbers])
    assert list(found) == list(numbers)
    assert all(type(value) is float for value in found.values())
    assert found["np_float16"] == 0.5 and found["zero_d"] == 2.0
    # a dict's own numbers only (nested dicts and flags are left out), keys as strings
    report = {1: np.float32(0.25), "nested": {"f1": 0.8}, "flag": False}
    assert contracts.metric_values({"report": report}, ["report"]) == {"1": 0.25}


def test_zero_d_tensors_are_metrics_and_flag_tensors_are_not() -> None:
    torch = pytest.importorskip("torch")
    values = {"loss": torch.tensor(0.5), "done": torch.tensor(True), "many": torch.ones(2)}
    assert contracts.metric_values(values, list(values)) == {"loss": 0.5}


NAN, INF = float("nan"), float("inf")
METRIC_PAIRS = [  # (notebook's, pipeline's), None where one side has no such metric
    (0.5, 0.5), (NAN, NAN), (INF, INF), (-INF, -INF), (0.0, -0.0), (1e300, 1e300),
    (0.1 + 0.2, 0.3), (1.0, 1.0 + 2**-52), (1.0, 1.0 + 1e-7), (100.0, 101.0),
    (NAN, 0.5), (0.5, NAN), (INF, -INF), (INF, 1e308), (INF, NAN), (0.5, None), (None, 0.5),
]  # fmt: skip


@pytest.mark.parametrize("rtol", [0.0, 1e-9, 1e-6, 0.02])
def test_metrics_agree_as_verify_compares_them(rtol: float) -> None:
    """The generated papermill test's comparison fails on exactly the metrics verify's
    does, for verify's default (`--rtol 0`: equal, NaN on both sides agreeing) and others."""
    notebook = {f"m{i}": a for i, (a, _) in enumerate(METRIC_PAIRS) if a is not None}
    pipeline = {f"m{i}": b for i, (_, b) in enumerate(METRIC_PAIRS) if b is not None}
    differ = contracts.metric_differences(notebook, pipeline, rtol)
    failed = {c.name for c in _compare_metrics(notebook, pipeline, rtol) if not c.passed}
    assert set(differ) == failed
    assert {"m0", "m1", "m2", "m3", "m4", "m5"}.isdisjoint(failed)  # NaN == NaN, 0 == -0
    assert {"m10", "m11", "m12", "m13", "m14", "m15", "m16"} <= failed
    assert differ["m15"] == (0.5, None) and differ["m16"] == (None, 0.5)
    assert ("m6" in failed) == (rtol == 0.0)  # 0.1 + 0.2 != 0.3 exactly
    assert ("m9" in failed) == (rtol < 0.01)


def test_predictions_become_plain_json() -> None:
    predictions = {"labels": np.array([1, 0]), "scores": pd.Series([0.25, 0.75]), 3: (1, 2)}
    assert contracts.plain(predictions) == {
        "labels": [1, 0],
        "scores": [0.25, 0.75],
        "3": [1, 2],
    }
    assert json.loads(json.dumps(contracts.plain(_frame()))) == [[31, 1.5], [45, 2.0], [27, 0.5]]

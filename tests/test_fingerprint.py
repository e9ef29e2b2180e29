"""`fingerprint()` of the generated `contracts.py`: equal data, equal hash, in any process.

The template is rendered as nb2prod renders it and imported in two fresh interpreters
(each with its own string-hash seed), which hash the same values; the hashes must agree,
and values that differ in content, dtype, shape or column names must hash differently.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from nb2prod.render import _environment

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
from contracts import fingerprint
namespace = {}
exec(sys.argv[2], namespace)
print(json.dumps({name: fingerprint(values) for name, values in namespace["VALUES"].items()}))
"""


@pytest.fixture(scope="module")
def contracts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("contracts")
    plan = SimpleNamespace(package="shop_model", notebook=SimpleNamespace(path=Path("nb.ipynb")))
    text = _environment().get_template("src/package/contracts.py.j2").render({"plan": plan})
    (root / "contracts.py").write_text(text)
    return root


def _hashes(contracts_dir: Path, seed: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    result = subprocess.run(
        [sys.executable, "-c", HASH, str(contracts_dir), VALUES],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_equal_data_hashes_alike_in_two_processes(contracts_dir: Path) -> None:
    first, second = _hashes(contracts_dir, "1"), _hashes(contracts_dir, "2")
    assert first == second
    assert len(set(first.values())) == len(first)  # and the cases do not collide


def test_tensors_hash_alike_in_two_processes(contracts_dir: Path) -> None:
    pytest.importorskip("torch")
    first, second = _hashes(contracts_dir, "3"), _hashes(contracts_dir, "4")
    tensors = {name for name in first if name.startswith("tensor")}
    assert len(tensors) == 5
    assert {n: first[n] for n in tensors} == {n: second[n] for n in tensors}


def test_different_data_hashes_differently(contracts_dir: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "rendered_contracts", contracts_dir / "contracts.py"
    )
    assert spec is not None and spec.loader is not None
    contracts = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(contracts)
    namespace: dict = {}
    exec(DIFFERENT, namespace)
    for name, (a, b) in namespace["PAIRS"].items():
        assert contracts.fingerprint(a) != contracts.fingerprint(b), name
        assert contracts.fingerprint(a) == contracts.fingerprint(a), name
    cyclic: list = [1]
    cyclic.append(cyclic)
    assert contracts.fingerprint([cyclic]) == contracts.fingerprint([cyclic])

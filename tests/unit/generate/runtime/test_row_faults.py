"""The generated project's `row_faults.py`, tested where it lives (nb2prod/generate/runtime).

Whose fault an error is: a ValueError, KeyError or TypeError raised inside one of the
notebook's functions is the row's (BentoML's `InvalidArgument`, HTTP 400, naming the
function); the same error raised elsewhere, or any other error, passes through unchanged.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from nb2prod.generate.render import GENERATE

pytest.importorskip("bentoml")
from bentoml.exceptions import InvalidArgument  # noqa: E402


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "row_faults", GENERATE / "runtime" / "row_faults.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


row_faults = _load().row_faults


def _lookup(table: dict[str, int], key: str) -> int:
    return table[key]


def preprocess_rows(rows: list[str]) -> list[int]:
    """A notebook function: an encoder that knows two categories (through a helper)."""
    return [_lookup({"red": 0, "blue": 1}, row) for row in rows]


def predict(model: Any, features: list[int]) -> list[int]:
    """A notebook function: refuses what it cannot score."""
    if any(f > 0 for f in features) and model == "strict":
        raise ValueError("blue is not scored yet")
    if model is None:
        raise RuntimeError("the model is not loaded")
    return [f * 2 for f in features]


def to_input(rows: list[str]) -> list[str]:
    """The service's own code, not the notebook's."""
    if not rows:
        raise ValueError("no rows")
    return rows


def _serve(rows: list[str], model: Any = "lenient") -> list[int]:
    with row_faults(predict, preprocess_rows):
        return predict(model, preprocess_rows(to_input(rows)))


def test_a_row_fault_names_the_function_that_refused_it() -> None:
    with pytest.raises(InvalidArgument) as raised:
        _serve(["green"])
    assert raised.value.error_code == 400
    assert (
        str(raised.value) == "preprocess_rows failed on this input: KeyError: no entry for 'green'"
    )
    assert isinstance(raised.value.__cause__, KeyError)
    with pytest.raises(InvalidArgument, match="^predict failed on this input: ValueError: blue"):
        _serve(["red", "blue"], model="strict")
    assert _serve(["red", "blue"]) == [0, 2]


def test_a_type_error_in_the_notebooks_code_is_the_rows_fault() -> None:
    def scale(rows: list[Any]) -> list[float]:
        return [row * 1.5 for row in rows]

    refused = pytest.raises(InvalidArgument, match="^scale failed on this input: TypeError: ")
    with refused, row_faults(scale):
        scale([None])


def test_a_decorated_function_is_still_recognised() -> None:
    def logged(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapper(*args: Any) -> Any:
            return function(*args)

        return wrapper

    decorated = logged(preprocess_rows)
    with pytest.raises(InvalidArgument, match="^preprocess_rows failed"), row_faults(decorated):
        decorated(["green"])


@pytest.mark.parametrize(
    ("rows", "model", "error"),
    [([], "lenient", ValueError), (["red"], None, RuntimeError)],
    ids=["the service's own ValueError", "a RuntimeError in the notebook's code"],
)
def test_other_errors_pass_through_unchanged(rows: list[str], model: Any, error: type) -> None:
    with pytest.raises(error) as raised:
        _serve(rows, model)
    assert not isinstance(raised.value, InvalidArgument)

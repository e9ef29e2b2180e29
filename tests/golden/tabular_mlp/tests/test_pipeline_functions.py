"""Each pipeline function, called on the inputs it gets in a default run.

`reference/pipeline_contracts.json` holds the types, shapes, columns and dtypes
of every function's inputs and outputs, recorded by nb2prod when it ran the
notebook's code. A change that drops a column, a row or an output fails the
test named after the function that changed.

One default run checks every function: its inputs when it is called, its outputs
when it returns. Nothing is copied (a deep copy fails on objects such as
statsmodels' `Dataset`), and a later in-place change cannot hide a difference.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tabular_mlp import pipeline
from tabular_mlp.config import Config
from tabular_mlp.contracts import differences, load_contracts

REFERENCE = Path(__file__).resolve().parent.parent / "reference"
CONTRACTS = load_contracts(REFERENCE / "pipeline_contracts.json")
OUTPUTS: dict[str, list[str]] = {
    "load_data": ["df"],
    "preprocess": [
        "features",
        "test_df",
        "scaler",
        "X_train",
        "X_test",
        "y_mean",
        "y_std",
        "y_train",
        "y_test",
    ],
    "train_model": ["model"],
    "evaluate": ["mae", "r2"],
    "select_rows": ["new_patients"],
    "predict": ["progression"],
}


@pytest.fixture(scope="module")
def contract_differences() -> dict[str, list[str]]:
    """Per function called in a default run: how its inputs and outputs differ from the record."""
    found: dict[str, list[str]] = {}

    def checking(function: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            contract, problems = CONTRACTS[function], found.setdefault(function, [])
            for name, value in (
                inspect.signature(call).bind(*args, **kwargs).arguments.items()
            ):
                expected = contract["inputs"].get(name)
                if expected is None:
                    problems.append(f"input `{name}` is not in the record")
                else:
                    problems += [
                        f"input `{name}`: {d}" for d in differences(expected, value)
                    ]
            result = call(*args, **kwargs)
            names = OUTPUTS[function]
            values = result if len(names) > 1 else (result,)
            for name, value in zip(names, values if names else (), strict=True):
                problems += [
                    f"returned `{name}`: {d}"
                    for d in differences(contract["outputs"][name], value)
                ]
            return result

        return run

    originals = {function: getattr(pipeline, function) for function in OUTPUTS}
    try:
        for function, call in originals.items():
            setattr(pipeline, function, checking(function, call))
        pipeline.run_pipeline(Config())
    finally:
        for function, call in originals.items():
            setattr(pipeline, function, call)
    return found


@pytest.mark.parametrize("function", list(OUTPUTS))
def test_function_keeps_its_recorded_contract(
    function: str, contract_differences: dict[str, list[str]]
) -> None:
    assert function in contract_differences, (
        f"`{function}` was not called in a default run"
    )
    problems = contract_differences[function]
    assert not problems, f"`{function}` differs from its recorded contract: {problems}"

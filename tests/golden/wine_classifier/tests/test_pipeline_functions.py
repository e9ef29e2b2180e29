"""Each pipeline function, called on the inputs it gets in a default run.

`reference/pipeline_contracts.json` holds the types, shapes, columns and dtypes
of every function's inputs and outputs, recorded by nb2prod when it ran the
notebook's code. A change that drops a column, a row or an output fails the
test named after the function that changed.
"""

from __future__ import annotations

import copy
import inspect
from pathlib import Path
from typing import Any

import pytest

from wine_classifier import pipeline
from wine_classifier.contracts import differences, load_contracts

REFERENCE = Path(__file__).resolve().parent.parent / "reference"
CONTRACTS = load_contracts(REFERENCE / "pipeline_contracts.json")
OUTPUTS: dict[str, list[str]] = {
    "load_data": ["df"],
    "preprocess": ["X_train", "X_test", "y_train", "y_test"],
    "train_model": ["model"],
    "evaluate": ["accuracy", "f1_macro", "sample"],
    "predict": ["predictions"],
}


@pytest.mark.parametrize("function", list(OUTPUTS))
def test_function_keeps_its_recorded_contract(
    function: str, step_arguments: dict[str, tuple[tuple[Any, ...], dict[str, Any]]]
) -> None:
    args, kwargs = copy.deepcopy(step_arguments[function])
    call = getattr(pipeline, function)
    contract = CONTRACTS[function]
    for name, value in inspect.signature(call).bind(*args, **kwargs).arguments.items():
        assert not differences(contract["inputs"][name], value), (function, name)
    result = call(*args, **kwargs)
    names = OUTPUTS[function]
    values = result if len(names) > 1 else (result,)
    for name, value in zip(names, values if names else (), strict=True):
        problems = differences(contract["outputs"][name], value)
        assert not problems, f"`{function}` returned a different `{name}`: {problems}"

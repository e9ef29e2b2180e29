"""torch_model.py, the generated project's PyTorch runtime: storing, devices, the ONNX twin."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from nb2prod.generate.runtime import torch_model  # noqa: E402
from nb2prod.generate.runtime.torch_model import (  # noqa: E402
    OnnxModule,
    export,
    load_module,
    model_input,
    module_bytes,
    on_device,
    onnx_twin,
    serving_device,
    trained_device,
)


class TinyCNN(torch.nn.Module):
    """A module of the kind the examples train: conv, pool, linear."""

    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2)
        )
        self.head = torch.nn.Linear(4 * 4 * 4, 3)

    def forward(self, x: Any) -> Any:
        return self.head(self.features(x).flatten(1))


@pytest.fixture(scope="module")
def model() -> TinyCNN:
    torch.manual_seed(0)
    return TinyCNN().eval()


@pytest.fixture(scope="module")
def rows() -> Any:
    torch.manual_seed(1)
    return torch.rand(40, 1, 8, 8)


def predict(model: Any, rows: Any) -> dict[str, Any]:
    """Predict code as notebooks write it: eval, call, softmax, argmax, to numpy."""
    model.eval()
    probabilities = torch.softmax(model(rows.to("cpu")), dim=1)
    return {"probabilities": probabilities, "label": probabilities.argmax(dim=1).numpy()}


def test_a_stored_module_loads_with_the_same_weights_in_eval_mode(model, rows) -> None:
    loaded = load_module(module_bytes(model.train()), "cpu")
    model.eval()
    assert not loaded.training
    with torch.inference_mode():
        assert torch.equal(loaded(rows), model(rows))


def test_the_serving_device_is_the_training_one_only_where_it_exists(model) -> None:
    assert trained_device(model) == "cpu"
    assert trained_device(torch.nn.ReLU()) == "cpu"  # no weights at all
    assert serving_device("cpu") == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert serving_device("cuda") == expected


def test_values_naming_the_training_device_name_the_serving_one() -> None:
    state = {
        "device": "cuda",
        "where": torch.device("cuda"),
        "first": "cuda:0",
        "label": "cuda is fast",  # text that is no device stays
        "classes": ["cuda"],
        "scale": torch.ones(2),
    }
    moved = on_device(state, "cuda", "cpu")
    assert moved["device"] == "cpu" and moved["first"] == "cpu"
    assert moved["where"] == torch.device("cpu")
    assert moved["label"] == "cuda is fast" and moved["classes"] == ["cuda"]
    assert moved["scale"].device.type == "cpu"
    assert on_device({"device": "cpu"}, "cpu", "cpu") == {"device": "cpu"}


def test_the_module_input_is_what_the_predict_code_hands_it(model, rows) -> None:
    """Not the request rows: here the code scales them first."""
    example, training = model_input(model, lambda m: m(rows[:2] * 2.0))
    assert torch.equal(example, rows[:2] * 2.0) and training is False
    with pytest.raises(ValueError, match="never calls the module"):
        model_input(model, lambda m: None)
    with pytest.raises(ValueError, match="one tensor"):
        model_input(torch.nn.Bilinear(2, 2, 1), lambda m: m(torch.ones(1, 2), torch.ones(1, 2)))


def test_the_twin_agrees_on_every_row_and_says_which_runtime_serves(model, rows) -> None:
    check = onnx_twin(model, predict, rows)
    assert check.onnx is not None, check.reason
    assert check.details["rows"] == 40 and check.details["rows_one_by_one"] == 40
    assert check.details["input_shape"] == ["batch", 1, 8, 8]
    assert check.details["max_abs_difference"] <= torch_model.ATOL
    runtime = "ONNX Runtime serves" if check.serve else "torch serves"
    assert check.reason.startswith(runtime) and "all 40 rows" in check.reason
    twin = OnnxModule(check.onnx)
    assert twin.eval() is twin and twin.to("cpu") is twin
    with torch.inference_mode():
        got = predict(twin, rows[:5])
    assert isinstance(got["probabilities"], torch.Tensor)
    np.testing.assert_array_equal(got["label"], predict(model, rows[:5])["label"])


def test_export_keeps_the_batch_dimension_free(model, rows) -> None:
    twin = OnnxModule(export(model, rows[:2], training=False))
    assert twin(rows).shape == (40, 3) and twin(rows[:1]).shape == (1, 3)


def test_no_twin_when_the_predict_code_needs_more_than_calling_the_module(model, rows) -> None:
    """`model.head(...)`: the twin has no submodules; torch keeps serving, and the
    metadata says why."""

    def uses_a_submodule(model: Any, rows: Any) -> dict[str, Any]:
        return {"logits": model.head(model.features(rows).flatten(1))}

    check = onnx_twin(model, uses_a_submodule, rows)
    assert check.onnx is None and not check.serve
    assert "never calls the module" in check.reason or "fails with the twin" in check.reason


def test_no_twin_when_it_disagrees(model, rows, monkeypatch: pytest.MonkeyPatch) -> None:
    """A twin off by more than the tolerance is dropped, naming the output and the row."""
    real_call = OnnxModule.__call__

    def off(self: OnnxModule, inputs: Any) -> Any:
        return real_call(self, inputs) + 0.01

    monkeypatch.setattr(OnnxModule, "__call__", off)

    def logits(model: Any, rows: Any) -> dict[str, Any]:
        return {"logits": model(rows)}

    check = onnx_twin(model, logits, rows)
    assert check.onnx is None
    assert check.reason.startswith("`logits` differs from torch's by 0.01 on row 0 of 40")


def test_no_rows_no_twin(model) -> None:
    check = onnx_twin(model, predict, torch.rand(0, 1, 8, 8))
    assert check.onnx is None and "no reference rows" in check.reason


def test_rows_of_a_table_are_sliced_by_position(model) -> None:
    """A DataFrame input (an MLP's raw features, scaled by the predict code)."""
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(np.random.default_rng(0).random((12, 2)), index=range(100, 112))
    mlp = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))

    def scaled(model: Any, rows: Any) -> dict[str, Any]:
        values = torch.tensor(rows.to_numpy() * 3.0, dtype=torch.float32)
        return {"y": model(values).squeeze(1).numpy() * 10.0 + 1.0}

    check = onnx_twin(mlp, scaled, frame)
    assert check.onnx is not None and check.details["input_shape"] == ["batch", 2], check.reason

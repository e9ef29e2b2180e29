"""A PyTorch model as the project stores and serves it, and its ONNX Runtime twin.

Storing: `torch.save` writes the whole module (its class by import path, which nb2prod
lifted into the package's `pipeline.py`, and its weights); loading maps it onto the
serving device, so a model trained on a GPU loads on a machine without one.

Serving device: the device the model trained on when this machine has it, else the CPU.
A value the predict code reads that names the training device (`device = "cuda" if ...`)
is replaced by the serving device, so the notebook's own `.to(device)` lines still work.

The twin: training exports the module to ONNX (`torch.onnx.export`, the batch dimension
dynamic) with the very tensor the predict code hands the module, then runs the predict
code with the twin in the module's place on every reference row, all at once and row by
row. The twin is kept only when every output agrees (integers and labels exactly, floats
within RTOL and ATOL); the service uses it only when it is also as fast on one row
(see TIE).
`model.onnx` runs with `onnxruntime` alone: the edge artifact.
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

RTOL, ATOL = 1e-4, 1e-5
"""How far the twin's float outputs may be from torch's: float32 kernels round differently."""
ROW_BY_ROW = 100
"""Reference rows the twin also answers one at a time (as `/predict` asks it)."""
TIMING_CALLS = 30
"""One-row predict calls timed for each runtime (the median counts)."""
TIE = 1.1
"""ONNX Runtime serves unless it is this much slower than torch on one row: within the
timing's noise the two are even, and then the lighter runtime (no autograd engine, the
same file as the edge artifact) wins, so that two trainings choose alike."""
OPSET = 17


def module_bytes(model: torch.nn.Module) -> bytes:
    """The module as `torch.save` writes it (weights on the device they are on)."""
    buffer = io.BytesIO()
    torch.save(model, buffer)
    return buffer.getvalue()


def load_module(data: bytes, device: str) -> torch.nn.Module:
    """The stored module on `device`, in eval mode (no dropout, frozen batch-norm)."""
    model = torch.load(io.BytesIO(data), map_location=device, weights_only=False)
    return model.eval()


def trained_device(model: torch.nn.Module) -> str:
    """Where the module's weights are (`cpu`, `cuda`, `mps`); `cpu` for a module without
    any."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device.type
    return "cpu"


def serving_device(trained_on: str) -> str:
    """The training device when this machine has one, else the CPU."""
    if trained_on == "cuda" and torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if trained_on == "mps" and mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def on_device(state: dict[str, Any], trained_on: str, device: str) -> dict[str, Any]:
    """`state` with each value naming the training device (a string or `torch.device`)
    replaced by the serving device, and tensors moved there."""

    def moved(value: Any) -> Any:
        if isinstance(value, torch.device) and value.type == trained_on:
            return torch.device(device)
        if (
            isinstance(value, str)
            and value.split(":")[0] == trained_on
            and value in _DEVICES
        ):
            return device
        if isinstance(value, torch.Tensor):
            return value.to(device)
        return value

    return {name: moved(value) for name, value in state.items()}


_DEVICES = {"cpu", "cuda", "mps", *(f"cuda:{i}" for i in range(16))}


def make_deterministic() -> None:
    """Same seed, same weights: deterministic kernels where torch has them (a warning,
    not an error, where it has none), and the cuBLAS setting CUDA needs for them."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)


class OnnxModule:
    """Stands in for the torch module in the notebook's predict code: calling it runs
    ONNX Runtime on the CPU and answers tensors on the caller's device; `eval()`, `to()`
    and friends change nothing."""

    def __init__(self, onnx: bytes) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one request, one core: no thread hand-offs
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            onnx, options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name
        self.training = False

    def __call__(self, inputs: torch.Tensor) -> Any:
        array = inputs.detach().cpu().numpy()
        outputs = self.session.run(None, {self.input_name: array})
        tensors = [torch.from_numpy(output).to(inputs.device) for output in outputs]
        return tensors[0] if len(tensors) == 1 else tuple(tensors)

    forward = __call__

    def eval(self) -> OnnxModule:
        return self

    def train(self, mode: bool = True) -> OnnxModule:
        return self

    def to(self, *args: Any, **kwargs: Any) -> OnnxModule:
        return self

    def cpu(self) -> OnnxModule:
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> OnnxModule:
        return self


@dataclass
class TwinCheck:
    """What training found out about the ONNX twin (kept in the model's metadata)."""

    onnx: bytes | None
    reason: str
    serve: bool = False
    """Agrees and is faster on one row: the service answers from it."""
    details: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k in {"serve", "details"}}


Predict = Callable[[Any, Any], dict[str, Any]]
"""Runs the notebook's predict code on rows with a model (the module, or its twin)."""


def onnx_twin(model: torch.nn.Module, predict: Predict, rows: Any) -> TwinCheck:
    """Export `model` to ONNX and check the twin on every row of `rows` (see the module)."""
    if len(rows) == 0:
        return TwinCheck(None, "no reference rows to check an ONNX twin on")
    with contextlib.redirect_stdout(
        io.StringIO()
    ):  # the predict code may print its rows
        return _checked_twin(model, predict, rows)


def _checked_twin(model: torch.nn.Module, predict: Predict, rows: Any) -> TwinCheck:
    try:
        example, training = model_input(model, lambda m: predict(m, _rows(rows, 0, 2)))
    except ValueError as error:
        return TwinCheck(None, str(error))
    try:
        onnx = export(model, example, training)
        twin = OnnxModule(onnx)
    except Exception as error:  # noqa: BLE001 - the exporter raises many kinds of errors
        return TwinCheck(None, f"torch.onnx.export cannot export it ({_short(error)})")
    with torch.inference_mode():
        expected = predict(model, rows)
        try:
            answers = [("all rows at once", predict(twin, rows))]
            single = [
                predict(twin, _rows(rows, i, i + 1))
                for i in range(min(len(rows), ROW_BY_ROW))
            ]
        except Exception as error:  # noqa: BLE001 - the notebook's code, run with the twin
            return TwinCheck(
                None, f"the predict code fails with the twin ({_short(error)})"
            )
    answers.append(("row by row", _stacked(single)))
    worst = 0.0
    for how, got in answers:
        count = len(rows) if how == "all rows at once" else len(single)
        for name, value in expected.items():
            gap, why = _difference(_array(value)[:count], _array(got.get(name)))
            if why:
                return TwinCheck(None, f"`{name}` {why} ({how})")
            worst = max(worst, gap)
    torch_ms, onnx_ms = (
        _median_ms(predict, m, _rows(rows, 0, 1)) for m in (model, twin)
    )
    details = {
        "rows": len(rows),
        "rows_one_by_one": len(single),
        "rtol": RTOL,
        "atol": ATOL,
        "max_abs_difference": worst,
        "input_shape": ["batch", *example.shape[1:]],
        "input_dtype": str(example.dtype).removeprefix("torch."),
        "torch_ms_per_row": round(torch_ms, 4),
        "onnx_ms_per_row": round(onnx_ms, 4),
    }
    agrees = f"agrees within {worst:.2g} on all {len(rows)} rows"
    speed = f"{onnx_ms:.3f} ms a row against torch's {torch_ms:.3f} ms"
    if onnx_ms < torch_ms * TIE:
        return TwinCheck(
            onnx, f"ONNX Runtime serves: it {agrees}, {speed}", True, details
        )
    return TwinCheck(
        onnx, f"torch serves: ONNX Runtime {agrees} but takes {speed}", False, details
    )


def model_input(
    model: torch.nn.Module, run: Callable[[Any], Any]
) -> tuple[torch.Tensor, bool]:
    """The tensor the predict code hands the module (and whether the module was in
    training mode then), caught by a forward pre-hook while `run(model)` runs."""
    seen: list[tuple[tuple[Any, ...], dict[str, Any], bool]] = []

    def hook(
        module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        if not seen:
            seen.append((args, kwargs, module.training))

    handle = model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        with torch.inference_mode():
            run(model)
    finally:
        handle.remove()
    if not seen:
        raise ValueError("the predict code never calls the module")
    args, kwargs, training = seen[0]
    if kwargs or len(args) != 1 or not isinstance(args[0], torch.Tensor):
        raise ValueError("only a module called with one tensor gets an ONNX twin")
    return args[0].clone(), training


def export(model: torch.nn.Module, example: torch.Tensor, training: bool) -> bytes:
    """The module as ONNX, its first dimension (the batch) dynamic."""
    import onnx  # noqa: F401 - the exporter writes through it: a requirement of the project

    buffer = io.BytesIO()
    was_training = model.training
    model.train(training)
    try:
        with warnings.catch_warnings():
            # The TorchScript exporter is deprecated for the dynamo one, which needs
            # `onnxscript` too; it still exports these modules, so it is kept, quietly.
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                model,
                (example,),
                buffer,
                dynamo=False,
                input_names=["input"],
                output_names=["output"],
                dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                opset_version=OPSET,
            )
    finally:
        model.train(was_training)
    return buffer.getvalue()


def _rows(rows: Any, start: int, stop: int) -> Any:
    """Rows `start` to `stop` of a table, array or tensor, still a table of rows."""
    return rows.iloc[start:stop] if hasattr(rows, "iloc") else rows[start:stop]


def _array(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _stacked(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """Row-by-row answers joined along the first axis, output by output."""
    if not answers:
        return {}
    return {
        name: np.concatenate([np.atleast_1d(_array(a[name])) for a in answers])
        for name in answers[0]
    }


def _difference(expected: np.ndarray, got: np.ndarray) -> tuple[float, str | None]:
    """The largest float gap, or why the twin's output does not agree."""
    if got.shape != expected.shape:
        return 0.0, f"has shape {got.shape}, not {expected.shape}"
    if expected.dtype.kind not in "fc":
        differ = np.flatnonzero(
            (got != expected).reshape(len(expected), -1).any(axis=1)
        )
        if len(differ):
            return 0.0, f"differs from torch's on row {differ[0]} of {len(expected)}"
        return 0.0, None
    gaps = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    allowed = ATOL + RTOL * np.abs(expected.astype(np.float64))
    both_nan = np.isnan(got) & np.isnan(expected)
    bad = ~((gaps <= allowed) | both_nan)
    if bad.any():
        row = int(np.argmax(bad.reshape(len(expected), -1).any(axis=1)))
        worst = float(np.nanmax(np.where(bad, gaps, 0.0)))
        return (
            worst,
            f"differs from torch's by {worst:.2g} on row {row} of {len(expected)}",
        )
    return float(np.nanmax(gaps, initial=0.0)), None


def _median_ms(predict: Predict, model: Any, row: Any) -> float:
    with torch.inference_mode():
        predict(model, row)  # warm up: first calls allocate
        times = []
        for _ in range(TIMING_CALLS):
            start = time.perf_counter()
            predict(model, row)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _short(error: BaseException) -> str:
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= 200 else text[:197] + "..."

"""The trained PyTorch model in BentoML's model store: saved by training, loaded by the service.

The store lives in `$BENTOML_HOME` (default `~/bentoml`). Training also exports the
model to a `.bentomodel` archive, which the image build imports, so the container
starts with the model inside and needs no network.

The module is stored whole with `torch.save` (its class by import path, from this
package, and its weights); see `torch_model.py` for the device it loads on.
Training also exports it to ONNX and checks that twin against torch on every
reference row: `model.onnx` runs with `onnxruntime` alone (the edge artifact), and
the service answers from it when it agrees and is faster (the metadata says which).
The fitted transformers stored with it (scaler) get float64 ONNX twins,
checked on every reference row: serving them needs no scikit-learn (see `onnx_model.py`).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import bentoml
import torch

from tabular_mlp.onnx_model import load_state_twins, transform_twins
from tabular_mlp.torch_model import (
    OnnxModule,
    Predict,
    load_module,
    module_bytes,
    on_device,
    onnx_twin,
    serving_device,
    trained_device,
)

MODEL_NAME = "tabular-mlp"
MODEL_FILE = "model.pt"
STATE_FILE = "state.pkl"
STATE_TWINS = ["scaler"]
"""State the predict code only calls `.transform` on: each gets an ONNX twin if it agrees."""
STATE_TWINS_FILE = "state_twins.pkl"
TRAINED_STATE_FILE = "state_as_trained.pkl"
"""The twinned values as trained (for MODEL_RUNTIME=trained): state.pkl lacks them."""
ONNX_FILE = "model.onnx"
SERVING_FILE = "serving.json"
ARCHIVE = "model.bentomodel"
RUNTIMES = ("best", "trained", "onnx")
"""What `load_model` serves: training's choice, the module, or its ONNX twin."""


def save_model(
    model: torch.nn.Module,
    metadata: dict[str, Any],
    export_dir: Path,
    state: dict[str, Any],
    reference_rows: Any = None,
    predict: Predict | None = None,
) -> dict[str, Any]:
    """Store `model`, the values prediction reads besides it, and `metadata`; export it to
    `export_dir` (and its checked ONNX twin to `export_dir/model.onnx`). Returns the metadata as
    stored, with the tag and the serving runtime."""
    trained_on = trained_device(model)
    if reference_rows is not None and predict is not None:
        twin = onnx_twin(model, predict, reference_rows)
    else:
        twin = None
    onnx = twin.onnx if twin else None
    runtime = "onnx" if twin and twin.serve else "torch"
    why = twin.reason if twin else "no reference rows to check an ONNX twin on"
    twins, state_reasons = transform_twins(state, STATE_TWINS, reference_rows)
    metadata = {
        **metadata,
        "framework": "pytorch",
        "framework_version": str(torch.__version__),  # a str subclass YAML cannot write
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "device": trained_on,
        "runtime": runtime,
        "runtime_reason": why,
        "onnx": {"file": ONNX_FILE, **twin.details} if twin and onnx else None,
        "state_runtime": state_reasons,
    }
    with bentoml.models.create(MODEL_NAME, metadata=_without_nones(metadata)) as stored:
        Path(stored.path_of(MODEL_FILE)).write_bytes(module_bytes(model))
        write_state(stored, state, twins)
        serving = {"trained_on": trained_on, "runtime": runtime, "reason": why}
        Path(stored.path_of(SERVING_FILE)).write_text(json.dumps(serving))
        if onnx is not None:
            Path(stored.path_of(ONNX_FILE)).write_bytes(onnx)
    if onnx is not None:
        (export_dir / ONNX_FILE).write_bytes(onnx)
    archive = (export_dir / ARCHIVE).resolve()  # BentoML reads relative paths from /
    archive.unlink(missing_ok=True)
    bentoml.models.export_model(str(stored.tag), str(archive))
    return {**metadata, "bentoml_tag": str(stored.tag)}


def _without_nones(value: Any) -> Any:
    """BentoML metadata takes basic types only: drop unset (None) entries."""
    if isinstance(value, dict):
        return {k: _without_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nones(v) for v in value if v is not None]
    return value


def _serving(stored: Any) -> dict[str, str]:
    return json.loads((Path(stored.path) / SERVING_FILE).read_text())


def load_model(stored: Any, *, runtime: str = "best") -> Any:
    """The model of a stored BentoML model (a `BentoModel` or a `Model`), on the serving
    device; its ONNX twin instead when `runtime` is "onnx", or "best" and
    training chose the twin. `runtime` "trained" is the module itself."""
    folder, serving = Path(stored.path), _serving(stored)
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
    if runtime == "onnx" or (runtime == "best" and serving["runtime"] == "onnx"):
        if not (folder / ONNX_FILE).exists():
            why = serving.get("reason", "see its metadata's runtime_reason")
            raise ValueError(f"{stored.tag} has no ONNX twin: {why}")
        return OnnxModule((folder / ONNX_FILE).read_bytes())
    device = serving_device(serving["trained_on"])
    return load_module((folder / MODEL_FILE).read_bytes(), device)


def write_state(stored: Any, state: dict[str, Any], twins: dict[str, Any]) -> None:
    """state.pkl without the twinned values (unpickling them imports scikit-learn), which
    go to their own file beside their twins."""
    trained = {name: state[name] for name in twins}
    rest = {name: value for name, value in state.items() if name not in twins}
    Path(stored.path_of(STATE_FILE)).write_bytes(pickle.dumps(rest))
    if twins:
        Path(stored.path_of(TRAINED_STATE_FILE)).write_bytes(pickle.dumps(trained))
        Path(stored.path_of(STATE_TWINS_FILE)).write_bytes(pickle.dumps(twins))


def load_state(stored: Any, *, runtime: str = "best") -> dict[str, Any]:
    """The values besides the model that the predict section reads, saved by training:
    twinned transformers as their ONNX twins, or as trained when `runtime` is "trained";
    the training device replaced by the serving device."""
    folder = Path(stored.path)
    state = pickle.loads((folder / STATE_FILE).read_bytes())
    if (folder / STATE_TWINS_FILE).exists():
        if runtime == "trained":
            state.update(pickle.loads((folder / TRAINED_STATE_FILE).read_bytes()))
        else:
            state.update(
                load_state_twins(pickle.loads((folder / STATE_TWINS_FILE).read_bytes()))
            )
    trained_on = _serving(stored)["trained_on"]
    return on_device(state, trained_on, serving_device(trained_on))

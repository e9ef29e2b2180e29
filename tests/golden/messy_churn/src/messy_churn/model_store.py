"""The trained model in BentoML's model store: saved by training, loaded by the service.

The store lives in `$BENTOML_HOME` (default `~/bentoml`). Training also exports the
model to a `.bentomodel` archive, which the image build imports, so the container
starts with the model inside and needs no network.
When skl2onnx can convert the model and the conversion agrees with it, an ONNX
twin is stored beside it and the service uses that (see `onnx_model.py`).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import bentoml

from messy_churn.onnx_model import load_twin, onnx_twin, twin_facts, twin_tolerance

MODEL_NAME = "messy-churn"
MODEL_FILE = "model.pkl"
STATE_FILE = "state.pkl"
ONNX_FILE = "model.onnx"
TWIN_FILE = "onnx_twin.pkl"
"""What the twin needs of the model (`twin_facts`): serving it unpickles no estimator."""
ARCHIVE = "model.bentomodel"
RUNTIMES = ("best", "trained", "onnx")
"""What `load_model` serves: training's choice, the trained object, or its ONNX twin."""


def save_model(
    model: Any,
    metadata: dict[str, Any],
    export_dir: Path,
    state: dict[str, Any],
    reference_rows: Any = None,
) -> dict[str, Any]:
    """Store `model`, the values prediction reads besides it, and `metadata`; export it to
    `export_dir`. Returns the metadata as stored, with the tag and the serving runtime."""
    onnx, why = (
        onnx_twin(model, reference_rows) if reference_rows is not None else (None, "")
    )
    metadata = {
        **metadata,
        "runtime": "onnx" if onnx else "python",
        "runtime_reason": why,
        "onnx": {"file": ONNX_FILE, **twin_tolerance(model)} if onnx else None,
    }
    with bentoml.models.create(MODEL_NAME, metadata=_without_nones(metadata)) as stored:
        Path(stored.path_of(MODEL_FILE)).write_bytes(pickle.dumps(model))
        Path(stored.path_of(STATE_FILE)).write_bytes(pickle.dumps(state))
        if onnx is not None:
            Path(stored.path_of(ONNX_FILE)).write_bytes(onnx)
            Path(stored.path_of(TWIN_FILE)).write_bytes(pickle.dumps(twin_facts(model)))
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


def load_model(stored: Any, *, runtime: str = "best") -> Any:
    """The model of a stored BentoML model (a `BentoModel` or a `Model`): its ONNX twin
    when one was stored and `runtime` is "best" or "onnx", else the trained object itself."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
    folder = Path(stored.path)
    if runtime in ("best", "onnx") and (folder / ONNX_FILE).exists():
        facts = pickle.loads((folder / TWIN_FILE).read_bytes())
        return load_twin((folder / ONNX_FILE).read_bytes(), facts)
    if runtime == "onnx":
        raise ValueError(
            f"{stored.tag} has no ONNX twin: see its metadata's runtime_reason"
        )
    try:
        return pickle.loads((folder / MODEL_FILE).read_bytes())
    except ModuleNotFoundError as error:  # the serving image holds what the twin needs
        raise RuntimeError(
            f"{stored.tag}: the model as trained needs {error.name}, not installed here; "
            "serve its ONNX twin (MODEL_RUNTIME=best) or install the project's requirements"
        ) from None


def load_state(stored: Any) -> dict[str, Any]:
    """The values besides the model that the predict section reads, saved by training."""
    return pickle.loads((Path(stored.path) / STATE_FILE).read_bytes())

"""The generated project's side of `verify`, run in a child process.

The child trains with the verified parameters exactly as `<project>-train`
does (`run_pipeline`, then `save_artifacts`), so it runs while papermill runs
the notebook. Then it waits on stdin for the rows the notebook predicted and
answers them twice: with the generated predict function and the trained
model, and through the generated service's own code (validation, input
conversion, the served runtime). It writes everything as JSON.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import pickle
import sys
from pathlib import Path
from typing import Any

from nb2prod.rows import input_schema, request_rows


def main() -> None:
    """`python -c 'from nb2prod.verify_child import main; main()' SPEC RESULT`."""
    spec = json.loads(Path(sys.argv[1]).read_text())
    result = run(spec, read_rows=lambda: json.loads(sys.stdin.read()))
    Path(sys.argv[2]).write_text(json.dumps(result, default=_plain))


def run(spec: dict[str, Any], read_rows: Any) -> dict[str, Any]:
    package = spec["package"]
    config_module = importlib.import_module(f"{package}.config")
    pipeline = importlib.import_module(f"{package}.pipeline")
    train = importlib.import_module(f"{package}.train")
    config = dataclasses.replace(config_module.Config(), **spec["parameters"])
    artifacts = Path(spec["artifacts"])
    _phase("training")
    outputs = pipeline.run_pipeline(config)
    metrics = train.save_artifacts(outputs, config, artifacts)
    metadata = json.loads((artifacts / "model.json").read_text())
    result: dict[str, Any] = {"metrics": metrics, "metadata": metadata}
    if spec["predict"] is None:
        return result
    request = read_rows()  # blocks until the notebook has run
    if request["input_path"] is None:
        return result
    rows = pickle.loads(Path(request["input_path"]).read_bytes())
    try:
        result["schema"] = input_schema(rows)
    except TypeError:
        result["schema"] = None
    _phase("predict")
    result["predictions"] = _predict(spec, pipeline, config, metadata, rows)
    if spec["service"]:
        try:
            request_body = request_rows(rows)
        except TypeError as error:
            result["service_problem"] = f"the notebook's rows cannot be a request: {error}"
            return result
        _phase("service")
        result["service_predictions"] = _serve(spec, request_body)
    return result


def _predict(
    spec: dict[str, Any], pipeline: Any, config: Any, metadata: dict[str, Any], rows: Any
) -> dict[str, Any]:
    """The generated predict function on the notebook's rows, with the trained model."""
    import bentoml

    package = spec["package"]
    model_store = importlib.import_module(f"{package}.model_store")
    contracts = importlib.import_module(f"{package}.contracts")
    stored = bentoml.models.get(metadata["bentoml_tag"])
    model = model_store.load_model(stored, runtime="python")
    state = model_store.load_state(stored)
    # The service's call: each argument from where `serving.predict_call` takes it.
    given = {"model": lambda _: model, "rows": lambda _: rows, "state": state.__getitem__}
    arguments = {
        name: getattr(config, name) if source == "config" else given[source](name)
        for name, source in spec["predict"]["arguments"]
    }
    values = getattr(pipeline, spec["predict"]["function"])(**arguments)
    names = spec["predict"]["outputs"]
    values = values if len(names) > 1 else (values,)
    return {name: contracts.plain(value) for name, value in zip(names, values, strict=True)}


def _serve(spec: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The same rows through the service class: request validation, conversion, runtime."""
    sys.path.insert(0, spec["project"])
    service_class = getattr(importlib.import_module("service"), spec["service"]["class"])
    schema = importlib.import_module(f"{spec['package']}.schema")
    row_model = getattr(schema, spec["service"]["row_model"])
    service = service_class()
    answers = [
        a.model_dump() for a in service.predict_rows([row_model.model_validate(r) for r in rows])
    ]
    names = list(answers[0]) if answers else []
    return {name: [answer[name] for answer in answers] for name in names}


def _phase(name: str) -> None:
    """Tell verify (through stderr) which part runs now: see `verify.PHASE`."""
    print(f"nb2prod-verify: phase {name}", file=sys.stderr, flush=True)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else str(value)

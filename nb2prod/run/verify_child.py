"""The generated project's side of `verify`, run in a child process.

The child trains with the verified parameters exactly as `<project>-train`
does (`run_pipeline`, then `save_artifacts`), so it runs while papermill runs
the notebook. Then it waits on stdin for the rows the notebook predicted and
answers them twice: with the generated predict function and the trained
model, and through the generated service's own code (validation, input
conversion, the served runtime). It reads a `VerifySpec` and a `RowsRequest` and
writes a `VerifyResult` (`protocol.py`), marking each phase as it starts.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nb2prod.plan.rows import input_schema, request_rows
from nb2prod.protocol import (
    PredictCall,
    RowsRequest,
    ServiceClass,
    VerifyResult,
    VerifySpec,
    mark_step,
    read_spec,
    write_result,
)


def main() -> None:
    """`python -c 'from nb2prod.run.verify_child import main; main()' SPEC RESULT`."""
    spec = read_spec(VerifySpec.from_json)
    result = run(spec, read_rows=lambda: RowsRequest.from_json(json.loads(sys.stdin.read())))
    write_result(result, default=_plain)


def run(spec: VerifySpec, read_rows: Callable[[], RowsRequest]) -> VerifyResult:
    """Train as `<project>-train` does; then, given the notebook's rows, predict them."""
    package = spec.package
    config_module = importlib.import_module(f"{package}.config")
    pipeline = importlib.import_module(f"{package}.pipeline")
    train = importlib.import_module(f"{package}.train")
    config = dataclasses.replace(config_module.Config(), **spec.parameters)
    artifacts = Path(spec.artifacts)
    mark_step("training")
    outputs = pipeline.run_pipeline(config)
    metrics = train.save_artifacts(outputs, config, artifacts)
    metadata = json.loads((artifacts / "model.json").read_text())
    result = VerifyResult(metrics, metadata)
    if spec.predict is None:
        return result
    request = read_rows()  # blocks until the notebook has run
    if request.input_path is None:
        return result
    rows = pickle.loads(Path(request.input_path).read_bytes())
    try:
        schema = input_schema(rows)
    except TypeError:
        schema = None
    mark_step("predict")
    predictions = _predict(spec.package, spec.predict, pipeline, config, metadata, rows)
    result = dataclasses.replace(result, schema=schema, predictions=predictions)
    if spec.service:
        try:
            request_body = request_rows(_raw_rows(spec, outputs, rows))
        except (TypeError, KeyError) as error:
            problem = f"the notebook's rows cannot be a request: {error}"
            return dataclasses.replace(result, service_problem=problem)
        mark_step("service")
        answers = _serve(spec.package, spec.project, spec.service, request_body)
        result = dataclasses.replace(result, service_predictions=answers)
    return result


def _raw_rows(spec: VerifySpec, outputs: dict[str, Any], rows: Any) -> Any:
    """The notebook's rows as the service takes them: themselves (feature rows), or the
    raw rows of the same index in the training run's `raw_table`, cut to the request's
    columns (the service derives the rest with the notebook's own code)."""
    if spec.service is None or spec.service.raw_table is None:
        return rows
    if not spec.service.raw_table or not hasattr(rows, "index"):
        raise KeyError("the service takes raw rows and no value of the pipeline holds them")
    schema = importlib.import_module(f"{spec.package}.schema")
    return outputs[spec.service.raw_table].loc[rows.index, list(schema.COLUMNS)]


def _predict(
    package: str,
    call: PredictCall,
    pipeline: Any,
    config: Any,
    metadata: dict[str, Any],
    rows: Any,
) -> dict[str, Any]:
    """The generated predict function on the notebook's rows, with the trained model."""
    import bentoml

    model_store = importlib.import_module(f"{package}.model_store")
    contracts = importlib.import_module(f"{package}.contracts")
    stored = bentoml.models.get(metadata["bentoml_tag"])
    model = model_store.load_model(stored, runtime="trained")
    state = model_store.load_state(stored)
    # The service's call: each argument from where `serving.predict_call` takes it.
    given = {"model": lambda _: model, "rows": lambda _: rows, "state": state.__getitem__}
    arguments = {
        a.name: getattr(config, a.name) if a.source == "config" else given[a.source](a.name)
        for a in call.arguments
    }
    values = getattr(pipeline, call.function)(**arguments)
    names = call.outputs
    values = values if len(names) > 1 else (values,)
    return {name: contracts.plain(value) for name, value in zip(names, values, strict=True)}


def _serve(
    package: str, project: str, service: ServiceClass, rows: list[dict[str, Any]]
) -> dict[str, list[Any]]:
    """The same rows through the service class: request validation, conversion, runtime."""
    sys.path.insert(0, project)
    service_class = getattr(importlib.import_module("service"), service.class_name)
    schema = importlib.import_module(f"{package}.schema")
    row_model = getattr(schema, service.row_model)
    instance = service_class()
    answers = [
        a.model_dump() for a in instance.predict_rows([row_model.model_validate(r) for r in rows])
    ]
    names = list(answers[0]) if answers else []
    return {name: [answer[name] for answer in answers] for name in names}


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else str(value)

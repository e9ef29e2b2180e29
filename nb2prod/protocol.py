"""What nb2prod and the children that run generated code say to each other.

The parent writes a spec as JSON into a scratch folder and starts
`<module>.main()` with the spec's path and the path for its result (see
`child_process.run_child`); the child reads the spec, runs the generated code
and writes its result. Every message is a frozen dataclass with `to_json` and
`from_json`: `from_json` checks every field, because the data crossed a process
boundary (and a probe result is read back from a project's manifest), so a
missing or mistyped field is a clear `ProtocolError`, never a KeyError far away.
The JSON keys are the field names (a few spelled as JSON needs: `class`), in the
order the manifests have always had them.

A child says which step it is in with one marker line on stderr (`mark_step`);
when it fails, the parent reads the last step marked (`read_failure`) to say
which function or phase failed.

Children run in the generated project's environment, so this module imports the
standard library only.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
M = TypeVar("M")

MARKER = "nb2prod-child: step "
"""A child's stderr line that says which step it runs now (`mark_step`)."""
SPEC_FILE, RESULT_FILE = "spec.json", "result.json"
ARGUMENT_SOURCES = ("model", "rows", "state", "config")
"""Where a predict argument comes from: the model, the request's rows, the state stored
with the model (by the argument's name) or the config (the field of that name)."""


class ProtocolError(ValueError):
    """A message has not the shape its dataclass expects (a field missing or mistyped)."""


class Message(Protocol):
    def to_json(self) -> dict[str, Any]: ...


# -- the probe: convert runs the pipeline once and records what it saw ---------------------


@dataclass(frozen=True)
class ProbeStep:
    """A step function of the generated pipeline and the names it returns, in order."""

    function: str
    outputs: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"function": self.function, "outputs": list(self.outputs)}

    @classmethod
    def from_json(cls, data: Any, where: str = "probe step") -> ProbeStep:
        read = _Reader(data, where)
        return read.done(cls(read.required("function", _str), read.required("outputs", _strings)))


@dataclass(frozen=True)
class ProbeSpec:
    """What the probe child runs: the package's steps, and what to record about them."""

    package: str
    steps: tuple[ProbeStep, ...]
    data_function: str | None
    """The load step: the training data is profiled as it returns it."""
    metric_sources: tuple[str, ...]
    fit_tables: tuple[str, ...]
    """Tables the model was fitted on: their ranges bound the request's."""
    quick: dict[str, Any]
    """The quick parameters (run a second time with them when there are any)."""
    data_input: str | None
    """The predict step's argument that holds the rows (None: no service to describe)."""
    predict_function: str | None
    outputs: tuple[str, ...]
    """The predict step's outputs."""
    model: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "steps": [s.to_json() for s in self.steps],
            "data_function": self.data_function,
            "metric_sources": list(self.metric_sources),
            "fit_tables": list(self.fit_tables),
            "quick": self.quick,
            "data_input": self.data_input,
            "predict_function": self.predict_function,
            "outputs": list(self.outputs),
            "model": self.model,
        }

    @classmethod
    def from_json(cls, data: Any, where: str = "probe spec") -> ProbeSpec:
        read = _Reader(data, where)
        return read.done(
            cls(
                package=read.required("package", _str),
                steps=read.required("steps", _list_of(ProbeStep.from_json)),
                data_function=read.optional("data_function", _str),
                metric_sources=read.required("metric_sources", _strings),
                fit_tables=read.required("fit_tables", _strings),
                quick=read.required("quick", _object),
                data_input=read.optional("data_input", _str),
                predict_function=read.optional("predict_function", _str),
                outputs=read.required("outputs", _strings),
                model=read.optional("model", _str),
            )
        )


@dataclass(frozen=True)
class FunctionContract:
    """A step's inputs and outputs as the generated `contracts.describe` saw them.

    The descriptions are the generated project's own format, written to
    `reference/pipeline_contracts.json` and read by its tests, not by nb2prod.
    """

    inputs: dict[str, Any]
    outputs: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "outputs": self.outputs}

    @classmethod
    def from_json(cls, data: Any, where: str = "function contract") -> FunctionContract:
        read = _Reader(data, where)
        return read.done(cls(read.required("inputs", _object), read.required("outputs", _object)))


@dataclass(frozen=True)
class Contracts:
    """Each step function's contract, by function name (`reference/pipeline_contracts.json`)."""

    functions: dict[str, FunctionContract]

    def to_json(self) -> dict[str, Any]:
        return {"functions": {name: c.to_json() for name, c in self.functions.items()}}

    @classmethod
    def from_json(cls, data: Any, where: str = "contracts") -> Contracts:
        read = _Reader(data, where)
        return read.done(cls(read.required("functions", _map_of(FunctionContract.from_json))))


@dataclass(frozen=True)
class MetricValues:
    """The metrics with the default parameters and, when the notebook has them, the quick ones."""

    defaults: dict[str, float]
    quick: dict[str, float] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"defaults": self.defaults}
        if self.quick is not None:
            data["quick"] = self.quick
        return data

    @classmethod
    def from_json(cls, data: Any, where: str = "metrics") -> MetricValues:
        read = _Reader(data, where)
        return read.done(cls(read.required("defaults", _numbers), read.optional("quick", _numbers)))


@dataclass(frozen=True)
class InputColumn:
    """A column of the predict input: its kind, and its observed range or categories."""

    name: str
    nullable: bool
    type: str
    """float, int, bool or str; numbers have `min` and `max` (None when all missing)."""
    min: float | int | None = None
    max: float | int | None = None
    categories: tuple[str, ...] | None = None
    """A str column's values, when there are few enough to be a choice."""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "nullable": self.nullable, "type": self.type}
        if self.type in {"int", "float"}:
            data["min"], data["max"] = self.min, self.max
        if self.categories is not None:
            data["categories"] = list(self.categories)
        return data

    @classmethod
    def from_json(cls, data: Any, where: str = "input column") -> InputColumn:
        read = _Reader(data, where)
        return read.done(
            cls(
                name=read.required("name", _str),
                nullable=read.required("nullable", _bool),
                type=read.required("type", _str),
                min=read.optional("min", _number),
                max=read.optional("max", _number),
                categories=read.optional("categories", _strings),
            )
        )


@dataclass(frozen=True)
class InputProfile:
    """The predict section's input: its kind, columns, a few rows and how many were seen."""

    name: str
    kind: str
    """dataframe, ndarray, list or tensor."""
    columns: tuple[InputColumn, ...]
    rows: tuple[dict[str, Any], ...]
    """Sample rows, column name -> value: the service's example request."""
    observed_rows: int
    dtype: str | None = None
    """An array's or tensor's element type."""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "columns": [c.to_json() for c in self.columns],
            "rows": list(self.rows),
            "observed_rows": self.observed_rows,
        }
        if self.dtype is not None:
            data["dtype"] = self.dtype
        return data

    @classmethod
    def from_json(cls, data: Any, where: str = "predict input") -> InputProfile:
        read = _Reader(data, where)
        return read.done(
            cls(
                name=read.required("name", _str),
                kind=read.required("kind", _str),
                columns=read.required("columns", _list_of(InputColumn.from_json)),
                rows=read.required("rows", _list_of(_object)),
                observed_rows=read.required("observed_rows", _int),
                dtype=read.optional("dtype", _str),
            )
        )


@dataclass(frozen=True)
class PredictOutput:
    """An output of the predict section: its element type and its values for the sample rows."""

    type: str
    values: tuple[Any, ...]

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "values": list(self.values)}

    @classmethod
    def from_json(cls, data: Any, where: str = "predict output") -> PredictOutput:
        read = _Reader(data, where)
        return read.done(cls(read.required("type", _str), read.required("values", _list)))


@dataclass(frozen=True)
class ModelInfo:
    """What the service needs to know of the model: its module, and whether it classifies."""

    module: str
    classifier: bool

    def to_json(self) -> dict[str, Any]:
        return {"module": self.module, "classifier": self.classifier}

    @classmethod
    def from_json(cls, data: Any, where: str = "model") -> ModelInfo:
        read = _Reader(data, where)
        return read.done(cls(read.required("module", _str), read.required("classifier", _bool)))


@dataclass(frozen=True)
class ProbeResult:
    """What one run of the generated pipeline showed (kept in the manifest as `probe`).

    The service fields are set only when the probe was asked about a predict input.
    Two checks may pass (None) or not have run at all: `model_checked` and
    `row_wise_checked` say which, so the manifest keeps the shape it always had
    (`model_problem: null` when checked, no key when not).
    """

    contracts: Contracts
    data_profile: dict[str, Any]
    """The training data's profile, by table (the generated `data_quality.profile_tables`)."""
    metrics: MetricValues
    metric_sources: tuple[str, ...]
    """The metric sources that held numbers."""
    model_problem: str | None = None
    model_checked: bool = False
    input: InputProfile | None = None
    outputs: dict[str, PredictOutput] | None = None
    input_problem: str | None = None
    """Why the predict input cannot be a request."""
    model: ModelInfo | None = None
    not_row_wise: str | None = None
    """Why the predict function cannot answer a request's rows on their own."""
    row_wise_checked: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "contracts": self.contracts.to_json(),
            "data_profile": self.data_profile,
            "metrics": self.metrics.to_json(),
            "metric_sources": list(self.metric_sources),
        }
        if self.model_checked or self.model_problem is not None:
            data["model_problem"] = self.model_problem
        if self.input is not None:
            data["input"] = self.input.to_json()
        if self.outputs is not None:
            data["outputs"] = {name: o.to_json() for name, o in self.outputs.items()}
        if self.input_problem is not None:
            data["input_problem"] = self.input_problem
        if self.model is not None:
            data["model"] = self.model.to_json()
        if self.row_wise_checked or self.not_row_wise is not None:
            data["not_row_wise"] = self.not_row_wise
        return data

    @classmethod
    def from_json(cls, data: Any, where: str = "probe result") -> ProbeResult:
        read = _Reader(data, where)
        return read.done(
            cls(
                contracts=read.required("contracts", Contracts.from_json),
                data_profile=read.required("data_profile", _object),
                metrics=read.required("metrics", MetricValues.from_json),
                metric_sources=read.required("metric_sources", _strings),
                model_problem=read.optional("model_problem", _str),
                model_checked=read.has("model_problem"),
                input=read.optional("input", InputProfile.from_json),
                outputs=read.optional("outputs", _map_of(PredictOutput.from_json)),
                input_problem=read.optional("input_problem", _str),
                model=read.optional("model", ModelInfo.from_json),
                not_row_wise=read.optional("not_row_wise", _str),
                row_wise_checked=read.has("not_row_wise"),
            )
        )


# -- verify: the generated side trains, then predicts the notebook's rows -----------------


@dataclass(frozen=True)
class PredictArgument:
    """An argument of the predict call and where its value comes from (`ARGUMENT_SOURCES`):
    structure the child looks up, never source text it evaluates."""

    name: str
    source: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source}

    @classmethod
    def from_json(cls, data: Any, where: str = "predict argument") -> PredictArgument:
        read = _Reader(data, where)
        argument = cls(read.required("name", _str), read.required("source", _str))
        if argument.source not in ARGUMENT_SOURCES:
            raise ProtocolError(
                f"{where}: `source` must be one of {', '.join(ARGUMENT_SOURCES)}, "
                f"not {argument.source!r}"
            )
        return read.done(argument)


@dataclass(frozen=True)
class PredictCall:
    """The generated predict function, its outputs and its arguments."""

    function: str
    outputs: tuple[str, ...]
    arguments: tuple[PredictArgument, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "outputs": list(self.outputs),
            "arguments": [a.to_json() for a in self.arguments],
        }

    @classmethod
    def from_json(cls, data: Any, where: str = "predict call") -> PredictCall:
        read = _Reader(data, where)
        return read.done(
            cls(
                function=read.required("function", _str),
                outputs=read.required("outputs", _strings),
                arguments=read.required("arguments", _list_of(PredictArgument.from_json)),
            )
        )


@dataclass(frozen=True)
class ServiceClass:
    """The generated service class (in the project's `service.py`) and its request row model."""

    class_name: str
    row_model: str

    def to_json(self) -> dict[str, Any]:
        return {"class": self.class_name, "row_model": self.row_model}

    @classmethod
    def from_json(cls, data: Any, where: str = "service") -> ServiceClass:
        read = _Reader(data, where)
        return read.done(cls(read.required("class", _str), read.required("row_model", _str)))


@dataclass(frozen=True)
class VerifySpec:
    """What verify's child runs: training with `parameters`, then the predict call and the
    service on the notebook's rows (each only when the project has it)."""

    package: str
    project: str
    parameters: dict[str, Any]
    artifacts: str
    predict: PredictCall | None = None
    service: ServiceClass | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "project": self.project,
            "parameters": self.parameters,
            "artifacts": self.artifacts,
            "predict": None if self.predict is None else self.predict.to_json(),
            "service": None if self.service is None else self.service.to_json(),
        }

    @classmethod
    def from_json(cls, data: Any, where: str = "verify spec") -> VerifySpec:
        read = _Reader(data, where)
        return read.done(
            cls(
                package=read.required("package", _str),
                project=read.required("project", _str),
                parameters=read.required("parameters", _object),
                artifacts=read.required("artifacts", _str),
                predict=read.optional("predict", PredictCall.from_json),
                service=read.optional("service", ServiceClass.from_json),
            )
        )


@dataclass(frozen=True)
class RowsRequest:
    """What verify sends the child on stdin once the notebook has run: the pickled rows the
    notebook predicted (None: nothing to predict)."""

    input_path: str | None

    def to_json(self) -> dict[str, Any]:
        return {"input_path": self.input_path}

    @classmethod
    def from_json(cls, data: Any, where: str = "rows request") -> RowsRequest:
        read = _Reader(data, where)
        return read.done(cls(read.optional("input_path", _str)))


@dataclass(frozen=True)
class VerifyResult:
    """What the generated side produced: metrics and the model card (`model.json`, the
    generated project's format, compared key by key), then its predictions."""

    metrics: dict[str, float]
    metadata: dict[str, Any]
    schema: dict[str, str] | None = None
    """The notebook's rows' columns and kinds (`rows.input_schema`)."""
    predictions: dict[str, Any] | None = None
    service_problem: str | None = None
    service_predictions: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"metrics": self.metrics, "metadata": self.metadata}
        optional = {
            "schema": self.schema,
            "predictions": self.predictions,
            "service_problem": self.service_problem,
            "service_predictions": self.service_predictions,
        }
        data.update((key, value) for key, value in optional.items() if value is not None)
        return data

    @classmethod
    def from_json(cls, data: Any, where: str = "verify result") -> VerifyResult:
        read = _Reader(data, where)
        return read.done(
            cls(
                metrics=read.required("metrics", _numbers),
                metadata=read.required("metadata", _object),
                schema=read.optional("schema", _map_of(_str)),
                predictions=read.optional("predictions", _object),
                service_problem=read.optional("service_problem", _str),
                service_predictions=read.optional("service_predictions", _object),
            )
        )


# -- files and the step marker --------------------------------------------------------------


def write_spec(folder: Path, spec: Message) -> list[str]:
    """Write `spec` into `folder`; the child's arguments: the spec's path and its result's."""
    (folder / SPEC_FILE).write_text(json.dumps(spec.to_json()))
    return [str(folder / SPEC_FILE), str(folder / RESULT_FILE)]


def read_result(folder: Path, parse: Callable[[Any], M]) -> M | None:
    """The child's result in `folder`, checked by `parse` (a `from_json`); None if it wrote none."""
    path = folder / RESULT_FILE
    return parse(json.loads(path.read_text())) if path.exists() else None


def read_spec(parse: Callable[[Any], M]) -> M:
    """The child's side: the spec the parent wrote (the first argument)."""
    return parse(json.loads(Path(sys.argv[1]).read_text()))


def write_result(result: Message, default: Callable[[Any], Any]) -> None:
    """The child's side: write its result (to the second argument); `default` makes values
    JSON can't hold (numpy scalars) plain."""
    Path(sys.argv[2]).write_text(json.dumps(result.to_json(), default=default))


def mark_step(step: str) -> None:
    """The child's side: say on stderr which step runs now; a failure is in the last one."""
    print(f"{MARKER}{step}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ChildFailure:
    """A failed child's output: the last step it marked, and its lines without the markers."""

    step: str | None
    lines: tuple[str, ...]


def read_failure(output: str) -> ChildFailure:
    """Split a failed child's output into the step it failed in and what it printed.

    A marker may end a line the child's own code left unfinished: that text is kept.
    """
    step, lines = None, []
    for line in output.strip().splitlines():
        before, marker, after = line.partition(MARKER)
        if marker:
            step = after.strip()
            if before.strip():
                lines.append(before)
        else:
            lines.append(line)
    return ChildFailure(step, tuple(lines))


# -- checking fields --------------------------------------------------------------------------


class _Reader:
    """One JSON object read into a dataclass: each field checked, unknown keys refused."""

    def __init__(self, data: Any, where: str) -> None:
        self.data, self.where = _object(data, where), where
        self.read: set[str] = set()

    def has(self, key: str) -> bool:
        self.read.add(key)
        return key in self.data

    def required(self, key: str, check: Callable[[Any, str], T]) -> T:
        if not self.has(key):
            raise ProtocolError(f"{self.where}: `{key}` is missing")
        return check(self.data[key], f"{self.where}: `{key}`")

    def optional(self, key: str, check: Callable[[Any, str], T]) -> T | None:
        value = self.data.get(key) if self.has(key) else None
        return None if value is None else check(value, f"{self.where}: `{key}`")

    def done(self, message: T) -> T:
        """`message`, once every key of the object was read: a child and a parent of
        different versions, or a hand-edited manifest, are refused, not half-read."""
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            raise ProtocolError(f"{self.where}: unexpected {', '.join(map(repr, unknown))}")
        return message


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _wrong(value: Any, where: str, wanted: str) -> ProtocolError:
    return ProtocolError(f"{where} must be {wanted}, not {_kind(value)}")


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _wrong(value, where, "a string")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _wrong(value, where, "true or false")
    return value


def _int(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _wrong(value, where, "an integer")
    return value


def _number(value: Any, where: str) -> float | int:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _wrong(value, where, "a number")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _wrong(value, where, "an object")
    return value


def _list(value: Any, where: str) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise _wrong(value, where, "a list")
    return tuple(value)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    return tuple(_str(item, f"{where}[{i}]") for i, item in enumerate(_list(value, where)))


def _numbers(value: Any, where: str) -> dict[str, float]:
    return {k: _number(v, f"{where}[{k!r}]") for k, v in _object(value, where).items()}


def _list_of(check: Callable[[Any, str], T]) -> Callable[[Any, str], tuple[T, ...]]:
    def read(value: Any, where: str) -> tuple[T, ...]:
        return tuple(check(item, f"{where}[{i}]") for i, item in enumerate(_list(value, where)))

    return read


def _map_of(check: Callable[[Any, str], T]) -> Callable[[Any, str], dict[str, T]]:
    def read(value: Any, where: str) -> dict[str, T]:
        return {k: check(v, f"{where}[{k!r}]") for k, v in _object(value, where).items()}

    return read

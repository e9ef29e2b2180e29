"""What nb2prod and the children that run generated code say to each other.

The parent writes a spec as JSON into a scratch folder and starts
`<module>.main()` with the spec's path and the path for its result (see
`child_process.run_child`); the child reads the spec, runs the generated code
and writes its result. Every message is a frozen dataclass with `to_json` and
`from_json`: `from_json` checks every field, because the data crossed a process
boundary (and a probe result is read back from a project's manifest), so a
missing or mistyped field is a clear `ProtocolError`, never a KeyError far away.
Both are written once, in `Message`, from the fields' types: a message is its
field list. The JSON keys are the field names (a few spelled as JSON needs:
`class`), in field order, the order the manifests have always had; a field's
metadata says when it is left out (`OMIT_NONE`, `written_when`).

A child says which step it is in with one marker line on stderr (`mark_step`);
when it fails, the parent reads the last step marked (`read_failure`) to say
which function or phase failed.

Children run in the generated project's environment, so this module imports the
standard library only.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, Union

T = TypeVar("T")
M = TypeVar("M")
MessageT = TypeVar("MessageT", bound="Message")

MARKER = "nb2prod-child: step "
"""A child's stderr line that says which step it runs now (`mark_step`)."""
SPEC_FILE, RESULT_FILE = "spec.json", "result.json"
ARGUMENT_SOURCES = ("model", "rows", "state", "config")
"""Where a predict argument comes from: the model, the request's rows, the state stored
with the model (by the argument's name) or the config (the field of that name)."""


class ProtocolError(ValueError):
    """A message has not the shape its dataclass expects (a field missing or mistyped)."""


class Message:
    """A frozen dataclass that crosses a process boundary as a JSON object.

    `to_json` and `from_json` read the dataclass's fields and their types, so a new
    field is one line, checked on the way in like every other.
    """

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for spec in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, spec.name)
            meta = spec.metadata
            if PRESENCE_OF in meta or (meta.get(OMIT_NONE_KEY) and value is None):
                continue
            if WHEN in meta and not meta[WHEN](self):
                continue
            data[meta.get(KEY, spec.name)] = _plain(value)
        return data

    @classmethod
    def from_json(cls: type[MessageT], data: Any, where: str | None = None) -> MessageT:
        read = _Reader(data, where or _spoken(cls.__name__))
        hints = _hints(cls)
        values: dict[str, Any] = {}
        for spec in dataclasses.fields(cls):  # type: ignore[arg-type]
            meta = spec.metadata
            if PRESENCE_OF in meta:
                values[spec.name] = read.has(meta[PRESENCE_OF])
                continue
            key, (check, optional) = meta.get(KEY, spec.name), hints[spec.name]
            values[spec.name] = (read.optional if optional else read.required)(key, check)
            if CHOICES in meta and values[spec.name] not in meta[CHOICES]:
                raise ProtocolError(
                    f"{read.where}: `{key}` must be one of {', '.join(meta[CHOICES])}, "
                    f"not {values[spec.name]!r}"
                )
        return read.done(cls(**values))


# Field metadata: how a field is spelled and when it is written.
KEY, OMIT_NONE_KEY, WHEN, PRESENCE_OF, CHOICES = "key", "omit_none", "when", "presence", "choices"
OMIT_NONE = {OMIT_NONE_KEY: True}
"""Left out of the JSON when None (read back as None)."""


def written_when(test: Callable[[Any], bool]) -> dict[str, Any]:
    """Written only when `test(message)` holds (read back as None when left out)."""
    return {WHEN: test}


def presence_of(key: str) -> dict[str, Any]:
    """A flag that is not written itself: True when the message has `key`."""
    return {PRESENCE_OF: key}


# -- the probe: convert runs the pipeline once and records what it saw ---------------------


@dataclass(frozen=True)
class ProbeStep(Message):
    """A step function of the generated pipeline and the names it returns, in order."""

    function: str
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class ProbeSpec(Message):
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
    row_function: str | None = field(default=None, metadata=OMIT_NONE)
    """The preprocess code a service may run on raw rows: the probe checks it is row-wise."""


@dataclass(frozen=True)
class FunctionContract(Message):
    """A step's inputs and outputs as the generated `contracts.describe` saw them.

    The descriptions are the generated project's own format, written to
    `reference/pipeline_contracts.json` and read by its tests, not by nb2prod.
    """

    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass(frozen=True)
class Contracts(Message):
    """Each step function's contract, by function name (`reference/pipeline_contracts.json`)."""

    functions: dict[str, FunctionContract]


@dataclass(frozen=True)
class MetricValues(Message):
    """The metrics with the default parameters and, when the notebook has them, the quick ones."""

    defaults: dict[str, float]
    quick: dict[str, float] | None = field(default=None, metadata=OMIT_NONE)


def _numeric(column: InputColumn) -> bool:
    return column.type in {"int", "float"}


@dataclass(frozen=True)
class InputColumn(Message):
    """A column of the predict input: its kind, and its observed range or categories."""

    name: str
    nullable: bool
    type: str
    """float, int, bool or str; numbers have `min` and `max` (None when all missing)."""
    min: float | int | None = field(default=None, metadata=written_when(_numeric))
    max: float | int | None = field(default=None, metadata=written_when(_numeric))
    categories: tuple[str, ...] | None = field(default=None, metadata=OMIT_NONE)
    """A str column's values, when there are few enough to be a choice."""


@dataclass(frozen=True)
class InputProfile(Message):
    """The predict section's input: its kind, columns, a few rows and how many were seen."""

    name: str
    kind: str
    """dataframe, ndarray, list or tensor."""
    columns: tuple[InputColumn, ...]
    rows: tuple[dict[str, Any], ...]
    """Sample rows, column name -> value: the service's example request."""
    observed_rows: int
    dtype: str | None = field(default=None, metadata=OMIT_NONE)
    """An array's or tensor's element type."""
    shape: tuple[int, ...] | None = field(default=None, metadata=OMIT_NONE)
    """One row's shape, when rows are arrays themselves (`(1, 8, 8)` for an image)."""
    device: str | None = field(default=None, metadata=OMIT_NONE)
    """Where a tensor input lived in the notebook (`cpu`, `cuda`)."""


@dataclass(frozen=True)
class PredictOutput(Message):
    """An output of the predict section: its element type and its values for the sample rows."""

    type: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class ModelInfo(Message):
    """What the service needs to know of the model: its module, and whether it classifies."""

    module: str
    classifier: bool
    framework: str | None = field(default=None, metadata=OMIT_NONE)
    """`pytorch` for a torch module (whatever module its class is in), else None."""


@dataclass(frozen=True)
class ProbeResult(Message):
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
    model_problem: str | None = field(
        default=None,
        metadata=written_when(lambda r: r.model_checked or r.model_problem is not None),
    )
    model_checked: bool = field(default=False, metadata=presence_of("model_problem"))
    input: InputProfile | None = field(default=None, metadata=OMIT_NONE)
    outputs: dict[str, PredictOutput] | None = field(default=None, metadata=OMIT_NONE)
    input_problem: str | None = field(default=None, metadata=OMIT_NONE)
    """Why the predict input cannot be a request."""
    model: ModelInfo | None = field(default=None, metadata=OMIT_NONE)
    not_row_wise: str | None = field(
        default=None,
        metadata=written_when(lambda r: r.row_wise_checked or r.not_row_wise is not None),
    )
    """Why the predict function cannot answer a request's rows on their own."""
    row_wise_checked: bool = field(default=False, metadata=presence_of("not_row_wise"))
    raw_input: InputProfile | None = field(default=None, metadata=OMIT_NONE)
    """The rows the spec's `row_function` takes, when it is row-wise: the service's request."""
    raw_table: str | None = field(default=None, metadata=OMIT_NONE)
    """A value `run_pipeline` returns that holds those raw rows, by the predict input's index
    (verify looks the notebook's rows up in it)."""
    raw_rows_problem: str | None = field(default=None, metadata=OMIT_NONE)
    """Why the `row_function` cannot serve raw rows: the service takes feature rows."""


# -- verify: the generated side trains, then predicts the notebook's rows -----------------


@dataclass(frozen=True)
class PredictArgument(Message):
    """An argument of the predict call and where its value comes from (`ARGUMENT_SOURCES`):
    structure the child looks up, never source text it evaluates."""

    name: str
    source: str = field(metadata={CHOICES: ARGUMENT_SOURCES})


@dataclass(frozen=True)
class PredictCall(Message):
    """The generated predict function, its outputs and its arguments."""

    function: str
    outputs: tuple[str, ...]
    arguments: tuple[PredictArgument, ...]


@dataclass(frozen=True)
class ServiceClass(Message):
    """The generated service class (in the project's `service.py`) and its request row model."""

    class_name: str = field(metadata={KEY: "class"})
    row_model: str
    raw_table: str | None = field(default=None, metadata=OMIT_NONE)
    """The service takes raw rows: the pipeline's value to look the notebook's rows up in
    (by index; "" when none holds them)."""


@dataclass(frozen=True)
class VerifySpec(Message):
    """What verify's child runs: training with `parameters`, then the predict call and the
    service on the notebook's rows (each only when the project has it)."""

    package: str
    project: str
    parameters: dict[str, Any]
    artifacts: str
    predict: PredictCall | None = None
    service: ServiceClass | None = None


@dataclass(frozen=True)
class RowsRequest(Message):
    """What verify sends the child on stdin once the notebook has run: the pickled rows the
    notebook predicted (None: nothing to predict)."""

    input_path: str | None


@dataclass(frozen=True)
class VerifyResult(Message):
    """What the generated side produced: metrics and the model card (`model.json`, the
    generated project's format, compared key by key), then its predictions."""

    metrics: dict[str, float]
    metadata: dict[str, Any]
    schema: dict[str, str] | None = field(default=None, metadata=OMIT_NONE)
    """The notebook's rows' columns and kinds (`rows.input_schema`)."""
    predictions: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)
    service_problem: str | None = field(default=None, metadata=OMIT_NONE)
    service_predictions: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)


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


def _plain(value: Any) -> Any:
    """`value` as JSON holds it: messages as objects, tuples as lists."""
    if isinstance(value, Message):
        return value.to_json()
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _spoken(class_name: str) -> str:
    """`ProbeResult` -> `probe result`: how errors name a message."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", class_name).lower()


@functools.cache
def _hints(cls: type) -> dict[str, tuple[Callable[[Any, str], Any], bool]]:
    """Each field's checker, and whether it may be missing (its type admits None)."""
    found = {}
    for name, hint in typing.get_type_hints(cls).items():
        args = typing.get_args(hint)
        optional = typing.get_origin(hint) in (Union, types.UnionType) and type(None) in args
        found[name] = (_checker(hint), optional)
    return found


def _checker(hint: Any) -> Callable[[Any, str], Any]:
    """The function that checks a JSON value against a field's type and converts it."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        kinds = {a for a in args if a is not type(None)}
        return _number if kinds <= {int, float} else _checker(kinds.pop())
    if origin is tuple:
        return _list if args[0] is Any else _list_of(_checker(args[0]))
    if origin is dict:
        return _object if args[1] is Any else _map_of(_checker(args[1]))
    if isinstance(hint, type) and issubclass(hint, Message):
        return hint.from_json
    return _SCALARS[hint]


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


def _list_of(check: Callable[[Any, str], T]) -> Callable[[Any, str], tuple[T, ...]]:
    def read(value: Any, where: str) -> tuple[T, ...]:
        return tuple(check(item, f"{where}[{i}]") for i, item in enumerate(_list(value, where)))

    return read


def _map_of(check: Callable[[Any, str], T]) -> Callable[[Any, str], dict[str, T]]:
    def read(value: Any, where: str) -> dict[str, T]:
        return {k: check(v, f"{where}[{k!r}]") for k, v in _object(value, where).items()}

    return read


_SCALARS: dict[Any, Callable[[Any, str], Any]] = {
    str: _str,
    bool: _bool,
    int: _int,
    float: _number,
    Any: lambda value, where: value,
}

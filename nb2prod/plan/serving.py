"""What the generated service looks like: request fields, response fields, example rows.

Built from the plan (which function predicts, from which input) and the probe
(what that input really holds). Column names that are not Python identifiers
become fields with an alias, so requests use the data's own column names.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
from dataclasses import dataclass, field
from typing import Any

from nb2prod.plan.build import Plan, Step, data_arguments
from nb2prod.protocol import InputColumn, InputProfile, PredictArgument, ProbeResult

RANGE_MARGIN = 0.1  # observed range widened by this share of its width on each side
MAX_BATCH_ROWS = 1000
MAX_BATCH_VALUES = 1_000_000
"""Most values one batch request may carry: rows that are images get fewer rows a batch."""


@dataclass(frozen=True)
class RequestField:
    """One column of a request row."""

    name: str
    column: str
    type_name: str  # float, int, bool, str
    minimum: float | int | None = None
    maximum: float | int | None = None
    categories: tuple[str, ...] = ()
    nullable: bool = False
    shape: tuple[int, ...] = ()
    """A row that is an array (an image): its shape; the field holds nested lists."""

    @property
    def alias(self) -> str | None:
        return None if self.name == self.column else self.column

    @property
    def annotation(self) -> str:
        """The field's type; a shaped field nests lists of `Value`, the schema's bounded
        element type."""
        base = "Value" if self.shape else self.type_name
        if self.categories:
            base = "Literal[" + ", ".join(repr(c) for c in self.categories) + "]"
        if self.nullable:
            base = f"{base} | None"
        for _ in self.shape:
            base = f"list[{base}]"
        return base


@dataclass(frozen=True)
class ResponseField:
    name: str
    type_name: str


@dataclass
class Serving:
    """The service of a generated project (rendered by the serving templates)."""

    class_name: str
    row_model: str
    prediction_model: str
    predict_function: str
    data_input: str
    kind: str  # "dataframe", "ndarray", "list" or "tensor"
    fields: list[RequestField]
    dtypes: dict[str, str]
    outputs: list[ResponseField]
    example_rows: list[dict[str, Any]]
    example_predictions: list[dict[str, Any]]
    observed_rows: int
    config_arguments: list[str] = field(default_factory=list)
    state: list[str] = field(default_factory=list)  # stored with the model, see serving_state_of
    state_twins: list[str] = field(default_factory=list)
    """State the predict section only calls `.transform` on: training tries ONNX twins."""
    onnx: bool = False  # serve an ONNX Runtime twin of the model when it agrees with it
    input_dtype: str = "float64"  # of an array or tensor input
    row_shape: tuple[int, ...] = ()  # one row's shape, when rows are arrays (images)
    input_device: str = "cpu"  # where the notebook's input tensor lived
    range_margin: float = RANGE_MARGIN
    max_batch_rows: int = MAX_BATCH_ROWS
    row_function: str | None = None
    """Raw rows: the notebook's row-wise preprocess code, run on the request's rows first."""
    row_table: str | None = None
    """The preprocess section's name for the raw rows (`X`)."""
    feature_rows_reason: str | None = None
    """Why the request takes feature rows instead (None when it takes raw rows)."""

    @property
    def has_literals(self) -> bool:
        return any(f.categories for f in self.fields)

    @property
    def values_per_row(self) -> int:
        """How many values one request row holds."""
        return math.prod(self.row_shape) if self.row_shape else len(self.fields)


def data_input_of(plan: Plan, step: Step) -> str:
    """The argument the request rows replace (see `build._data_input`)."""
    return step.data_input or data_arguments(step, plan.model)[0]


def serving_state_of(plan: Plan, step: Step) -> list[str]:
    """Other values the predict section reads (fitted encoders, column lists...):
    training stores them with the model so the service has them too."""
    rows = data_input_of(plan, step)
    state = [name for name in data_arguments(step, plan.model) if name != rows]
    row = plan.row_function  # and what its row-wise preprocessing reads
    given = [a.name for a in row.arguments if not a.from_config] if row else []
    return [*state, *(name for name in given if name not in state)]


def argument_sources(plan: Plan, step: Step) -> list[PredictArgument]:
    """Where each argument of the predict step comes from: `model`, `rows` (what a request
    replaces), `state` (stored with the model) or `config`."""
    rows = data_input_of(plan, step)
    return [
        PredictArgument(
            argument.name,
            "config"
            if argument.from_config
            else "model"
            if argument.name == plan.model
            else "rows"
            if argument.name == rows
            else "state",
        )  # fmt: skip
        for argument in step.arguments
    ]


def predict_call(plan: Plan, step: Step, *, model: str, rows: str, state: str, config: str) -> str:
    """The arguments of a call to the predict step, given the expressions that hold the
    model, the input rows, the stored state mapping and the config."""
    written = {
        "config": lambda name: f"{name}={config}.{name}",
        "model": lambda _: model,
        "rows": lambda _: rows,
        "state": lambda name: f"{state}[{name!r}]",
    }
    return ", ".join(written[a.source](a.name) for a in argument_sources(plan, step))


def framework_of(probe: ProbeResult) -> str:
    """`pytorch` for a torch module, `scikit-learn` for an estimator, else `python`."""
    if probe.model is None:
        return "python"
    if probe.model.framework:
        return probe.model.framework
    return "scikit-learn" if probe.model.module.startswith("sklearn") else "python"


def _installed(*modules: str) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) for m in modules)


def _twins_installed() -> bool:
    """skl2onnx (training converts) and ONNX Runtime (the service runs) are at hand."""
    return _installed("skl2onnx", "onnxruntime")


def onnx_applies(probe: ProbeResult) -> bool:
    """A torch module (any input: training exports it and checks the twin), or a
    scikit-learn estimator on numeric columns (a classifier's twin in float32, a
    regressor's in float64); with the converter and ONNX Runtime at hand."""
    model, profile = probe.model, probe.input
    if model is None or profile is None:
        return False
    if framework_of(probe) == "pytorch":
        return _installed("onnx", "onnxruntime")
    numeric = all(c.type in {"float", "int", "bool"} for c in profile.columns)
    return model.module.startswith("sklearn") and numeric and _twins_installed()


ARRAY_METHODS = frozenset({"predict", "predict_proba"})
"""What the ONNX twin answers (`onnx_model.OnnxModel`): calls that may take an array."""
TWIN_ATTRIBUTES = ARRAY_METHODS | {"classes_"}
"""What a scikit-learn model's ONNX twin has of it: those calls and the classes."""


def twin_answers(plan: Plan, step: Step) -> bool:
    """Whether the predict section uses the model only through what its ONNX twin has
    (TWIN_ATTRIBUTES); any other use (`model.score`, `model.coef_`, the model handed to a
    function) needs the model as trained, so the service keeps it."""
    models = {a.name for a in argument_sources(plan, step) if a.source == "model"}
    try:
        tree = ast.parse(step.body)
    except SyntaxError:
        return False
    through_twin = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in TWIN_ATTRIBUTES
    }
    return all(
        id(node) in through_twin
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id in models
    )


def transformed_state(plan: Plan, step: Step) -> list[str]:
    """State values the predict section uses only as `name.transform(...)` (fitted scalers,
    encoders): training may store an ONNX twin for each, so the service need not unpickle
    scikit-learn for them. Values the row-wise preprocessing also reads stay as trained."""
    row = plan.row_function
    read_by_rows = {a.name for a in row.arguments} if row else set()
    candidates = [
        a.name
        for a in argument_sources(plan, step)
        if a.source == "state" and a.name not in read_by_rows
    ]
    try:
        tree = ast.parse(step.body)
    except SyntaxError:
        return []
    transformed = {
        id(node.func.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "transform"
    }
    names = [node for node in ast.walk(tree) if isinstance(node, ast.Name)]
    return [
        name
        for name in candidates
        if any(node.id == name for node in names)
        and all(id(node) in transformed for node in names if node.id == name)
    ]


def build_serving(plan: Plan, step: Step, probe: ProbeResult, onnx: bool = True) -> Serving:
    """The service description from the plan's predict step and the probe's profile
    (a KeyError when the probe recorded no input or outputs: no service, and why)."""
    camel = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", plan.project) if part)
    profile, recorded = probe.input, probe.outputs
    if profile is None or recorded is None:
        raise KeyError("input" if profile is None else "outputs")
    raw = plan.row_function if probe.raw_input is not None else None
    if raw is not None and probe.raw_input is not None:
        profile = probe.raw_input  # the rows as loaded: the notebook's own code derives the rest
    row_shape = tuple(profile.shape or ())
    fields = _fields(profile.columns, row_shape)
    dtypes = {
        c.name: profile.dtype if row_shape and profile.dtype else _dtype(c) for c in profile.columns
    }
    values_per_row = math.prod(row_shape) if row_shape else len(fields)
    outputs = [ResponseField(name, output.type) for name, output in recorded.items()]
    predictions = [
        {name: output.values[i] for name, output in recorded.items()}
        for i in range(len(profile.rows))
    ]
    return Serving(
        class_name=camel + "Service",
        row_model=camel + "Row",
        prediction_model=camel + "Prediction",
        predict_function=step.function,
        data_input=data_input_of(plan, step),
        kind=profile.kind,
        fields=fields,
        dtypes=dtypes,
        outputs=outputs,
        example_rows=list(profile.rows),
        example_predictions=predictions,
        observed_rows=profile.observed_rows,
        config_arguments=[a.name for a in step.arguments if a.from_config],
        state=serving_state_of(plan, step),
        state_twins=transformed_state(plan, step) if _twins_installed() else [],
        onnx=onnx
        and onnx_applies(probe)
        and (framework_of(probe) == "pytorch" or twin_answers(plan, step)),
        input_dtype=profile.dtype or "float64",
        row_shape=row_shape,
        input_device=profile.device or "cpu",
        max_batch_rows=max(1, min(MAX_BATCH_ROWS, MAX_BATCH_VALUES // max(1, values_per_row))),
        row_function=raw.function if raw else None,
        row_table=raw.table if raw else None,
        feature_rows_reason=None if raw or _as_loaded(profile, probe) else plan.feature_rows_reason,
    )


def _as_loaded(profile: InputProfile, probe: ProbeResult) -> bool:
    """The predict input's columns are columns of the loaded data, with its ranges: requests
    already carry raw rows (the predict section preprocesses them itself, as tabular_mlp's
    does). Same names with other ranges (a column scaled in place) are features."""
    if profile.kind != "dataframe":
        return False
    for table in probe.data_profile.values():
        loaded = (
            {c.get("name"): c for c in table.get("columns", [])} if isinstance(table, dict) else {}
        )
        if all(
            c.name in loaded
            and (c.min, c.max) == (loaded[c.name].get("min"), loaded[c.name].get("max"))
            for c in profile.columns
        ):
            return True
    return False


def _fields(columns: tuple[InputColumn, ...], shape: tuple[int, ...] = ()) -> list[RequestField]:
    used: set[str] = set()
    fields: list[RequestField] = []
    for column in columns:
        name = _identifier(column.name, used)
        minimum, maximum = _bounds(column)
        fields.append(
            RequestField(
                name=name,
                column=column.name,
                type_name=column.type,
                minimum=minimum,
                maximum=maximum,
                categories=column.categories or (),
                nullable=column.nullable,
                shape=shape,
            )
        )
    return fields


def _bounds(column: InputColumn) -> tuple[Any, Any]:
    low, high = column.min, column.max
    if low is None or high is None:
        return None, None
    margin = (high - low) * RANGE_MARGIN
    lowest = low - margin if low < 0 else max(0, low - margin)  # non-negative data stays so
    if column.type == "int":
        return math.floor(lowest), math.ceil(high + margin)
    return _round(lowest), _round(high + margin)


def _round(value: float) -> float:
    """A readable bound: 6 significant digits are plenty for a validity range."""
    return float(f"{value:.6g}")


def _identifier(column: str, used: set[str]) -> str:
    name = re.sub(r"\W+", "_", column).strip("_") or "column"
    if name[0].isdigit():
        name = f"c_{name}"
    if keyword.iskeyword(name) or name in {"model_config", "model_fields"}:
        name += "_"
    candidate, counter = name, 2
    while candidate in used:
        candidate = f"{name}_{counter}"
        counter += 1
    used.add(candidate)
    return candidate


def _dtype(column: InputColumn) -> str:
    return {"float": "float64", "int": "int64", "bool": "bool", "str": "object"}[column.type]

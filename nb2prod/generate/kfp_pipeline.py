"""What `pipelines/pipeline.py.j2` renders: one Kubeflow component per step, and the DAG.

Each component calls the package's own step function (`<package>.pipeline.<step>`),
reading its data arguments from input artifacts and writing each value it returns to
an output artifact (`kfp_values.py` chooses the format); config values arrive as
pipeline parameters. Edges follow `plan/dag.py`. A final component saves the model
with `train.save_artifacts`, the training script's own code, so the Model artifact
holds what `<project>-train` writes; the step that returns every metric logs them to
a Metrics artifact through `train.collect_metrics` (the save component does when no
single step returns them all).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from nb2prod.analyse.parameters import Parameter
from nb2prod.plan.build import Plan, data_step_position
from nb2prod.plan.dag import last_providers, tasks
from nb2prod.read.roles import SETUP

SAVE_COMPONENT = "save_model"
KFP_TYPES = {"int": "int", "float": "float", "str": "str", "bool": "bool"}
"""Parameter types KFP takes as they are; lists, tuples and dicts travel as `list`/`dict`."""


@dataclass(frozen=True)
class Port:
    """One parameter of a component function: its name and annotation."""

    name: str
    annotation: str


@dataclass(frozen=True)
class Component:
    """One component: its signature, the call of the step, and where results go."""

    name: str
    step_function: str
    doc: str
    ports: tuple[Port, ...]
    call: str
    result: str
    """The local name of what the step returns (empty: it returns nothing)."""
    writes: tuple[tuple[str, str], ...]
    """(expression, output artifact) pairs, in the step's return order."""
    task_inputs: tuple[tuple[str, str, str], ...]
    """(input port, providing component, its output port) for the pipeline's wiring."""
    config: tuple[str, ...]
    """Pipeline parameters it receives (same names)."""
    after: tuple[str, ...]
    """Components it waits for without reading their outputs (Kale's `prev:`)."""
    metrics: str | None = None
    """Its Output[Metrics] port, when it logs the metrics."""
    metric_values: tuple[tuple[str, str], ...] = ()
    """(metric source, expression) pairs it hands to `collect_metrics`."""
    fingerprint: str | None = None
    """Its output port for `data_sha256`, when it is the load step."""


@dataclass(frozen=True)
class SaveComponent:
    """The final component: every value `run_pipeline` returns, saved as training does."""

    name: str
    ports: tuple[Port, ...]
    values: tuple[tuple[str, str], ...]
    """(value name, input port), `data_sha256` first, in `run_pipeline`'s order."""
    task_inputs: tuple[tuple[str, str, str], ...]
    config: tuple[str, ...]
    model: str
    metrics: str | None


@dataclass(frozen=True)
class PipelineParameter:
    name: str
    annotation: str
    default: str


@dataclass(frozen=True)
class KfpPipeline:
    components: tuple[Component, ...]
    save: SaveComponent
    parameters: tuple[PipelineParameter, ...]
    metrics_component: str
    metrics_port: str
    setup_steps: tuple[str, ...]
    """Setup steps that return nothing (seeds, options): every task runs them first,
    as `run_pipeline` runs them once in its one process."""
    submit_arguments: str = "{}"
    """The first parameter with its default as the README's submit example shows it
    (double-quoted, as ruff formats Python blocks in Markdown)."""


def kfp_pipeline(plan: Plan) -> KfpPipeline:
    """The components and wiring of the plan's Kubeflow pipeline (a plan with a model)."""
    types = {p.name: _kfp_type(p) for p in plan.parameters}
    metric_step = _metric_step(plan)
    data_step = data_step_position(plan)
    components: list[Component] = []
    outputs_of: dict[str, dict[str, str]] = {}  # component -> value name -> output port
    setup_steps = tuple(s.function for s in plan.steps if s.role == SETUP and not s.outputs)
    for position, task in enumerate(tasks(plan)):
        step = task.step
        if step.function in setup_steps:
            continue
        taken = {a.name for a in step.arguments}
        out_ports = {name: _unique(name, taken) for name in step.outputs}
        taken |= set(out_ports.values())
        result = _unique("result", taken) if step.outputs else ""
        taken.add(result)
        writes = _writes(step.outputs, out_ports, result)
        ports = [Port(i.name, _input_type(i.name, plan)) for i in task.inputs]
        ports += [Port(p, _output_type(n, plan)) for n, p in out_ports.items()]
        fingerprint = None
        if position == data_step:
            fingerprint = _unique("data_sha256", taken)
            taken.add(fingerprint)
            ports.append(Port(fingerprint, "Output[Artifact]"))
        metrics = None
        metric_values: tuple[tuple[str, str], ...] = ()
        if step.function == metric_step:
            metrics = _unique("metrics", taken)
            ports.append(Port(metrics, "Output[Metrics]"))
            values = dict(writes_by_name(step.outputs, result))
            metric_values = tuple((s, values[s]) for s in plan.metrics.sources)
        config = tuple(a.name for a in step.arguments if a.from_config)
        ports += [Port(name, types[name]) for name in config]
        components.append(
            Component(
                name=step.function,
                step_function=step.function,
                doc=f"Run `{step.function}` (notebook {step.cell_span}) as a pipeline task.",
                ports=tuple(ports),
                call=_call(step.function, step.arguments, plan),
                result=result,
                writes=writes,
                task_inputs=tuple(
                    (i.name, i.provider, outputs_of[i.provider][i.name]) for i in task.inputs
                ),
                config=config,
                after=task.after_only,
                metrics=metrics,
                metric_values=metric_values,
                fingerprint=fingerprint,
            )
        )
        outputs_of[step.function] = dict(out_ports)
        if fingerprint:
            outputs_of[step.function]["data_sha256"] = fingerprint
    save = _save_component(plan, outputs_of, types, metric_step is None, components)
    metric_component = next((c for c in components if c.metrics), None)
    return KfpPipeline(
        components=tuple(components),
        save=save,
        parameters=tuple(
            PipelineParameter(p.name, types[p.name], _default(p)) for p in plan.parameters
        ),
        metrics_component=metric_component.name if metric_component else save.name,
        metrics_port=(metric_component.metrics if metric_component else save.metrics) or "",
        setup_steps=setup_steps,
        submit_arguments=_submit_arguments(plan.parameters[:1]),
    )


def _submit_arguments(parameters: tuple[Parameter, ...]) -> str:
    """`{"name": default}` as Python source in ruff's style."""
    pairs = (f"{_formatted(p.name)}: {_formatted(p.default)}" for p in parameters)
    return "{" + ", ".join(pairs) + "}"


def _formatted(value: object) -> str:
    """Python source of a literal with double-quoted strings (ruff's style)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple, set)):
        return "[" + ", ".join(_formatted(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_formatted(k)}: {_formatted(v)}" for k, v in value.items()) + "}"
    return repr(value)


def writes_by_name(outputs: tuple[str, ...], result: str) -> list[tuple[str, str]]:
    """Each returned value's name and the expression holding it in the component."""
    if len(outputs) == 1:
        return [(outputs[0], result)]
    return [(name, f"{result}[{i}]") for i, name in enumerate(outputs)]


def _writes(
    outputs: tuple[str, ...], ports: dict[str, str], result: str
) -> tuple[tuple[str, str], ...]:
    return tuple((expr, ports[name]) for name, expr in writes_by_name(outputs, result))


def _save_component(
    plan: Plan,
    outputs_of: dict[str, dict[str, str]],
    types: dict[str, str],
    logs_metrics: bool,
    components: list[Component],
) -> SaveComponent:
    names = {c.name for c in components}
    name = SAVE_COMPONENT if SAVE_COMPONENT not in names else f"{SAVE_COMPONENT}_artifacts"
    providers = last_providers(plan)
    loader = next((c for c in components if c.fingerprint), None)
    wanted: list[tuple[str, str]] = []  # (value name, provider)
    if loader is not None:
        wanted.append(("data_sha256", loader.name))
    wanted += list(providers.items())
    taken = {p.name for p in plan.parameters}
    values, task_inputs, ports = [], [], []
    for value, provider in wanted:
        port = _unique(value, taken)
        taken.add(port)
        values.append((value, port))
        task_inputs.append((port, provider, outputs_of[provider][value]))
        ports.append(Port(port, _input_type(value, plan)))
    config = tuple(p.name for p in plan.parameters)
    ports += [Port(p, types[p]) for p in config]
    model = _unique("model", taken)
    taken.add(model)
    ports.append(Port(model, "Output[Model]"))
    metrics = _unique("metrics", taken) if logs_metrics else None
    if metrics:
        ports.append(Port(metrics, "Output[Metrics]"))
    return SaveComponent(
        name, tuple(ports), tuple(values), tuple(task_inputs), config, model, metrics
    )


def _metric_step(plan: Plan) -> str | None:
    """The step that returns every metric source last, when one does."""
    providers = last_providers(plan)
    found = {providers.get(source) for source in plan.metrics.sources}
    return found.pop() if len(found) == 1 else None


def _call(function: str, arguments: tuple, plan: Plan) -> str:
    """`step(read_value(X), n=n)`: data read from artifacts, tuples rebuilt from lists."""
    tuples = {p.name for p in plan.parameters if p.type_name.startswith("tuple")}
    data = [f"read_value({a.name})" for a in arguments if not a.from_config]
    config = [
        f"{a.name}=tuple({a.name})" if a.name in tuples else f"{a.name}={a.name}"
        for a in arguments
        if a.from_config
    ]
    return f"{function}({', '.join(data + config)})"


def _input_type(name: str, plan: Plan) -> str:
    return "Input[Model]" if name == plan.model else "Input[Artifact]"


def _output_type(name: str, plan: Plan) -> str:
    return "Output[Model]" if name == plan.model else "Output[Artifact]"


def _kfp_type(parameter: Parameter) -> str:
    name = parameter.type_name
    if name in KFP_TYPES:
        return KFP_TYPES[name]
    if name.startswith(("list", "tuple", "set")):
        return "list"
    if name.startswith("dict"):
        return "dict"
    return "str"


def _default(parameter: Parameter) -> str:
    value = parameter.default
    if isinstance(value, (tuple, set)):
        value = list(value)
    return repr(value)


def _unique(name: str, taken: set[str]) -> str:
    """`name`, or `name_` (`name__`, ...) when a port already has it."""
    while name in taken:
        name += "_"
    return name

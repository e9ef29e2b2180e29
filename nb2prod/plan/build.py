"""From an analysed notebook to a plan: plain data that the templates render.

Steps, in order:
1. read roles and group cells into sections (`roles.py`);
2. clean and split each section, read its name flow (`analysis.py`);
3. parameters become config fields; imports, functions and classes go to
   module level;
4. data flow across sections: a section's inputs are the names it reads
   that a parameter or an earlier section provides; its outputs are the names
   it binds or mutates that a later section reads, plus what its role hands
   on (model, metrics, predictions). Objects changed in place are returned
   too, so the flow is visible and no mutation is lost;
5. anything read but never provided is a problem naming the cell.
"""

from __future__ import annotations

import ast
import dataclasses
import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from nb2prod.analyse.depth import room_for_deep_code
from nb2prod.analyse.fit_score import SCORE_FUNCTION, fit_score_section
from nb2prod.analyse.globals_rewrite import (
    Rewrites,
    called_functions,
    declared_globals,
    plan_rewrites,
    uses_as_value,
)
from nb2prod.analyse.hazards import find_hazards
from nb2prod.analyse.names import (
    BUILTINS,
    free_names,
    imported_modules,
    imported_modules_of,
    name_events,
)
from nb2prod.analyse.parameters import Parameter, read_parameters, read_quick
from nb2prod.analyse.printed_scores import name_printed_scores
from nb2prod.analyse.role_outputs import (
    BEST_NAME,
    Metrics,
    ModelChoice,
    find_predictions,
    fit_inputs,
    metric_candidates,
    model_directive,
    predicting_objects,
    printed_names,
    trained_model,
    training_metric_candidates,
)
from nb2prod.analyse.row_picking import is_model_call, split_predict
from nb2prod.analyse.row_wise import replace_run, row_candidate
from nb2prod.analyse.sections import (
    SectionCode,
    analyse_section,
    check_definitions,
    hoist_constants,
    module_names,
)
from nb2prod.analyse.shown_predictions import name_shown_predictions
from nb2prod.errors import CellRef, Problem, Severity
from nb2prod.plan.source import NotebookSource, source_of
from nb2prod.read.magics import clean_cell
from nb2prod.read.notebook import Notebook
from nb2prod.read.roles import (
    EVALUATE,
    PARAMETERS,
    PREDICT,
    PREPROCESS,
    SELECT,
    SETUP,
    TEST,
    TRAIN,
    RoleReading,
    Section,
    read_roles,
)

FUNCTION_NAMES = {
    "load": "load_data",
    "train": "train_model",
    "predict": "predict",
    SELECT: "select_rows",
}
TEMPLATE_NAMES = frozenset(
    {"run_pipeline", "load_training_data", "config", "Config", "fingerprint", "Any",
     "annotations", "data_sha256"}
)  # fmt: skip
"""Names pipeline.py.j2 defines, imports or binds: no step function is named after one."""
RENAMED_TEMPLATE_NAMES = ("config", "Config", "fingerprint")
"""Names of pipeline.py.j2 that it renames (`config_`) when the notebook uses them too."""
MODEL_FIX = (
    "name the model the service should serve on a line of its own in any kept cell: "
    "`# nb2prod: model=NAME` (NAME: the variable holding the fitted model)"
)


@dataclass(frozen=True)
class Argument:
    """One argument of a step call: the parameter name and where its value comes from."""

    name: str
    from_config: bool
    type_name: str = "Any"


@dataclass(frozen=True)
class Step:
    """One section turned into a function."""

    function: str
    role: str
    cells: tuple[int, ...]
    title: str | None
    body: str
    arguments: tuple[Argument, ...] = ()
    outputs: tuple[str, ...] = ()
    data_input: str | None = None
    """For the predict step: the argument holding the rows to predict."""
    rows_source: str | None = None
    """For a `select_rows` lifted out of the model's call: the expression as written."""
    named_scores: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """For an evaluate step: per cell, the names given to the scores it only prints."""
    added_by_nb2prod: bool = False
    """The step nb2prod adds to score a model when no section computes a metric."""
    shown_predictions: tuple[int, str] | None = None
    """For a predict step whose cell shows the model's call: (cell, the name it got)."""
    after: tuple[str, ...] = ()
    """Functions of the steps Kale's `prev:` tags say this one runs after (besides the
    steps whose outputs it reads): a Kubeflow pipeline keeps that edge."""

    @property
    def cell_span(self) -> str:
        if len(self.cells) == 1:
            return f"cell {self.cells[0]}"
        return f"cells {', '.join(str(c) for c in self.cells)}"


@dataclass(frozen=True)
class RowFunction:
    """Preprocess code a service may run on a request's raw rows (`analyse/row_wise.py`):
    the probe decides whether it is row-wise; until then it is a candidate."""

    function: str
    """What the service calls on the request's rows (in pipeline.py)."""
    table: str
    """The preprocess step's name for the rows (`X`)."""
    step: str
    """The preprocess step that calls it."""
    cells: tuple[int, ...]
    statement: str
    """Its first statement as written, for messages."""
    generated: bool
    """nb2prod made it of the step's statements (else the notebook defines it)."""
    arguments: tuple[Argument, ...] = ()
    """Its arguments after the rows: parameters (`from_config`) or values stored with the
    model (fitted encoders, statistics: the preprocess step hands them on)."""


@dataclass(frozen=True)
class Plan:
    """Everything later stages need, as plain frozen data: no notebook node, no AST, so
    it pickles to a job, compares with `==`, and no stage reaches back into the analysis."""

    source: NotebookSource
    project: str
    package: str
    parameters: tuple[Parameter, ...]
    quick: dict[str, Any]
    """The faster parameter set of `# nb2prod: quick ...` (for smoke tests and CI)."""
    imports: tuple[str, ...]
    definitions: tuple[str, ...]
    steps: tuple[Step, ...]
    tests: tuple[Step, ...]
    test_imports: tuple[str, ...]
    model: str | None
    metrics: Metrics
    predictions: tuple[str, ...]
    fit_tables: tuple[str, ...]
    """What models are fitted on (`.fit(X_train, ...)`): the rows a request resembles."""
    pip_requirements: tuple[str, ...]
    problems: tuple[Problem, ...]
    cell_roles: dict[int, str]
    declared_cells: frozenset[int]
    cell_functions: dict[int, str]
    cell_flows: dict[int, tuple[tuple[str, ...], tuple[str, ...]]]
    """Per cell: which of its step's arguments it reads and outputs it binds (for check)."""
    modules: tuple[str, ...]
    """Top-level modules the kept code imports, first seen first: they count for the
    requirements even when the generated code no longer names them."""
    module_cells: dict[str, CellRef]
    """Per top-level module, the first kept cell (and line) importing it."""
    predict: Step | None
    """The step the service calls (see `_predict_step`), one of `steps`: decided once here."""
    template_names: dict[str, str] = field(
        default_factory=lambda: {name: name for name in RENAMED_TEMPLATE_NAMES}
    )
    """pipeline.py's own names (`config`, ...), renamed where the notebook uses them too."""
    row_function: RowFunction | None = None
    """The preprocess code the service runs on raw rows (None: it takes feature rows)."""
    feature_rows_reason: str | None = None
    """Why the service takes feature rows (no row-wise code found, or the probe's reason)."""

    def cell_ref(self, index: int, line: int | None = None) -> CellRef:
        """Where cell `index` of the source notebook is, for a problem."""
        return self.source.cell_ref(index, line)

    @property
    def blocking(self) -> list[Problem]:
        return [p for p in self.problems if p.blocking]

    @property
    def pipeline_names(self) -> list[str]:
        """Every name `run_pipeline` binds, in order, for its returned mapping."""
        names: list[str] = []
        for step in self.steps:
            names.extend(n for n in step.outputs if n not in names)
        return names


@dataclass(frozen=True)
class Analysis:
    """What a notebook says before its pipeline runs: roles, each section's code and name
    flow, rewrites, hazards, parameters, the model, the steps (without their arguments
    and outputs). The costly part of planning, kept so that `convert` plans again from
    it once the metrics are measured; plain data (no `id()` keys), so it pickles to a job.
    """

    notebook: Notebook
    reading: RoleReading
    codes: list[SectionCode]
    parameters: list[Parameter]
    quick: dict[str, Any]
    module: set[str]
    model: str | None
    steps: list[Step]
    """Without arguments and outputs: `plan_from` connects copies of them."""
    step_codes: list[SectionCode]
    """The section of each step, in the same order."""
    tests: list[Step]
    test_codes: list[SectionCode]
    imports: list[str]
    definitions: list[str]
    fit_tables: list[str]
    pip_requirements: list[str]
    template_names: dict[str, str]
    problems: tuple[Problem, ...]
    source: NotebookSource
    modules: tuple[str, ...]
    module_cells: dict[str, CellRef]


def build_plan(
    notebook: Notebook, project_name: str | None = None, metrics: Metrics | None = None
) -> Plan:
    """Analyse `notebook` and decide the generated project's code (see `plan_from`)."""
    return plan_from(analyse_notebook(notebook), project_name, metrics)


def analyse_notebook(notebook: Notebook) -> Analysis:
    """Read the roles, analyse every section and decide what does not depend on metrics."""
    with room_for_deep_code(notebook):
        return _analyse(notebook)


def _analyse(notebook: Notebook) -> Analysis:
    reading = read_roles(notebook)
    problems = list(reading.problems)
    first_pass: list[Problem] = []
    codes = [analyse_section(section, first_pass) for section in reading.sections]
    hoist_constants(codes)
    rewrites = _global_rewrites([c for c in codes if c.section.kept], problems)
    if rewrites:  # analyse again with the functions' new parameters and calls
        codes = [analyse_section(section, problems, rewrites) for section in reading.sections]
        hoist_constants(codes)
    else:
        problems.extend(first_pass)
    kept = [c for c in codes if c.section.kept]
    module = module_names(kept)
    check_definitions(kept, module, problems)
    problems.extend(find_hazards(kept))

    parameters: list[Parameter] = []
    quick: dict[str, Any] = {}
    for code in kept:
        if code.section.role.name == PARAMETERS:
            parameters.extend(read_parameters(code, problems))
    for code in kept:
        if code.section.role.name == PARAMETERS:
            quick.update(read_quick(code, parameters, problems))

    pipeline_codes = [c for c in kept if c.section.role.name not in {PARAMETERS, TEST}]
    test_codes = [c for c in kept if c.section.role.name == TEST]
    model = _choose_model(pipeline_codes, module, problems)
    taken = module | _variables(codes) | set(_names(parameters))
    pipeline_codes, shown = name_shown_predictions(pipeline_codes, model, taken)
    pipeline_codes, scores = name_printed_scores(pipeline_codes, taken)
    taken |= set(shown.values())
    pipeline_codes, lifted = split_predict(pipeline_codes, model, module, taken)
    scoring = _fit_score(pipeline_codes, model, taken, set(_names(parameters)))
    names = _function_names(pipeline_codes, taken | TEMPLATE_NAMES, scoring)
    _template_name_clashes(kept, problems)
    with_body = [code for code in pipeline_codes if code.body]
    kale_functions = {
        kale_name: names[id(code)] for code in with_body for kale_name in code.section.kale_names
    }  # the last function of each Kale step: what a step after it waits for
    steps: list[Step] = []
    for code in with_body:
        step = _step(code, names[id(code)])
        predicts = step.role == PREDICT
        steps.append(
            dataclasses.replace(
                step,
                added_by_nb2prod=code is scoring,
                named_scores={c: tuple(scores[c]) for c in step.cells if c in scores},
                rows_source=lifted[id(code)].source if id(code) in lifted else None,
                shown_predictions=next(((c, shown[c]) for c in step.cells if c in shown), None)
                if predicts
                else None,
                after=_after(code, kale_functions, step.function),
            )
        )
    tests = [
        _step(code, f"test_notebook_cell_{code.section.cells[0].index}") for code in test_codes
    ]
    return Analysis(
        notebook=notebook,
        source=source_of(notebook),
        reading=reading,
        codes=codes,
        parameters=parameters,
        quick=quick,
        module=module,
        model=model,
        steps=steps,
        step_codes=with_body,
        tests=tests,
        test_codes=test_codes,
        imports=_unique(
            c.text
            for code in pipeline_codes + [c for c in kept if c.section.role.name == PARAMETERS]
            for c in code.of_kind("import")
        ),
        definitions=[  # in notebook order, those of cells joining the parameters too
            c.text.strip("\n")
            for code in kept
            if code.section.role.name != TEST
            for c in code.chunks
            if c.kind in {"definition", "constant"}
        ],
        fit_tables=[
            n for c in pipeline_codes if c.section.role.name == TRAIN for n in fit_inputs(c)
        ],
        pip_requirements=_unique(r for code in codes for r in code.requirements),
        template_names=_template_names(module, taken | set(names.values())),
        problems=tuple(problems),
        modules=tuple(
            imported_modules([node for code in kept for c in code.chunks for node in c.nodes])
        ),
        module_cells=_module_cells(kept),
    )


def plan_from(
    analysis: Analysis,
    project_name: str | None = None,
    metrics: Metrics | None = None,
    feature_rows: str | None = None,
) -> Plan:
    """The plan of an analysed notebook: each step's arguments and outputs, the metrics.

    `metrics` are the metric sources a run of the pipeline confirmed (see `probe.py`);
    without them every name the evaluate section binds is a candidate, and its
    function returns them all so that the probe can look at their values. Cheap, and
    `analysis` is left as it was, so a plan can be made again with measured metrics.
    `feature_rows` is why the service must take feature rows (the probe found that the
    candidate row-wise code is not): the preprocess step then stays as written.
    """
    model, parameters = analysis.model, analysis.parameters
    problems = list(analysis.problems)
    predictions: list[str] = []
    required: dict[int, list[str]] = {}  # by step position: outputs the step must return
    sources: list[str] = []
    printed: list[tuple[str, int]] = []
    scored_in_training = not any(step.role == EVALUATE for step in analysis.steps)
    for position, (step, code) in enumerate(zip(analysis.steps, analysis.step_codes, strict=True)):
        if step.role == EVALUATE or (step.role == TRAIN and scored_in_training):
            if step.role == EVALUATE:
                own = metric_candidates(code, set(_names(parameters)))
                printed += printed_names(code)
            else:
                own = training_metric_candidates(code, set(_names(parameters)))
            sources += own
            wanted = own if metrics is None else [n for n in own if n in metrics.sources]
            required[position] = [n for n in wanted if n in code.binds]
        elif step.role == PREDICT:
            predictions = find_predictions(code, model)
            required[position] = predictions
    if metrics is None:
        metrics = Metrics(tuple(dict.fromkeys(sources)), printed=tuple(printed))
    else:
        kept_sources = tuple(n for n in metrics.sources if n in sources)
        metrics = Metrics(kept_sources, metrics.names, tuple(printed))
    if model is not None:
        _require_model(model, analysis, required)
    steps, tests = _connect(analysis, required, problems)
    _role_checks(analysis.notebook, analysis.reading.sections, model, metrics, problems)
    _unused_parameters(parameters, [*steps, *tests], analysis.source, problems)
    steps = [
        dataclasses.replace(step, data_input=_data_input(step, code, steps, model))
        if step.role == PREDICT
        else step
        for step, code in zip(steps, analysis.step_codes, strict=True)
    ]

    definitions = list(analysis.definitions)
    row_function, reason = None, feature_rows
    if _predict_step(steps, model) is not None and feature_rows is None:
        steps, row_function, reason = _row_function(analysis, steps, definitions)

    project = project_name_of(project_name or analysis.source.name)
    kept = [c for c in analysis.codes if c.section.kept and c.section.role.name != TEST]
    cell_functions = {cell: step.function for step in [*steps, *tests] for cell in step.cells}
    return Plan(
        source=analysis.source,
        project=project,
        package=project.replace("-", "_"),
        parameters=tuple(parameters),
        quick=analysis.quick,
        imports=tuple(analysis.imports),
        definitions=tuple(definitions),
        steps=tuple(steps),
        tests=tuple(tests),
        test_imports=tuple(_test_imports(analysis.test_codes, kept, project.replace("-", "_"))),
        model=model,
        metrics=metrics,
        predictions=tuple(predictions),
        fit_tables=tuple(analysis.fit_tables),
        pip_requirements=tuple(analysis.pip_requirements),
        problems=tuple(_sorted(problems)),
        cell_roles=analysis.reading.roles_by_cell,
        declared_cells=frozenset(analysis.reading.explicit),
        cell_functions=cell_functions,
        cell_flows=_cell_flows(analysis.codes, [*steps, *tests], cell_functions),
        modules=analysis.modules,
        module_cells=analysis.module_cells,
        predict=_predict_step(steps, model),
        template_names=analysis.template_names,
        row_function=row_function,
        feature_rows_reason=reason,
    )


NO_ROW_CODE = (
    "the preprocess section has no code nb2prod can run on a request's rows alone (before "
    "the split: statements that each change one table, or a call of a notebook function "
    "on one table)"
)


def _row_function(
    analysis: Analysis, steps: list[Step], definitions: list[str]
) -> tuple[list[Step], RowFunction | None, str | None]:
    """The steps with the preprocess code a service may run on raw rows (made a function
    of its own when it is a run of statements, appended to `definitions`), that code, or
    why there is none (see `analyse/row_wise.py`; the probe has the last word)."""
    functions = {
        chunk.defined_name
        for code in analysis.codes
        if code.section.kept
        for chunk in code.of_kind("definition")
        if isinstance(chunk.nodes[0], (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    taken = analysis.module | _variables(analysis.codes) | {s.function for s in steps}
    for position in reversed(range(len(steps))):
        step = steps[position]
        if step.role != PREPROCESS:
            continue
        found = row_candidate(step.body, analysis.module, functions - {None}, taken)
        if found is None:
            continue
        code = analysis.step_codes[position]
        cells = [c.cell.index for c in code.body if found.statement in c.text] or step.cells
        parameters = set(_names(analysis.parameters))
        row = RowFunction(
            found.function, found.table, step.function, (cells[0],), found.statement,
            generated=found.lines is not None,
            arguments=tuple(Argument(name, name in parameters) for name in found.arguments),
        )  # fmt: skip
        if found.lines is not None:
            body, statements = replace_run(step.body, found)
            state = [a.name for a in row.arguments if not a.from_config]
            handed = [n for n in state if n in code.binds and n not in step.outputs]
            changed = dataclasses.replace(step, body=body, outputs=(*step.outputs, *handed))
            steps = [*steps[:position], changed, *steps[position + 1 :]]
            definitions.append(_row_definition(row, statements))
        return steps, row, None
    return steps, None, NO_ROW_CODE


def _row_definition(row: RowFunction, statements: str) -> str:
    """The function nb2prod makes of a preprocess step's row-wise statements."""
    cells = ", ".join(str(c) for c in row.cells)
    body = "\n".join(f"    {line}" if line.strip() else "" for line in statements.split("\n"))
    given = ", ".join(f"{name}: Any" for name in [row.table, *(a.name for a in row.arguments)])
    return (
        f"def {row.function}({given}) -> Any:\n"
        f'    """The row-wise statements of `{row.step}`: each row\'s features from its own\n'
        f"    values, so the service runs them on a request's rows too.\n\n"
        f'    From notebook cell{"s" if len(row.cells) > 1 else ""} {cells}.\n    """\n'
        f"{body}\n    return {row.table}"
    )


def _predict_step(steps: list[Step], model: str | None) -> Step | None:
    """The step the service calls: the predict section, when it reads the model and data."""
    step = next((s for s in steps if s.role == PREDICT), None)
    if step is None or model is None or not step.outputs:
        return None
    uses_model = any(a.name == model for a in step.arguments)
    return step if uses_model and data_arguments(step, model) else None


def data_arguments(step: Step, model: str | None) -> list[str]:
    """The arguments of `step` that hold data: neither config nor the model."""
    return [a.name for a in step.arguments if not a.from_config and a.name != model]


def data_step_position(plan: Plan) -> int | None:
    """The load step (else the first step): its outputs are the training data."""
    positions = [i for i, s in enumerate(plan.steps) if s.role == "load" and s.outputs]
    if positions:
        return positions[0]
    return 0 if plan.steps and plan.steps[0].outputs else None


def _module_cells(kept: list[SectionCode]) -> dict[str, CellRef]:
    """Per top-level module, the first kept cell importing it, with the line."""
    found: dict[str, CellRef] = {}
    for code in kept:
        for cell in code.section.cells:
            clean = clean_cell(cell)
            if clean.tree is None:
                continue
            for node in ast.walk(clean.tree):
                for name in imported_modules_of(node):
                    found.setdefault(name.split(".")[0], cell.ref(clean.cell_line(node.lineno)))
    return found


def _cell_flows(
    codes: list[SectionCode], steps: list[Step], cell_functions: dict[int, str]
) -> dict[int, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Per cell: which of its section's inputs it reads and outputs it binds."""
    flows: dict[int, tuple[list[str], list[str]]] = {}
    by_function = {step.function: step for step in steps}
    for code in codes:
        step = by_function.get(cell_functions.get(code.section.cells[0].index, ""))
        if step is None:
            continue
        arguments = {a.name for a in step.arguments}
        for cell, event in code.events:
            inputs, outputs = flows.setdefault(cell.index, ([], []))
            if event.kind == "load" and event.name in arguments and event.name not in inputs:
                inputs.append(event.name)
            if event.kind != "load" and event.name in step.outputs and event.name not in outputs:
                outputs.append(event.name)
    return {cell: (tuple(ins), tuple(outs)) for cell, (ins, outs) in flows.items()}


def _test_imports(
    test_codes: list[SectionCode], pipeline_codes: list[SectionCode], package: str
) -> list[str]:
    """Imports of the test module: the test cells' own, and the module-level names they read."""
    own = [c.text.strip("\n") for code in test_codes for c in code.of_kind("import")]
    needed = {name for code in test_codes for name in code.needs}
    imported: list[str] = []
    functions: list[str] = []
    for code in pipeline_codes:
        for chunk in code.chunks:
            if chunk.kind == "import" and needed & _imported(chunk):
                imported.append(chunk.text.strip("\n"))
            elif chunk.kind == "definition" and chunk.defined_name in needed:
                functions.append(str(chunk.defined_name))
    if functions:
        imported.append(f"from {package}.pipeline import {', '.join(functions)}")
    return _unique([*own, *imported])


def _global_rewrites(kept: list[SectionCode], problems: list[Problem]) -> Rewrites:
    """Which module-level functions get which notebook variables as parameters."""
    module = module_names(kept)
    definitions = {
        chunk.defined_name: (chunk, chunk.nodes[0])
        for code in kept
        for chunk in code.of_kind("definition")
        if isinstance(chunk.nodes[0], (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    provided = {name for code in kept if code.section.role.name != TEST for name in code.binds}
    free = {
        name: free_names(node) - module - BUILTINS - declared_globals(node)
        for name, (_, node) in definitions.items()
    }  # a `global` name cannot be passed in: check_definitions reports it
    calls = {name: called_functions(node, definitions) for name, (_, node) in definitions.items()}
    rewrites = plan_rewrites({n: f for n, f in free.items() if f}, calls, provided)
    for code in kept:
        for chunk in code.chunks:
            for node in chunk.nodes:
                for function, line in uses_as_value(node, rewrites).items():
                    names = ", ".join(f"`{n}`" for n in rewrites[function])
                    problems.append(
                        Problem(
                            "function-used-as-value",
                            f"`{function}` reads {names} from the notebook and is passed as a "
                            "value here, so nb2prod cannot hand it those names",
                            f"pass them explicitly: functools.partial({function}, "
                            + ", ".join(f"{n}={n}" for n in rewrites[function])
                            + ")",
                            Severity.ERROR,
                            chunk.cell.ref(line),
                        )
                    )
    return rewrites


def _step(code: SectionCode, function: str) -> Step:
    return Step(
        function=function,
        role=code.section.role.name if code.section.role.step is None else "step",
        cells=tuple(
            sorted({c.cell.index for c in code.body} or {c.index for c in code.section.cells})
        ),
        title=code.section.title,
        body=_join_body(code),
    )


def _after(code: SectionCode, kale_functions: dict[str, str], function: str) -> tuple[str, ...]:
    """The functions of the Kale steps `code`'s section names in `prev:` tags; a name
    with no kept code (a skipped step, the parameters) has nothing to wait for."""
    found = (kale_functions.get(name) for name in code.section.prev)
    return tuple(dict.fromkeys(f for f in found if f is not None and f != function))


def _join_body(code: SectionCode) -> str:
    """Body chunks as written: blank line kept within a cell, one between cells."""
    parts: list[str] = []
    previous = None
    for chunk in code.body:
        text = chunk.text if chunk.cell is previous else chunk.text.lstrip("\n")
        parts.append(text if chunk.cell is previous or not parts else "\n" + text)
        previous = chunk.cell
    return "\n".join(parts).strip("\n")


def _connect(
    analysis: Analysis, required: dict[int, list[str]], problems: list[Problem]
) -> tuple[list[Step], list[Step]]:
    """The steps and tests with their arguments and outputs, from the sections' name flow:
    collected in lists by position, then frozen into copies of the analysed steps (the
    analysis keeps its own, so `plan_from` can run again)."""
    parameters, model = analysis.parameters, analysis.model
    param_types = {p.name: p.type_name for p in parameters}
    provider: dict[str, int | None] = {p.name: None for p in parameters}  # None: config
    consumers = [
        *zip(analysis.steps, analysis.step_codes, strict=True),
        *zip(analysis.tests, analysis.test_codes, strict=True),
    ]
    arguments: list[list[Argument]] = [[] for _ in consumers]
    outputs: list[list[str]] = [[] for _ in consumers]
    for position, (step, code) in enumerate(consumers):
        for name, (cell, line) in code.needs.items():
            if name in analysis.module or name in BUILTINS:
                continue
            if name not in provider:
                if name not in code.maybe_local:
                    problems.append(_missing(name, cell, line, analysis.codes, code))
                continue
            source = provider[name]
            arguments[position].append(Argument(name, source is None, param_types.get(name, "Any")))
            if source is not None and name not in outputs[source]:
                outputs[source].append(name)
        if step.role != TEST:
            for name in code.binds:
                provider[name] = position
    for position, code in enumerate(analysis.step_codes):
        for name in required.get(position, []):
            if name not in outputs[position]:
                outputs[position].append(name)
        outputs[position].sort(key=code.binds.index)
    connected = [
        dataclasses.replace(
            step,  # the model leads, as in `predict(model, rows)`
            arguments=tuple(sorted(given, key=lambda a: (a.from_config, a.name != model))),
            outputs=tuple(returned),
        )
        for (step, _), given, returned in zip(consumers, arguments, outputs, strict=True)
    ]
    return connected[: len(analysis.steps)], connected[len(analysis.steps) :]


def _missing(
    name: str, cell: Any, line: int, codes: list[SectionCode], reader: SectionCode
) -> Problem:
    """Explain why `name` is not available: skipped, defined later, or nowhere."""
    definer = _defining_cell(name, codes)
    if definer is not None and not definer[0].section.kept:
        skipped = definer[1]
        return Problem(
            "defined-in-skipped-cell",
            f"`{name}` is defined only in skipped cell {skipped.index} (`{skipped.first_line}`)",
            f"move the definition of `{name}` into a kept cell, or remove the skip role "
            f"from cell {skipped.index}",
            Severity.ERROR,
            cell.ref(line),
        )
    if definer is not None:
        later = definer[1]
        return Problem(
            "used-before-definition",
            f"`{name}` is used before any kept cell defines it (cell {later.index} defines "
            "it later; the notebook only worked because cells ran out of order)",
            f"move the code that defines `{name}` above this line, then re-run the "
            "notebook top to bottom",
            Severity.ERROR,
            cell.ref(line),
        )
    return Problem(
        "undefined-name",
        f"`{name}` is used but no kept cell defines it",
        f"define `{name}` in an earlier cell (or the parameters cell), or import it",
        Severity.ERROR,
        cell.ref(line),
    )


def _defining_cell(name: str, codes: list[SectionCode]) -> tuple[SectionCode, Any] | None:
    """The first cell that binds `name`, kept cells first."""
    for kept in (True, False):
        for code in codes:
            if code.section.kept != kept:
                continue
            for chunk in code.chunks:
                if chunk.defined_name == name or name in _imported(chunk):
                    return code, chunk.cell
            for cell, event in code.events:
                if event.name == name and event.kind == "store":
                    return code, cell
    return None


def _imported(chunk: Any) -> set[str]:
    names: set[str] = set()
    for node in chunk.nodes:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {a.asname or a.name.split(".")[0] for a in node.names}
    return names


def _role_checks(
    notebook: Notebook,
    sections: list[Section],
    model: str | None,
    metrics: Metrics,
    problems: list[Problem],
) -> None:
    run = [c for c in notebook.cells if c.kind == "code" and c.execution_count]
    first = next(
        (
            c
            for c, prev in zip(run[1:], run[:-1], strict=True)
            if c.execution_count < prev.execution_count
        ),
        None,
    )
    if first is not None:
        problems.append(
            Problem(
                "out-of-order",
                "cells were last run out of order (execution counts go down); nb2prod follows "
                "the notebook's order, which may not be how the results were produced",
                "restart the kernel and run all cells top to bottom, then check the results",
                Severity.WARNING,
                first.ref(),
            )
        )
    evaluate = next((s for s in sections if s.role.name == EVALUATE), None)
    if evaluate is not None and not metrics.sources:
        problems.append(
            Problem(
                "no-metrics",
                "the evaluate section binds no value nb2prod can compare (printed scores "
                "are not kept), so verify cannot check its results",
                "assign the scores to names: `accuracy = accuracy_score(...)`, then print them",
                Severity.WARNING,
                evaluate.cells[0].ref(),
            )
        )


def _choose_model(
    codes: list[SectionCode], module: set[str], problems: list[Problem]
) -> str | None:
    """The model to save and serve: see `role_outputs.py`. A problem when it is unclear."""
    bound = {name for code in codes for name in code.binds}
    for code in codes:
        directive = model_directive(code)
        if directive is None:
            continue
        name, cell_index, line = directive
        cell = next(c for c in code.section.cells if c.index == cell_index)
        if not name.isidentifier() or name not in bound:
            problems.append(
                Problem(
                    "bad-model-directive",
                    f"`# nb2prod: model={name}` names no variable a kept section binds",
                    MODEL_FIX,
                    Severity.ERROR,
                    cell.ref(line),
                )
            )
            return None
        return name
    provided: set[str] = set()
    for code in codes:
        if code.section.role.name == PREDICT:
            objects = predicting_objects(code, provided - module)
            distinct = list(dict.fromkeys(name for name, _ in objects))
            if len(distinct) == 1:
                return distinct[0]
            if len(distinct) > 1:
                line = objects[0][1]
                problems.append(
                    Problem(
                        "ambiguous-model",
                        f"the predict section predicts with several objects "
                        f"({', '.join(f'`{n}`' for n in distinct)}), so the one to serve is "
                        "not clear",
                        MODEL_FIX,
                        Severity.ERROR,
                        code.section.cells[0].ref(line),
                    )
                )
                return None
        provided |= set(code.binds)
    best = [
        n
        for code in codes
        if code.section.role.name == EVALUATE
        for n in code.binds
        if BEST_NAME.match(n) and n not in code.maybe_local
    ]
    if best:
        return best[-1]
    trainers = [code for code in codes if code.section.role.name == TRAIN]
    choices = [trained_model(code) for code in trainers]
    named = [c for c in choices if c.name]
    unclear = [c for c in choices if c.candidates]
    choice = (named or unclear or choices or [ModelChoice(None)])[-1]
    if choice.name is None and trainers:
        problems.append(
            Problem(
                "no-model",
                f"{choice.reason or 'the train section fits no model that nb2prod can find'}: "
                "training would save nothing",
                MODEL_FIX,
                Severity.ERROR,
                trainers[-1].section.cells[0].ref(),
            )
        )
    return choice.name


def _data_input(step: Step, code: SectionCode, steps: list[Step], model: str | None) -> str | None:
    """The predict step's argument that holds the rows: what `select_rows` picked, else
    what reaches the model's call (through local assignments), else the first data."""
    data = data_arguments(step, model)
    if not data:
        return None
    picked = [n for s in steps if s.role == SELECT for n in s.outputs if n in data]
    if picked:
        return picked[0]
    assigned: dict[str, ast.expr] = {}
    for chunk in code.body:
        for node in chunk.nodes:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, node.value)
    for node in [n for chunk in code.body for n in chunk.nodes]:
        for call in ast.walk(node):
            if is_model_call(call, model) and isinstance(call, ast.Call) and call.args:
                found = _argument_behind(call.args[0], assigned, set(data))
                if found:
                    return found
    return data[0]


def _argument_behind(
    expression: ast.expr, assigned: dict[str, ast.expr], arguments: set[str], depth: int = 0
) -> str | None:
    """The argument an expression is computed from: `sample` behind `scaler.transform(sample)`."""
    if depth > 5:
        return None
    values = [expression]
    if isinstance(expression, ast.Call):  # positional data, then the receiver, then options
        receiver = [expression.func.value] if isinstance(expression.func, ast.Attribute) else []
        values = [*expression.args, *receiver, *(k.value for k in expression.keywords)]
    for value in values:
        for node in ast.walk(value):
            if isinstance(node, ast.Name):
                if node.id in arguments:
                    return node.id
                if node.id in assigned:
                    found = _argument_behind(assigned[node.id], assigned, arguments, depth + 1)
                    if found:
                        return found
    return None


def _require_model(model: str, analysis: Analysis, required: dict[int, list[str]]) -> None:
    """The last step before predicting that binds the model hands it on."""
    binders = [
        position
        for position, (step, code) in enumerate(
            zip(analysis.steps, analysis.step_codes, strict=True)
        )
        if step.role not in {PREDICT, SELECT} and model in code.binds
    ]
    if binders:
        required.setdefault(binders[-1], []).append(model)


def _unused_parameters(
    parameters: list[Parameter],
    steps: list[Step],
    source: NotebookSource,
    problems: list[Problem],
) -> None:
    """A parameter no kept section reads would be a flag that does nothing."""
    read = {a.name for step in steps for a in step.arguments if a.from_config}
    unused = [p for p in parameters if p.name not in read]
    if unused:
        names = ", ".join(f"`{p.name}`" for p in unused)
        problems.append(
            Problem(
                "unused-parameter",
                f"no kept section reads {names}: changing "
                f"{'them' if len(unused) > 1 else 'it'} would change nothing",
                "use the parameter in the cell that should depend on it, or remove it from "
                "the parameters cell (a skipped cell does not count)",
                Severity.WARNING,
                source.cell_ref(unused[0].cell_index),
            )
        )


def _variables(codes: list[SectionCode]) -> set[str]:
    """Every name any section reads or binds: function names must not shadow them."""
    return {event.name for code in codes for _, event in code.events}


def _names(parameters: list[Parameter]) -> list[str]:
    return [p.name for p in parameters]


def _template_names(module: set[str], taken: set[str]) -> dict[str, str]:
    """pipeline.py's own names, each renamed (`config_`) where the notebook uses it:
    `Config` only matters at module level (run_pipeline's annotation), `config` and
    `fingerprint` inside run_pipeline too."""
    renamed: dict[str, str] = {}
    for name in RENAMED_TEMPLATE_NAMES:
        new = name
        clashes = module if name == "Config" else taken
        while new in clashes or new in taken or new in renamed.values():
            new += "_"
        renamed[name] = new
    return renamed


def _template_name_clashes(kept: list[SectionCode], problems: list[Problem]) -> None:
    """Notebook names that pipeline.py needs for itself: `run_pipeline` and
    `load_training_data` defined at module level, and `data_sha256` (a key of
    run_pipeline's result). Blocking, naming the cell."""
    for code in kept:
        if code.section.role.name == TEST:
            continue
        for chunk in code.chunks:
            own = (
                {"data_sha256"} if chunk.kind == "body" else {"run_pipeline", "load_training_data"}
            )
            stored = {e.name for n in chunk.nodes for e in name_events(n) if e.kind == "store"}
            for name in sorted(own & stored):
                problems.append(
                    Problem(
                        "generated-name-clash",
                        f"`{name}` is a name the generated pipeline.py uses itself",
                        f"rename `{name}` in the notebook (e.g. `my_{name}`)",
                        Severity.ERROR,
                        chunk.cell.ref(),
                    )
                )


def _fit_score(
    codes: list[SectionCode], model: str | None, taken: set[str], parameters: set[str]
) -> SectionCode | None:
    """With no evaluate section and no score in a training loop, the step that scores the
    model on its fit data (see `fit_score.py`), placed after the last train section."""
    if any(c.section.role.name == EVALUATE for c in codes):
        return None
    trains = [i for i, c in enumerate(codes) if c.section.role.name == TRAIN and c.body]
    if not trains or any(training_metric_candidates(codes[i], parameters) for i in trains):
        return None
    scoring = fit_score_section(codes, model, taken)
    if scoring is not None:
        codes.insert(trains[-1] + 1, scoring)
    return scoring


def _function_names(
    codes: list[SectionCode], module: set[str], scoring: SectionCode | None = None
) -> dict[int, str]:
    names: dict[int, str] = {}
    used = set(module)
    for code in codes:
        role = code.section.role
        base = FUNCTION_NAMES.get(role.name, role.function_name)
        if role.name == SETUP:
            base = "setup"
        if code is scoring:  # the step nb2prod adds (fit_score.py)
            base = SCORE_FUNCTION
        name = base if base not in used else f"{base}_step"
        counter = 2
        while name in used:
            name = f"{base}_{counter}"
            counter += 1
        used.add(name)
        names[id(code)] = name
    return names


def project_name_of(stem: str) -> str:
    """A project name (a valid distribution and, with `_`, package name) from a file stem."""
    name = re.sub(r"[^a-zA-Z0-9]+", "-", stem).strip("-").lower() or "notebook"
    if name[0].isdigit():
        name = f"nb-{name}"
    if keyword.iskeyword(name.replace("-", "_")):
        name += "-project"
    return name


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(items))


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(
        problems,
        key=lambda p: (p.cell.index if p.cell else -1, p.cell.line or 0 if p.cell else 0),
    )

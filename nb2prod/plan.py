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
import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from nb2prod.analysis import SectionCode, analyse_section, check_definitions, module_names
from nb2prod.errors import Problem, Severity
from nb2prod.globals_rewrite import Rewrites, called_functions, plan_rewrites, uses_as_value
from nb2prod.hazards import find_hazards
from nb2prod.names import BUILTINS, free_names
from nb2prod.notebook import Notebook
from nb2prod.parameters import Parameter, read_parameters, read_quick
from nb2prod.role_outputs import Metrics, find_metrics, find_model, find_predictions
from nb2prod.roles import (
    EVALUATE,
    PARAMETERS,
    PREDICT,
    SETUP,
    TEST,
    TRAIN,
    Section,
    read_roles,
)

FUNCTION_NAMES = {"load": "load_data", "train": "train_model", "predict": "predict"}


@dataclass
class Argument:
    """One argument of a step call: the parameter name and where its value comes from."""

    name: str
    from_config: bool
    type_name: str = "Any"


@dataclass
class Step:
    """One section turned into a function."""

    function: str
    role: str
    cells: list[int]
    title: str | None
    body: str
    arguments: list[Argument] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    @property
    def cell_span(self) -> str:
        if len(self.cells) == 1:
            return f"cell {self.cells[0]}"
        return f"cells {', '.join(str(c) for c in self.cells)}"


@dataclass
class Plan:
    """Everything the templates need, as plain data."""

    notebook: Notebook
    project: str
    package: str
    parameters: list[Parameter]
    quick: dict[str, Any]
    """The faster parameter set of `# nb2prod: quick ...` (for smoke tests and CI)."""
    imports: list[str]
    definitions: list[str]
    steps: list[Step]
    tests: list[Step]
    test_imports: list[str]
    model: str | None
    metrics: Metrics
    predictions: list[str]
    pip_requirements: list[str]
    problems: list[Problem]
    cell_roles: dict[int, str]
    declared_cells: set[int]
    cell_functions: dict[int, str]
    codes: list[SectionCode]

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


def build_plan(notebook: Notebook, project_name: str | None = None) -> Plan:
    """Analyse `notebook` and decide the generated project's code."""
    reading = read_roles(notebook)
    problems = list(reading.problems)
    first_pass: list[Problem] = []
    codes = [analyse_section(section, first_pass) for section in reading.sections]
    rewrites = _global_rewrites([c for c in codes if c.section.kept], problems)
    if rewrites:  # analyse again with the functions' new parameters and calls
        codes = [analyse_section(section, problems, rewrites) for section in reading.sections]
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
    names = _function_names(pipeline_codes, module)
    with_body = [code for code in pipeline_codes if code.body]
    steps = [_step(code, names[id(code)]) for code in with_body]
    code_of = {id(step): code for step, code in zip(steps, with_body, strict=True)}
    tests = [
        _step(code, f"test_notebook_cell_{code.section.cells[0].index}") for code in test_codes
    ]

    model = metrics = None
    predictions: list[str] = []
    required: dict[int, list[str]] = {}
    for step in steps:
        code = code_of[id(step)]
        if step.role == TRAIN:
            model = find_model(code) or model
            required[id(step)] = [model] if model else []
        elif step.role == EVALUATE:
            metrics = find_metrics(code)
            names_needed = [metrics.dict_name] if metrics.dict_name else list(metrics.names)
            required[id(step)] = names_needed
        elif step.role == PREDICT:
            predictions = find_predictions(code)
            required[id(step)] = predictions
    metrics = metrics or Metrics(())
    _connect(steps, tests, code_of, test_codes, parameters, module, required, codes, problems)
    _role_checks(notebook, reading.sections, model, metrics, problems)
    for step in [*steps, *tests]:  # the model leads, as in `predict(model, rows)`
        step.arguments.sort(key=lambda a: (a.from_config, a.name != model))

    project = project_name_of(project_name or notebook.name)
    cell_functions = {cell: step.function for step in [*steps, *tests] for cell in step.cells}
    return Plan(
        notebook=notebook,
        project=project,
        package=project.replace("-", "_"),
        parameters=parameters,
        quick=quick,
        imports=_unique(
            c.text
            for code in pipeline_codes + [c for c in kept if c.section.role.name == PARAMETERS]
            for c in code.of_kind("import")
        ),
        definitions=[
            c.text.strip("\n") for code in pipeline_codes for c in code.of_kind("definition")
        ],
        steps=steps,
        tests=tests,
        test_imports=_test_imports(test_codes, pipeline_codes, project.replace("-", "_")),
        model=model,
        metrics=metrics,
        predictions=predictions,
        pip_requirements=_unique(r for code in codes for r in code.requirements),
        problems=_sorted(problems),
        cell_roles=reading.roles_by_cell,
        declared_cells=reading.explicit,
        cell_functions=cell_functions,
        codes=codes,
    )


def data_step_position(plan: Plan) -> int | None:
    """The load step (else the first step): its outputs are the training data."""
    positions = [i for i, s in enumerate(plan.steps) if s.role == "load" and s.outputs]
    if positions:
        return positions[0]
    return 0 if plan.steps and plan.steps[0].outputs else None


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
    free = {name: free_names(node) - module - BUILTINS for name, (_, node) in definitions.items()}
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
        cells=sorted({c.cell.index for c in code.body} or {c.index for c in code.section.cells}),
        title=code.section.title,
        body=_join_body(code),
    )


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
    steps: list[Step],
    tests: list[Step],
    code_of: dict[int, SectionCode],
    test_codes: list[SectionCode],
    parameters: list[Parameter],
    module: set[str],
    required: dict[int, list[str]],
    codes: list[SectionCode],
    problems: list[Problem],
) -> None:
    """Decide each step's arguments and outputs from the sections' name flow."""
    param_types = {p.name: p.type_name for p in parameters}
    provider: dict[str, Step | None] = {p.name: None for p in parameters}  # None: config
    consumers = [(step, code_of[id(step)]) for step in steps]
    consumers += list(zip(tests, test_codes, strict=True))
    for step, code in consumers:
        for name, (cell, line) in code.needs.items():
            if name in module or name in BUILTINS:
                continue
            if name not in provider:
                if name not in code.maybe_local:
                    problems.append(_missing(name, cell, line, codes, code))
                continue
            source = provider[name]
            step.arguments.append(Argument(name, source is None, param_types.get(name, "Any")))
            if source is not None and name not in source.outputs:
                source.outputs.append(name)
        if step.role != TEST:
            for name in code.binds:
                provider[name] = step
    for step in steps:
        for name in required.get(id(step), []):
            if name not in step.outputs:
                step.outputs.append(name)
        step.outputs.sort(key=lambda n: code_of[id(step)].binds.index(n))


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
    train = next((s for s in sections if s.role.name == TRAIN), None)
    if train is not None and model is None:
        problems.append(
            Problem(
                "no-model",
                "the train section fits no model that nb2prod can find",
                "assign the fitted estimator to a variable named `model`",
                Severity.WARNING,
                train.cells[0].ref(),
            )
        )
    evaluate = next((s for s in sections if s.role.name == EVALUATE), None)
    if evaluate is not None and not metrics.names:
        problems.append(
            Problem(
                "no-metrics",
                "the evaluate section defines no metric nb2prod can find",
                "assign metrics to named variables (`accuracy = accuracy_score(...)`) or "
                'to a dict `metrics = {"accuracy": ...}`',
                Severity.WARNING,
                evaluate.cells[0].ref(),
            )
        )


def _function_names(codes: list[SectionCode], module: set[str]) -> dict[int, str]:
    names: dict[int, str] = {}
    used = set(module)
    for code in codes:
        role = code.section.role
        base = FUNCTION_NAMES.get(role.name, role.function_name)
        if role.name == SETUP:
            base = "setup"
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

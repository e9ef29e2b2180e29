"""What the service's process needs of the predict section, read from its code.

The service imports the predict function and nothing else of the pipeline: when the
section is self-contained (it calls none of the notebook's own functions or classes),
it gets a module of its own, `prediction.py`, holding only the imports it uses, and
`pipeline.py` imports it from there, so training and serving run the same function and
serving does not import training's libraries. And when the section only hands the
request rows to the model's `predict`/`predict_proba`, an ONNX Runtime twin can read
them as a plain array: the service builds no DataFrame and never imports pandas.
"""

from __future__ import annotations

import ast

from nb2prod.plan.build import Plan, Step
from nb2prod.plan.serving import ARRAY_METHODS, argument_sources

PREDICT_MODULE = "prediction"
"""The generated module that holds a self-contained predict section."""


def predict_module(plan: Plan) -> str | None:
    """`prediction` when the predict section stands alone, else None (it stays in
    `pipeline.py`, beside the notebook's functions it calls)."""
    step = plan.predict
    if step is None:
        return None
    tree = _parse(step.body)
    if tree is None:
        return None
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return None if used & _defined_names(plan.definitions) else PREDICT_MODULE


def row_definition(plan: Plan) -> str | None:
    """The row-wise preprocessing function (nb2prod's, made of the notebook's statements,
    or the notebook's own `def`) as its definition text, when it can join the predict
    section in `prediction.py`: the section has a module of its own and the function
    calls no other notebook definition. Then a raw-row service too imports no training
    library (`pipeline.py` imports the function from there, as it does predict)."""
    row = plan.row_function
    if row is None or predict_module(plan) is None:
        return None
    own = [t for t in plan.definitions if _defines(t, row.function)]
    if len(own) != 1:
        return None
    others = [t for t in plan.definitions if t is not own[0]]
    tree = _parse(own[0])
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} if tree else set()
    return None if used & _defined_names(others) else own[0]


def _defines(text: str, name: str) -> bool:
    tree = _parse(text)
    return (
        tree is not None
        and len(tree.body) == 1
        and isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef))
        and tree.body[0].name == name
    )


def array_readers(plan: Plan, step: Step, readers: dict[str, frozenset[str]]) -> list[str]:
    """The names among `readers` that receive the request rows in `step`, when every use of
    the rows is the one argument of such a call (`model.predict(rows)`,
    `scaler.transform(rows)`, with the methods `readers` allows each name); else none.
    An array with the table's values in its column order then gives what the table does,
    as long as each reader is a twin that reads nothing else of it (`reads_arrays`)."""
    rows = [a.name for a in argument_sources(plan, step) if a.source == "rows"]
    tree = _parse(step.body)
    if len(rows) != 1 or tree is None:
        return []
    handed: dict[int, str] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.attr in readers.get(node.func.value.id, ())
            and len(node.args) == 1
            and not node.keywords
            and isinstance(node.args[0], ast.Name)
        ):
            handed[id(node.args[0])] = node.func.value.id
    uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == rows[0]]
    if not uses or any(id(n) not in handed for n in uses):
        return []
    return sorted({handed[id(n)] for n in uses})


def model_readers(plan: Plan, step: Step) -> dict[str, frozenset[str]]:
    """The model's names in `step`, each with what its ONNX twin reads an array through."""
    return {a.name: ARRAY_METHODS for a in argument_sources(plan, step) if a.source == "model"}


def _defined_names(definitions: tuple[str, ...] | list[str]) -> set[str]:
    """Names the notebook's module-level definitions bind (functions, classes, constants)."""
    names: set[str] = set()
    for text in definitions:
        tree = _parse(text)
        for node in tree.body if tree is not None else []:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            else:  # anything else a definition may bind: count every name it stores
                names.update(
                    n.id
                    for n in ast.walk(node)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                )
    return names


def _parse(code: str) -> ast.Module | None:
    """Code as analysis kept it; None if it does not parse (then nothing is concluded)."""
    try:
        return ast.parse(code)
    except SyntaxError:
        return None

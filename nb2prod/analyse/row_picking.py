"""Which statements of a predict section pick the rows it predicts on.

People write predict cells that choose their rows and predict in one go:

    sample = X_test.head(3)                   # picked from a table
    new = [[5.1, 3.5, 1.4, 0.2]]              # written out
    grid = np.column_stack([np.linspace(0, 1, 5)])   # built from constants
    labels = model.predict(X_test[:2])        # picked inside the call

A service answers a request's rows instead, so the picking becomes its own step,
`select_rows`, and `predict` takes its result: the request replaces it. A pick
inside the call is lifted into a name (`rows = X_test[:2]`, then
`model.predict(rows)`). Only statements of these shapes move; feature code such as
`pd.get_dummies(sample)` stays in `predict`, so the service runs it per request. A call
on picked values moves only when it lays them out as rows (`np.array(new)`,
`np.column_stack((x, np.sin(x)))`, `sm.add_constant(X)`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from nb2prod.analyse.names import BUILTINS, name_events, root_name
from nb2prod.analyse.role_outputs import PREDICT_METHODS
from nb2prod.analyse.sections import Chunk, SectionCode, split_body
from nb2prod.read.roles import PREDICT, SELECT, Role

ROW_PICKING_METHODS = frozenset({"head", "tail", "sample", "copy", "take", "to_numpy"})
LITERAL_BUILDERS = frozenset({"array", "asarray", "DataFrame", "tensor", "as_tensor", "Tensor"})
ROW_ASSEMBLERS = LITERAL_BUILDERS | {
    "column_stack", "row_stack", "hstack", "vstack", "dstack", "stack", "concatenate",
    "concat", "meshgrid", "add_constant",
}  # fmt: skip
"""Calls that lay picked values out as rows and columns without computing features."""
FITTED_CALLS = PREDICT_METHODS | {"transform", "inverse_transform"}
ROWS_NAMES = ("rows", "new_rows", "input_rows")
"""Names for rows lifted out of the model's call, the first one not taken."""


@dataclass(frozen=True)
class Lifted:
    """Rows picked inside the model's call, now bound to `name` by `select_rows`."""

    name: str
    source: str
    """The expression as the notebook wrote it (`X_test[:2]`): verify evaluates it there."""


def split_predict(
    codes: list[SectionCode], model: str | None, module: set[str], taken: set[str]
) -> tuple[list[SectionCode], dict[int, Lifted]]:
    """Each predict section that picks its rows becomes `select_rows` + `predict`.

    Returns the sections, and for a `select_rows` lifted out of a call (by `id` of its
    code) what it lifted.
    """
    result: list[SectionCode] = []
    lifted: dict[int, Lifted] = {}
    for code in codes:
        if code.section.role.name != PREDICT or model is None:
            result.append(code)
            continue
        count = _selection_length(code, model, module)
        if count:
            result += split_body(code, count, Role(SELECT))
            continue
        lifting = _lift_from_call(code, model, module, taken)
        if lifting is None:
            result.append(code)
            continue
        rewritten, rows = lifting
        head, tail = split_body(rewritten, 1, Role(SELECT))
        lifted[id(head)] = rows
        result += [head, tail]
    return result, lifted


def _selection_length(code: SectionCode, model: str, module: set[str]) -> int:
    """How many leading statements pick rows (prints between them too), when what they
    bind is what the rest predicts on."""
    body = code.body
    picked: set[str] = set()
    count = 0
    for chunk in body:
        reads = {e.name for n in chunk.nodes for e in name_events(n) if e.kind == "load"}
        if model in reads or _calls_fitted(chunk.nodes):
            break
        if not all(
            _picks_rows(n) or _shows(n) or _builds_rows(n, module, picked) for n in chunk.nodes
        ):
            break
        picked |= _stores(chunk.nodes)
        count += 1
    if count == 0 or count == len(body):
        return 0
    later = {e.name for chunk in body[count:] for n in chunk.nodes for e in name_events(n)}
    return count if picked & later else 0


def _lift_from_call(
    code: SectionCode, model: str, module: set[str], taken: set[str]
) -> tuple[SectionCode, Lifted] | None:
    """`labels = model.predict(X_test[:2])`: the section again, with `rows = X_test[:2]`
    as its first statement and `model.predict(rows)` in place of the pick."""
    body = code.body
    for position, chunk in enumerate(body):
        if len(chunk.nodes) != 1:
            continue
        call = next((c for c in ast.walk(chunk.nodes[0]) if is_model_call(c, model)), None)
        if call is None:
            continue
        if not call.args or not _liftable(call.args[0], module):
            return None
        earlier = {name for c in body[:position] for name in _stores(c.nodes)}
        reads = {e.name for e in name_events(call.args[0]) if e.kind == "load"}
        if reads & earlier:  # picked from something this section made: keep it as written
            return None
        return _rewrite(code, position, model, fresh_name(taken, ROWS_NAMES))
    return None


def _rewrite(
    code: SectionCode, position: int, model: str, name: str
) -> tuple[SectionCode, Lifted] | None:
    """Split the chunk's text at the call's first argument (exact source offsets)."""
    chunk = code.body[position]
    try:
        tree = ast.parse(chunk.text)
    except SyntaxError:
        return None
    call = next((c for c in ast.walk(tree) if is_model_call(c, model)), None)
    if call is None or not call.args:
        return None
    argument = call.args[0]
    source = ast.get_source_segment(chunk.text, argument)
    if source is None or argument.end_lineno is None or argument.end_col_offset is None:
        return None
    lines = chunk.text.splitlines(keepends=True)
    start = sum(len(line) for line in lines[: argument.lineno - 1]) + _offset(
        lines[argument.lineno - 1], argument.col_offset
    )
    end = sum(len(line) for line in lines[: argument.end_lineno - 1]) + _offset(
        lines[argument.end_lineno - 1], argument.end_col_offset
    )
    first_line = chunk.nodes[0].lineno
    head = reparsed_chunk(chunk, f"{name} = {source}", first_line)
    tail = reparsed_chunk(chunk, chunk.text[:start] + name + chunk.text[end:], first_line)
    if head is None or tail is None:
        return None
    body = [*code.body[:position], tail, *code.body[position + 1 :]]
    rewritten = SectionCode(
        code.section,
        chunks=[head, *(c for c in code.chunks if c.kind != "body"), *body],
    )
    rewritten.requirements = code.requirements
    return rewritten, Lifted(name, source)


def reparsed_chunk(original: Chunk, text: str, first_line: int) -> Chunk | None:
    """`text` as a body chunk of `original`'s cell, its nodes on the cell's own lines."""
    try:
        nodes = ast.parse(text).body
    except SyntaxError:
        return None
    for node in nodes:  # report problems on the cell's own lines
        ast.increment_lineno(node, first_line - nodes[0].lineno)
    return Chunk(original.cell, text, nodes, "body")


def _offset(line: str, utf8_offset: int) -> int:
    """ast's column offsets count UTF-8 bytes; str offsets count characters."""
    return len(line.encode()[:utf8_offset].decode(errors="ignore"))


def fresh_name(taken: set[str], candidates: tuple[str, ...]) -> str:
    """The first of `candidates` no notebook name takes, else `<first>_2`, `_3`..."""
    for candidate in candidates:
        if candidate not in taken:
            return candidate
    counter = 2
    while f"{candidates[0]}_{counter}" in taken:
        counter += 1
    return f"{candidates[0]}_{counter}"


def _liftable(value: ast.expr, module: set[str]) -> bool:
    if _rows_expression(value):
        return True
    reads = {e.name for e in name_events(value) if e.kind == "load"}
    return bool(reads) and reads <= module and isinstance(value, ast.Call)


def is_model_call(node: ast.AST, model: str | None) -> bool:
    """`model.predict(...)` (and friends), or `model(...)` for a callable model."""
    if not isinstance(node, ast.Call) or model is None:
        return False
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr in PREDICT_METHODS:
        root = root_name(func.value)
        return root is not None and root.id == model
    return isinstance(func, ast.Name) and func.id == model


def _calls_fitted(nodes: list[ast.stmt]) -> bool:
    return any(
        isinstance(sub, ast.Call)
        and isinstance(sub.func, ast.Attribute)
        and sub.func.attr in FITTED_CALLS
        for node in nodes
        for sub in ast.walk(node)
    )


def _stores(nodes: list[ast.stmt]) -> set[str]:
    return {e.name for n in nodes for e in name_events(n) if e.kind == "store"}


def _binds(node: ast.stmt) -> bool:
    return isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets)


def _builds_rows(node: ast.stmt, module: set[str], picked: set[str]) -> bool:
    """`grid = np.linspace(0, 1, 5)` (modules and constants only), or `X = np.column_stack(
    (grid, np.sin(grid)))` (lays picked values out as rows). `feat = pd.get_dummies(new)`
    computes features from picked rows: that is feature code, which a service must run on
    every request, so it is no row building."""
    if not isinstance(node, ast.Assign) or not _binds(node):
        return False
    reads = {e.name for e in name_events(node) if e.kind == "load"}
    if not reads & module or not reads <= module | BUILTINS | picked:
        return False
    return not reads & picked or _assembles_rows(node.value)


def _assembles_rows(value: ast.expr) -> bool:
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    if isinstance(func, ast.Attribute):
        return func.attr in ROW_ASSEMBLERS
    return isinstance(func, ast.Name) and func.id in ROW_ASSEMBLERS


def _picks_rows(node: ast.stmt) -> bool:
    """`name = <rows of a table, or a literal table>`."""
    if not isinstance(node, ast.Assign) or len(node.targets) != 1:
        return False
    if not isinstance(node.targets[0], ast.Name):
        return False
    return _rows_expression(node.value)


def _whole(element: ast.expr) -> bool:
    """`:` in a subscript: the whole axis."""
    return (
        isinstance(element, ast.Slice)
        and element.lower is None
        and element.upper is None
        and element.step is None
    )


def _rows_expression(value: ast.expr) -> bool:
    if isinstance(value, (ast.List, ast.Tuple)):
        return all(isinstance(e, (ast.List, ast.Tuple, ast.Constant)) for e in value.elts)
    if isinstance(value, ast.Dict):
        return all(isinstance(v, (ast.List, ast.Tuple, ast.Constant)) for v in value.values)
    if isinstance(value, ast.Subscript):
        inner = value.value
        if isinstance(inner, ast.Attribute) and inner.attr in {"iloc", "loc"}:
            return True
        if isinstance(inner, ast.Call):
            return False
        if isinstance(value.slice, ast.Tuple):  # `X[:3, :]`: rows sliced, every column kept
            first, *rest = value.slice.elts or [None]
            return isinstance(first, ast.Slice) and all(_whole(e) for e in rest)
        return isinstance(value.slice, ast.Slice)
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
        if value.func.attr in ROW_PICKING_METHODS:
            inner = value.func.value
            return isinstance(inner, ast.Name) or _columns_of(inner) or _rows_expression(inner)
        if value.func.attr in LITERAL_BUILDERS and value.args:
            return _rows_expression(value.args[0])
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        return (
            value.func.id in LITERAL_BUILDERS
            and bool(value.args)
            and _rows_expression(value.args[0])
        )
    return False


def _columns_of(value: ast.expr) -> bool:
    """`test_df[features]` or `df[["a", "b"]]`: some columns of a named table, every row
    (before `.head(5)`, which only tables have)."""
    if not isinstance(value, ast.Subscript) or not isinstance(value.value, ast.Name):
        return False
    key = value.slice
    if isinstance(key, ast.List):
        return all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in key.elts)
    return isinstance(key, ast.Name) or (
        isinstance(key, ast.Constant) and isinstance(key.value, str)
    )


def _shows(node: ast.stmt) -> bool:
    """A statement that only shows something (`print(sample)`)."""
    return isinstance(node, ast.Expr) and isinstance(node.value, (ast.Call, ast.Name))

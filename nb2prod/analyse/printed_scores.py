"""Scores an evaluate cell prints without naming them.

People print their scores:

    print('Test accuracy: %.3f' % clf.score(X_test, y_test))
    print("F1:", f1_score(y_test, y_pred))

A metric must be a value verify can compare, so each score call inside a top-level
`print(...)` of an evaluate section is bound to a name first, on both sides:

    accuracy = clf.score(X_test, y_test)   # the generated code, and verify's copy
    print('Test accuracy: %.3f' % accuracy)

A score call is a call of a function or method named like a score (`accuracy_score`,
`mean_squared_error`, `.score`); its name comes from the function (`accuracy_score`
gives `accuracy`, `.score` gives `score`). Prints inside loops, and cells whose lines
IPython rewrites (magics), are left as written.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable

from nb2prod.analyse.role_outputs import looks_like_metric
from nb2prod.analyse.row_picking import reparsed_chunk
from nb2prod.analyse.sections import SectionCode, read_flow
from nb2prod.analyse.shown_predictions import position, stripped
from nb2prod.read.magics import ipython_source
from nb2prod.read.roles import EVALUATE


def name_printed_scores(
    codes: list[SectionCode], taken: set[str]
) -> tuple[list[SectionCode], dict[int, list[str]]]:
    """The sections, each printed score of an evaluate section bound to a fresh name;
    and per cell (by index) the names, in the order they were given."""
    named: dict[int, list[str]] = {}
    result: list[SectionCode] = []
    for code in codes:
        if code.section.role.name != EVALUATE:
            result.append(code)
            continue
        chunks = []
        for chunk in code.chunks:
            if chunk.kind != "body":
                chunks.append(chunk)
                continue
            names: list[str] = []
            text = bind_printed_scores(
                chunk.text, functools.partial(_fresh, taken=taken, names=names)
            )
            rebuilt = reparsed_chunk(chunk, text, chunk.nodes[0].lineno) if names else None
            if rebuilt is None:
                chunks.append(chunk)
                continue
            chunks.append(rebuilt)
            named.setdefault(chunk.cell.index, []).extend(names)
        rewritten = SectionCode(code.section, chunks=chunks)
        rewritten.requirements = code.requirements
        read_flow(rewritten)
        result.append(rewritten)
    return result, named


def bind_printed_scores(
    source: str, choose: Callable[[ast.expr], str], *, python: str | None = None
) -> str:
    """`source` with the score calls of its top-level prints bound to names `choose`
    gives (in source order); `source` unchanged when it does not parse.

    `python` is the code IPython runs for a cell `source` with magics: statements are
    found in it, and only those written the same on the cell's own lines are changed
    (names are still drawn for the others, so both sides draw the same sequence).
    """
    try:
        tree = ast.parse(source if python is None else python)
    except SyntaxError:
        return source
    lines = source.splitlines(keepends=True)
    ran = lines if python is None else python.splitlines(keepends=True)
    replaced: list[tuple[int, int, str]] = []  # (first line, last line, new text)
    for node in tree.body:
        calls = _score_calls(node)
        if not calls or node.end_lineno is None or node.col_offset != 0:
            continue
        span = slice(node.lineno - 1, node.end_lineno)
        names = [choose(call) for call in calls]
        if stripped(lines[span]) != stripped(ran[span]):
            continue  # a magic on these lines: leave them as written
        statement = "".join(lines[span])
        if calls[0] is getattr(node, "value", None):  # a bare score: bind it where it stands
            replaced.append((span.start, span.stop, f"{names[0]} = {statement}"))
            continue
        spans = [
            (
                position(statement, c.lineno - node.lineno + 1, c.col_offset),
                position(statement, (c.end_lineno or c.lineno) - node.lineno + 1,
                         c.end_col_offset or 0),
                name,
            )
            for c, name in zip(calls, names, strict=True)
        ]  # fmt: skip
        bindings = "".join(f"{name} = {statement[start:end]}\n" for start, end, name in spans)
        for start, end, name in reversed(spans):
            statement = statement[:start] + name + statement[end:]
        replaced.append((span.start, span.stop, bindings + statement))
    for first, last, text in reversed(replaced):
        lines[first:last] = [text]
    return "".join(lines)


def bind_in_cell(raw: str, names: list[str]) -> str | None:
    """The same bindings in a notebook cell's own text, with the names the generated
    code gave; None when nothing could be bound."""
    python = ipython_source(raw)
    if python is None or len(raw.splitlines()) != len(python.splitlines()):
        return None  # a cell magic: lines do not correspond
    given = iter(names)
    bound = bind_printed_scores(
        raw, lambda _call: next(given, "_nb2prod_unnamed_score"), python=python
    )
    return bound if bound != raw else None


def _score_calls(node: ast.stmt) -> list[ast.expr]:
    """Outermost scores a top-level statement only shows: in the arguments of `print(...)`,
    or the whole of a bare expression (`accuracy_score(y_test, y_pred)` as Jupyter shows it)."""
    if not isinstance(node, ast.Expr):
        return []
    value = node.value
    if _is_score(value):
        return [value]
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)):
        return []
    if value.func.id != "print":
        return []
    found: list[ast.expr] = []

    def visit(expression: ast.AST) -> None:
        if isinstance(expression, ast.expr) and _is_score(expression):
            found.append(expression)
            return
        for child in ast.iter_child_nodes(expression):
            visit(child)

    for argument in value.args:
        visit(argument)
    return sorted(found, key=lambda c: (c.lineno, c.col_offset))


def _is_score(expression: ast.expr) -> bool:
    """A call of a score function or method, or a score attribute (`results.rsquared`)."""
    if isinstance(expression, ast.Attribute):
        return isinstance(expression.ctx, ast.Load) and looks_like_metric(expression.attr)
    if not isinstance(expression, ast.Call):
        return False
    name = _score_name(expression)
    return name == "score" or (name != "print" and looks_like_metric(name))


def _score_name(expression: ast.expr) -> str:
    func = expression.func if isinstance(expression, ast.Call) else expression
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else "score"


SHORT_NAMES = {
    "mean_squared_error": "mse",
    "root_mean_squared_error": "rmse",
    "mean_absolute_error": "mae",
    "mean_absolute_percentage_error": "mape",
}
"""Names for scores whose function name is long; the rest drop `_score` (`f1_score` -> `f1`)."""


def _fresh(score: ast.expr, *, taken: set[str], names: list[str]) -> str:
    """A name for the score that no other value of the notebook has."""
    name = _score_name(score)
    base = SHORT_NAMES.get(name) or name.rstrip("_").removesuffix("_score") or "score"
    if base == name and name != "score" and isinstance(score, ast.Call):
        base = f"{name}_value"  # `log_loss = log_loss(...)` would hide the function
    candidate, counter = base, 2
    while candidate in taken:
        candidate, counter = f"{base}_{counter}", counter + 1
    taken.add(candidate)
    names.append(candidate)
    return candidate

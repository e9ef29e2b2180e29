"""Predictions a notebook shows without naming them.

A predict cell often ends in the model's call itself, and Jupyter shows the result,
or prints it:

    softmax_reg.predict([[5, 2]])
    print("Predictions:", lin_reg.predict(some_data_prepared))

The generated `predict` function must return that value, and verify must read it
from the notebook, so both sides bind it to one name (`predictions = ...`): the
generated code in its text, verify in its own copy of the notebook. Only a last
statement that shows a call of the model (bare, or as one argument of `print`) is
named; anything else the cell shows (`preds[:5]`) is left as written.
"""

from __future__ import annotations

import ast

from nb2prod.analyse.row_picking import fresh_name, is_model_call, reparsed_chunk
from nb2prod.analyse.sections import SectionCode, read_flow
from nb2prod.read.magics import ipython_source
from nb2prod.read.roles import PREDICT

CANDIDATE_NAMES = ("predictions", "predicted", "model_predictions")


def name_shown_predictions(
    codes: list[SectionCode], model: str | None, taken: set[str]
) -> tuple[list[SectionCode], dict[int, str]]:
    """The sections, a predict section's shown model call bound to a fresh name; and
    for each such cell (by index) the name."""
    named: dict[int, str] = {}
    result: list[SectionCode] = []
    for code in codes:
        body = code.body
        if code.section.role.name != PREDICT or model is None or not body:
            result.append(code)
            continue
        last = body[-1]
        name = fresh_name(taken, CANDIDATE_NAMES)
        text = bind_last_expression(last.text, name, model) if code.chunks[-1] is last else None
        chunk = reparsed_chunk(last, text, last.nodes[0].lineno) if text is not None else None
        if chunk is None:
            result.append(code)
            continue
        rewritten = SectionCode(code.section, chunks=[*code.chunks[:-1], chunk])
        rewritten.requirements = code.requirements
        read_flow(rewritten)
        result.append(rewritten)
        named[last.cell.index] = name
    return result, named


def bind_last_expression(source: str, name: str, model: str) -> str | None:
    """`source` with the predictions its last statement shows bound to `name`; None
    when the last statement shows no call of `model` or the source does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    if not tree.body or tree.body[-1].col_offset != 0 or tree.body[-1].end_lineno is None:
        return None
    node = tree.body[-1]
    lines = source.splitlines(keepends=True)
    statement = "".join(lines[node.lineno - 1 : node.end_lineno])
    bound = _bind_statement(statement, name, model)
    if bound is None:
        return None
    return "".join(lines[: node.lineno - 1]) + bound + "".join(lines[node.end_lineno :])


def bind_in_cell(raw: str, name: str, model: str) -> str | None:
    """The same binding in a notebook cell's own text (line magics included), for
    verify's copy of the notebook; None when the cell's last statement is not written
    as plain Python on lines of its own, so nothing is guessed."""
    python = ipython_source(raw)
    if python is None:
        return None
    try:
        node = ast.parse(python).body[-1]
    except (SyntaxError, IndexError):
        return None
    raw_lines, python_lines = raw.splitlines(keepends=True), python.splitlines(keepends=True)
    span = slice(node.lineno - 1, node.end_lineno)
    if stripped(raw_lines[span]) != stripped(python_lines[span]):
        return None
    bound = bind_last_expression("".join(raw_lines[span]), name, model)
    if bound is None:
        return None
    return "".join(raw_lines[: span.start]) + bound + "".join(raw_lines[span.stop :])


def _bind_statement(statement: str, name: str, model: str) -> str | None:
    """`model.predict(rows)` becomes `name = model.predict(rows)`;
    `print("Predictions:", model.predict(rows))` becomes `name = model.predict(rows)`
    then `print("Predictions:", name)`."""
    node = ast.parse(statement).body[0]
    if not isinstance(node, ast.Expr):
        return None
    value = node.value
    if isinstance(value, ast.Call) and _is_print(value):
        shown = [a for a in value.args if _calls(a, model)]
        if len(shown) != 1 or shown[0].end_lineno is None:
            return None
        argument = shown[0]
        start = position(statement, argument.lineno, argument.col_offset)
        end = position(statement, argument.end_lineno or 1, argument.end_col_offset or 0)
        return f"{name} = {statement[start:end]}\n{statement[:start]}{name}{statement[end:]}"
    if _calls(value, model):
        return f"{name} = {statement}"
    return None


def _is_print(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Name) and call.func.id in {"print", "display"}


def _calls(node: ast.AST, model: str) -> bool:
    return any(is_model_call(sub, model) for sub in ast.walk(node))


def position(text: str, lineno: int, utf8_column: int) -> int:
    """A character offset in `text` from ast's line and UTF-8 column."""
    lines = text.splitlines(keepends=True)
    before = sum(len(line) for line in lines[: lineno - 1])
    return before + len(lines[lineno - 1].encode()[:utf8_column].decode(errors="ignore"))


def stripped(lines: list[str]) -> list[str]:
    return [line.rstrip("\r\n") for line in lines]

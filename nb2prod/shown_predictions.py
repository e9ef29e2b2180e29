"""Predictions a notebook shows without naming them.

A predict cell often ends in the model's call itself, and Jupyter shows the result:

    softmax_reg.predict([[5, 2]])

The generated `predict` function must return that value, and verify must read it
from the notebook, so both sides bind it to one name (`predictions = ...`): the
generated code in its text, verify in its own copy of the notebook. Only a last
statement that is a bare expression calling the model is named; anything else the
cell shows (`preds[:5]`) is left as written.
"""

from __future__ import annotations

import ast

from nb2prod.analysis import Chunk, SectionCode, read_flow
from nb2prod.roles import PREDICT
from nb2prod.row_picking import is_model_call

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
        name = _fresh_name(taken)
        shown = code.chunks[-1] is last and _shows_model_call(last, model)
        text = bind_last_expression(last.text, name) if shown else None
        chunk = _reparsed(last, text) if text is not None else None
        if chunk is None:
            result.append(code)
            continue
        rewritten = SectionCode(code.section, chunks=[*code.chunks[:-1], chunk])
        rewritten.requirements = code.requirements
        read_flow(rewritten)
        result.append(rewritten)
        named[last.cell.index] = name
    return result, named


def bind_last_expression(source: str, name: str) -> str | None:
    """`source` with its last statement, a bare expression, bound to `name`; None when
    the last statement is anything else or the source does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return None
    node = tree.body[-1]
    lines = source.splitlines(keepends=True)
    line = lines[node.lineno - 1]
    column = len(line.encode()[: node.col_offset].decode(errors="ignore"))
    lines[node.lineno - 1] = f"{line[:column]}{name} = {line[column:]}"
    return "".join(lines)


def bind_in_cell(raw: str, name: str) -> str | None:
    """The same binding in a notebook cell's own text (line magics included), for
    verify's copy of the notebook; None when the cell's text does not line up with
    the Python IPython runs (a cell magic), so nothing is guessed."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        python = TransformerManager().transform_cell(raw)
    except (SyntaxError, ValueError):
        return None
    bound = bind_last_expression(python, name)
    if bound is None:
        return None
    raw_lines, python_lines = raw.splitlines(keepends=True), python.splitlines(keepends=True)
    bound_lines = bound.splitlines(keepends=True)
    if len(raw_lines) != len(python_lines):
        return None
    for index, (before, after) in enumerate(zip(python_lines, bound_lines, strict=True)):
        if before != after:
            if raw_lines[index].rstrip("\r\n") != before.rstrip("\r\n"):
                return None
            raw_lines[index] = after if raw_lines[index].endswith("\n") else after.rstrip("\n")
            return "".join(raw_lines)
    return None


def _shows_model_call(chunk: Chunk, model: str) -> bool:
    last = chunk.nodes[-1]
    return isinstance(last, ast.Expr) and any(is_model_call(n, model) for n in ast.walk(last))


def _reparsed(original: Chunk, text: str) -> Chunk | None:
    try:
        nodes = ast.parse(text).body
    except SyntaxError:
        return None
    for node in nodes:  # keep the cell's own line numbers for problems
        ast.increment_lineno(node, original.nodes[0].lineno - nodes[0].lineno)
    return Chunk(original.cell, text, nodes, "body")


def _fresh_name(taken: set[str]) -> str:
    for candidate in CANDIDATE_NAMES:
        if candidate not in taken:
            return candidate
    counter = 2
    while f"predictions_{counter}" in taken:
        counter += 1
    return f"predictions_{counter}"

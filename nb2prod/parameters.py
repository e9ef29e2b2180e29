"""Read the `parameters` cell into typed parameters with defaults and help text.

papermill overrides these names by injecting a cell after this one, so only
literal assignments can be parameters; each trailing or preceding comment
becomes the parameter's help, as in papermill's `inspect_notebook`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from nb2prod.analysis import SectionCode
from nb2prod.errors import Problem, Severity
from nb2prod.notebook import Cell
from nb2prod.roles import DIRECTIVE


@dataclass(frozen=True)
class Parameter:
    """One training parameter: a literal default from the notebook."""

    name: str
    default: Any
    source: str  # the literal as the user wrote it
    type_name: str
    help: str
    cell_index: int

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def read_parameters(code: SectionCode, problems: list[Problem]) -> list[Parameter]:
    """Parameters of a `parameters` section; problems for anything not a literal."""
    parameters: list[Parameter] = []
    for chunk in code.body:
        for node in chunk.nodes:
            target, value = _assignment(node)
            if target is None or value is None:
                problems.append(_not_literal(chunk.cell, node, "is not a plain assignment"))
                continue
            try:
                default = ast.literal_eval(value)
            except ValueError:
                problems.append(
                    _not_literal(chunk.cell, node, f"`{target}` is computed, not a literal")
                )
                continue
            parameters.append(
                Parameter(
                    name=target,
                    default=default,
                    source=ast.unparse(value),
                    type_name=_type_name(default),
                    help=_comment(chunk.cell, node),
                    cell_index=chunk.cell.index,
                )
            )
    return parameters


def _assignment(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        return (target.id if isinstance(target, ast.Name) else None), node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, node.value
    return None, None


def _not_literal(cell: Cell, node: ast.stmt, why: str) -> Problem:
    return Problem(
        "parameter-not-literal",
        f"the parameters cell {why}; papermill and the CLI can only override literals",
        "keep literal assignments (numbers, strings, booleans, lists) in the parameters "
        "cell and compute derived values in the section that uses them",
        Severity.ERROR,
        cell.ref(node.lineno),
    )


def _type_name(value: Any) -> str:
    if value is None:
        return "str | None"
    if isinstance(value, (list, tuple, set)):
        inner = sorted({_type_name(v) for v in value})
        element = inner[0] if len(inner) == 1 else "Any"
        container = type(value).__name__
        return f"tuple[{element}, ...]" if container == "tuple" else f"{container}[{element}]"
    if isinstance(value, dict):
        return "dict[str, Any]"
    return type(value).__name__


def _comment(cell: Cell, node: ast.stmt) -> str:
    """The comment after the parameter on its line, or on the lines just above it."""
    lines = cell.source.splitlines()
    end_line = lines[(node.end_lineno or node.lineno) - 1]
    rest = end_line[node.end_col_offset or 0 :]
    if "#" in rest:
        return rest.split("#", 1)[1].strip()
    above: list[str] = []
    index = node.lineno - 2
    while index >= 0 and lines[index].lstrip().startswith("#"):
        text = lines[index].lstrip().lstrip("#").strip()
        if DIRECTIVE.match(lines[index]) or not text:
            break
        above.insert(0, text)
        index -= 1
    return " ".join(above)

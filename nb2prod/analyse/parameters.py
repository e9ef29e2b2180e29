"""Read the `parameters` cell into typed parameters with defaults and help text.

papermill overrides these names by injecting a cell after this one, so only
literal assignments can be parameters; each trailing or preceding comment
becomes the parameter's help, as in papermill's `inspect_notebook`.

A `# nb2prod: quick NAME=VALUE ...` line in the cell names a faster parameter
set (less data, fewer epochs) for `verify --quick`, the smoke test and CI.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from nb2prod.analyse.sections import SectionCode
from nb2prod.errors import Problem, Severity
from nb2prod.read.notebook import Cell
from nb2prod.read.roles import DIRECTIVE

QUICK = re.compile(r"^\s*#\s*nb2prod\s*:\s*quick\b(?P<assignments>.*)$")
ANY_DIRECTIVE = re.compile(r"^\s*#\s*\|?\s*nb2prod\s*:")
CONFIG_NAMES = frozenset({"dataclasses", "to_dict"})
"""Names the generated Config class reads or defines in its body: no parameter takes one."""


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

    @property
    def mutable(self) -> bool:
        """A default a dataclass field takes through `default_factory` (a fresh copy)."""
        return isinstance(self.default, (list, tuple, dict, set))

    @property
    def is_set(self) -> bool:
        """A set: its metadata (`Config.to_dict`) lists it, as BentoML and JSON take no sets."""
        return isinstance(self.default, set)


def read_parameters(code: SectionCode, problems: list[Problem]) -> list[Parameter]:
    """Parameters of a `parameters` section; problems for anything not a literal."""
    parameters: list[Parameter] = []
    not_literal: dict[int, tuple[Cell, list[tuple[ast.stmt, str]]]] = {}
    for chunk in code.body:
        for node in chunk.nodes:
            target, value = _assignment(node)
            if target is None or value is None:
                bad = not_literal.setdefault(chunk.cell.index, (chunk.cell, []))[1]
                bad.append((node, "is not a plain assignment"))
                continue
            if target in CONFIG_NAMES:
                problems.append(_reserved(chunk.cell, node, target))
                continue
            try:
                default = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                bad = not_literal.setdefault(chunk.cell.index, (chunk.cell, []))[1]
                bad.append((node, f"`{target}` is computed, not a literal"))
                continue
            try:
                source = ast.unparse(value)  # a 5,000-digit int cannot be printed
            except (ValueError, RecursionError):
                bad = not_literal.setdefault(chunk.cell.index, (chunk.cell, []))[1]
                bad.append((node, f"`{target}` is too large for a command-line flag"))
                continue
            parameters.append(
                Parameter(
                    name=target,
                    default=default,
                    source=source,
                    type_name=_type_name(default),
                    help=_comment(chunk.cell, node),
                    cell_index=chunk.cell.index,
                )
            )
    problems.extend(_not_literal(cell, bad) for cell, bad in not_literal.values())
    return parameters


def _assignment(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        return (target.id if isinstance(target, ast.Name) else None), node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, node.value
    return None, None


def _not_literal(cell: Cell, bad: list[tuple[ast.stmt, str]]) -> Problem:
    """One problem per cell (a Kale `pipeline-parameters` cell may hold many such lines)."""
    node, why = bad[0]
    if len(bad) > 1:
        listed = "; ".join(
            f"line {n.lineno} (`{_first_line(cell, n)}`): {w.removeprefix('is ')}" for n, w in bad
        )
        why = f"has {len(bad)} lines that are not literal assignments ({listed})"
    return Problem(
        "parameter-not-literal",
        f"the parameters cell {why}; papermill and the CLI can only override literals",
        "keep literal assignments (numbers, strings, booleans, lists) in the parameters "
        "cell and compute derived values in the section that uses them",
        Severity.ERROR,
        cell.ref(node.lineno),
    )


def _reserved(cell: Cell, node: ast.stmt, name: str) -> Problem:
    return Problem(
        "parameter-name-reserved",
        f"the parameter `{name}` would break the generated `Config` class, which uses "
        f"`{name}` itself",
        f"rename the parameter (e.g. `{name}_value`) here and where the notebook reads it",
        Severity.ERROR,
        cell.ref(node.lineno),
    )


def _first_line(cell: Cell, node: ast.stmt) -> str:
    lines = cell.source.splitlines()
    line = lines[node.lineno - 1].strip() if node.lineno <= len(lines) else ""
    return line if len(line) <= 60 else line[:57] + "..."


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
        if DIRECTIVE.match(lines[index]) or ANY_DIRECTIVE.match(lines[index]) or not text:
            break
        above.insert(0, text)
        index -= 1
    return " ".join(above)


def read_quick(
    code: SectionCode, parameters: list[Parameter], problems: list[Problem]
) -> dict[str, Any]:
    """The quick parameter set from `# nb2prod: quick NAME=VALUE ...` lines of the cell."""
    known = {p.name: p for p in parameters}
    quick: dict[str, Any] = {}
    for cell in code.section.cells:
        for number, line in enumerate(cell.source.splitlines(), start=1):
            match = QUICK.match(line)
            if match is None:
                continue
            for name, value in _quick_assignments(match["assignments"], cell, number, problems):
                parameter = known.get(name)
                if parameter is None:
                    problems.append(
                        _bad_quick(
                            cell,
                            number,
                            f"`{name}` is not a parameter of this cell",
                            f"use one of: {', '.join(known) or '(none)'}",
                        )
                    )
                elif not _same_kind(value, parameter.default):
                    problems.append(
                        _bad_quick(
                            cell,
                            number,
                            f"quick value {value!r} for `{name}` is not a {parameter.type_name}",
                            f"write a {parameter.type_name}, like the default {parameter.source}",
                        )
                    )
                else:
                    if _float_for_int(value, parameter.default):
                        problems.append(_float_given(cell, number, name, value, parameter))
                    quick[name] = value
    return quick


def _float_for_int(value: Any, default: Any) -> bool:
    return isinstance(value, float) and type(default) is int


def _float_given(cell: Cell, line: int, name: str, value: float, parameter: Parameter) -> Problem:
    return Problem(
        "float-for-int-parameter",
        f"quick value {value!r} for `{name}` is a float; its default {parameter.source} is an int",
        "nothing to do if a float is meant (papermill injects it as written, and so does "
        "the generated CLI); else write an int",
        Severity.WARNING,
        cell.ref(line),
    )


def _quick_assignments(
    text: str, cell: Cell, number: int, problems: list[Problem]
) -> list[tuple[str, Any]]:
    pairs = []
    try:
        for piece in re.split(r"[\s,]+(?=\w+\s*=)", text.strip()):
            name, _, value = piece.rstrip(", ").partition("=")
            if not name.strip().isidentifier():
                raise ValueError(piece)
            pairs.append((name.strip(), ast.literal_eval(value.strip())))
        return pairs
    except (SyntaxError, ValueError):
        problems.append(
            _bad_quick(
                cell,
                number,
                "the quick line is not a list of NAME=VALUE literals",
                "write it like `# nb2prod: quick n_estimators=10 sample_frac=0.2`",
            )
        )
        return []


def _same_kind(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float))  # papermill injects `C = 0.5` for `C = 30` too
    return default is None or isinstance(value, type(default))


def _bad_quick(cell: Cell, line: int, message: str, fix: str) -> Problem:
    return Problem("bad-quick-parameters", message, fix, Severity.ERROR, cell.ref(line))

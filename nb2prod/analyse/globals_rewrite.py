"""Give module-level functions the notebook variables they read, as keyword-only parameters.

In a notebook, `def scale(x): return x * factor` reads `factor` from the
kernel's globals. Moved to module level it would not see it, so nb2prod adds
`*, factor` to its signature and `factor=factor` to every direct call, in the
notebook's own cells (transitively: a function calling `scale` gets `factor`
too). A function used as a value (`df.apply(scale)`) cannot be rewritten this
way and stays an error with a fix.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterable

Rewrites = dict[str, list[str]]  # function name -> names to add as keyword-only parameters


def plan_rewrites(
    functions: dict[str, set[str]], calls: dict[str, set[str]], provided: set[str]
) -> Rewrites:
    """Names each function must receive: its own free names, plus its callees' (fixpoint).

    `functions` maps a function to the notebook variables it reads; `calls` maps it to
    the module-level functions it calls; only names in `provided` can be passed.
    """
    needs = {name: set(free) & provided for name, free in functions.items()}
    changed = True
    while changed:
        changed = False
        for name, callees in calls.items():
            for callee in callees:
                extra = needs.get(callee, set()) - needs.setdefault(name, set())
                if extra:
                    needs[name] |= extra
                    changed = True
    return {name: sorted(names) for name, names in needs.items() if names}


def declared_globals(node: ast.AST) -> set[str]:
    """Names a function declares `global`: it changes the notebook's variable, which no
    parameter can do (and `global x` beside a parameter `x` is a SyntaxError)."""
    return {name for sub in ast.walk(node) if isinstance(sub, ast.Global) for name in sub.names}


def called_functions(node: ast.AST, functions: Iterable[str]) -> set[str]:
    """Which of `functions` are called directly inside `node`."""
    wanted = set(functions)
    return {
        sub.func.id
        for sub in ast.walk(node)
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id in wanted
    }


def uses_as_value(tree: ast.AST, functions: Iterable[str]) -> dict[str, int]:
    """Functions referenced other than by a direct call (`map(f, xs)`), with a line."""
    wanted = set(functions)
    direct = {
        id(sub.func)
        for sub in ast.walk(tree)
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name)
    }
    found: dict[str, int] = {}
    for sub in ast.walk(tree):
        if (
            isinstance(sub, ast.Name)
            and isinstance(sub.ctx, ast.Load)
            and sub.id in wanted
            and id(sub) not in direct
        ):
            found.setdefault(sub.id, sub.lineno)
    return found


def rewrite_source(source: str, tree: ast.Module, rewrites: Rewrites) -> str:
    """`source` with the signatures and direct calls of the rewritten functions extended."""
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, int, int, str]] = []  # start line/col, end line/col, text
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in rewrites:
            edits.append(_signature_edit(lines, node, rewrites[node.name]))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in rewrites
        ):
            edit = _call_edit(lines, node, rewrites[node.func.id])
            if edit is not None:
                edits.append(edit)
    for start_line, start_col, end_line, end_col, text in sorted(edits, reverse=True):
        _apply(lines, start_line, start_col, end_line, end_col, text)
    return "".join(lines)


def _signature_edit(
    lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef, names: list[str]
) -> tuple[int, int, int, int, str]:
    arguments = ast.arguments(
        posonlyargs=node.args.posonlyargs,
        args=node.args.args,
        vararg=node.args.vararg,
        kwonlyargs=[*node.args.kwonlyargs, *(ast.arg(arg=name) for name in names)],
        kw_defaults=[*node.args.kw_defaults, *([None] * len(names))],
        kwarg=node.args.kwarg,
        defaults=node.args.defaults,
    )
    open_paren, close_paren = _parameter_parens(lines, node)
    return (*open_paren, *close_paren, ast.unparse(arguments))


def _parameter_parens(
    lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Character positions just inside the `(` and at the `)` of a def's parameter list."""
    text = "".join(lines[node.lineno - 1 :])
    depth = 0
    start: tuple[int, int] | None = None
    seen_name = False
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.NAME and token.string == node.name:
            seen_name = True
        elif seen_name and token.string == "(":
            depth += 1
            if depth == 1:
                start = (token.end[0] + node.lineno - 1, token.end[1])
        elif seen_name and token.string == ")":
            depth -= 1
            if depth == 0 and start is not None:
                return start, (token.start[0] + node.lineno - 1, token.start[1])
    raise ValueError(f"no parameter list found for {node.name}")


def _call_edit(
    lines: list[str], node: ast.Call, names: list[str]
) -> tuple[int, int, int, int, str] | None:
    given = {k.arg for k in node.keywords}
    extra = [f"{name}={name}" for name in names if name not in given]
    if not extra:
        return None
    arguments = [*node.args, *node.keywords]
    if len(arguments) == 1 and node.args:
        only = node.args[0]
        if isinstance(only, ast.GeneratorExp) and _end(only) == _end(node):  # f(x for x in y)
            start_col = _char_col(lines[node.lineno - 1], node.func.end_col_offset or 0)
            end_line = node.end_lineno or node.lineno
            end_col = _char_col(lines[end_line - 1], node.end_col_offset or 0)
            text = f"({ast.unparse(only)}, {', '.join(extra)})"  # unparse adds its parens
            return node.func.end_lineno or node.lineno, start_col, end_line, end_col, text
    end_line = node.end_lineno or node.lineno
    end_col = _char_col(lines[end_line - 1], node.end_col_offset or 0) - 1  # at the `)`
    if arguments:
        last_line, last_col = _end(max(arguments, key=_end))
        start = (last_line, _char_col(lines[last_line - 1], last_col))
        after = _after_last_argument(lines, start, (end_line, end_col))
        if after is not None:  # a comment follows the last argument: insert before it
            return (*after, *after, ", " + ", ".join(extra))
    before = "".join(lines[node.lineno - 1 : end_line - 1]) + lines[end_line - 1][:end_col]
    opening = before.rstrip()
    needs_comma = bool(arguments) and not opening.endswith(",")
    separator = ", " if needs_comma else (" " if opening.endswith(",") else "")
    return end_line, end_col, end_line, end_col, separator + ", ".join(extra)


def _after_last_argument(
    lines: list[str], start: tuple[int, int], stop: tuple[int, int]
) -> tuple[int, int] | None:
    """Where to add keywords when a comment sits between the last argument (ending at
    `start`) and the call's `)` (at `stop`): after the argument's own closing parens
    (`f((a),  # c`), so the comment stays last. None when there is no comment."""
    line, col = start
    insert = start
    comment = False
    while (line, col) < stop:
        text = lines[line - 1]
        if col >= len(text) or text[col] == "#":  # a comment runs to the end of the line
            comment = comment or col < len(text)
            line, col = line + 1, 0
            continue
        if text[col] == ")":
            insert = (line, col + 1)
        col += 1
    return insert if comment else None


def _end(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "end_lineno", 0) or 0, getattr(node, "end_col_offset", 0) or 0


def _char_col(line: str, byte_col: int) -> int:
    """ast columns count UTF-8 bytes; string slicing counts characters."""
    return len(line.encode()[:byte_col].decode(errors="ignore"))


def _apply(
    lines: list[str], start_line: int, start_col: int, end_line: int, end_col: int, text: str
) -> None:
    head = lines[start_line - 1][:start_col]
    tail = lines[end_line - 1][end_col:]
    lines[start_line - 1 : end_line] = [head + text + tail]

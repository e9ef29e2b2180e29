"""Turn a cell's IPython syntax into plain Python, deciding magic by magic.

IPython's own transformer rewrites `%magic`, `%%magic` and `!shell` into
`get_ipython()` calls; this module then decides each call: drop it when it
only affects display or timing (`%matplotlib`, `%time` keeps its statement,
`%%time` keeps its body), turn `!pip install x` / `%pip install x` into a
requirement, and stop with an error naming the cell where dropping would
change what the code does (`%%bash`, `%run`, `x = !ls`). Generated code never
contains `get_ipython`.
"""

from __future__ import annotations

import ast
import functools
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from nb2prod.errors import Problem, Severity
from nb2prod.read.notebook import Cell

DISPLAY_LINE_MAGICS = {
    "matplotlib", "config", "load_ext", "reload_ext", "unload_ext", "autoreload", "aimport",
    "precision", "pprint", "who", "whos", "who_ls", "pinfo", "pinfo2", "psearch", "pdoc",
    "pdef", "psource", "pfile", "lsmagic", "magic", "history", "xmode", "colors", "page",
    "autosave", "notebook", "qtconsole", "connect_info", "doctest_mode", "automagic",
    "dirs", "pwd", "ls", "ll",
}  # fmt: skip
STATEMENT_LINE_MAGICS = {"time", "timeit", "prun"}
BODY_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
DISPLAY_CELL_MAGICS = {"html", "HTML", "markdown", "latex", "javascript", "js", "svg"}
PACKAGE_MAGICS = {"pip", "conda", "mamba", "uv"}

_FIXES = {
    "run": "copy the code the notebook runs into a cell, or import it as a module",
    "cd": "use paths relative to the notebook (or pathlib) instead of changing directory",
    "env": "read settings with os.environ in code, or turn them into parameters",
    "store": "save what you need to a file in the load/train section instead",
    "reset": "delete the `%reset` line; the generated code starts from a clean state",
    "writefile": "keep the file in the project and read it from code",
    "sql": "query the database from Python (e.g. pandas.read_sql) in the load section",
}
_SHELL_FIX = "rewrite it in Python (subprocess, pathlib, shutil) or tag the cell `skip`"


@dataclass
class CleanCode:
    """Plain Python for one cell, line numbers kept, plus what the magics asked for."""

    cell: Cell
    source: str
    line_offset: int = 0  # cell line = source line + line_offset
    requirements: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    tree: ast.Module | None = None

    def cell_line(self, source_line: int) -> int:
        return source_line + self.line_offset


def clean_cell(cell: Cell) -> CleanCode:
    """Plain Python for `cell`; problems are recorded, never raised."""
    result = CleanCode(cell, cell.source)
    body = _strip_cell_magic(result)
    if body is None:
        return result
    try:
        transformed = _transformer().transform_cell(body)
    except (SyntaxError, ValueError):  # IPython's tokenizer gave up: report ast's error
        transformed = body
    try:
        tree = ast.parse(transformed)
    except SyntaxError as exc:
        line = result.cell_line(exc.lineno or 1)
        result.problems.append(
            Problem(
                "syntax-error",
                f"syntax error: {exc.msg}",
                "fix the code so the cell runs in Jupyter, or tag the cell `skip`",
                Severity.ERROR,
                cell.ref(line),
            )
        )
        result.source = ""
        return result
    result.source = _rewrite_magics(result, transformed, tree)
    if result.source != transformed:
        try:
            tree = ast.parse(result.source)
        except SyntaxError as exc:  # a magic's replacement broke the code: say where
            line = result.cell_line(exc.lineno or 1)
            result.problems.append(
                Problem(
                    "magic-rewrite-failed",
                    f"nb2prod could not turn the IPython syntax on this line into Python "
                    f"({exc.msg})",
                    "write the line in plain Python, or tag the cell `skip`",
                    Severity.ERROR,
                    cell.ref(line),
                )
            )
            result.source = ""
            return result
    result.tree = tree
    return result


def ipython_source(cell: str) -> str | None:
    """The Python IPython runs for `cell` (magics as `get_ipython()` calls), or None when
    IPython cannot read it: verify's rewrites of a cell find its statements here."""
    try:
        return str(_transformer().transform_cell(cell))
    except (SyntaxError, ValueError):
        return None


@functools.cache
def _transformer() -> Any:
    """IPython's transformer, imported on first use (it pulls in IPython)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


def _strip_cell_magic(result: CleanCode) -> str | None:
    """Remove a leading `%%magic` line; None when the whole cell is unusable."""
    lines = result.cell.source.splitlines(keepends=True)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not lines[first].lstrip().startswith("%%"):
        return result.cell.source
    header = lines[first].strip()
    name = header[2:].split(maxsplit=1)[0] if len(header) > 2 else ""
    result.line_offset = first + 1
    if name in BODY_CELL_MAGICS:
        if name in {"timeit", "prun"}:
            _warn(result, f"`%%{name}` dropped; its body runs once", first + 1)
        return "".join(lines[first + 1 :])
    if name in DISPLAY_CELL_MAGICS:
        _warn(result, f"`%%{name}` only displays output; the cell is left out", first + 1)
        result.source = ""
        return None
    fix = _FIXES.get(name, _SHELL_FIX)
    result.problems.append(
        Problem(
            "cell-magic",
            f"cell magic `%%{name}` runs code nb2prod cannot turn into Python",
            fix,
            Severity.ERROR,
            result.cell.ref(first + 1),
        )
    )
    result.source = ""
    return None


def _rewrite_magics(result: CleanCode, source: str, tree: ast.Module) -> str:
    """Replace each `get_ipython()` statement by its Python meaning, line by line."""
    lines = source.splitlines()
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        call = _ipython_call(node)
        if call is None:
            continue
        kind, args = call
        statement = parents.get(node)
        line = node.lineno
        if not isinstance(statement, ast.Expr) or statement.lineno != statement.end_lineno:
            _error(
                result,
                "magic-output-used",
                f"the result of `{_describe(kind, args)}` is used by the code",
                "compute the value in Python (subprocess.run(..., capture_output=True)) "
                "or tag the cell `skip`",
                line,
            )
            continue
        replacement = _replacement(result, kind, args, line)
        indent = lines[line - 1][: len(lines[line - 1]) - len(lines[line - 1].lstrip())]
        if replacement is None:
            nested = parents.get(statement) is not tree
            lines[line - 1] = f"{indent}pass" if nested else ""
        else:
            lines[line - 1] = indent + replacement
    return "\n".join(lines) + "\n"


def _ipython_call(node: ast.AST) -> tuple[str, list[str]] | None:
    """(`magic name` or `!`/`!!`, string args) for a `get_ipython().X(...)` call."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    owner = node.func.value
    if not (
        isinstance(owner, ast.Call)
        and isinstance(owner.func, ast.Name)
        and owner.func.id == "get_ipython"
    ):
        return None
    args = [a.value if isinstance(a, ast.Constant) else ast.unparse(a) for a in node.args]
    method = node.func.attr
    if method in {"run_line_magic", "run_cell_magic", "magic"} and args:
        return str(args[0]), [str(a) for a in args[1:]]
    if method == "system":
        return "!", [str(a) for a in args]
    return "!!", [str(a) for a in args]  # getoutput and anything else


def _replacement(result: CleanCode, kind: str, args: list[str], line: int) -> str | None:
    """Python for one magic statement, None to drop it; records problems."""
    text = args[0] if args else ""
    if kind == "!":
        requirements = _pip_requirements(text)
        if requirements is not None:
            result.requirements.extend(requirements)
            return None
        _warn(result, f"shell command `!{text}` dropped; {_SHELL_FIX}", result.cell_line(line))
        return None
    if kind in PACKAGE_MAGICS:
        requirements = _pip_requirements(f"{kind} {text}")
        if requirements is not None:
            result.requirements.extend(requirements)
        return None
    if kind in DISPLAY_LINE_MAGICS:
        return None
    if kind in STATEMENT_LINE_MAGICS:
        if kind != "time":
            _warn(result, f"`%{kind}` dropped; its statement runs once", result.cell_line(line))
        return _statement_replacement(result, kind, text, line)
    fix = _FIXES.get(kind, "remove the magic, or tag the cell `skip` if it only explores")
    _error(result, "line-magic", f"magic `%{kind}` changes what the code does", fix, line)
    return None


def _statement(kind: str, text: str) -> str | None:
    """The statement after `%time`/`%timeit`/`%prun`: the text after the options, which
    are read like IPython reads them (getopt with each magic's option string), so
    `%prun -s cumulative f()` keeps `f()`, not `cumulative f()`. None when there is no
    statement; ValueError when an option is unknown or lacks its value (IPython refuses it).
    """
    takes_value, flags, long_flags = _OPTIONS[kind]
    words = list(re.finditer(r"\S+", text))
    i = 0
    while i < len(words):
        word = words[i].group()
        if word in long_flags:
            i += 1
            continue
        if word == "--" and kind != "time":
            i += 1
            break
        if not word.startswith("-") or word == "-" or kind == "time":
            break
        j = 1
        while j < len(word):
            option = word[j]
            if option in takes_value:
                if j + 1 == len(word):  # the value is the next word
                    i += 1
                    if i == len(words):
                        raise ValueError(f"option -{option} requires a value")
                break
            if option not in flags:
                raise ValueError(f"option -{option} not recognized")
            j += 1
        i += 1
    statement = text[words[i].start() :].strip() if i < len(words) else ""
    return statement or None


def _statement_replacement(result: CleanCode, kind: str, text: str, line: int) -> str | None:
    """Python for the statement a `%time`-like magic runs, itself cleaned (`%time !ls` is
    a shell line); None to drop it; problems recorded."""
    try:
        statement = _statement(kind, text)
    except ValueError as exc:
        _error(
            result,
            "line-magic",
            f"`%{kind} {text}` is not valid: {exc}",
            f"fix the options of `%{kind}`, or write the statement without the magic",
            line,
        )
        return None
    if statement is None:
        return None
    try:
        transformed = _transformer().transform_cell(statement).strip()
        tree = ast.parse(transformed)
    except (SyntaxError, ValueError) as exc:
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        _error(
            result,
            "syntax-error",
            f"the statement after `%{kind}` is not Python: {message}",
            f"fix the statement, or write it without `%{kind}`",
            line,
        )
        return None
    if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
        call = _ipython_call(tree.body[0].value)
        if call is not None:  # `%time !ls`, `%time %pip install x`
            return _replacement(result, call[0], call[1], line)
    if len(transformed.splitlines()) != 1 or any(_ipython_call(n) for n in ast.walk(tree)):
        _error(
            result,
            "magic-output-used",
            f"the statement after `%{kind}` uses IPython syntax nb2prod cannot turn into Python",
            f"write the statement without `%{kind}`",
            line,
        )
        return None
    return transformed


# IPython's options (getopt style): short ones that take a value, short flags, long flags.
_OPTIONS = {
    "time": ("", "", {"--no-raise-error"}),  # argparse, the rest is the statement
    "timeit": ("nrp", "tcqo", set()),
    "prun": ("DlsT", "rq", set()),
}


def _pip_requirements(command: str) -> list[str] | None:
    """Requirements named by a `pip install` command; None if it is not one."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    for i, word in enumerate(words):
        tool = word.rsplit("/", 1)[-1]
        if tool in {"pip", "pip3", "conda", "mamba", "uv"} and words[i + 1 : i + 2] == ["install"]:
            return _install_targets(words[i + 2 :])
        if tool in {"pip", "uv"} and words[i + 1 : i + 3] == ["pip", "install"]:
            return _install_targets(words[i + 3 :])
    return None


def _install_targets(words: list[str]) -> list[str]:
    targets: list[str] = []
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
        elif word in {"-r", "-c", "-e", "-i", "--index-url", "--extra-index-url", "-f"}:
            skip_next = True
        elif not word.startswith("-") and word not in {"&&", ";", "|"}:
            targets.append(word)
        elif word in {"&&", ";", "|"}:
            break
    return targets


def _describe(kind: str, args: list[str]) -> str:
    text = args[0] if args else ""
    return f"!{text}" if kind in {"!", "!!"} else f"%{kind} {text}".strip()


def _warn(result: CleanCode, message: str, cell_line: int) -> None:
    result.problems.append(
        Problem(
            "magic-dropped",
            message,
            "nothing to do if the notebook's results do not depend on it",
            Severity.WARNING,
            result.cell.ref(cell_line),
        )
    )


def _error(result: CleanCode, code: str, message: str, fix: str, line: int) -> None:
    result.problems.append(
        Problem(code, message, fix, Severity.ERROR, result.cell.ref(result.cell_line(line)))
    )

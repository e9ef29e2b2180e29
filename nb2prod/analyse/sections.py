"""Split each section into module-level code and a function body, and read its data flow.

For every kept cell: top-level imports, functions and classes move to module
level; the rest is the section's body, kept as the user wrote it (comments
included), minus display-only expressions such as `df.head()`. The body's
name events (see `names.py`) give what the section needs from earlier
sections and what it binds or changes for later ones.
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass, field

from nb2prod.analyse.globals_rewrite import Rewrites, declared_globals, rewrite_source
from nb2prod.analyse.names import (
    BUILTINS,
    MUTATING_METHODS,
    NameEvent,
    definition_time_names,
    free_names,
    name_events,
)
from nb2prod.errors import Problem, Severity
from nb2prod.read.magics import CleanCode, clean_cell
from nb2prod.read.notebook import Cell
from nb2prod.read.roles import DIRECTIVE, PARAMETERS, Role, Section

DISPLAY_METHODS = frozenset(
    {"head", "tail", "describe", "info", "sample", "value_counts", "nunique", "corr",
     "isna", "isnull", "memory_usage", "show", "to_string", "style", "round", "mean", "sum",
     "min", "max", "std", "count", "unique", "groupby", "agg", "to_frame", "T"}
)  # fmt: skip
PURE_BUILTINS = frozenset({"len", "type", "repr", "sorted", "dir", "vars", "id", "isinstance"})


@dataclass
class Chunk:
    """Consecutive source lines of one cell holding whole top-level statements."""

    cell: Cell
    text: str
    nodes: list[ast.stmt]
    kind: str  # "import", "definition", "constant" (moved to module level) or "body"

    @property
    def defined_name(self) -> str | None:
        node = self.nodes[0]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return node.name
        return None


@dataclass
class SectionCode:
    """A section's code, split by where it goes, and its name flow."""

    section: Section
    chunks: list[Chunk] = field(default_factory=list)
    needs: dict[str, tuple[Cell, int]] = field(default_factory=dict)  # first read, where
    maybe_local: set[str] = field(default_factory=set)  # read after a branch/loop bound it
    binds: list[str] = field(default_factory=list)  # bound or mutated, first-seen order
    mutates: set[str] = field(default_factory=set)
    events: list[tuple[Cell, NameEvent]] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)

    @property
    def body(self) -> list[Chunk]:
        return [c for c in self.chunks if c.kind == "body"]

    def of_kind(self, kind: str) -> list[Chunk]:
        return [c for c in self.chunks if c.kind == kind]


def analyse_section(
    section: Section, problems: list[Problem], rewrites: Rewrites | None = None
) -> SectionCode:
    """Clean, split and read the name flow of one section's cells.

    `rewrites` extends module-level functions with the notebook variables they read
    (see `globals_rewrite.py`), in their definitions and at every direct call.
    """
    code = SectionCode(section)
    for cell in section.cells:
        clean = clean_cell(cell)
        if rewrites and clean.tree is not None:
            rewritten = rewrite_source(clean.source, clean.tree, rewrites)
            try:
                clean.tree = ast.parse(rewritten)
                clean.source = rewritten
            except SyntaxError as exc:  # keep the cell as written, say which line and why
                if section.kept:
                    problems.append(_rewrite_failed(clean, exc, rewrites))
        if section.kept:  # skipped cells may hold anything; only their names are read
            problems.extend(clean.problems)
        code.requirements.extend(clean.requirements)
        if clean.tree is None:
            continue
        if section.kept:
            _check_star_imports(clean, problems)
            _check_top_level_await(clean, problems)
        code.chunks.extend(_chunks(clean))
    read_flow(code)
    return code


def _rewrite_failed(clean: CleanCode, exc: SyntaxError, rewrites: Rewrites) -> Problem:
    """The problem for a cell whose functions could not be given the variables they read."""
    names = ", ".join(f"`{name}`" for name in sorted(rewrites))
    return Problem(
        "global-rewrite-failed",
        f"nb2prod could not pass notebook variables to {names} on this line ({exc.msg})",
        "pass the notebook variables the function reads as arguments yourself",
        Severity.ERROR,
        clean.cell.ref(clean.cell_line(exc.lineno or 1)),
    )


def split_body(code: SectionCode, count: int, role: Role) -> tuple[SectionCode, SectionCode]:
    """The first `count` body statements as a section of its own (with `role`), and the
    rest: a predict cell that picks its rows and then predicts becomes two steps."""
    body = code.body
    head_chunks, tail_chunks = body[:count], body[count:]
    head_cells = list(dict.fromkeys(c.cell for c in head_chunks))
    head = SectionCode(Section(role, head_cells, code.section.title), chunks=head_chunks)
    tail = SectionCode(
        code.section, chunks=[c for c in code.chunks if c.kind != "body"] + tail_chunks
    )
    tail.requirements = code.requirements
    read_flow(head)
    read_flow(tail)
    return head, tail


def read_flow(code: SectionCode) -> None:
    bound: set[str] = set()
    for chunk in code.body:
        for node in chunk.nodes:
            for event in name_events(node):
                code.events.append((chunk.cell, event))
                _record(code, bound, chunk.cell, event)


def _record(code: SectionCode, bound: set[str], cell: Cell, event: NameEvent) -> None:
    """Track first reads; a read after a conditional binding may be local (a loop variable)."""
    if event.kind == "load":
        if event.name not in bound and event.name not in code.needs:
            code.needs[event.name] = (cell, event.line)
            if event.name in code.binds:
                code.maybe_local.add(event.name)
        return
    if event.kind == "mutate":
        code.mutates.add(event.name)
    if event.name not in code.binds:
        code.binds.append(event.name)
    if event.definite and event.kind == "store":
        bound.add(event.name)


def hoist_constants(codes: list[SectionCode]) -> None:
    """Constants that a function or class in the same cell reads move with it.

    `rooms_ix, bedrooms_ix = 3, 4` above a transformer class that indexes with them, or
    `HOUSING_PATH = os.path.join("datasets", "housing")` read by a default argument,
    become module-level code too, as the definition needs them there. Only literal
    values, and expressions of literals, earlier such constants and path joins,
    qualify; and only names bound once in the kept code: a constant a later cell
    changes stays a variable.
    """
    kept = [c for c in codes if c.section.kept and c.section.role.name != PARAMETERS]
    module = module_names(kept)
    wanted: dict[int, set[str]] = {}  # by cell: what its functions and classes read
    for code in kept:
        for chunk in code.of_kind("definition"):
            node = chunk.nodes[0]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                free = (free_names(node) | definition_time_names(node)) - module - BUILTINS
                wanted.setdefault(chunk.cell.index, set()).update(free)
    if not any(wanted.values()):
        return
    bound = Counter(event.name for code in kept for _, event in code.events if event.kind != "load")
    for code in kept:
        moved = False
        constants: dict[int, tuple[set[str], set[str]]] = {}  # chunk: (binds, reads)
        known: set[str] = set()
        for position, chunk in enumerate(code.body):
            found = _constant_chunk(chunk, module | known)
            if found is not None and all(bound[name] == 1 for name in found[0]):
                constants[position] = found
                known |= found[0]
        needed = set().union(*(wanted.get(c.cell.index, set()) for c in code.body))
        for position in sorted(constants, reverse=True):  # a constant needs earlier ones
            names, reads = constants[position]
            if names & needed:
                code.body[position].kind = "constant"
                needed |= reads
                moved = True
        if moved:
            code.needs.clear()
            code.maybe_local.clear()
            code.binds.clear()
            code.mutates.clear()
            code.events.clear()
            read_flow(code)


PATH_BUILDERS = frozenset({"join", "Path", "PurePath", "PurePosixPath"})
NOT_CONSTANT = (
    ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom,
    ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
)  # fmt: skip


def _constant_chunk(chunk: Chunk, constants: set[str]) -> tuple[set[str], set[str]] | None:
    """(names bound, names read) when the chunk is `NAME = <constant expression>` only."""
    names: set[str] = set()
    reads: set[str] = set()
    for node in chunk.nodes:
        if not isinstance(node, ast.Assign) or not _constant_expression(node.value, constants):
            return None
        for target in node.targets:
            elements = target.elts if isinstance(target, ast.Tuple) else [target]
            if not all(isinstance(e, ast.Name) for e in elements):
                return None
            names |= {e.id for e in elements if isinstance(e, ast.Name)}
        reads |= {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
    return (names, reads) if names else None


def _constant_expression(value: ast.expr, constants: set[str]) -> bool:
    """Literals, names of earlier constants or modules, operators, f-strings, and path
    joins: values that are the same every run."""
    for node in ast.walk(value):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in PATH_BUILDERS:
                return False
        elif isinstance(node, ast.Name):
            if node.id not in constants:
                return False
        elif isinstance(node, NOT_CONSTANT):
            return False
    return True


def module_names(codes: list[SectionCode]) -> set[str]:
    """Names bound at module level: imports, functions and classes of kept cells."""
    names: set[str] = set()
    for code in codes:
        for chunk in code.chunks:
            if chunk.kind == "body":
                continue
            for node in chunk.nodes:
                names |= {e.name for e in name_events(node) if e.kind == "store"}
    return names


def check_definitions(codes: list[SectionCode], module: set[str], problems: list[Problem]) -> None:
    """A function or class moved to module level may only read module-level names."""
    for code in codes:
        for chunk in code.of_kind("definition"):
            node = chunk.nodes[0]
            assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            declared = declared_globals(node) - module
            if declared:
                problems.append(_sets_global(chunk, node, sorted(declared)))
            reads = free_names(node) | definition_time_names(node)
            outside = sorted(reads - module - BUILTINS - declared)
            if outside:
                names = ", ".join(f"`{n}`" for n in outside)
                problems.append(
                    Problem(
                        "function-reads-global",
                        f"`{node.name}` reads {names} from the notebook's variables; "
                        "as module-level code it would not see them",
                        f"add {'them' if len(outside) > 1 else 'it'} as parameters of "
                        f"`{node.name}` and pass {names} where you call it",
                        Severity.ERROR,
                        chunk.cell.ref(node.lineno),
                    )
                )


def _sets_global(
    chunk: Chunk, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, names: list[str]
) -> Problem:
    listed = ", ".join(f"`{n}`" for n in names)
    first = names[0]
    return Problem(
        "function-sets-global",
        f"`{node.name}` declares {listed} `global` to change the notebook's variables; "
        "moved to module level it cannot reach the pipeline's variables",
        f"drop the `global` line, take {listed} as "
        f"{'parameters' if len(names) > 1 else 'a parameter'} and return the new values: "
        f"`def {node.name}({first}): ...; return {first}`, called as "
        f"`{first} = {node.name}({first})`",
        Severity.ERROR,
        chunk.cell.ref(node.lineno),
    )


def _check_star_imports(clean: CleanCode, problems: list[Problem]) -> None:
    assert clean.tree is not None
    for node in ast.walk(clean.tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            problems.append(
                Problem(
                    "star-import",
                    f"`from {node.module} import *` hides which names the code uses",
                    f"import the names you use: `from {node.module} import name1, name2`",
                    Severity.ERROR,
                    clean.cell.ref(clean.cell_line(node.lineno)),
                )
            )


def _check_top_level_await(clean: CleanCode, problems: list[Problem]) -> None:
    """`await` outside a function runs in IPython (its event loop), but the cell's code
    becomes a plain function: one problem per cell, at the first such line."""
    assert clean.tree is not None
    pending: list[ast.AST] = list(clean.tree.body)
    found: list[ast.AST] = []
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, (ast.Await, ast.AsyncFor, ast.AsyncWith)) or (
            isinstance(node, ast.comprehension) and node.is_async
        ):
            found.append(node)
        pending.extend(ast.iter_child_nodes(node))
    if not found:
        return
    line = min(getattr(n, "lineno", None) or getattr(n, "target", n).lineno for n in found)
    problems.append(
        Problem(
            "top-level-await",
            "`await` outside a function only runs in IPython's event loop; the generated "
            "function is not async",
            "move the awaited code into an `async def main(): ...` and call "
            "`asyncio.run(main())` in the cell",
            Severity.ERROR,
            clean.cell.ref(clean.cell_line(line)),
        )
    )


def _chunks(clean: CleanCode) -> list[Chunk]:
    """Group top-level statements into chunks, each with its leading comments."""
    assert clean.tree is not None
    lines = clean.source.splitlines()
    groups: list[list[ast.stmt]] = []
    for node in clean.tree.body:
        start = _first_line(node)
        if groups and start <= groups[-1][-1].end_lineno:  # `a = 1; b = 2`
            groups[-1].append(node)
        else:
            groups.append([node])
    chunks: list[Chunk] = []
    previous_end = 0
    for i, group in enumerate(groups):
        start = _first_line(group[0])
        end = group[-1].end_lineno or start
        if i == len(groups) - 1:  # trailing comments stay with the last statement
            end = len(lines)
        text_lines = [line for line in lines[previous_end:end] if not DIRECTIVE.match(line)]
        previous_end = end
        kind = _kind(group)
        if kind == "display":
            continue
        text = "\n".join(text_lines).rstrip("\n")
        if not chunks:
            text = text.lstrip("\n")
        for node in group:
            _shift_lines(node, clean.line_offset)
        chunks.append(Chunk(clean.cell, text, group, kind))
    return chunks


def _shift_lines(node: ast.AST, offset: int) -> None:
    """Renumber a node to the cell's own lines (cell magics move the body down)."""
    if offset:
        ast.increment_lineno(node, offset)


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _kind(group: list[ast.stmt]) -> str:
    if all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in group):
        return "import"
    if len(group) == 1 and isinstance(
        group[0], (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    ):
        return "definition"
    if all(_display_only(n) for n in group):
        return "display"
    return "body"


def _display_only(node: ast.stmt) -> bool:
    """True for expressions a notebook evaluates only to show them (`df.head()`)."""
    return isinstance(node, ast.Expr) and _display_value(node.value)


def _display_value(value: ast.expr) -> bool:
    if isinstance(value, (ast.Name, ast.Attribute, ast.Subscript)):
        return True
    if isinstance(value, ast.Tuple):
        return all(_display_value(v) for v in value.elts)
    if isinstance(value, ast.Constant):
        return not isinstance(value.value, str)  # keep docstring-like strings as comments
    if isinstance(value, ast.Call):
        func = value.func
        if isinstance(func, ast.Name) and func.id in PURE_BUILTINS | {"display"}:
            return all(_display_value(a) for a in value.args)
        if isinstance(func, ast.Attribute) and func.attr in DISPLAY_METHODS:
            return not any(
                isinstance(sub, ast.Call)
                and (
                    any(k.arg == "inplace" for k in sub.keywords)
                    or isinstance(sub.func, ast.Attribute)
                    and sub.func.attr in MUTATING_METHODS
                )
                for sub in ast.walk(value)
            )
    return False

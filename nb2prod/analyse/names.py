"""Which names a piece of code reads, binds and mutates, in evaluation order.

The walk is scope-aware (comprehensions, lambdas and nested functions keep
their own locals, though a walrus in a comprehension binds outside it, as
PEP 572 says), binds `case` captures like assignments in a branch, and
treats in-place changes as bindings, because a notebook that does
`df.dropna(inplace=True)` hands a different `df` to the next cell. Mutation
is recognised from attribute and item assignment, augmented assignment,
`inplace=True`, and methods that change their object.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

BUILTINS = frozenset(dir(builtins)) | {"__file__", "__name__", "display", "get_ipython"}

MUTATING_METHODS = frozenset(
    {
        # list, dict, set, deque
        "append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse",
        "update", "setdefault", "popitem", "add", "discard", "appendleft", "extendleft",
        "difference_update", "intersection_update", "symmetric_difference_update",
        # estimators and array-likes
        "fit", "partial_fit", "fit_transform", "fit_predict", "fit_resample", "set_params",
        "resize", "fill", "put", "itemset", "setflags", "shuffle", "seed",
        # pandas methods that change their frame without inplace=
        "__setitem__", "__delitem__", "set_axis", "set_flags",
    }
)  # fmt: skip
MUTATING_FUNCTIONS = frozenset({"shuffle", "copyto", "put", "place", "putmask", "setattr"})

Kind = Literal["load", "store", "mutate"]


@dataclass(frozen=True)
class NameEvent:
    """One read, binding or in-place change of a name, with its line."""

    kind: Kind
    name: str
    line: int
    definite: bool = True  # False for bindings inside branches and loops


def name_events(node: ast.AST, *, conditional: bool = False) -> Iterator[NameEvent]:
    """Events of `node` in the order Python evaluates them, at the top scope."""
    yield from _Walker(conditional).walk(node)


def root_name(node: ast.AST) -> ast.Name | None:
    """`df` for `df`, `df.a`, `df["a"].b`, `df.loc[0]`; None for other roots."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node if isinstance(node, ast.Name) else None


def free_names(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef,
) -> set[str]:
    """Names a function, lambda or class reads from outside its own scope."""
    return _Walker(False).free(node)


def definition_time_names(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
) -> set[str]:
    """Names read when the `def` or `class` statement itself runs: decorators, default
    values (`def load(path=DATA_PATH)`), base classes."""
    parts: list[ast.AST] = list(node.decorator_list)
    if isinstance(node, ast.ClassDef):
        parts += [*node.bases, *(k.value for k in node.keywords)]
    else:
        parts += [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
    return {e.name for part in parts for e in _Walker(False).walk(part) if e.kind == "load"}


class _Walker:
    def __init__(self, conditional: bool) -> None:
        self.conditional = conditional

    def walk(self, node: ast.AST) -> Iterator[NameEvent]:  # noqa: C901 - one case per node type
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                yield NameEvent("load", node.id, node.lineno)
            else:
                yield self._store(node.id, node.lineno)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            if node.value is not None:
                yield from self.walk(node.value)
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                yield from self.target(target)
        elif isinstance(node, ast.AugAssign):
            yield from self.walk(node.value)
            if isinstance(node.target, ast.Name):
                yield NameEvent("load", node.target.id, node.lineno)
                yield NameEvent("mutate", node.target.id, node.lineno, not self.conditional)
            else:
                yield from self.target(node.target)
        elif isinstance(node, ast.NamedExpr):
            yield from self.walk(node.value)
            yield from self.target(node.target)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                yield from self.target(target)
        elif isinstance(node, ast.Call):
            yield from self._call(node)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            yield from self.walk(node.iter)
            # The target is bound before the body reads it: `for name, model in
            # models.items()` needs no `model` from earlier sections.
            yield from self.target(node.target)
            with self._branch():
                yield from self._body(node.body + node.orelse)
        elif isinstance(node, (ast.If, ast.While)):
            yield from self.walk(node.test)
            with self._branch():
                yield from self._body(node.body + node.orelse)
        elif isinstance(node, ast.Match):
            yield from self.walk(node.subject)
            # Each case may not be the one that runs: its captures and body
            # bindings are conditional, like an `if` branch's.
            with self._branch():
                for case in node.cases:
                    yield from self._pattern(case.pattern)
                    if case.guard is not None:
                        yield from self.walk(case.guard)
                    yield from self._body(case.body)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                yield from self.walk(item.context_expr)
                if item.optional_vars is not None:
                    yield from self.target(item.optional_vars)
            yield from self._body(node.body)
        elif isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            with self._branch():
                yield from self._body(node.body)
                for handler in node.handlers:
                    if handler.type is not None:
                        yield from self.walk(handler.type)
                    if handler.name:
                        yield self._store(handler.name, handler.lineno)
                    yield from self._body(handler.body)
                yield from self._body(node.orelse)
            yield from self._body(node.finalbody)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for decorator in node.decorator_list:
                yield from self.walk(decorator)
            if not isinstance(node, ast.ClassDef):
                yield from self._defaults(node.args)
            else:
                for base in [*node.bases, *(k.value for k in node.keywords)]:
                    yield from self.walk(base)
            for name in sorted(self.free(node)):
                yield NameEvent("load", name, node.lineno)
            yield self._store(node.name, node.lineno)
        elif isinstance(node, ast.Lambda):
            yield from self._defaults(node.args)
            for name in sorted(self.free(node)):
                yield NameEvent("load", name, node.lineno)
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            yield from self.walk(node.generators[0].iter)
            reads, walrus = self._comprehension_names(node)
            for name in sorted(reads):
                yield NameEvent("load", name, node.lineno)
            # PEP 572: `[y := f(x) for x in xs]` binds `y` in the enclosing scope,
            # but only if the comprehension runs at least once, like a loop body.
            for name, line in walrus.items():
                yield NameEvent("store", name, line, False)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    bound = alias.asname or alias.name.split(".")[0]
                    yield self._store(bound, node.lineno)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            return
        else:
            for child in ast.iter_child_nodes(node):
                yield from self.walk(child)

    def target(self, target: ast.AST) -> Iterator[NameEvent]:
        """Events of an assignment or `del` target."""
        if isinstance(target, ast.Name):
            yield self._store(target.id, target.lineno)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                yield from self.target(element)
        elif isinstance(target, ast.Starred):
            yield from self.target(target.value)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            yield from self.walk(target.value)
            if isinstance(target, ast.Subscript):
                yield from self.walk(target.slice)
            root = root_name(target)
            if root is not None:
                yield NameEvent("mutate", root.id, target.lineno, not self.conditional)

    def _pattern(self, pattern: ast.pattern) -> Iterator[NameEvent]:
        """Events of a `case` pattern: class names and value patterns are read,
        capture names (`px` in `Point(x=px)`, `*rest`, `**extra`) are bound."""
        if isinstance(pattern, ast.MatchValue):
            yield from self.walk(pattern.value)
        elif isinstance(pattern, ast.MatchSequence):
            for inner in pattern.patterns:
                yield from self._pattern(inner)
        elif isinstance(pattern, ast.MatchMapping):
            for key, inner in zip(pattern.keys, pattern.patterns, strict=True):
                yield from self.walk(key)
                yield from self._pattern(inner)
            if pattern.rest is not None:
                yield self._store(pattern.rest, pattern.lineno)
        elif isinstance(pattern, ast.MatchClass):
            yield from self.walk(pattern.cls)
            for inner in [*pattern.patterns, *pattern.kwd_patterns]:
                yield from self._pattern(inner)
        elif isinstance(pattern, ast.MatchOr):
            for inner in pattern.patterns:
                yield from self._pattern(inner)
        elif isinstance(pattern, (ast.MatchAs, ast.MatchStar)):
            if isinstance(pattern, ast.MatchAs) and pattern.pattern is not None:
                yield from self._pattern(pattern.pattern)
            if pattern.name is not None:
                yield self._store(pattern.name, pattern.lineno)

    def _call(self, node: ast.Call) -> Iterator[NameEvent]:
        yield from self.walk(node.func)
        for argument in [*node.args, *(k.value for k in node.keywords)]:
            yield from self.walk(argument)
        mutated: list[ast.Name] = []
        inplace = any(
            k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
            for k in node.keywords
        )
        if isinstance(node.func, ast.Attribute):
            if inplace or node.func.attr in MUTATING_METHODS:
                root = root_name(node.func.value)
                if root is not None:
                    mutated.append(root)
            called = node.func.attr
        else:
            called = node.func.id if isinstance(node.func, ast.Name) else ""
        if called in MUTATING_FUNCTIONS and node.args:
            root = root_name(node.args[0])
            if root is not None:
                mutated.append(root)
        for root in mutated:
            yield NameEvent("mutate", root.id, node.lineno, not self.conditional)

    def _body(self, statements: list[ast.stmt]) -> Iterator[NameEvent]:
        for statement in statements:
            yield from self.walk(statement)

    def _defaults(self, args: ast.arguments) -> Iterator[NameEvent]:
        for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            yield from self.walk(default)

    def _store(self, name: str, line: int) -> NameEvent:
        return NameEvent("store", name, line, not self.conditional)

    def _branch(self) -> _Branch:
        return _Branch(self)

    def free(self, node: ast.AST) -> set[str]:
        """Free names of a function, lambda or class body (reads minus own locals)."""
        if isinstance(node, ast.ClassDef):
            body: list[ast.AST] = list(node.body)
            local: set[str] = set()
        else:
            args = node.args
            local = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
            local |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
            body = [node.body] if isinstance(node, ast.Lambda) else list(node.body)
        inner = _Walker(True)
        events = [e for statement in body for e in inner.walk(statement)]
        declared_global = {
            name
            for statement in body
            for sub in ast.walk(statement)
            if isinstance(sub, ast.Global)
            for name in sub.names
        }
        local |= {e.name for e in events if e.kind == "store"} - declared_global
        return {e.name for e in events if e.kind in {"load", "mutate"}} - local

    def _comprehension_names(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp
    ) -> tuple[set[str], dict[str, int]]:
        """Names read from outside (all but the first iterable, which the caller
        walks), and walrus targets with their lines, which bind outside (PEP 572).

        Parts are walked in the order one iteration runs them (later iterables,
        targets, conditions, then the element), so `[y for x in xs if (y := f(x))]`
        reads no outer `y`.
        """
        inner = _Walker(True)
        bound: set[str] = set()
        walrus: dict[str, int] = {}
        reads: set[str] = set()

        def visit(part: ast.AST) -> None:
            for event in inner.walk(part):
                if event.kind == "store":  # only a walrus binds inside an expression
                    walrus.setdefault(event.name, event.line)
                elif event.kind == "load" and event.name not in bound and event.name not in walrus:
                    reads.add(event.name)

        for i, generator in enumerate(node.generators):
            if i > 0:
                visit(generator.iter)
            bound |= {e.name for e in inner.target(generator.target) if e.kind == "store"}
            for condition in generator.ifs:
                visit(condition)
        for part in [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]:
            visit(part)
        return reads, walrus


class _Branch:
    """Marks bindings made inside a branch or loop as not definite."""

    def __init__(self, walker: _Walker) -> None:
        self.walker = walker
        self.saved = walker.conditional

    def __enter__(self) -> None:
        self.walker.conditional = True

    def __exit__(self, *_: object) -> None:
        self.walker.conditional = self.saved


def imported_modules_of(node: ast.AST) -> list[str]:
    """Dotted modules an `import` or absolute `from ... import` statement imports, else []."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    return []


def imported_modules(trees: Iterable[ast.AST]) -> list[str]:
    """Top-level module names imported anywhere in `trees`, first-seen order."""
    modules: list[str] = []
    for tree in trees:
        for node in ast.walk(tree):
            for name in imported_modules_of(node):
                top = name.split(".")[0]
                if top not in modules:
                    modules.append(top)
    return modules

"""names.py: which names code reads, binds and mutates, in evaluation order, per scope.

Every section's inputs and outputs come from these events, so each case here is a
variable a generated step would wrongly take or forget to hand on.
"""

from __future__ import annotations

import ast

import pytest

from nb2prod.analyse.names import (
    BUILTINS,
    NameEvent,
    definition_time_names,
    free_names,
    imported_modules,
    name_events,
    root_name,
)


def events(source: str) -> list[tuple[str, str]]:
    """(kind, name) of each event of `source`, in order."""
    return [(e.kind, e.name) for e in name_events(ast.parse(source))]


def first_definition(source: str) -> ast.FunctionDef | ast.ClassDef:
    """The first statement of `source`, which the test writes as a def or class."""
    node = ast.parse(source).body[0]
    assert isinstance(node, (ast.FunctionDef, ast.ClassDef))
    return node


def test_the_value_is_read_before_the_target_is_bound() -> None:
    """`x = x + 1` needs an earlier `x`: the read comes first."""
    assert events("x = x + 1") == [("load", "x"), ("store", "x")]


def test_events_carry_their_line_and_top_level_bindings_are_definite() -> None:
    """A binding outside branches is definite, so a later read in the section is local."""
    found = list(name_events(ast.parse("a = 1\nb = a")))
    assert found == [
        NameEvent("store", "a", 1),
        NameEvent("load", "a", 2),
        NameEvent("store", "b", 2),
    ]


def test_augmented_assignment_reads_and_mutates_the_name() -> None:
    """`weights += 1` changes an array in place: later sections need the new value."""
    assert events("weights += 1") == [("load", "weights"), ("mutate", "weights")]


def test_augmented_assignment_to_an_item_mutates_its_root() -> None:
    """`df['b'] *= scale` changes `df`, reading `scale`."""
    assert events("df['b'] *= scale") == [("load", "scale"), ("load", "df"), ("mutate", "df")]


def test_attribute_and_subscript_assignment_mutate_the_root_name() -> None:
    """Item and attribute assignment change the object `df` names, not a new `df`."""
    assert events("df.a = 1") == [("load", "df"), ("mutate", "df")]
    assert events("df['c'][k] = v") == [
        ("load", "v"),
        ("load", "df"),
        ("load", "k"),
        ("mutate", "df"),
    ]


def test_del_unbinds_a_name_and_mutates_a_container() -> None:
    """`del a` binds (unbinds) `a`; `del b[0]` changes `b` in place."""
    assert events("del a, b[0]") == [
        ("store", "a"),
        ("load", "b"),
        ("mutate", "b"),
    ]


@pytest.mark.parametrize(
    ("source", "mutated"),
    [
        ("df.dropna(inplace=True)", "df"),
        ("frame['a'].fillna(0, inplace=True)", "frame"),
        ("columns.append('b')", "columns"),
        ("model.fit(X, y)", "model"),
        ("setattr(obj, 'a', 1)", "obj"),
        ("np.random.shuffle(arr)", "arr"),
    ],
)
def test_mutating_calls_mark_their_object_changed(source: str, mutated: str) -> None:
    """`inplace=True`, mutating methods and functions hand a changed object on."""
    assert ("mutate", mutated) in events(source)


def test_inplace_false_and_pure_methods_are_reads_only() -> None:
    """`df.dropna(inplace=False)` and `df.copy()` leave `df` as it was."""
    assert events("df.dropna(inplace=False)") == [("load", "df")]
    assert events("clean = df.copy()") == [("load", "df"), ("store", "clean")]


def test_walrus_binds_after_its_value_is_read() -> None:
    """`(n := f(x))` reads `f` and `x`, then binds `n` in the enclosing scope."""
    assert events("if (n := f(x)):\n    pass") == [("load", "f"), ("load", "x"), ("store", "n")]


def test_for_target_is_bound_before_the_body_reads_it() -> None:
    """`for name, model in models.items()` needs no `model` from earlier sections."""
    found = list(name_events(ast.parse("for i, (a, b) in pairs:\n    total = i")))
    assert [(e.kind, e.name) for e in found] == [
        ("load", "pairs"),
        ("store", "i"),
        ("store", "a"),
        ("store", "b"),
        ("load", "i"),
        ("store", "total"),
    ]
    total = found[-1]
    assert not total.definite  # the loop may not run: `total` may still come from before


def test_if_and_while_bindings_are_not_definite() -> None:
    """A name bound only in a branch may still need its earlier value."""
    found = list(name_events(ast.parse("while cond:\n    z = 1\nz")))
    assert [(e.kind, e.name, e.definite) for e in found] == [
        ("load", "cond", True),
        ("store", "z", False),
        ("load", "z", True),
    ]


def test_conditional_flag_makes_every_binding_indefinite() -> None:
    """Walking with `conditional=True` (a branch's body) marks bindings not definite."""
    found = list(name_events(ast.parse("a = 1\nb += 1"), conditional=True))
    assert [e.definite for e in found if e.kind != "load"] == [False, False]


def test_with_as_binds_the_target_definitely() -> None:
    """`with open(p) as fh` binds `fh` before the body reads it."""
    assert events("with open(p) as fh:\n    data = fh.read()") == [
        ("load", "open"),
        ("load", "p"),
        ("store", "fh"),
        ("load", "fh"),
        ("store", "data"),
    ]


def test_except_as_binds_the_name_and_try_bindings_are_not_definite() -> None:
    """The try body may stop anywhere: its bindings and the handler's are conditional."""
    source = "try:\n    r = g()\nexcept E as err:\n    log(err)\nfinally:\n    done = 1"
    found = [(e.kind, e.name, e.definite) for e in name_events(ast.parse(source))]
    assert found == [
        ("load", "g", True),
        ("store", "r", False),
        ("load", "E", True),
        ("store", "err", False),
        ("load", "log", True),
        ("load", "err", True),
        ("store", "done", True),  # `finally` always runs
    ]


def test_comprehension_variables_stay_local() -> None:
    """Only the first iterable is read outside; `x` is the comprehension's own."""
    assert events("[x * k for x in xs if x > lo]") == [
        ("load", "xs"),
        ("load", "k"),
        ("load", "lo"),
    ]


def test_later_generators_may_read_earlier_targets() -> None:
    """In `for row in rows for v in row`, `row` is local; `rows` is read outside."""
    assert events("{v: n for row in rows for v in row if v not in seen}") == [
        ("load", "rows"),
        ("load", "n"),
        ("load", "seen"),
    ]


def test_lambda_reads_defaults_and_free_names_but_not_its_parameters() -> None:
    """`lambda a, b=d: a + c` reads `d` now and `c` when called; `a` is its own."""
    assert events("f = lambda a, b=d: a + c") == [("load", "d"), ("load", "c"), ("store", "f")]


def test_function_definition_reads_decorators_defaults_and_free_names() -> None:
    """A `def` reads what it needs when defined and its free names, then binds its name."""
    source = (
        "@register\ndef load(path=DATA_PATH, *, n=N):\n    local = path\n    return read(local, n)"
    )
    assert events(source) == [
        ("load", "register"),
        ("load", "DATA_PATH"),
        ("load", "N"),
        ("load", "read"),
        ("store", "load"),
    ]


def test_class_definition_reads_bases_and_keywords() -> None:
    """Bases, metaclass and body reads are the class's needs."""
    assert events("class A(Base, metaclass=M):\n    x = y") == [
        ("load", "Base"),
        ("load", "M"),
        ("load", "y"),
        ("store", "A"),
    ]


def test_imports_bind_the_name_the_code_uses() -> None:
    """`import os.path` binds `os`; an alias binds the alias; a star binds nothing known."""
    assert events("import os.path, numpy as np") == [("store", "os"), ("store", "np")]
    assert events("from a.b import c as d, e") == [("store", "d"), ("store", "e")]
    assert events("from m import *") == []


def test_free_names_exclude_parameters_and_locals() -> None:
    """What a function reads from outside: the variables it would need passed in."""
    node = first_definition(
        "def f(a, /, b, *args, c, **kw):\n"
        "    total = a + b + c + len(args) + len(kw)\n"
        "    return total * factor"
    )
    assert free_names(node) == {"len", "factor"}


def test_free_names_of_a_global_declaration_are_the_module_variable() -> None:
    """A name declared `global` and assigned is the notebook's variable, not a local."""
    node = first_definition("def bump():\n    global counter\n    counter = counter + 1")
    assert free_names(node) == {"counter"}


def test_free_names_include_mutated_outer_objects() -> None:
    """`history.append(x)` inside a function reads `history` from outside."""
    node = first_definition("def log(x):\n    history.append(x)")
    assert free_names(node) == {"history"}


def test_a_name_bound_only_in_a_branch_is_still_local_to_the_function() -> None:
    """Python makes any assigned name local to the whole function."""
    node = first_definition("def f(flag):\n    if flag:\n        v = 1\n    return v")
    assert free_names(node) == set()


def test_nested_function_free_names_propagate_to_the_outer_one() -> None:
    """An inner function reading `scale` makes the outer function need it."""
    node = first_definition(
        "def outer(x):\n    def inner(y):\n        return y * scale\n    return inner(x)"
    )
    assert free_names(node) == {"scale"}


def test_class_body_names_are_its_own() -> None:
    """Class attributes are bound in the class body; other reads are free."""
    node = first_definition("class C:\n    size = 3\n    twice = size * factor")
    assert free_names(node) == {"factor"}


def test_definition_time_names_are_decorators_defaults_and_bases() -> None:
    """These are read when the `def` runs at module level, not when called."""
    function = first_definition(
        "@cache(maxsize=SIZE)\ndef f(p=PATH, *, q=Q, r=None):\n    return body"
    )
    assert definition_time_names(function) == {"cache", "SIZE", "PATH", "Q"}
    cls = first_definition("class Model(Base, metaclass=Meta):\n    x = inside")
    assert definition_time_names(cls) == {"Base", "Meta"}


@pytest.mark.parametrize(
    ("source", "root"),
    [("df", "df"), ("df.a", "df"), ("df['a'].b", "df"), ("df.loc[0]", "df"), ("f().a", None)],
)
def test_root_name_finds_the_variable_under_attributes_and_items(
    source: str, root: str | None
) -> None:
    """Mutating `df.loc[0]` changes `df`; a call's result is no variable."""
    node = ast.parse(source, mode="eval").body
    found = root_name(node)
    assert (found.id if found else None) == root


def test_builtins_and_notebook_names_are_known() -> None:
    """`print`, `display` and `get_ipython` are never a section's input."""
    assert {"print", "len", "display", "get_ipython", "__name__"} <= BUILTINS


def test_match_capture_patterns_bind_their_names() -> None:
    """Capture names in a `case` are bound before the case body reads them."""
    found = events("match p:\n    case Point(x=px):\n        y = px")
    assert found.index(("store", "px")) < found.index(("load", "px"))


def test_match_reads_subject_class_values_and_guard_in_order() -> None:
    """The subject, class names, value patterns and guards are reads; captures bind."""
    source = (
        "match shape:\n"
        "    case Point(x=0, y=py) if py > limit:\n"
        "        kind = py\n"
        "    case Color.RED | Color.GREEN:\n"
        "        kind = 'c'\n"
    )
    assert events(source) == [
        ("load", "shape"),
        ("load", "Point"),
        ("store", "py"),
        ("load", "py"),
        ("load", "limit"),
        ("load", "py"),
        ("store", "kind"),
        ("load", "Color"),
        ("load", "Color"),
        ("store", "kind"),
    ]


@pytest.mark.parametrize(
    ("source", "bound"),
    [
        ("match row:\n    case [first, *rest]:\n        pass", ["first", "rest"]),
        ("match row:\n    case {'a': va, **extra}:\n        pass", ["va", "extra"]),
        ("match row:\n    case [_, (1 | 2) as code]:\n        pass", ["code"]),
        ("match row:\n    case other:\n        pass", ["other"]),
    ],
)
def test_sequence_mapping_and_as_patterns_bind_captures(source: str, bound: list[str]) -> None:
    """`*rest`, `**extra`, `... as code` and a bare name bind; `_` binds nothing."""
    assert [name for kind, name in events(source) if kind == "store"] == bound


def test_match_case_bindings_are_not_definite() -> None:
    """Only one case runs, maybe none: captures and body bindings may not happen."""
    found = list(name_events(ast.parse("match p:\n    case [a]:\n        b = a\nb")))
    assert [(e.kind, e.name, e.definite) for e in found] == [
        ("load", "p", True),
        ("store", "a", False),
        ("load", "a", True),
        ("store", "b", False),
        ("load", "b", True),
    ]


def test_match_captures_are_locals_of_a_function() -> None:
    """A capture inside a function is the function's own name, not a free one."""
    node = first_definition("def f(p):\n    match p:\n        case {'k': v}:\n            return v")
    assert free_names(node) == set()


def test_walrus_in_a_comprehension_binds_in_the_enclosing_scope() -> None:
    """`[y := f(x) for x in xs]` leaves `y` bound after the comprehension."""
    assert ("store", "y") in events("[y := f(x) for x in xs]")


def test_comprehension_walrus_binding_is_not_definite_and_follows_the_reads() -> None:
    """An empty `xs` binds nothing, like a loop body, so an earlier `y` may survive."""
    found = list(name_events(ast.parse("total = [y := f(x) for x in xs]")))
    assert [(e.kind, e.name, e.definite) for e in found] == [
        ("load", "xs", True),
        ("load", "f", True),
        ("store", "y", False),
        ("store", "total", True),
    ]


def test_a_name_bound_by_a_walrus_in_a_condition_is_read_locally_by_the_element() -> None:
    """`[y for x in xs if (y := f(x))]` reads the `y` it has just bound, no outer one."""
    assert events("[y for x in xs if (y := f(x)) is not None]") == [
        ("load", "xs"),
        ("load", "f"),
        ("store", "y"),
    ]


def test_walrus_in_a_nested_comprehension_binds_outside_both() -> None:
    """PEP 572: the binding goes to the scope that holds the outermost comprehension."""
    assert ("store", "last") in events("[[last := v for v in row] for row in rows]")


def test_walrus_in_a_comprehension_makes_a_function_local() -> None:
    """Inside a function the walrus target is the function's own local."""
    node = first_definition("def f(xs):\n    [n := x for x in xs]\n    return n")
    assert free_names(node) == set()


def test_imported_modules_are_top_level_names_in_first_seen_order() -> None:
    """Submodules count once by their package; relative imports are local code."""
    trees = [
        ast.parse(
            "import os.path, numpy as np\n"
            "from sklearn.linear_model import Ridge\n"
            "from . import local\nfrom ..x import y\n"
            "import numpy.linalg"
        ),
        ast.parse("def f():\n    import pandas\nimport os"),
    ]
    assert imported_modules(trees) == ["os", "numpy", "sklearn", "pandas"]

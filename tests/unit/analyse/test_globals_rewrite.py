"""globals_rewrite.py: module-level functions get the notebook variables they read.

`def scale(x): return x * factor` moved out of the notebook would not see
`factor`, so it becomes a keyword-only parameter and every direct call passes it.
"""

from __future__ import annotations

import ast

import pytest

from nb2prod.analyse.globals_rewrite import (
    called_functions,
    declared_globals,
    plan_rewrites,
    rewrite_source,
    uses_as_value,
)


def rewrite(source: str, rewrites: dict[str, list[str]]) -> str:
    """`source` rewritten, checked to still parse."""
    rewritten = rewrite_source(source, ast.parse(source), rewrites)
    ast.parse(rewritten)
    return rewritten


def test_plan_passes_only_provided_names_and_follows_callees() -> None:
    """`run` calls `scale`, so it needs `factor` too; `np` is no notebook variable."""
    plan = plan_rewrites(
        {"scale": {"factor", "np"}, "run": set(), "top": {"x"}},
        {"run": {"scale"}, "top": {"run"}},
        {"factor", "x"},
    )
    assert plan == {"scale": ["factor"], "run": ["factor"], "top": ["factor", "x"]}


def test_plan_leaves_out_functions_that_need_nothing() -> None:
    """A function reading only its parameters keeps its signature."""
    assert plan_rewrites({"pure": {"np"}}, {}, {"factor"}) == {}


def test_plan_terminates_on_recursive_calls() -> None:
    """Mutual recursion reaches a fixpoint rather than looping."""
    plan = plan_rewrites({"a": {"u"}, "b": {"v"}}, {"a": {"b"}, "b": {"a"}}, {"u", "v"})
    assert plan == {"a": ["u", "v"], "b": ["u", "v"]}


def test_declared_globals_includes_nested_functions() -> None:
    """Any `global` inside the definition means it changes a notebook variable."""
    tree = ast.parse("def f():\n    global a, b\n    def g():\n        global c")
    assert declared_globals(tree) == {"a", "b", "c"}


def test_called_functions_are_direct_calls_by_name_only() -> None:
    """`obj.g(2)` is a method and `h` is not called: only `f` is."""
    tree = ast.parse("y = f(1) + obj.g(2) + h")
    assert called_functions(tree, ["f", "g", "h"]) == {"f"}


def test_uses_as_value_finds_functions_passed_around_with_a_line() -> None:
    """`map(f, xs)` and `df.apply(g)` cannot get extra keyword arguments."""
    tree = ast.parse("y = f(1)\nz = list(map(f, xs))\ndf.apply(g)")
    assert uses_as_value(tree, ["f", "g", "h"]) == {"f": 2, "g": 3}


def test_signature_gets_keyword_only_parameters_after_existing_ones() -> None:
    """Defaults, `*args`, keyword-only and `**kw` parameters are kept in order."""
    source = "def f(a, b=1, *args, k=2, **kw):\n    return a"
    assert rewrite(source, {"f": ["x", "y"]}) == (
        "def f(a, b=1, *args, k=2, x, y, **kw):\n    return a"
    )


def test_signature_of_a_plain_function_gets_a_star() -> None:
    """Without `*args` the new parameters need a bare `*` to be keyword-only."""
    assert rewrite("def f(a, /, b):\n    pass", {"f": ["x"]}) == "def f(a, /, b, *, x):\n    pass"


def test_multiline_async_signature_is_rewritten() -> None:
    """An async def whose parameters span lines is found and extended."""
    source = "async def f(\n    a,\n):\n    return a\n"
    assert rewrite(source, {"f": ["x"]}) == "async def f(a, *, x):\n    return a\n"


def test_signature_with_calls_in_defaults_and_annotations() -> None:
    """Parentheses inside the parameter list do not end it early."""
    source = "@wrap(1)\ndef f(a=g(1, 2), b: tuple = ()) -> int:\n    return a"
    assert rewrite(source, {"f": ["x"]}) == (
        "@wrap(1)\ndef f(a=g(1, 2), b: tuple=(), *, x) -> int:\n    return a"
    )


@pytest.mark.parametrize(
    ("call", "rewritten"),
    [
        ("f()", "f(x=x, y=y)"),
        ("f(1, x=x)", "f(1, x=x, y=y)"),  # an argument already given is not repeated
        ("f(1,)", "f(1, x=x, y=y)"),
        ("f(**opts)", "f(**opts, x=x, y=y)"),
        ("sum(f(i) for i in r)", "sum(f(i, x=x, y=y) for i in r)"),
        ("f(i for i in r)", "f((i for i in r), x=x, y=y)"),
        ('s = "é"; f("é")', 's = "é"; f("é", x=x, y=y)'),
        ("obj.f(1)", "obj.f(1)"),  # a method of the same name is another function
    ],
)
def test_direct_calls_pass_the_new_parameters(call: str, rewritten: str) -> None:
    """Every direct call passes `name=name`, after its last argument."""
    assert rewrite(call, {"f": ["x", "y"]}) == rewritten


def test_a_call_given_every_name_is_left_alone() -> None:
    """Nothing to add: the source is returned unchanged."""
    assert rewrite("f(1, x=2)", {"f": ["x"]}) == "f(1, x=2)"


def test_definition_and_calls_in_one_source_are_all_rewritten() -> None:
    """Edits are applied from the end, so earlier positions stay valid."""
    source = "def f(a):\n    return a * x\n\nb = f(f(1))\n"
    assert rewrite(source, {"f": ["x"]}) == (
        "def f(a, *, x):\n    return a * x\n\nb = f(f(1, x=x), x=x)\n"
    )

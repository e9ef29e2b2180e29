"""parameters.py: the parameters cell read into typed parameters and a quick set.

papermill overrides only literal assignments, so each literal becomes a typed
parameter with its comment as help; anything else is one problem per cell.
"""

from __future__ import annotations

from typing import Any

import pytest

from nb2prod.analyse.parameters import Parameter, read_parameters, read_quick
from nb2prod.errors import Problem
from tests.unit.analyse.sections import analysed


def parameters(source: str) -> tuple[list[Parameter], list[Problem]]:
    """The parameters of a one-cell parameters section, and the problems found."""
    code, problems = analysed("parameters", source)
    assert problems == []  # the cell itself parses
    found: list[Problem] = []
    return read_parameters(code, found), found


def quick(source: str) -> tuple[dict[str, Any], list[tuple[str, str, int | None]]]:
    """The quick set of a one-cell parameters section, and (code, severity, line) of problems."""
    code, _ = analysed("parameters", source)
    problems: list[Problem] = []
    found = read_quick(code, read_parameters(code, problems), problems)
    return found, [(p.code, p.severity.value, p.cell.line if p.cell else None) for p in problems]


@pytest.mark.parametrize(
    ("literal", "default", "type_name"),
    [
        ("10", 10, "int"),
        ("0.1", 0.1, "float"),
        ("-3", -3, "int"),
        ("-1e-3", -0.001, "float"),
        ('"rf"', "rf", "str"),
        ("True", True, "bool"),
        ("None", None, "str | None"),
        ('["a", "b"]', ["a", "b"], "list[str]"),
        ("[1, 'a']", [1, "a"], "list[Any]"),
        ("(1, 2)", (1, 2), "tuple[int, ...]"),
        ("{1, 2}", {1, 2}, "set[int]"),
        ("{'a': 1}", {"a": 1}, "dict[str, Any]"),
    ],
)
def test_literals_become_typed_parameters(literal: str, default: Any, type_name: str) -> None:
    """Each literal's value is the default and its type the generated Config field's."""
    (parameter,), problems = parameters(f"value = {literal}")
    assert problems == []
    assert (parameter.name, parameter.default, parameter.type_name) == ("value", default, type_name)


def test_the_source_is_the_literal_as_written_normalized() -> None:
    """`source` is what the generated code and the docs show as the default."""
    (parameter,), _ = parameters("n_estimators = 100")
    assert parameter.source == "100"
    assert parameter.flag == "--n-estimators"
    assert parameter.cell_index == 0


def test_an_annotated_assignment_is_a_parameter() -> None:
    """`c: int = 5` is as good as `c = 5` for papermill."""
    (parameter,), problems = parameters("c: int = 5")
    assert (parameter.name, parameter.default, problems) == ("c", 5, [])


def test_comments_become_help() -> None:
    """A trailing comment wins; else the comment lines just above, joined."""
    found, _ = parameters(
        "n = 10  # number of trees\n"
        "# the seed\n# for numpy\nseed = 42\n"
        "# nb2prod: parameters\nlr = 0.1\n"
        "# detached comment\n\nbare = 1"
    )
    assert {p.name: p.help for p in found} == {
        "n": "number of trees",
        "seed": "the seed for numpy",
        "lr": "",  # a directive is no help text
        "bare": "",  # a blank line separates the comment from it
    }


def test_mutable_and_set_defaults_are_marked() -> None:
    """Lists, dicts and sets need `default_factory`; sets are listed for JSON too."""
    found, _ = parameters("cols = ['a']\ntags = {'x'}\nn = 1")
    assert [(p.mutable, p.is_set) for p in found] == [(True, False), (True, True), (False, False)]


def test_computed_values_are_one_problem_per_cell_listing_each_line() -> None:
    """A Kale parameters cell may hold many such lines: one problem names them all."""
    found, problems = parameters("x = f(1)\ny = a + 1\nprint(x)\nok = 2")
    assert [p.name for p in found] == ["ok"]
    (problem,) = problems
    assert problem.code == "parameter-not-literal"
    assert problem.cell is not None and problem.cell.line == 1
    assert "line 1 (`x = f(1)`): `x` is computed, not a literal" in problem.message
    assert "line 3 (`print(x)`): not a plain assignment" in problem.message


def test_a_single_computed_value_names_it() -> None:
    """With one bad line the message says what is wrong with it directly."""
    _, (problem,) = parameters("x = f(1)")
    assert "the parameters cell `x` is computed, not a literal" in problem.message


def test_unpacking_attributes_and_bare_annotations_are_not_parameters() -> None:
    """Only `NAME = literal` (or annotated) can be overridden by name."""
    found, (problem,) = parameters("a, b = 1, 2\nobj.x = 3\nc: int")
    assert found == []
    assert "has 3 lines that are not literal assignments" in problem.message


def test_names_the_config_class_uses_are_refused() -> None:
    """`dataclasses` and `to_dict` would break the generated Config class."""
    found, problems = parameters("dataclasses = 1\nto_dict = 2")
    assert found == []
    assert [(p.code, p.cell.line if p.cell else None) for p in problems] == [
        ("parameter-name-reserved", 1),
        ("parameter-name-reserved", 2),
    ]


def test_an_int_too_long_to_print_is_refused_not_crashed() -> None:
    """A 5000-digit hex literal parses, but `ast.unparse` cannot write it in decimal."""
    found, (problem,) = parameters("small = 1\nbig = 0x" + "f" * 5000)
    assert [p.name for p in found] == ["small"]
    assert problem.code == "parameter-not-literal"
    assert "`big` is too large for a command-line flag" in problem.message


def test_a_5000_digit_decimal_literal_is_a_syntax_error_before_parameters() -> None:
    """Python itself refuses to parse it; the cell gets a syntax error, not a crash."""
    _, problems = analysed("parameters", "big = " + "9" * 5000)
    assert [p.code for p in problems] == ["syntax-error"]


def test_the_quick_line_gives_typed_overrides() -> None:
    """Pairs split on spaces or commas, and may come before the parameters they set."""
    found, problems = quick(
        '# nb2prod: quick n=2, frac=0.1 name="x"\nn = 100\nfrac = 1.0\nname = "full"\nflag = False'
    )
    assert (found, problems) == ({"n": 2, "frac": 0.1, "name": "x"}, [])


def test_a_float_for_an_int_is_kept_with_a_warning() -> None:
    """papermill injects the float as written, so it is allowed but noted."""
    assert quick("n = 100\n# nb2prod: quick n=2.5") == (
        {"n": 2.5},
        [("float-for-int-parameter", "warning", 2)],
    )


def test_a_value_for_a_none_default_may_be_anything() -> None:
    """`None` says nothing about the type a run will pass."""
    assert quick('opt = None\n# nb2prod: quick opt="x"') == ({"opt": "x"}, [])


@pytest.mark.parametrize(
    "line",
    [
        "# nb2prod: quick m=2",  # not a parameter
        '# nb2prod: quick n="a"',  # a string for an int
        "# nb2prod: quick n=True",  # a bool for an int
        "# nb2prod: quick n=",  # no value
        "# nb2prod: quick 1=2",  # no name
    ],
)
def test_bad_quick_lines_are_errors_on_their_line(line: str) -> None:
    """Every way a quick line can be wrong is an error at that line, with no override."""
    assert quick(f"n = 100\n{line}") == ({}, [("bad-quick-parameters", "error", 2)])


def test_a_bool_default_takes_only_a_bool() -> None:
    """`1` is an int, not `True`, for a flag."""
    assert quick("flag = True\n# nb2prod: quick flag=1") == (
        {},
        [("bad-quick-parameters", "error", 2)],
    )

"""depth.py: a cell nested deeper than the default recursion limit is analysed, not a crash.

A chained expression of a thousand terms runs in Python; nb2prod's walks recurse per
level, so before this room it ended as an internal error (exit 3).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from nb2prod.analyse.depth import TOO_DEEP_TO_PARSE, nesting, room_for_deep_code
from nb2prod.errors import UserError
from nb2prod.plan.build import build_plan
from nb2prod.read.notebook import Notebook, loads
from tests.unit.notebooks import notebook_node

CHAIN = "total = " + " + ".join(["1"] * 1000)


def notebook(*cells: str | tuple[str, list[str]]) -> Notebook:
    return loads(json.dumps(notebook_node(list(cells))), Path("deep.ipynb"))


def test_nesting_is_measured_without_recursing() -> None:
    assert nesting("x = 1") == 4  # Module > Assign > Constant | Name > Store
    assert nesting(CHAIN) > 1000
    assert nesting("x = (") == 0  # does not parse: no depth
    assert nesting("x = " + " + ".join(["1"] * 200_000)) == TOO_DEEP_TO_PARSE


def test_a_thousand_term_expression_is_planned() -> None:
    plan = build_plan(notebook(("import numpy as np\n" + CHAIN, ["nb2prod:load"])))
    assert not plan.blocking
    assert [step.function for step in plan.steps] == ["load_data"]


def test_running_out_of_room_names_the_deepest_cell() -> None:
    deep = notebook(("x = 1", ["nb2prod:load"]), CHAIN, "y = 2")
    with pytest.raises(UserError) as raised, room_for_deep_code(deep):
        raise RecursionError
    (problem,) = raised.value.problems
    assert problem.code == "too-deeply-nested"
    assert problem.cell is not None and problem.cell.index == 1
    assert "levels deep" in problem.message and "split the long expression" in problem.fix


def test_the_recursion_limit_is_given_back() -> None:
    before = sys.getrecursionlimit()
    with room_for_deep_code(notebook("x = 1")):
        assert sys.getrecursionlimit() > before
    assert sys.getrecursionlimit() == before

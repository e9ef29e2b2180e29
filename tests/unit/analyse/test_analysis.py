"""analysis.py: split each section into module-level chunks and a body, and read its flow.

Where a statement goes (module level or the step's function) and what the step
needs and binds decide the generated code's signatures.
"""

from __future__ import annotations

from nb2prod.analyse.sections import (
    check_definitions,
    hoist_constants,
    module_names,
    split_body,
)
from nb2prod.errors import Problem
from nb2prod.read.roles import Role
from tests.unit.analyse.sections import analysed

SETUP_CELL = """import numpy as np
from os import path

# doubles its input
def double(x):
    return x * 2

class Holder:
    pass
y = double(data)
df.head()
display(df)
df.fillna(0, inplace=True)
"a note kept as written"
# trailing comment"""


def test_imports_and_definitions_move_to_module_level_and_the_rest_is_body() -> None:
    """Imports, functions and classes become module code; statements stay in the step."""
    code, problems = analysed("setup", SETUP_CELL)
    assert problems == []
    assert [(c.kind, c.defined_name) for c in code.chunks] == [
        ("import", None),
        ("import", None),
        ("definition", "double"),
        ("definition", "Holder"),
        ("body", None),
        ("body", None),
        ("body", None),
    ]
    assert [c.text for c in code.body] == [
        "y = double(data)",
        "df.fillna(0, inplace=True)",
        '"a note kept as written"\n# trailing comment',
    ]


def test_a_chunk_keeps_its_leading_comment() -> None:
    """The comment above a function travels with it into the module."""
    code, _ = analysed("setup", SETUP_CELL)
    assert code.of_kind("definition")[0].text == (
        "\n# doubles its input\ndef double(x):\n    return x * 2"
    )


def test_display_only_expressions_are_dropped() -> None:
    """`df.head()`, `display(df)`, `len(df)`, bare names and numbers only show values."""
    code, _ = analysed("evaluate", "df.head()\ndf.describe()\nlen(df)\n42\ndf, X\nscore = f(df)")
    assert [c.text for c in code.body] == ["score = f(df)"]


def test_a_display_method_on_an_inplace_call_is_kept() -> None:
    """`df.head().fillna(0, inplace=True)` changes data, so it is no display line."""
    code, _ = analysed("evaluate", "df.head().fillna(0, inplace=True)")
    assert [c.text for c in code.body] == ["df.head().fillna(0, inplace=True)"]


def test_statements_sharing_a_line_stay_one_chunk() -> None:
    """`a = 1; b = 2` cannot be split between module level and the body."""
    code, _ = analysed("train", "a = 1; b = 2\nprint(a)")
    assert [c.text for c in code.body] == ["a = 1; b = 2", "print(a)"]


def test_needs_are_first_reads_not_bound_earlier_in_the_section() -> None:
    """`a` is bound in the section; `c` must come from an earlier one, at cell 1 line 1."""
    code, _ = analysed("train", "a = 1; b = 2\nprint(a)", "total = a + c")
    assert {name: (cell.index, line) for name, (cell, line) in code.needs.items()} == {
        "print": (0, 2),
        "c": (1, 1),
    }
    assert code.binds == ["a", "b", "total"]
    assert code.mutates == set()


def test_in_place_changes_are_bindings_and_mutations() -> None:
    """A section that changes `df` in place hands `df` on to later sections."""
    code, _ = analysed("preprocess", "df.fillna(0, inplace=True)\ncolumns.append('b')")
    assert list(code.needs) == ["df", "columns"]
    assert code.binds == ["df", "columns"]
    assert code.mutates == {"df", "columns"}


def test_a_read_after_a_loop_binding_may_be_local() -> None:
    """`last` is bound only if the loop runs: it is needed and maybe local."""
    code, _ = analysed("train", "for i in range(3):\n    last = i\nprint(last)")
    assert "last" in code.needs
    assert code.maybe_local == {"last"}


def test_pip_install_lines_become_requirements_not_code() -> None:
    """`!pip install` asks for a distribution; it leaves no code behind."""
    code, problems = analysed("setup", "!pip install pandas==2.0\nimport pandas")
    assert problems == []
    assert code.requirements == ["pandas==2.0"]
    assert [c.kind for c in code.chunks] == ["import"]


def test_cell_magic_bodies_keep_the_cells_own_line_numbers() -> None:
    """After `%%time` the statements are renumbered to the cell's lines (2 and 3)."""
    code, _ = analysed("train", "%%time\nx = 1\ny = x")
    assert [c.nodes[0].lineno for c in code.body] == [2, 3]


def test_star_imports_and_top_level_await_are_errors_with_their_lines() -> None:
    """A star import hides names; top-level `await` needs IPython's event loop."""
    _, problems = analysed("train", "from x import *\nawait go()")
    assert [(p.code, p.cell.line if p.cell else None) for p in problems] == [
        ("star-import", 1),
        ("top-level-await", 2),
    ]


def test_await_inside_an_async_function_is_fine() -> None:
    """Only awaits outside functions are refused."""
    _, problems = analysed("train", "async def go():\n    await other()")
    assert problems == []


def test_skipped_sections_report_nothing_but_a_kept_syntax_error_is_a_problem() -> None:
    """A skip cell may hold anything; a kept cell must parse."""
    code, problems = analysed("skip", "x = (")
    assert (code.chunks, problems) == ([], [])
    _, problems = analysed("train", "x = (")
    assert [p.code for p in problems] == ["syntax-error"]


def test_rewrites_extend_definitions_and_calls_in_the_section() -> None:
    """With a planned rewrite, the function takes `factor` and the call passes it."""
    code, problems = analysed(
        "train",
        "def scale(x):\n    return x * factor\ny = scale(2)",
        rewrites={"scale": ["factor"]},
    )
    assert problems == []
    assert [c.text for c in code.chunks] == [
        "def scale(x, *, factor):\n    return x * factor",
        "y = scale(2, factor=factor)",
    ]
    assert list(code.needs) == ["scale", "factor"]


def test_split_body_makes_a_select_step_and_a_predict_step() -> None:
    """A predict cell that picks its rows first becomes two steps, each with its own flow."""
    code, _ = analysed("predict", "rows = X[:5]\npreds = model.predict(rows)\nout = preds.tolist()")
    head, tail = split_body(code, 1, Role("select"))
    assert head.section.role == Role("select")
    assert [c.text for c in head.body] == ["rows = X[:5]"]
    assert (list(head.needs), head.binds) == (["X"], ["rows"])
    assert tail.section.role == Role("predict")
    assert (list(tail.needs), tail.binds) == (["model", "rows"], ["preds", "out"])


HOUSING = """import os
rooms_ix, bed_ix = 3, 4
PATH = os.path.join("datasets", "housing")
other = 5
class Ratio:
    def f(self, X):
        return X[rooms_ix] / X[bed_ix]
def load(path=PATH):
    return path"""


def test_constants_read_by_definitions_move_to_module_level() -> None:
    """Literal constants and path joins a class or default argument reads go with it."""
    setup, _ = analysed("setup", HOUSING)
    train, _ = analysed("train", "n = compute()", first_index=1)
    hoist_constants([setup, train])
    assert [(c.kind, c.text.split(" =")[0]) for c in setup.chunks if c.kind != "definition"] == [
        ("import", "import os"),
        ("constant", "rooms_ix, bed_ix"),
        ("constant", "PATH"),
        ("body", "other"),
    ]
    assert setup.binds == ["other"]  # the flow is read again without the constants
    assert module_names([setup, train]) == {"os", "rooms_ix", "bed_ix", "PATH", "Ratio", "load"}


def test_a_constant_changed_later_stays_a_variable() -> None:
    """`K` bound twice in kept code is a variable, whatever the function reads."""
    setup, _ = analysed("setup", "K = 3\ndef f(x):\n    return x * K")
    train, _ = analysed("train", "K = 4", first_index=1)
    hoist_constants([setup, train])
    assert [c.kind for c in setup.chunks] == ["body", "definition"]


def test_check_definitions_refuses_notebook_variables_and_global() -> None:
    """A module-level function cannot see the notebook's variables nor set them."""
    setup, _ = analysed(
        "setup",
        "import numpy as np\n"
        "def f(x):\n    return np.log(x) * factor\n"
        "def g():\n    global counter\n    counter += 1\n"
        "def ok(y):\n    return np.exp(y)",
    )
    problems: list[Problem] = []
    check_definitions([setup], module_names([setup]), problems)
    assert [(p.code, p.cell.line if p.cell else None) for p in problems] == [
        ("function-reads-global", 2),
        ("function-sets-global", 4),
    ]
    reads, sets = problems
    assert "`factor`" in reads.message and "`f`" in reads.message
    assert "`counter = g(counter)`" in sets.fix

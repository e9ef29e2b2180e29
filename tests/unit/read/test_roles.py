"""Roles from tags, directives and Kale tags; sections; role errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from nb2prod.read.notebook import load_notebook
from nb2prod.read.roles import kale_step_role, read_roles
from tests.conftest import make_notebook


def _sections(tmp_path: Path, cells: list) -> list[tuple[str, list[int]]]:
    reading = read_roles(load_notebook(make_notebook(tmp_path / "nb.ipynb", cells)))
    return [(s.role.function_name, [c.index for c in s.cells]) for s in reading.sections]


def test_tags_directives_and_untagged_cells_make_sections(tmp_path: Path) -> None:
    sections = _sections(
        tmp_path,
        [
            "import pandas as pd",
            ("n = 3", ["parameters"]),
            "#md ## Load",
            ("df = pd.DataFrame({'a': range(n)})", ["nb2prod:load"]),
            "df['b'] = 1",
            "# nb2prod: train\nmodel = None",
            ("print(df)", ["skip"]),
        ],
    )
    assert sections == [
        ("setup", [0]),
        ("parameters", [1]),
        ("load", [3, 4]),
        ("train", [5]),
        ("skip", [6]),
    ]


def test_kale_tags_are_read(tmp_path: Path) -> None:
    sections = _sections(
        tmp_path,
        [
            ("import numpy as np", ["imports"]),
            ("alpha = 1.0", ["pipeline-parameters"]),
            ("x = np.arange(3)", ["block:load"]),
            ("y = x * alpha", ["step:features", "prev:load"]),
            ("z = y + 1", ["step:kid1", "prev:features"]),
            ("print(y.sum())", ["pipeline-metrics"]),
        ],
    )
    assert sections == [
        ("setup", [0]),
        ("parameters", [1]),
        ("load", [2]),
        ("preprocess", [3]),  # a step's name is read for its meaning
        ("kid1", [4]),
        ("evaluate", [5]),
    ]


def test_a_prev_tag_naming_no_step_is_a_warning_on_its_cell(tmp_path: Path) -> None:
    cells = [
        ("x = 1", ["block:load"]),
        ("y = x + 1", ["step:features", "prev:lood"]),
        ("z = y + 1", ["step:train", "prev:features"]),
    ]
    reading = read_roles(load_notebook(make_notebook(tmp_path / "nb.ipynb", cells)))
    (problem,) = reading.problems
    assert problem.code == "kale-unknown-prev" and not problem.blocking
    assert problem.cell is not None and problem.cell.index == 1
    assert "`prev:lood`" in problem.message and "features, load, train" in problem.fix


@pytest.mark.parametrize(
    ("step", "role"),
    [
        ("training", "train"),
        ("train_model", "train"),
        ("model-training", "train"),
        ("evaluation", "evaluate"),
        ("evaluate_model", "evaluate"),
        ("data-loading", "load"),
        ("load_data", "load"),
        ("preprocessing", "preprocess"),
        ("train_test_split", "preprocess"),
        ("feature-engineering", "preprocess"),
        ("inference", "predict"),
        ("kid1", None),
    ],
)
def test_kale_step_names_map_to_roles_by_meaning(step: str, role: str | None) -> None:
    assert kale_step_role(step) == role


def test_hyphenated_kale_steps_become_functions(tmp_path: Path) -> None:
    sections = _sections(tmp_path, [("x = 1", ["step:my-step"]), ("y = x", ["step:kid1"])])
    assert sections == [("my_step", [0]), ("kid1", [1])]


def test_unknown_role_suggests_the_closest(tmp_path: Path) -> None:
    path = make_notebook(tmp_path / "nb.ipynb", [("x = 1", ["nb2prod:trian"])])
    problems = read_roles(load_notebook(path)).problems
    assert [p.code for p in problems] == ["unknown-role"]
    assert "did you mean `train`" in problems[0].fix
    assert problems[0].cell is not None and problems[0].cell.index == 0


def test_two_roles_on_one_cell_is_an_error(tmp_path: Path) -> None:
    path = make_notebook(tmp_path / "nb.ipynb", [("# nb2prod: load\nx = 1", ["nb2prod:train"])])
    problems = read_roles(load_notebook(path)).problems
    assert [p.code for p in problems] == ["conflicting-roles"]


@pytest.mark.parametrize("step", ["class", "None", "lambda"])
def test_kale_steps_named_after_keywords_get_a_safe_function_name(
    tmp_path: Path, step: str
) -> None:
    """Fuzz finding keyword-step-name: `step:class` made `def class(...)` (exit 3)."""
    sections = _sections(tmp_path, [("x = 1", ["nb2prod:load"]), ("y = x + 1", [f"step:{step}"])])
    assert sections == [("load", [0]), (f"{step}_step", [1])]


def test_ruff_failure_on_generated_code_shows_ruffs_message() -> None:
    from nb2prod.generate.render import tidy_python

    with pytest.raises(RuntimeError, match="Failed to parse"):
        tidy_python({"broken.py": "def class():\n    pass\n"}, "package")


def test_kale_skip_skips_one_cell_and_the_next_cells_rejoin_the_step(tmp_path: Path) -> None:
    """In a Kale notebook `skip` marks one cell; untagged cells after it belong to the step
    before it (kale_titanic: a plot between two cleaning cells)."""
    sections = _sections(
        tmp_path,
        [
            ("df = [1, 2]", ["block:loaddata"]),
            ("df.append(3)", ["block:cleaning", "prev:loaddata"]),
            ("print(df)", ["skip"]),
            ("df.append(4)", []),
        ],
    )
    assert sections == [("load", [0]), ("preprocess", [1, 3]), ("skip", [2])]


def test_nb2prod_skip_still_skips_the_cells_after_it(tmp_path: Path) -> None:
    sections = _sections(
        tmp_path,
        [("x = 1", ["nb2prod:load"]), ("print(x)", ["skip"]), ("y = 2", [])],
    )
    assert sections == [("load", [0]), ("skip", [1, 2])]

"""Kale's `prev:` tags and step names are kept on the sections they belong to."""

from __future__ import annotations

from pathlib import Path

from nb2prod.read.notebook import load_notebook
from nb2prod.read.roles import read_roles
from tests.conftest import make_notebook


def test_prev_tags_and_step_names_are_recorded(tmp_path: Path) -> None:
    cells = [
        ("x = 1", ["step:load_data"]),
        ("y = x", ["step:feature_a", "prev:load_data"]),
        ("z = x", ["step:feature_b", "prev:load_data"]),  # same meaning, its own section
        "w = z",  # untagged: joins feature_b
    ]
    reading = read_roles(load_notebook(make_notebook(tmp_path / "nb.ipynb", cells)))
    found = [(s.kale_names, s.prev, [c.index for c in s.cells]) for s in reading.sections]
    assert found == [
        (["load_data"], [], [0]),
        (["feature_a"], ["load_data"], [1]),
        (["feature_b"], ["load_data"], [2, 3]),
    ]

"""A notebook held in memory reads as the file it will be saved as: no temporary copy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nb2prod.errors import UserError
from nb2prod.read.notebook import from_node, load_notebook, loads
from tests.conftest import EXAMPLES


def test_bytes_a_node_and_the_file_give_the_same_notebook() -> None:
    path = EXAMPLES / "wine_classifier.ipynb"
    from_file = load_notebook(path)
    from_bytes = loads(path.read_bytes(), path)
    assert from_bytes == from_file
    from_json = from_node(json.loads(path.read_text()), path)
    assert from_json.cells == from_file.cells and from_json.path == path


def test_the_path_need_not_exist_and_names_the_errors() -> None:
    ghost = Path("/nowhere/unsaved.ipynb")
    with pytest.raises(UserError) as raised:
        loads("{}", ghost)
    assert raised.value.notebook == ghost
    assert raised.value.problems[0].code == "not-a-notebook"


def test_content_that_json_cannot_hold_is_a_user_error() -> None:
    with pytest.raises(UserError) as raised:
        from_node({"cells": [object()]}, Path("x.ipynb"))
    assert raised.value.problems[0].code == "not-a-notebook"

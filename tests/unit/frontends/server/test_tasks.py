"""server/tasks.py: what a job answers, in the client's terms.

A task's answer crosses to the browser: errors keep their problems and cells, and
every path is named relative to the server's root, never as the server's own
absolute path. A path that left the root since the job was submitted is refused.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from nb2prod.errors import CellRef, Problem, UserError, user_error
from nb2prod.frontends.server.tasks import (
    _client_paths,
    _missing,
    _still_inside,
    error_json,
    run_convert,
    run_verify,
)
from tests.unit.notebooks import write_notebook


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    return folder


def test_an_error_names_the_notebook_and_its_paths_as_the_client_does(root: Path) -> None:
    notebook = root / "sub" / "nb.ipynb"
    problem = Problem(
        "x", f"could not write {root}/sub/out", f"choose a folder other than {root}/sub/out",
        cell=CellRef(3, "import os"),
    )  # fmt: skip
    shown = error_json(UserError(notebook, [problem]), root)
    assert shown["notebook"] == "sub/nb.ipynb"
    assert shown["message"] == "sub/nb.ipynb: could not write sub/out"
    (only,) = shown["problems"]
    assert (only["message"], only["fix"]) == (
        "could not write sub/out",
        "choose a folder other than sub/out",
    )
    assert only["cell"] == {"index": 3, "first_line": "import os", "line": None}
    assert only["severity"] == "error"


def test_an_error_about_nothing_in_the_root_names_no_notebook(root: Path, tmp_path: Path) -> None:
    shown = error_json(user_error(tmp_path / "elsewhere.ipynb", "c", "bad", "fix"), root)
    assert (shown["notebook"], shown["message"]) == (None, "bad")
    assert error_json(UserError(None, []), root)["message"] == "invalid input"


def test_client_paths_drop_the_root_as_given_and_as_resolved(tmp_path: Path, root: Path) -> None:
    """The server may have been started on a link to its root."""
    link = tmp_path / "link"
    link.symlink_to(root)
    text = f"{root}/a and {link}/b and {tmp_path}/c"
    assert _client_paths(text, link) == f"a and b and {tmp_path}/c"


def test_a_path_that_now_leads_out_of_the_root_is_refused(root: Path, tmp_path: Path) -> None:
    """The handler checked it; a link swapped in since must not be followed."""
    outside = tmp_path / "outside.ipynb"
    outside.write_text("{}")
    (root / "nb.ipynb").symlink_to(outside)
    _still_inside(root, root / "fine.ipynb")
    with pytest.raises(UserError) as raised:
        _still_inside(root, root / "fine.ipynb", root / "nb.ipynb")
    assert raised.value.problems[0].code == "path-outside-root"
    answer = run_convert(root, root / "nb.ipynb", root / "out")
    assert answer["error"]["problems"][0]["code"] == "path-outside-root"
    assert not (root / "out").exists()


def test_convert_answers_a_blocking_problem_with_its_cell(root: Path) -> None:
    notebook = write_notebook(root / "nb.ipynb", [("x = undefined_name", ["nb2prod:load"])])
    answer = run_convert(root, notebook, root / "out")
    error = answer["error"]
    assert error["notebook"] == "nb.ipynb" and error["problems"][0]["cell"]["index"] == 0
    assert not (root / "out").exists()


def test_verify_of_a_folder_that_is_no_project_is_an_error_answer(root: Path) -> None:
    (root / "p").mkdir()
    assert run_verify(root, root / "p")["error"]["problems"][0]["code"] == "not-a-project"


def test_a_missing_package_is_a_user_error_and_a_missing_nb2prod_module_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if it were not installed
    missing = _missing(ModuleNotFoundError("x", name="sklearn"))
    assert missing.problems[0].code == "missing-package"
    assert missing.problems[0].fix == "`pip install scikit-learn`, then run the command again"
    bug = ModuleNotFoundError("x", name="nb2prod.gone")
    with pytest.raises(ModuleNotFoundError) as raised:
        _missing(bug)
    assert raised.value is bug

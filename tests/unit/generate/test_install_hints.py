"""install_hints.py: a missing module becomes the one `pip install` line that fixes it.

Every command that meets a missing module answers with these lines, so each decision
is tested here: which module is really absent, which distribution or nb2prod extra
installs it, and when a `ModuleNotFoundError` is a bug rather than a package to install.
"""

from __future__ import annotations

import shlex
import sys
import types
from pathlib import Path

import pytest

from nb2prod.errors import UserError
from nb2prod.generate.install_hints import (
    MISSING_PACKAGE,
    absent_module,
    distribution_line,
    install_line,
    missing_module,
    missing_package,
    missing_package_error,
    nb2prod_extra_line,
    not_installed,
    project_requirement,
    require,
    shown_path,
)

ABSENT = "nb2prod_absent_pkg"
"""A module no environment has (the e2e tests use the same name)."""


# An absent module's distribution is looked up in every installed distribution's files
# (about a second each time here), so the tests use installed modules where they can.


def test_the_absent_module_is_really_absent() -> None:
    """The tests below rely on it; pick another name if this ever fails."""
    assert absent_module(ABSENT) == ABSENT


@pytest.mark.parametrize(
    ("message", "module"),
    [
        ("No module named 'sklearn'", "sklearn"),
        ("ModuleNotFoundError: No module named 'sklearn.tree._classes'", "sklearn"),
        ("No module named 'a'\n  during handling...\nNo module named 'b.c'", "b"),
        ("ValueError: no module here", None),
        ("", None),
    ],
)
def test_missing_module_is_the_top_level_of_the_last_mention(
    message: str, module: str | None
) -> None:
    """In a traceback the error that ended the run is the last line."""
    assert missing_module(message) == module


@pytest.mark.parametrize(
    "name",
    [None, "", "json", "os.path", "nb2prod.no_such_module", "sklearn.no_such_module"],
)
def test_no_install_line_for_the_standard_library_nb2prod_or_an_installed_package(
    name: str | None,
) -> None:
    """Installing cannot fix these: a bug in nb2prod, or a version mismatch."""
    assert absent_module(name) is None


def test_an_absent_submodule_names_its_top_level_package() -> None:
    assert absent_module(f"{ABSENT}.sub.module") == ABSENT


def test_a_module_in_sys_modules_without_a_spec_is_present(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """find_spec raises for it (ValueError); it is importable, so nothing to install."""
    module = types.ModuleType("nb2prod_specless_module")
    module.__spec__ = None
    monkeypatch.setitem(sys.modules, "nb2prod_specless_module", module)
    assert absent_module("nb2prod_specless_module") is None


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("bentoml", "pip install 'nb2prod[serve]'"),
        ("uvloop", "pip install 'nb2prod[serve]'"),
        ("onnxruntime.capi", "pip install 'nb2prod[onnx]'"),
        ("skl2onnx", "pip install 'nb2prod[onnx]'"),
        ("docker", "pip install 'nb2prod[image]'"),
        ("jupyter_server", "pip install 'nb2prod[lab]'"),
    ],
)
def test_nb2prods_own_optional_imports_install_through_its_extras(module: str, line: str) -> None:
    """`pip install bentoml` would miss the versions nb2prod's extra pins."""
    assert nb2prod_extra_line(module) == line
    assert install_line(module) == line


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("sklearn", "pip install scikit-learn"),  # installed: from its metadata
        ("skimage", "pip install scikit-image"),  # a well-known rename
        (ABSENT, "pip install nb2prod-absent-pkg"),  # unknown: the import name, dashed
    ],
)
def test_a_notebooks_import_installs_its_distribution(module: str, line: str) -> None:
    """No extra provides it, so the line is its distribution's (`install_line` falls back
    to `distribution_line`, checked once: each costs a scan for an absent module)."""
    assert nb2prod_extra_line(module) is None
    assert install_line(module) == line


def test_distribution_line_names_the_distribution() -> None:
    assert distribution_line("sklearn") == "pip install scikit-learn"
    assert distribution_line("bentoml") == "pip install bentoml"  # never the extra


def test_not_installed_names_this_python_and_the_distribution() -> None:
    """A user with two Pythons must see which one lacks the package."""
    assert not_installed("sklearn") == (
        f"`sklearn` is not installed in the Python nb2prod runs on ({sys.executable}); "
        "the distribution `scikit-learn` provides it"
    )
    assert not_installed("numpy").endswith(f"({sys.executable})")  # its own name: no more


def test_missing_package_is_an_exit_2_problem_with_the_line_to_run() -> None:
    error = missing_package("sklearn", Path("nb.ipynb"))
    (problem,) = error.problems
    assert error.notebook == Path("nb.ipynb")
    assert problem.code == MISSING_PACKAGE and problem.blocking
    assert problem.fix == "`pip install scikit-learn`, then run the command again"
    assert problem.message == not_installed("sklearn")


def test_a_real_failed_import_becomes_the_missing_package_error() -> None:
    with pytest.raises(ModuleNotFoundError) as raised:
        __import__(ABSENT)
    error = missing_package_error(raised.value, Path("nb.ipynb"))
    assert error is not None and error.notebook == Path("nb.ipynb")
    assert error.problems[0].fix == "`pip install nb2prod-absent-pkg`, then run the command again"


def test_an_error_without_a_name_is_read_from_its_message() -> None:
    """Some code raises ModuleNotFoundError by hand, without `name`."""
    error = missing_package_error(ModuleNotFoundError(f"No module named '{ABSENT}.x'"))
    assert error is not None and ABSENT in error.problems[0].message


@pytest.mark.parametrize(
    "error",
    [
        ValueError(f"No module named '{ABSENT}'"),  # not an import failure at all
        ModuleNotFoundError("No module named 'nb2prod.gone'", name="nb2prod.gone"),
        ModuleNotFoundError("x", name="sklearn.gone"),  # sklearn is there: a version mismatch
        ImportError(f"No module named '{ABSENT}'"),  # not ModuleNotFoundError
    ],
)
def test_anything_else_is_left_to_be_reported_as_a_bug(error: BaseException) -> None:
    assert missing_package_error(error) is None


def test_require_stops_before_a_command_needs_an_absent_module() -> None:
    require("json")  # present: nothing happens
    require("sklearn")
    with pytest.raises(UserError) as raised:
        require(ABSENT, Path("project"))
    assert raised.value.problems[0].code == MISSING_PACKAGE
    assert raised.value.notebook == Path("project")


def test_project_requirement_reads_the_generated_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = [\n  "bentoml==1.4.40",\n'
        '  "scikit-learn[alldeps]>=1.9; python_version>\'3\'",\n  "stubmod",\n]\n\n'
        '[project.optional-dependencies]\ntest = [\n  "pytest==8.0",\n]\n'
    )
    assert project_requirement(tmp_path, "sklearn") == (
        "scikit-learn[alldeps]>=1.9; python_version>'3'"
    )
    assert project_requirement(tmp_path, "stubmod") == "stubmod"
    assert project_requirement(tmp_path, "pytest") is None  # a test extra, not a requirement
    assert project_requirement(tmp_path / "gone", "sklearn") is None


def test_shown_path_is_what_a_user_would_type_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert shown_path(tmp_path / "my project") == shlex.quote("my project")
    assert shown_path(Path("/elsewhere/out")) == "/elsewhere/out"

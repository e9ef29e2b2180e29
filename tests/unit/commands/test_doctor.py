"""doctor.py: each fact about this Python, and the verdict drawn from them.

The checks read this environment, so each is steered the way a user's machine would
differ: Jupyter's search paths (JUPYTER_PATH, JUPYTER_CONFIG_PATH come first) for the
kernelspec, the panel and the server extension; PATH and DOCKER_HOST for the container
engine (a small script plays podman). tests/e2e/test_doctor.py runs the command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from nb2prod import __version__
from nb2prod.commands.doctor import (
    Check,
    Diagnosis,
    ImportFact,
    _disabled_lab_plugins,
    _import_fact,
    _json_file,
    _same_file,
    check_container_engine,
    check_core_packages,
    check_kernelspec,
    check_lab_extension,
    check_python,
    check_server_extension,
    diagnose,
    notebook_imports,
)
from tests.unit.notebooks import write_notebook

# ---- the verdict --------------------------------------------------------------------------


def test_a_missing_core_check_or_needed_import_makes_it_not_ok() -> None:
    """Missing extras are reported with their fix, never counted against the verdict."""
    extra = Check("bentoml", "missing", "not installed", "pip install 'nb2prod[serve]'")
    core = Check("papermill", "missing", "not installed", "pip install papermill", core=True)
    warned = Check("kernelspec", "warning", "another Python", core=True)
    assert Diagnosis((extra, warned)).ok
    assert not Diagnosis((extra, core)).ok
    skipped = ImportFact("seaborn", "missing", "not installed", (4,), needed=False)
    needed = ImportFact("xgboost", "missing", "not installed", (2,), needed=True)
    assert Diagnosis((extra,), Path("nb.ipynb"), (skipped,)).ok
    assert not Diagnosis((extra,), Path("nb.ipynb"), (skipped, needed)).ok


def test_the_json_has_the_notebook_part_only_with_a_notebook() -> None:
    plain = Diagnosis((check_python(),)).to_json()
    assert set(plain) == {"nb2prod", "python", "ok", "checks"}
    assert (plain["nb2prod"], plain["python"], plain["ok"]) == (__version__, sys.executable, True)
    fact = ImportFact("numpy", "ok", "installed", (1,), True, "numpy", "2.0")
    with_notebook = Diagnosis((), Path("nb.ipynb"), (fact,)).to_json()
    assert with_notebook["notebook"] == "nb.ipynb"
    assert with_notebook["imports"] == [
        {
            "module": "numpy",
            "status": "ok",
            "detail": "installed",
            "cells": [1],
            "needed": True,
            "distribution": "numpy",
            "version": "2.0",
            "fix": None,
        }
    ]


# ---- core ---------------------------------------------------------------------------------


def test_python_and_the_core_packages_are_there_in_this_environment() -> None:
    python = check_python()
    assert python.status == "ok" and python.core and sys.executable in python.detail
    core = check_core_packages()
    assert core.status == "ok" and core.detail.startswith("nbformat ")


def kernelspec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str) -> Check:
    """check_kernelspec with a `python3` kernelspec running `command` found first."""
    folder = tmp_path / "data" / "kernels" / "python3"
    folder.mkdir(parents=True)
    spec = {"argv": [command, "-m", "ipykernel_launcher", "-f", "{connection_file}"]}
    (folder / "kernel.json").write_text(
        json.dumps({**spec, "display_name": "Python 3", "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "data"))
    return check_kernelspec()


@pytest.mark.parametrize("command", ["python", "python3", sys.executable])
def test_a_kernelspec_running_this_python_is_ok(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    assert kernelspec(tmp_path, monkeypatch, command).status == "ok"


def test_a_kernelspec_for_another_python_is_a_warning_not_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """verify runs this Python's ipykernel whatever the kernelspec says."""
    check = kernelspec(tmp_path, monkeypatch, "/opt/other/bin/python")
    assert check.status == "warning" and "runs /opt/other/bin/python" in check.detail
    assert not check.failing


def test_same_file_compares_paths_not_link_targets(tmp_path: Path) -> None:
    """A venv's python links to its base interpreter: they are different kernels."""
    (tmp_path / "base").write_text("")
    (tmp_path / "venv-python").symlink_to(tmp_path / "base")
    assert _same_file(str(tmp_path / "base"), str(tmp_path / "base"))
    assert not _same_file(str(tmp_path / "venv-python"), str(tmp_path / "base"))


# ---- the panel and the server extension ---------------------------------------------------


def config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config folder Jupyter reads before any other (JUPYTER_CONFIG_PATH)."""
    folder = tmp_path / "config"
    folder.mkdir(exist_ok=True)
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(folder))
    return folder


def page_config(folder: Path, disabled: object) -> None:
    (folder / "labconfig").mkdir(parents=True, exist_ok=True)
    (folder / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": disabled})
    )


def test_disabled_panel_plugins_are_found_in_either_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = config_path(tmp_path, monkeypatch)
    page_config(folder, {"nb2prod:panel": True, "other": True, "nb2prod-x": True})
    assert _disabled_lab_plugins() == ["nb2prod:panel"]
    page_config(folder, ["nb2prod"])  # JupyterLab 3 wrote a list
    assert _disabled_lab_plugins() == ["nb2prod"]


def test_a_higher_config_folder_re_enables_what_a_lower_one_disabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folders merge lowest priority first, as JupyterLab merges them."""
    high, low = tmp_path / "high", tmp_path / "low"
    page_config(high, {"nb2prod": False})
    page_config(low, {"nb2prod": True})
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", f"{high}:{low}")
    assert _disabled_lab_plugins() == []
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", f"{low}:{high}")
    assert _disabled_lab_plugins() == ["nb2prod"]


def test_a_disabled_panel_is_missing_with_the_command_that_enables_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page_config(config_path(tmp_path, monkeypatch), {"nb2prod": True})
    check = check_lab_extension()
    if check.detail == "the panel's files are not installed":
        pytest.skip("the JupyterLab extension is not installed here")
    assert check.status == "missing" and check.fix == "jupyter labextension enable nb2prod"


def test_a_panel_of_another_version_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "data" / "labextensions" / "nb2prod"
    folder.mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps({"version": "0.0.1-old"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "data"))
    check = check_lab_extension()
    if __version__ == "0+unknown":
        pytest.skip("nb2prod is not installed: its version is unknown")
    assert check.status == "warning"
    assert (
        check.detail
        == f"{folder} is version 0.0.1-old, nb2prod is {__version__}: the panel may be stale"
    )


def test_a_server_extension_disabled_in_config_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = config_path(tmp_path, monkeypatch)
    settings = {"ServerApp": {"jpserver_extensions": {"nb2prod": False}}}
    (folder / "jupyter_server_config.json").write_text(json.dumps(settings))
    check = check_server_extension()
    assert check.status == "missing" and check.fix == "jupyter server extension enable nb2prod"
    settings["ServerApp"]["jpserver_extensions"]["nb2prod"] = True
    (folder / "jupyter_server_config.json").write_text(json.dumps(settings))
    assert check_server_extension() == Check("server extension", "ok", "nb2prod enabled")


@pytest.mark.parametrize("content", ["", "{oops", "[1]"])
def test_an_unreadable_config_file_counts_as_empty(tmp_path: Path, content: str) -> None:
    """Jupyter skips it too."""
    (tmp_path / "x.json").write_text(content)
    assert _json_file(tmp_path / "x.json") == {} and _json_file(tmp_path / "gone.json") == {}


# ---- the container engine -----------------------------------------------------------------

FAKE_PODMAN = """#!{python}
import os, sys
if os.environ.get("FAKE_PODMAN_FAILS"):
    print("Error: cannot connect\\nError: storage is locked", file=sys.stderr)
    sys.exit(125)
print("4.9.3")
"""


@pytest.fixture
def no_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No Docker API answers; PATH is a folder of our own (empty until a test fills it)."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/dead.sock")
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    return folder


def test_no_engine_is_missing_with_both_reasons(no_docker: Path, tmp_path: Path) -> None:
    check = check_container_engine()
    assert check.status == "missing" and not check.core  # only `nb2prod image` needs one
    assert check.detail == (
        f"no Docker API answers at unix://{tmp_path}/dead.sock, and podman is not on PATH"
    )


def test_podman_is_asked_for_its_version(
    no_docker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    podman = no_docker / "podman"
    podman.write_text(FAKE_PODMAN.format(python=sys.executable))
    podman.chmod(0o755)
    check = check_container_engine()
    assert (check.status, check.detail.split(";")[0]) == ("ok", "podman 4.9.3 CLI")
    monkeypatch.setenv("FAKE_PODMAN_FAILS", "1")
    check = check_container_engine()
    assert check.status == "missing"
    assert check.detail == "`podman info` failed: Error: storage is locked"


# ---- the notebook's imports ---------------------------------------------------------------


def test_an_import_is_stdlib_beside_the_notebook_installed_or_missing(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text("")
    assert _import_fact("json", (1,), True, tmp_path).detail == "standard library"
    beside = _import_fact("helpers", (1,), True, tmp_path)
    assert beside.status == "warning" and "copy helpers into the generated package" in beside.fix
    installed = _import_fact("sklearn", (2,), True, tmp_path)
    assert (installed.status, installed.distribution) == ("ok", "scikit-learn")
    assert installed.version
    missing = _import_fact("nb2prod_absent_pkg", (3,), False, tmp_path)
    assert (missing.status, missing.fix) == ("missing", "pip install nb2prod-absent-pkg")
    assert not missing.failing  # only in skip cells


def test_imports_are_listed_in_first_seen_order_with_every_cell(tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "nb.ipynb",
        [
            ("from __future__ import annotations\nimport json\nimport numpy as np", []),
            ("import numpy.linalg\nX = np.ones(3)", ["nb2prod:load"]),
            ("import nb2prod_absent_pkg", ["nb2prod:skip"]),
            ("import os\ndef broken(:", ["nb2prod:train"]),  # a syntax error imports nothing
        ],
    )
    facts = notebook_imports(notebook)
    assert [(f.module, f.cells, f.needed, f.status) for f in facts] == [
        ("json", (0,), True, "ok"),
        ("numpy", (0, 1), True, "ok"),
        ("nb2prod_absent_pkg", (2,), False, "missing"),
    ]


def test_diagnose_lists_every_check_once(no_docker: Path, tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "nb.ipynb", [("import json", ["nb2prod:load"])])
    diagnosis = diagnose(notebook)
    names = [c.name for c in diagnosis.checks]
    assert len(names) == len(set(names)) == 11
    assert diagnosis.notebook == notebook and [i.module for i in diagnosis.imports] == ["json"]
    assert diagnosis.ok  # this venv runs check, convert and verify

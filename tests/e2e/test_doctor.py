"""`nb2prod doctor`: real checks of this dev venv (which has every extra), and notebooks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nb2prod.commands.doctor import (
    CHECKS,
    check_kernelspec,
    check_lab_extension,
    check_server_extension,
    diagnose,
)
from tests.conftest import EXAMPLES, ROOT, make_notebook, run_cli

CHECK_NAMES = [
    "python",
    "core packages",
    "papermill",
    "ipykernel",
    "kernelspec",
    "bentoml",
    "onnx",
    "container engine",
    "jupyterlab",
    "lab extension",
    "server extension",
]


def test_this_dev_venv_can_run_the_core_commands() -> None:
    done = run_cli("doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for name in ("python", "core packages", "papermill", "ipykernel", "bentoml", "onnx"):
        (line,) = [line for line in lines if line.split()[1:2] == name.split()[:1]]
        assert line.split()[0] == "ok", line
    assert lines[-1].startswith("ready: check, convert and verify can run here")


def test_json_has_a_stable_documented_shape() -> None:
    done = run_cli("doctor", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {"nb2prod", "python", "ok", "checks"}  # no notebook, no imports
    assert data["ok"] is True
    assert [c["name"] for c in data["checks"]] == CHECK_NAMES
    for check in data["checks"]:
        assert set(check) == {"name", "status", "detail", "fix", "core"}
        assert check["status"] in {"ok", "missing", "warning"}
        assert check["detail"]
        assert (check["fix"] is None) == (check["status"] == "ok"), check
    core = {c["name"] for c in data["checks"] if c["core"]}
    assert core == {"python", "core packages", "papermill", "ipykernel", "kernelspec"}


def test_the_example_notebook_imports_resolve_with_their_distributions() -> None:
    done = run_cli("doctor", "--json", str(EXAMPLES / "wine_classifier.ipynb"))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["notebook"].endswith("wine_classifier.ipynb")
    imports = {i["module"]: i for i in data["imports"]}
    assert imports["sklearn"]["distribution"] == "scikit-learn"
    assert imports["pandas"]["distribution"] == "pandas"
    for fact in imports.values():
        assert set(fact) == {
            "module", "status", "detail", "cells", "needed", "distribution", "version", "fix"
        }  # fmt: skip
        assert fact["status"] == "ok" and fact["needed"] and fact["version"], fact
        assert fact["cells"] and all(isinstance(c, int) for c in fact["cells"])
    text = run_cli("doctor", str(EXAMPLES / "wine_classifier.ipynb")).stdout
    assert any(line.split()[:3] == ["ok", "sklearn", "scikit-learn"] for line in text.splitlines())


def test_a_missing_import_is_named_with_its_pip_line_and_exits_1(tmp_path: Path) -> None:
    notebook = make_notebook(
        tmp_path / "absent.ipynb",
        [
            "import os\nimport nb2prod_absent_pkg",
            ("x = nb2prod_absent_pkg.load()", ["nb2prod:load"]),
        ],
    )
    done = run_cli("doctor", str(notebook))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "nb2prod_absent_pkg" in line.split())
    assert lines[at].split()[:2] == ["missing", "nb2prod_absent_pkg"]
    assert lines[at + 1].split() == ["fix:", "pip", "install", "nb2prod-absent-pkg"]
    assert lines[-1].startswith("not ready:") and "nb2prod_absent_pkg" in lines[-1]

    data = json.loads(run_cli("doctor", "--json", str(notebook)).stdout)
    assert data["ok"] is False
    (fact,) = [i for i in data["imports"] if i["module"] == "nb2prod_absent_pkg"]
    assert fact == {
        "module": "nb2prod_absent_pkg",
        "status": "missing",
        "detail": "not installed",
        "cells": [0],
        "needed": True,
        "distribution": "nb2prod-absent-pkg",
        "version": None,
        "fix": "pip install nb2prod-absent-pkg",
    }
    (os_fact,) = [i for i in data["imports"] if i["module"] == "os"]
    assert os_fact["status"] == "ok" and os_fact["detail"] == "standard library"


def test_imports_only_in_skip_cells_are_noted_not_failed(tmp_path: Path) -> None:
    notebook = make_notebook(
        tmp_path / "skipped.ipynb",
        [
            ("import json\nrows = json.loads('[1]')", ["nb2prod:load"]),
            ("import nb2prod_absent_plot\n%matplotlib inline", ["skip"]),
        ],
    )
    diagnosis = diagnose(notebook)
    assert diagnosis.ok
    (fact,) = [i for i in diagnosis.imports if i.module == "nb2prod_absent_plot"]
    assert (fact.status, fact.needed, fact.cells) == ("missing", False, (1,))
    done = run_cli("doctor", str(notebook))
    assert done.returncode == 0, done.stdout
    assert "only in skip cells" in done.stdout
    assert any(
        line.split()[:2] == ["note", "nb2prod_absent_plot"] for line in done.stdout.split("\n")
    )


def test_a_module_next_to_the_notebook_is_a_note(tmp_path: Path) -> None:
    notebook = make_notebook(tmp_path / "local.ipynb", [("import helpers", ["nb2prod:load"])])
    (tmp_path / "helpers.py").write_text("X = 1\n")
    (fact,) = diagnose(notebook).imports
    assert fact.status == "warning" and "next to the notebook" in fact.detail and fact.fix


@pytest.mark.parametrize(
    "path", ["nowhere.ipynb", "tests/bad_inputs/binary_garbage.ipynb", "examples"]
)
def test_a_bad_notebook_is_a_user_error(path: str) -> None:
    done = run_cli("doctor", path, cwd=ROOT)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("nb2prod: ") and "fix:" in done.stderr


def test_a_kernelspec_for_another_python_is_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `python3` kernelspec installed for another Python wins over this one's: noted,
    since verify runs this Python's ipykernel whatever the spec says."""
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = ["/opt/other/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Other", "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    check = check_kernelspec()
    assert check.status == "warning" and "/opt/other/bin/python3" in check.detail
    assert not check.failing


def test_disabled_extensions_are_missing_with_the_command_that_enables_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`jupyter labextension disable` and `jupyter server extension disable` write these."""
    (tmp_path / "labconfig").mkdir()
    (tmp_path / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"nb2prod:plugin": True}})
    )
    (tmp_path / "jupyter_server_config.d").mkdir()
    (tmp_path / "jupyter_server_config.d" / "nb2prod.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"nb2prod": False}}})
    )
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(tmp_path))  # first: highest priority
    lab = check_lab_extension()
    assert (lab.status, lab.fix) == ("missing", "jupyter labextension enable nb2prod")
    server = check_server_extension()
    assert (server.status, server.fix) == (
        "missing",
        "jupyter server extension enable nb2prod",
    )
    assert not lab.failing and not server.failing  # the CLI works without the panel


def test_every_check_is_listed_once() -> None:
    assert [check().name for check in CHECKS] == CHECK_NAMES

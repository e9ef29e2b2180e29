"""Parameters take values the way papermill injects them, and bad cells get one problem each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nb2prod.commands.convert import convert
from nb2prod.commands.verify import _cast
from nb2prod.errors import UserError
from nb2prod.plan.build import Plan, build_plan
from nb2prod.read.notebook import load_notebook
from tests.conftest import make_notebook, run_cli

CELLS: list[tuple[str, list[str]] | str] = [
    ("# nb2prod: quick C=0.5\nC = 30  # regularisation\nrate = 0.1", ["parameters"]),
    ("values = [1.0, 2.0, 3.0]", ["nb2prod:load"]),
    ("total_score = float(sum(values)) * C * rate", ["nb2prod:evaluate"]),
]


def _plan(tmp_path: Path, cells: list[tuple[str, list[str]] | str]) -> Plan:
    return build_plan(load_notebook(make_notebook(tmp_path / "nb.ipynb", cells)))


def test_a_kale_parameters_cell_gets_one_problem_listing_its_lines(tmp_path: Path) -> None:
    source = (
        "import os\nDATA = os.environ['DATA']\nA = 1\nB = A * 2\nprint(A)\n"
        "for i in range(2):\n    pass\nC = [A, B]\nE = f(1)\n"
    )
    plan = _plan(
        tmp_path,
        [
            ("import numpy as np", ["imports"]),
            (source, ["pipeline-parameters"]),
            ("x = A", ["step:load"]),
        ],
    )
    [problem] = [p for p in plan.problems if p.code == "parameter-not-literal"]
    assert problem.cell is not None and problem.cell.index == 1
    assert "has 6 lines" in problem.message
    for line, text in [(2, "DATA = os.environ['DATA']"), (5, "print(A)"), (9, "E = f(1)")]:
        assert f"line {line} (`{text}`)" in problem.message
    assert "line 3 " not in problem.message  # `A = 1` is fine


def test_a_float_quick_value_for_an_int_parameter_is_kept_with_a_note(tmp_path: Path) -> None:
    plan = _plan(tmp_path, CELLS)
    assert plan.quick == {"C": 0.5}
    [note] = [p for p in plan.problems if p.code == "float-for-int-parameter"]
    assert not note.blocking and "`C` is a float" in note.message
    assert note.cell is not None and note.cell.line == 1


def test_verify_casts_like_papermill_injects(tmp_path: Path, capsys) -> None:
    assert _cast("0.5", "int", tmp_path, "C") == 0.5
    assert "`C` defaults to an int; given the float 0.5" in capsys.readouterr().err
    assert _cast("3", "int", tmp_path, "C") == 3 and isinstance(
        _cast("3", "int", tmp_path, "C"), int
    )
    assert _cast("3", "float", tmp_path, "rate") == 3.0
    assert not capsys.readouterr().err
    with pytest.raises(UserError, match="takes a int, not `abc`"):
        _cast("abc", "int", tmp_path, "C")


def test_the_generated_cli_takes_a_float_for_an_int_parameter(tmp_path: Path) -> None:
    notebook = make_notebook(tmp_path / "nb.ipynb", CELLS)
    convert(notebook, tmp_path / "out", run_pipeline=False)
    script = (
        "import argparse, sys\n"
        "from nb.config import Config, add_arguments, from_namespace\n"
        "parser = argparse.ArgumentParser()\nadd_arguments(parser)\n"
        "print(from_namespace(parser.parse_args(sys.argv[1:])))\n"
    )

    def run(*flags: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(tmp_path / "out" / "src")}
        return subprocess.run(
            [sys.executable, "-c", script, *flags], capture_output=True, text=True, env=env
        )

    floats = run("--C", "0.5", "--rate", "2")
    assert floats.returncode == 0, floats.stderr
    assert "Config(C=0.5, rate=2.0)" in floats.stdout
    assert "--C defaults to an int; given the float 0.5" in floats.stderr
    ints = run("--C", "7")
    assert "Config(C=7, rate=0.1)" in ints.stdout and not ints.stderr
    bad = run("--C", "many")
    assert bad.returncode == 2 and "invalid int value: 'many'" in bad.stderr


def test_verify_with_a_float_for_an_int_parameter_matches_papermill(tmp_path: Path) -> None:
    notebook = make_notebook(tmp_path / "nb.ipynb", CELLS)
    assert run_cli("convert", str(notebook), "-o", str(tmp_path / "out")).returncode == 0
    report = tmp_path / "report.json"
    result = run_cli(
        "verify", str(tmp_path / "out"), "-p", "C", "0.5", "--json", str(report), timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "given the float 0.5" in result.stderr
    assert json.loads(report.read_text())["parameters"] == {"C": 0.5}


def _config_of(tmp_path: Path, parameters: str) -> str:
    """The generated Config's repr and to_dict() for a parameters cell `parameters`."""
    cells = [(parameters, ["parameters"]), ("values = [1.0]", ["nb2prod:load"])]
    convert(make_notebook(tmp_path / "nb.ipynb", cells), tmp_path / "out", run_pipeline=False)
    script = "from nb.config import Config\nc = Config()\nprint(c)\nprint(c.to_dict())\n"
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "out" / "src")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_parameter_named_field_leaves_the_config_class_working(tmp_path: Path) -> None:
    """Fuzz finding parameter-named-field: `field = 1` shadowed dataclasses.field."""
    out = _config_of(tmp_path, "field = 1\nlayers = [8, 4]")
    assert "Config(field=1, layers=[8, 4])" in out


def test_a_set_parameter_gets_a_default_factory(tmp_path: Path) -> None:
    """Fuzz finding set-parameter: a set default is mutable (ValueError in the dataclass);
    its metadata is a list, as BentoML's metadata and JSON take no sets."""
    out = _config_of(tmp_path, 'drop = {"b", "a"}')
    assert "Config(drop={" in out and "{'drop': ['a', 'b']}" in out


@pytest.mark.parametrize("name", ["to_dict", "dataclasses"])
def test_a_parameter_named_like_config_own_names_is_refused(tmp_path: Path, name: str) -> None:
    plan = _plan(tmp_path, [(f"{name} = 1", ["parameters"]), ("x = 2", ["nb2prod:load"])])
    [problem] = plan.blocking
    assert problem.code == "parameter-name-reserved" and f"`{name}`" in problem.message
    assert problem.cell is not None and problem.cell.index == 0

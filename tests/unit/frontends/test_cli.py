"""cli.py: arguments, exit codes and a start-up that loads nothing it does not need.

`main` runs in process here with small notebooks; only what must be seen from a
fresh interpreter (which modules `--help` imports) starts one. The commands' own
work is tested with their modules (tests/unit/commands/).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import nb2prod
from nb2prod.errors import EXIT_OK, EXIT_PROBLEMS, EXIT_USER_ERROR
from nb2prod.frontends.cli import EXIT_INTERNAL, _cell_text, build_parser, main
from tests.conftest import ROOT
from tests.unit.notebooks import REGRESSION, write_notebook

Output = pytest.CaptureFixture[str]


def test_no_command_prints_the_help_and_exits_2(capsys: Output) -> None:
    assert main([]) == EXIT_USER_ERROR
    out = capsys.readouterr().out
    assert out.startswith("usage: nb2prod") and "exit codes:" in out


def test_version_prints_on_stdout_and_exits_0(capsys: Output) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"nb2prod {nb2prod.__version__}\n"


def test_an_unknown_command_or_choice_is_argparses_exit_2(capsys: Output) -> None:
    for argv in (["frobnicate"], ["image", "p", "--engine", "kubernetes"], ["verify"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
    assert "invalid choice: 'kubernetes'" in capsys.readouterr().err


def test_help_loads_no_pipeline_module() -> None:
    """`nb2prod --help` answers in a blink: no stage of the pipeline, no nbformat, no
    package metadata (the version is read only for --version)."""
    code = (
        "import sys\nfrom nb2prod.frontends.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "import json\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('nb2prod'))))\n"
        "print([m for m in ('nbformat', 'jinja2', 'IPython', 'importlib.metadata') "
        "if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded, heavy = done.stdout.strip().splitlines()[-2:]
    assert set(json.loads(loaded)) <= {
        "nb2prod",
        "nb2prod.errors",
        "nb2prod.frontends",
        "nb2prod.frontends.cli",
        "nb2prod.frontends.console",
    }
    assert heavy == "[]"


def test_convert_defaults_and_flags() -> None:
    parser = build_parser()
    args = parser.parse_args(["convert", "nb.ipynb"])
    assert (args.output, args.name, args.timeout, args.force, args.json) == (
        None,
        None,
        900,
        False,
        False,
    )
    args = parser.parse_args(
        ["convert", "nb.ipynb", "-o", "out", "--no-service", "--no-run", "--no-onnx"]
    )
    assert args.output == Path("out") and args.no_service and args.no_run and args.no_onnx


def test_verify_takes_repeated_parameter_pairs() -> None:
    args = build_parser().parse_args(
        ["verify", "proj", "-p", "n", "3", "--parameter", "rate", "0.5", "--rtol", "1e-6"]
    )
    assert dict(args.parameter) == {"n": "3", "rate": "0.5"}
    assert (args.rtol, args.timeout, args.skipped_timeout, args.quick) == (1e-6, 1800, None, False)


def test_serve_and_image_defaults() -> None:
    parser = build_parser()
    serve = parser.parse_args(["serve", "proj"])
    assert (serve.host, serve.port) == ("127.0.0.1", 3000)
    image = parser.parse_args(["image", "proj"])
    assert (image.tag, image.engine, image.build_arg) == (None, "auto", [])
    with_args = parser.parse_args(["image", "proj", "--build-arg", "A=1", "--build-arg", "B=x=y"])
    assert with_args.build_arg == ["A=1", "B=x=y"]


def test_a_build_arg_without_a_value_is_a_user_error(capsys: Output) -> None:
    """Exit 2 with the fix, before any project is read."""
    assert main(["image", "no-such-project", "--build-arg", "TORCH_INDEX_URL"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "'TORCH_INDEX_URL' is not KEY=VALUE" in err and "Traceback" not in err


# ---- exit codes ---------------------------------------------------------------------------


def test_check_of_a_convertible_notebook_exits_0_with_its_report(
    tmp_path: Path, capsys: Output
) -> None:
    notebook = write_notebook(tmp_path / "nb.ipynb", REGRESSION)
    assert main(["check", str(notebook), "--json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["convertible"] is True and report["project"] == "nb"


def test_check_with_blocking_problems_exits_1_and_convert_exits_2(
    tmp_path: Path, capsys: Output
) -> None:
    """check reports the problem; convert refuses to write anything because of it."""
    notebook = write_notebook(tmp_path / "nb.ipynb", [("x = undefined_name", ["nb2prod:load"])])
    assert main(["check", str(notebook)]) == EXIT_PROBLEMS
    assert "block conversion" in capsys.readouterr().out
    assert main(["convert", str(notebook), "-o", str(tmp_path / "out")]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.startswith(f"nb2prod: error: {notebook}: cell 0") and "  fix: " in err
    assert not (tmp_path / "out").exists()


def test_a_user_error_exits_2_with_its_fix_and_no_traceback(tmp_path: Path, capsys: Output) -> None:
    assert main(["check", str(tmp_path / "missing.ipynb")]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    missing = tmp_path / "missing.ipynb"
    assert err == f"nb2prod: error: {missing}: no such file\n  fix: check the notebook path\n"


def test_verify_of_a_folder_that_is_not_a_project_exits_2(tmp_path: Path, capsys: Output) -> None:
    assert main(["verify", str(tmp_path)]) == EXIT_USER_ERROR  # not a project
    assert "is not a project generated by nb2prod" in capsys.readouterr().err


def test_a_missing_package_exits_2_with_the_pip_line(
    tmp_path: Path, capsys: Output, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A v3 notebook needs nbformat to upgrade it; without nbformat that is a package to
    install, not a bug."""
    notebook = tmp_path / "old.ipynb"
    notebook.write_text(json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": []}))
    monkeypatch.setitem(sys.modules, "nbformat", None)  # as if it were not installed
    assert main(["check", str(notebook)]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "`nbformat` is not installed in the Python nb2prod runs on" in err
    assert "fix: `pip install nbformat`, then run the command again" in err
    assert "internal error" not in err


def test_any_other_exception_is_an_internal_error_exit_3(
    tmp_path: Path, capsys: Output, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing nb2prod module is a bug in nb2prod: no pip line can fix it."""
    notebook = write_notebook(tmp_path / "nb.ipynb", REGRESSION)
    monkeypatch.delenv("NB2PROD_DEBUG", raising=False)
    monkeypatch.setitem(sys.modules, "nb2prod.commands.check", None)
    assert main(["check", str(notebook)]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.startswith("nb2prod: internal error: ModuleNotFoundError: ")
    assert "re-run with NB2PROD_DEBUG=1" in err
    monkeypatch.setenv("NB2PROD_DEBUG", "1")
    with pytest.raises(ModuleNotFoundError):
        main(["check", str(notebook)])


# ---- verify's table -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        ({"a": "int", "b": "float"}, "columns", "2 columns"),
        ({"a": 1}, "value", "{'a': 1}"),
        (0.1, "value", "0.1"),
        (1e-20, "value", "1e-20"),
        ([1, 2, 3], "value", "[1, 2, 3]"),
        (list(range(20)), "value", "[0, 1, 2, 3, 4, 5, 6,..."),
        (None, "value", "None"),
    ],
)
def test_a_table_cell_fits_its_column(value: object, unit: str, shown: str) -> None:
    assert _cell_text(value, unit) == shown
    assert len(shown) <= 24

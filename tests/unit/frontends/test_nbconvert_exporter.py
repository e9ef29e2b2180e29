"""nbconvert_exporter.py: `jupyter nbconvert --to nb2prod` writes the project the CLI would.

What decides the exporter's behaviour is tested here: its options, the folder it
names, one project folder per notebook, and how an error ends (an exception for a
Python caller, the CLI's message and exit 2 under `jupyter nbconvert`). The only
conversion skips the pipeline run (`run_pipeline=False`), so nothing trains;
tests/e2e/test_nbconvert_exporter.py runs the real command.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from nbconvert.nbconvertapp import NbConvertApp
from nbconvert.utils.exceptions import ConversionException
from traitlets.config import Config

from nb2prod.errors import UserError
from nb2prod.frontends.nbconvert_exporter import Nb2ProdConversionError, Nb2ProdExporter
from tests.unit.notebooks import REGRESSION, notebook_node, write_notebook

BLOCKING = [("x = undefined_name", ["nb2prod:load"])]
"""A notebook convert refuses before writing anything."""


def failure(exporter: Nb2ProdExporter, notebook: Path) -> UserError:
    """The `UserError` a Python caller gets, inside nbconvert's own exception type."""
    with pytest.raises(ConversionException) as raised:
        exporter.from_filename(str(notebook))
    assert isinstance(raised.value, Nb2ProdConversionError)
    return raised.value.user_error


def test_its_options_default_to_the_clis() -> None:
    exporter = Nb2ProdExporter()
    assert (exporter.service, exporter.onnx, exporter.run_pipeline, exporter.force) == (
        True,
        True,
        True,
        False,
    )
    assert (exporter.output_folder, exporter.project_name) == ("", "")
    assert exporter.file_extension == ".nb2prod.txt"  # never `<notebook>.txt`, a user's file
    assert exporter.output_mimetype == "text/plain"
    assert Nb2ProdExporter.export_from_notebook is None  # no "Download as" that writes folders


def test_options_come_from_nbconverts_config() -> None:
    """`--Nb2ProdExporter.service=False` on the command line arrives as config."""
    config = Config({"Nb2ProdExporter": {"service": False, "force": True, "project_name": "p"}})
    exporter = Nb2ProdExporter(config=config)
    assert (exporter.service, exporter.force, exporter.project_name) == (False, True, "p")


def test_the_project_folder_is_the_clis_default_in_nbconverts_output_directory() -> None:
    resources = {"metadata": {"path": "notebooks"}}
    assert Nb2ProdExporter()._project_folder("My Analysis", resources) == Path(
        "notebooks/my-analysis"
    )
    named = Nb2ProdExporter(project_name="Churn Model")
    assert named._project_folder("x", resources) == Path("notebooks/churn-model")
    assert Nb2ProdExporter()._project_folder("x", {"metadata": {}}) == Path("x")
    config = Config({"FilesWriter": {"build_directory": "built"}})  # --output-dir
    assert Nb2ProdExporter(config=config)._project_folder("x", resources) == Path("built/x")


def test_an_output_folder_may_name_each_notebooks_project() -> None:
    exporter = Nb2ProdExporter(output_folder="out/{notebook_name}-project")
    assert exporter._project_folder("wine", {"metadata": {}}) == Path("out/wine-project")


def test_a_second_notebook_may_not_replace_the_first_ones_project(tmp_path: Path) -> None:
    """`jupyter nbconvert --to nb2prod a.ipynb b.ipynb` with one output folder."""
    exporter = Nb2ProdExporter(output_folder=str(tmp_path / "out"))
    first, second = tmp_path / "a.ipynb", tmp_path / "b.ipynb"
    exporter._claim(tmp_path / "out", first)
    exporter._claim(tmp_path / "out", first)  # the same notebook again is fine
    with pytest.raises(UserError) as raised:
        exporter._claim(tmp_path / "out", second)
    problem = raised.value.problems[0]
    assert problem.code == "same-output" and "a.ipynb was converted into" in problem.message
    assert "{notebook_name}" in problem.fix


def test_a_python_caller_gets_an_exception_naming_the_cell(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "bad.ipynb", BLOCKING)
    exporter = Nb2ProdExporter(output_folder=str(tmp_path / "out"))
    error = failure(exporter, notebook)
    assert error.notebook == notebook
    assert error.problems[0].cell is not None and error.problems[0].cell.index == 0
    assert not (tmp_path / "out").exists()


def test_a_second_notebook_into_the_same_folder_fails_before_converting(tmp_path: Path) -> None:
    exporter = Nb2ProdExporter(output_folder=str(tmp_path / "out"))
    failure(exporter, write_notebook(tmp_path / "a.ipynb", BLOCKING))  # claims the folder
    error = failure(exporter, write_notebook(tmp_path / "b.ipynb", BLOCKING))
    assert error.problems[0].code == "same-output"


def test_a_node_from_stdin_is_named_after_the_notebook_not_a_temporary_file(
    tmp_path: Path,
) -> None:
    import nbformat

    node = nbformat.from_dict(notebook_node(BLOCKING))
    exporter = Nb2ProdExporter(output_folder=str(tmp_path / "out"))
    with pytest.raises(Nb2ProdConversionError) as raised:
        exporter.from_notebook_node(node)
    assert raised.value.user_error.notebook == Path("Notebook.ipynb")  # nbconvert's default
    with pytest.raises(Nb2ProdConversionError) as raised:
        exporter.from_notebook_node(node, {"metadata": {"name": "churn"}})
    assert raised.value.user_error.notebook == Path("churn.ipynb")


def test_a_missing_package_is_the_clis_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A v3 notebook needs nbformat to be read; without it: the pip line, not a traceback."""
    notebook = tmp_path / "old.ipynb"
    notebook.write_text(json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": []}))
    import nb2prod.commands.convert  # noqa: F401  # loaded before nbformat disappears

    monkeypatch.setitem(sys.modules, "nbformat", None)
    error = failure(Nb2ProdExporter(output_folder=str(tmp_path / "out")), notebook)
    assert error.problems[0].code == "missing-package"
    assert "`pip install nbformat`" in error.problems[0].fix


@pytest.fixture
def under_nbconvert() -> Iterator[None]:
    """As inside `jupyter nbconvert`: its application instance exists."""
    NbConvertApp.instance()
    try:
        yield
    finally:
        NbConvertApp.clear_instance()


@pytest.mark.usefixtures("under_nbconvert")
def test_under_jupyter_nbconvert_an_error_is_the_clis_message_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nbconvert would log the exception with a traceback; the user needs the cell and fix."""
    notebook = write_notebook(tmp_path / "bad.ipynb", BLOCKING)
    with pytest.raises(SystemExit) as exited:
        Nb2ProdExporter(output_folder=str(tmp_path / "out")).from_filename(str(notebook))
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nb2prod: error: {notebook}: cell 0") and "  fix: " in err


def test_a_conversion_writes_the_project_and_returns_the_clis_summary(tmp_path: Path) -> None:
    """Without the pipeline run nothing trains; the text is what `nb2prod convert` prints."""
    notebook = write_notebook(tmp_path / "nb.ipynb", REGRESSION)
    exporter = Nb2ProdExporter(run_pipeline=False, service=False)
    text, resources = exporter.from_filename(str(notebook))
    project = tmp_path / "nb"
    assert json.loads((project / "nb2prod.json").read_text())["project"] == "nb"
    assert resources["metadata"] == {"name": "nb", "path": str(tmp_path)}
    lines = text.splitlines()
    assert lines[0] == f"nb: 5 functions from {notebook}"
    assert any(
        line.startswith("wrote ") and line.endswith(f"file(s) to {project}") for line in lines
    )
    assert "\033[" not in text  # a file or --stdout: no colours

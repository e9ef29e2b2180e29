"""`jupyter nbconvert --to nb2prod NB.ipynb`: nb2prod as an nbconvert exporter.

nbconvert's model is one notebook in, one file out (the exporter returns the
text, a writer saves it as `<notebook>.<ext>`, or prints it with `--stdout`).
nb2prod's output is a project folder that must be written atomically and must
never overwrite files the user edited, which nbconvert's `FilesWriter` (plain
`open(..., "wb")` per file) cannot promise. So the exporter does the work the
CLI does: `nb2prod.commands.convert.convert` writes the project with nb2prod's own
writer, into the folder `nb2prod convert` would pick (named after the project,
in nbconvert's output directory: `--output-dir`, else the notebook's folder).
The exporter's own output is the same summary the CLI prints, which nbconvert
saves as `<notebook>.nb2prod.txt` (or prints with `--stdout`).

nb2prod reads the notebook file itself, exactly as the CLI does, so both
entry points produce byte-identical projects; nbconvert preprocessors
(`--ClearOutputPreprocessor.enabled=True`, ...) therefore do not apply.

A `UserError` under the `jupyter nbconvert` command is printed the way the CLI
prints it (notebook, cell, fix) and ends the process with exit code 2:
nbconvert would log any exception from an exporter with its traceback. Called
from Python, the exporter raises `Nb2ProdConversionError` instead (an
nbconvert `ConversionException` carrying the `UserError`), so a host such as
a notebook server is never exited.

This module is imported by every `jupyter nbconvert` run (nbconvert lists its
exporters at start-up), so it imports nothing heavy until a conversion starts.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from nbconvert.exporters.exporter import Exporter
from nbconvert.utils.exceptions import ConversionException
from traitlets import Bool, Unicode, default

from nb2prod.errors import EXIT_USER_ERROR, UserError, user_error

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from nb2prod.commands.convert import Conversion

STDIN_NAME = "notebook"


class Nb2ProdConversionError(ConversionException):
    """A notebook nb2prod cannot convert; `user_error` says which cell and how to fix it."""

    def __init__(self, error: UserError) -> None:
        super().__init__(error.summary())
        self.user_error = error


class Nb2ProdExporter(Exporter):
    """Write a generated project (like `nb2prod convert`) and return its summary.

    `export_from_notebook` stays unset: a server's "Download as" must not write
    project folders beside the notebook.
    """

    output_mimetype = "text/plain"

    output_folder = Unicode(
        "",
        help="Project folder (relative to the working directory, as `-o`); "
        "`{notebook_name}` is replaced by the notebook's file stem. "
        "Default: the folder `nb2prod convert` would use (named after the project) in "
        "nbconvert's output directory (--output-dir, else the notebook's folder).",
    ).tag(config=True)
    project_name = Unicode(
        "", help="Project name (default: from the notebook's file name), as `--name`."
    ).tag(config=True)
    service = Bool(
        True,
        help="Generate the BentoML service (trains once to profile its data); "
        "False is `--no-service`.",
    ).tag(config=True)
    onnx = Bool(
        True, help="Serve through the ONNX Runtime twin of the model; False is `--no-onnx`."
    ).tag(config=True)
    run_pipeline = Bool(
        True,
        help="Run the generated pipeline once to record its test references and the "
        "service's schema; False is `--no-run` (no service either).",
    ).tag(config=True)
    force = Bool(
        False,
        help="Overwrite generated files you edited, after keeping a backup (as `--force`).",
    ).tag(config=True)

    @default("file_extension")
    def _file_extension_default(self) -> str:
        # A suffix of its own: nbconvert's writer overwrites, and `<notebook>.txt`
        # could be a file of the user's.
        return ".nb2prod.txt"

    def __init__(self, config: Any = None, **kw: Any) -> None:
        super().__init__(config=config, **kw)
        self._projects: dict[Path, Path] = {}  # project folder -> notebook file, this run

    def from_filename(  # type: ignore[override]  # the output is text, not a notebook
        self, filename: str, resources: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[str, dict[str, Any]]:
        """Convert the notebook file as the CLI would.

        nbconvert does not parse the file first: nb2prod's own reader turns
        unreadable input into a message naming the file and the fix.
        """
        notebook = Path(filename)
        resources = self._init_resources(resources)
        resources["metadata"]["name"] = notebook.stem
        resources["metadata"]["path"] = str(notebook.parent)
        try:
            output = self._project_folder(notebook.stem, resources)
            self._claim(output, notebook)
            return self._convert(notebook, output), resources
        except UserError as error:
            self._fail(error)

    def from_notebook_node(  # type: ignore[override]  # the output is text, not a notebook
        self, nb: NotebookNode, resources: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[str, dict[str, Any]]:
        """Convert a notebook held in memory (`--stdin`, or a call from Python).

        nb2prod converts files (the project keeps a copy of the notebook and its
        hash), so the node is saved to a temporary file named after the notebook.
        """
        import nbformat

        resources = self._init_resources(resources)
        stem = resources["metadata"].get("name") or STDIN_NAME
        with tempfile.TemporaryDirectory(prefix="nb2prod-nbconvert-") as folder:
            notebook = Path(folder) / f"{stem}.ipynb"
            nbformat.write(nb, notebook)
            try:
                return self._convert(notebook, self._project_folder(stem, resources)), resources
            except UserError as error:
                error.notebook = Path(f"{stem}.ipynb")  # not the temporary file, gone by now
                self._fail(error)

    def _convert(self, notebook: Path, output: Path) -> str:
        """Run the CLI's `convert`; return the summary the CLI prints."""
        from nb2prod.generate.install_hints import missing_package_error

        try:
            from nb2prod.commands.convert import convert

            result = convert(
                notebook,
                output,
                name=self.project_name or None,
                force=self.force,
                service=self.service,
                onnx=self.onnx,
                run_pipeline=self.run_pipeline,
            )
        except ModuleNotFoundError as error:  # a package to install: the CLI's message
            missing = missing_package_error(error, notebook)
            if missing is None:
                raise
            raise missing from None
        self.log.info("Wrote the nb2prod project %s", result.report.output)
        return _summary(result)

    def _project_folder(self, stem: str, resources: dict[str, Any]) -> Path:
        """The project folder: `output_folder`, or the CLI's default in the output dir."""
        if self.output_folder:
            return Path(self.output_folder.format(notebook_name=stem))
        from nb2prod.commands.convert import default_output

        writer = self.config.get("FilesWriter") or {}
        base = writer.get("build_directory") or resources["metadata"].get("path") or "."
        return default_output(Path(f"{stem}.ipynb"), self.project_name or None, Path(base))

    def _claim(self, output: Path, notebook: Path) -> None:
        """Refuse to let a second notebook of one run replace the first one's project."""
        earlier = self._projects.setdefault(Path(os.path.abspath(output)), notebook.resolve())
        if earlier != notebook.resolve():
            raise user_error(
                notebook,
                "same-output",
                f"{earlier.name} was converted into {output} in this run already",
                "convert one notebook per output folder: use {notebook_name} in "
                "--Nb2ProdExporter.output_folder, or run nbconvert once per notebook",
            )

    def _fail(self, error: UserError) -> NoReturn:
        """End `jupyter nbconvert` with the CLI's message; raise for callers from Python."""
        from nbconvert.nbconvertapp import NbConvertApp

        if not NbConvertApp.initialized():
            raise Nb2ProdConversionError(error) from None
        from nb2prod.frontends.console import Style, print_error

        print_error(error, Style.for_stream(sys.stderr))
        raise SystemExit(EXIT_USER_ERROR)


def _summary(result: Conversion) -> str:
    """What `nb2prod convert` prints, as text (its warnings still go to stderr)."""
    from nb2prod.frontends.console import Style, print_conversion

    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        print_conversion(result, Style(enabled=False))
    return text.getvalue()

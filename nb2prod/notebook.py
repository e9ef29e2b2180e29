"""Read a notebook file into plain cells, or say clearly why it cannot be read.

nbformat does the parsing and upgrades v3 (and v4.0-4.4) notebooks to the
current v4 schema; this module turns each way that can fail into a
`UserError` that names the file and the fix.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2prod.errors import CellRef, user_error

PYTHON_LANGUAGES = {"python", "python3", "python2", "ipython", "ipython3"}


@dataclass(frozen=True)
class Cell:
    """One notebook cell, as nb2prod needs it."""

    index: int
    kind: str  # "code", "markdown" or "raw"
    source: str
    tags: tuple[str, ...]
    execution_count: int | None

    @property
    def first_line(self) -> str:
        for line in self.source.splitlines():
            if line.strip():
                return line.strip()[:80]
        return ""

    def ref(self, line: int | None = None) -> CellRef:
        return CellRef(self.index, self.first_line, line)


@dataclass(frozen=True)
class Notebook:
    """A loaded notebook: its path, cells, the raw node and a content hash."""

    path: Path
    cells: tuple[Cell, ...]
    node: Any  # nbformat.NotebookNode, kept for writing the stripped copy
    sha256: str

    @property
    def name(self) -> str:
        return self.path.stem


def load_notebook(path: Path) -> Notebook:
    """Load and validate `path`; raise `UserError` for anything unusable."""
    if not path.exists():
        raise user_error(path, "not-found", "no such file", "check the notebook path")
    if path.is_dir():
        raise user_error(
            path,
            "is-directory",
            "is a directory, not a notebook file",
            "pass the path of an .ipynb file inside it",
        )
    raw = path.read_bytes()
    if not raw.strip():
        raise user_error(
            path,
            "empty-file",
            "the file is empty",
            "save the notebook from Jupyter again; an .ipynb file holds JSON",
        )
    text = _decode(path, raw)
    node = _parse(path, text)
    _check_kernel(path, node)
    cells = tuple(_to_cell(i, cell) for i, cell in enumerate(node.cells))
    if not cells:
        raise user_error(
            path,
            "no-cells",
            "the notebook is empty (it has no cells)",
            "add the notebook's code cells and tag them with roles, then convert",
        )
    return Notebook(path, cells, node, hashlib.sha256(raw).hexdigest())


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise user_error(
            path,
            "not-text",
            "the file is not text (binary data, not UTF-8 JSON)",
            "pass a Jupyter notebook (.ipynb); this file is not one",
        ) from None


def _parse(path: Path, text: str) -> Any:
    import nbformat
    from nbformat.validator import ValidationError

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise user_error(
            path,
            "invalid-json",
            f"the file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            "the file may be truncated or hand-edited; restore it from Jupyter or version control",
        ) from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise user_error(
            path,
            "not-a-notebook",
            "the file is JSON but not a Jupyter notebook (no `cells`)",
            "pass a Jupyter notebook (.ipynb) saved by Jupyter, VS Code or jupytext",
        )
    try:
        node = nbformat.reads(text, as_version=4)
        nbformat.validate(node)
    except (ValidationError, KeyError, TypeError, AttributeError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise user_error(
            path,
            "not-a-notebook",
            f"the file is JSON but not a valid notebook ({detail})",
            "open and re-save it in Jupyter, or run `jupyter nbconvert --to notebook` "
            "on it, to repair its structure",
        ) from None
    return node


def _check_kernel(path: Path, node: Any) -> None:
    metadata = node.get("metadata", {})
    language = (
        metadata.get("language_info", {}).get("name")
        or metadata.get("kernelspec", {}).get("language")
        or "python"
    )
    if str(language).lower() not in PYTHON_LANGUAGES:
        kernel = metadata.get("kernelspec", {}).get("name", language)
        raise user_error(
            path,
            "not-python",
            f"the notebook's kernel is `{kernel}` ({language}); nb2prod converts Python notebooks",
            "convert a notebook that runs on a Python kernel",
        )


def _to_cell(index: int, cell: Any) -> Cell:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(source)
    tags = tuple(str(t) for t in cell.get("metadata", {}).get("tags", []) or [])
    return Cell(
        index=index,
        kind=cell.get("cell_type", "code"),
        source=source,
        tags=tags,
        execution_count=cell.get("execution_count"),
    )

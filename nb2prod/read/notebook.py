"""Read a notebook file into plain cells, or say clearly why it cannot be read.

A v4 notebook is checked against nbformat's own schema without importing
nbformat (which is slow to import); anything else goes through nbformat, which
upgrades v3 notebooks and repairs what it can. Each way that can fail becomes a
`UserError` that names the file and the fix.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2prod.errors import CellRef, user_error

MAX_BYTES = 100 * 2**20  # outputs make notebooks big; past this it is not code
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
    node: Any  # the notebook as JSON (dicts), kept for writing the stripped copy
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
    try:
        status = path.stat()
    except OSError as error:
        raise user_error(
            path, "unreadable", f"cannot read it: {error.strerror}", "check the path"
        ) from None
    if not stat.S_ISREG(status.st_mode):
        raise user_error(
            path,
            "not-a-file",
            "is not a regular file (a device, pipe or socket)",
            "pass the path of a saved .ipynb file",
        )
    if status.st_size > MAX_BYTES:
        raise user_error(
            path,
            "too-large",
            f"the file is {status.st_size / 2**20:.0f} MiB; nb2prod reads notebooks up to "
            f"{MAX_BYTES // 2**20} MiB",
            "clear the outputs (`jupyter nbconvert --clear-output --inplace`) and convert again",
        )
    return loads(path.read_bytes(), path)


def loads(raw: bytes | str, path: Path) -> Notebook:
    """A notebook from its saved bytes, as if read from `path` (which need not exist).

    The server checks a notebook's unsaved content and the nbconvert exporter holds
    a node already: both are read here, under the notebook's own path, so names,
    problems and modules next to the notebook come out as for the file itself.
    """
    raw = raw.encode("utf-8") if isinstance(raw, str) else raw
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
    cells = tuple(_to_cell(i, cell) for i, cell in enumerate(node["cells"]))
    if not cells:
        raise user_error(
            path,
            "no-cells",
            "the notebook is empty (it has no cells)",
            "add the notebook's code cells and tag them with roles, then convert",
        )
    return Notebook(path, cells, node, hashlib.sha256(raw).hexdigest())


def from_node(node: Any, path: Path) -> Notebook:
    """A notebook from its JSON node (nbformat's or plain dicts), as if saved at `path`."""
    try:
        text = json.dumps(node, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        raise user_error(
            path,
            "not-a-notebook",
            "the notebook content is not JSON a notebook can hold",
            "save the notebook from Jupyter and try again",
        ) from None
    return loads(text, path)


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
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise user_error(
            path,
            "invalid-json",
            f"the file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            "the file may be truncated or hand-edited; restore it from Jupyter or version control",
        ) from None
    except RecursionError:
        raise user_error(
            path,
            "invalid-json",
            "the file's JSON is nested too deeply to be a notebook",
            "pass a Jupyter notebook (.ipynb) saved by Jupyter, VS Code or jupytext",
        ) from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise user_error(
            path,
            "not-a-notebook",
            "the file is JSON but not a Jupyter notebook (no `cells`)",
            "pass a Jupyter notebook (.ipynb) saved by Jupyter, VS Code or jupytext",
        )
    if _valid_v4(data):
        return data
    return _parse_with_nbformat(path, text)


def _valid_v4(data: dict[str, Any]) -> bool:
    """A v4 notebook that its own schema accepts, checked without importing nbformat.

    `import nbformat` costs seconds where Jupyter Server is installed (jsonschema's
    format checkers); `check` runs from the panel and pre-commit and must answer at
    once. Anything else (v3, a notebook nbformat would repair) takes nbformat's path.
    """
    if data.get("nbformat") != 4 or not isinstance(data.get("nbformat_minor"), int):
        return False
    validate = _v4_validator(min(data["nbformat_minor"], 5))
    if validate is None:
        return False
    try:
        validate(data)
    except Exception:  # noqa: BLE001 - any refusal means: let nbformat decide
        return False
    return True


@functools.cache
def _v4_validator(minor: int) -> Any:
    """fastjsonschema (an nbformat dependency) compiled from nbformat's own schema file."""
    try:
        import fastjsonschema

        spec = importlib.util.find_spec("nbformat")  # finds the package without running it
        folder = Path(spec.submodule_search_locations[0]) / "v4"  # type: ignore[union-attr,index]
        schema = json.loads((folder / f"nbformat.v4.{minor}.schema.json").read_text())
        return fastjsonschema.compile(schema)
    except (ImportError, OSError, ValueError, TypeError, AttributeError):
        return None


def _parse_with_nbformat(path: Path, text: str) -> Any:
    """nbformat's reading: upgrades v3 and v4.0-4.4, repairs what it can."""
    import nbformat
    from nbformat.validator import ValidationError

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

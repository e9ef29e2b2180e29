"""What later stages need of the source notebook, as plain frozen data.

A plan is read by render, check, convert and verify, pickled to jobs and compared; so
it keeps the notebook's path, hash and cells, and the copy the project gets (without
outputs) as plain JSON, never the loaded node nor anything parsed from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2prod.errors import CellRef
from nb2prod.read.notebook import Cell, Notebook


@dataclass(frozen=True)
class NotebookSource:
    """The source notebook: where it is, its hash, its cells, its copy without outputs."""

    path: Path
    sha256: str
    cells: tuple[Cell, ...]
    stripped: dict[str, Any]
    """The notebook as plain JSON without outputs, execution counts or timings: the copy
    written into the project."""

    @property
    def name(self) -> str:
        return self.path.stem

    def cell_ref(self, index: int, line: int | None = None) -> CellRef:
        return self.cells[index].ref(line)


def source_of(notebook: Notebook) -> NotebookSource:
    """The plan's record of `notebook`."""
    return NotebookSource(notebook.path, notebook.sha256, notebook.cells, _stripped(notebook.node))


CELL_RUN_METADATA = ("execution", "trusted")
"""Cell metadata of a run, not of the notebook."""
TRANSIENT_METADATA = ("orig_nbformat", "orig_nbformat_minor", "signature")
"""Notebook metadata nbformat never writes to a file."""


def _stripped(node: Any) -> dict[str, Any]:
    """A plain copy of `node` as the project keeps it: code cells lose their outputs and
    execution counts, every cell its `execution` timings and `trusted` flag, the notebook
    the metadata nbformat never writes to a file. Outputs are dropped before copying,
    since they are most of a notebook's bytes."""
    cells = []
    for cell in node.get("cells", []):
        copy = dict(cell)
        if "metadata" in cell:
            copy["metadata"] = {
                k: v for k, v in cell["metadata"].items() if k not in CELL_RUN_METADATA
            }
        if cell.get("cell_type") == "code":
            copy.update(outputs=[], execution_count=None)
        cells.append(copy)
    metadata = {k: v for k, v in node.get("metadata", {}).items() if k not in TRANSIENT_METADATA}
    stripped = {**node, "metadata": metadata, "cells": cells}
    plain: dict[str, Any] = json.loads(json.dumps(stripped, ensure_ascii=False))
    return plain

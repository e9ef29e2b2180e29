"""Shared fixtures and paths for nb2prod's tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
EXAMPLE_NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def run_cli(
    *args: str, cwd: Path | None = None, timeout: int = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m nb2prod ARGS` as a user would, without colours."""
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "nb2prod", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def cli():
    return run_cli


def make_notebook(path: Path, cells: list[tuple[str, list[str]] | str], **metadata: object) -> Path:
    """Write a small v4 notebook; a cell is source or (source, tags); '#md ' marks markdown."""
    import nbformat

    node = nbformat.v4.new_notebook()
    node.metadata.update(
        {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            **metadata,
        }
    )
    for cell in cells:
        source, tags = (cell, []) if isinstance(cell, str) else cell
        if source.startswith("#md "):
            node.cells.append(nbformat.v4.new_markdown_cell(source[4:]))
        else:
            node.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": tags}))
    nbformat.write(node, path)
    return path

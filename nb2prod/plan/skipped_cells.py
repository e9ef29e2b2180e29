"""Cells tagged `skip`, as the notebook runs beside the generated pipeline.

Both `nb2prod verify` and the project's own papermill test run the whole notebook, skipped
cells included: a skipped cell that changes the data then shows up as a difference. But a
skipped cell may fail there (a download, a plot that needs a package the project does not
list) without failing the run, and must not change the environment the run is in, so its
install lines (`!pip install ...`, a `%%bash` cell) become comments. One rule for both.
"""

from __future__ import annotations

import re

from nb2prod.plan.build import Plan
from nb2prod.read.roles import SKIP

ALLOWED_TO_FAIL = "raises-exception"
"""The cell tag nbclient (and so papermill) reads: an error there does not stop the run."""
INSTALL_LINE = re.compile(r"^(\s*)([!%]\s*(pip|conda|mamba|apt(-get)?|brew)\b.*)$", re.M)
SHELL_CELLS = ("%%bash", "%%sh", "%%script", "%%system")


def skipped_cells(plan: Plan) -> list[int]:
    """The notebook's cells tagged skip, by index."""
    return sorted(index for index, role in plan.cell_roles.items() if role == SKIP)


def without_installs(source: str) -> str:
    """A skipped cell's `!pip install ...` lines as comments (`pass` keeps a block valid), a
    shell cell all commented out: the project lists what it needs."""
    if source.lstrip().startswith(SHELL_CELLS):
        return "# not run by nb2prod verify (a shell cell):\n" + "".join(
            f"# {line}\n" for line in source.splitlines()
        )
    return INSTALL_LINE.sub(r"\1pass  # not run by nb2prod verify: \2", source)


def rewritten_skipped_cells(plan: Plan) -> dict[int, str]:
    """The skipped cells whose source `without_installs` changes, as they run."""
    sources = {cell.index: cell.source for cell in plan.source.cells}
    return {
        index: changed
        for index in skipped_cells(plan)
        if (changed := without_installs(sources.get(index, ""))) != sources.get(index, "")
    }

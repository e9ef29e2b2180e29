"""render.stripped_notebook: the project's copy of the notebook, written as nbformat would.

nb2prod writes it without importing nbformat (seconds where Jupyter Server is installed),
so it is compared here, byte for byte, with nbformat's own writer.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat
import pytest

from nb2prod.generate.render import stripped_notebook
from nb2prod.plan.build import build_plan
from nb2prod.read.notebook import load_notebook, loads
from tests.conftest import ROOT

EXAMPLES = sorted((ROOT / "examples").glob("*.ipynb"))

TRICKY = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {
        "orig_nbformat": 3,
        "signature": "x",
        "kernelspec": {"name": "python3", "display_name": "Python 3"},
    },
    "cells": [
        {
            "cell_type": "markdown",
            "id": "m",
            "metadata": {"trusted": True},
            "source": ["Größe ", "in cm\n", "und ✓"],
            "attachments": {"a.png": {"image/png": "iVBOR", "text/plain": ["line 1\n", "line 2"]}},
        },
        {
            "cell_type": "code",
            "id": "c",
            "metadata": {"tags": ["nb2prod:load"], "execution": {"iopub.status.busy": "t"}},
            "execution_count": 3,
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "hi\n"}],
            "source": "x = 1\r\ny = 'é'\n\nz = 3",
        },
        {"cell_type": "raw", "id": "r", "metadata": {}, "source": ""},
    ],
}


def expected(source: dict) -> bytes:  # type: ignore[type-arg]
    """What nbformat writes for the notebook the plan keeps (outputs already dropped)."""
    return (nbformat.writes(nbformat.from_dict(copy.deepcopy(source))) + "\n").encode()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_copy_is_what_nbformat_writes(path: Path) -> None:
    plan = build_plan(load_notebook(path))
    assert stripped_notebook(plan) == expected(plan.source.stripped)


def test_odd_line_splits_transient_metadata_and_attachments_as_nbformat_writes() -> None:
    plan = build_plan(loads(json.dumps(TRICKY), Path("tricky.ipynb")))
    written = stripped_notebook(plan)
    assert written == expected(plan.source.stripped)
    copy_ = json.loads(written)
    assert "signature" not in copy_["metadata"] and copy_["cells"][1]["outputs"] == []

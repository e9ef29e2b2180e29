"""Small v4 notebooks for unit tests, written as plain JSON.

`tests.conftest.make_notebook` goes through nbformat, whose import alone takes
seconds; nb2prod reads v4 notebooks without it, so these tests do too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Cells = list[tuple[str, list[str]] | str]
"""A cell is its source, or (source, tags)."""

REGRESSION: Cells = [
    ("n = 3\nrate = 0.5\nflag = True\nname = 'x'\nsizes = [1, 2]\nlabel = None", ["parameters"]),
    (
        "import numpy as np\nX = np.arange(12.0).reshape(6, 2) * rate\ny = X.sum(axis=1)",
        ["nb2prod:load"],
    ),
    (
        "from sklearn.linear_model import LinearRegression\nmodel = LinearRegression().fit(X, y)",
        ["nb2prod:train"],
    ),
    ("score = float(model.score(X, y))", ["nb2prod:evaluate"]),
    ("predictions = model.predict(X[:2])", ["nb2prod:predict"]),
]
"""A notebook of every role with parameters of each type; nothing here runs it."""


def notebook_node(cells: Cells) -> dict[str, Any]:
    """The notebook's JSON: code cells with their tags, in order."""
    code = []
    for index, cell in enumerate(cells):
        source, tags = (cell, []) if isinstance(cell, str) else cell
        code.append(
            {
                "cell_type": "code",
                "id": f"cell-{index}",
                "metadata": {"tags": tags},
                "source": source,
                "outputs": [],
                "execution_count": None,
            }
        )
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": code,
    }


def write_notebook(path: Path, cells: Cells) -> Path:
    path.write_text(json.dumps(notebook_node(cells), indent=1))
    return path

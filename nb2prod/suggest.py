"""Suggested roles for cells that declare none, from what their code calls."""

from __future__ import annotations

import re

from nb2prod.notebook import Cell

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "skip",
        re.compile(r"\b(plt|sns|px|alt)\.|\.plot\(|\.hist\(|^\s*display\(|\.head\(\)\s*$", re.M),
    ),
    ("evaluate", re.compile(r"\b\w+_(score|error)\(|classification_report\(|confusion_matrix\(")),
    ("predict", re.compile(r"\.predict(_proba)?\(")),
    ("train", re.compile(r"\.fit\(|\.partial_fit\(")),
    (
        "load",
        re.compile(
            r"\bread_(csv|parquet|json|excel|sql|table|feather)\(|\bload_\w+\(|\bfetch_\w+\("
        ),
    ),
    (
        "preprocess",
        re.compile(r"train_test_split\(|\.fillna\(|\.dropna\(|get_dummies\(|\.astype\(|\.drop\("),
    ),
)
_PARAMETERS = re.compile(
    r"^\s*[A-Za-z_]\w*\s*=\s*(-?[\d.]+|'[^']*'|\"[^\"]*\"|True|False|None)\s*(#.*)?$"
)


def suggest_role(cell: Cell) -> str | None:
    """The role the cell's code most looks like, or None when nothing stands out."""
    lines = [
        line
        for line in cell.source.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if lines and all(_PARAMETERS.match(line) for line in lines):
        return "parameters"
    for role, pattern in _RULES:
        if pattern.search(cell.source):
            return role
    return None

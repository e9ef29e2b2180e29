"""doctor_print.py: the doctor's screen, one mark, name and fact per line, fixes below.

The data comes from doctor.py; this is only how it reads on a terminal.
"""

from __future__ import annotations

import io
from pathlib import Path

from nb2prod.commands.doctor import Check, Diagnosis, ImportFact
from nb2prod.frontends.console import Style
from nb2prod.frontends.doctor_print import print_diagnosis


def screen(diagnosis: Diagnosis) -> list[str]:
    """The printed lines, without colours."""
    out = io.StringIO()
    print_diagnosis(diagnosis, Style(False), out)
    return out.getvalue().splitlines()


def test_a_ready_environment_says_so_and_lists_optional_gaps() -> None:
    """Missing optional parts are named on the summary line, not as failures."""
    lines = screen(
        Diagnosis(
            (
                Check("python", "ok", "3.11", core=True),
                Check("bentoml", "missing", "not installed", fix="pip install bentoml"),
            )
        )
    )
    assert lines[0].endswith(" doctor")
    assert lines[1] == "  ok       python   3.11"
    assert lines[2] == "  missing  bentoml  not installed"
    assert lines[3].strip() == "fix: pip install bentoml"
    assert lines[-1] == "ready: check, convert and verify can run here; optional, missing: bentoml"


def test_missing_core_checks_and_imports_make_it_not_ready() -> None:
    """Imports of kept cells must resolve; those only in skip cells are notes."""
    lines = screen(
        Diagnosis(
            (Check("papermill", "missing", "not installed", core=True),),
            Path("nb.ipynb"),
            (
                ImportFact("sklearn", "ok", "", (1,), True, "scikit-learn", "1.5"),
                ImportFact("xgboost", "missing", "not installed", (2, 3), True, fix="pip install"),
                ImportFact("seaborn", "missing", "not installed", (4,), False),
            ),
        )
    )
    text = "\n".join(lines)
    assert "nb.ipynb: 3 imported module(s)" in text
    assert "scikit-learn 1.5" in text and "cell 1" in text and "cells 2, 3" in text
    assert "only in skip cells" in text
    assert any(line.startswith("  note") and "seaborn" in line for line in lines)
    assert lines[-1] == (
        "not ready: missing papermill; the notebook's imports xgboost do not resolve"
    )

"""One `convert` renders the project once and analyses the notebook once.

The probe needs only the package's modules, and the plan after the probe differs from
the first only where the measured metrics decide; so neither the full render
(templates, requirements, ruff) nor the analysis (roles, every section's name flow,
rewrites, hazards) needs to run twice. The real functions run, wrapped to be counted.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import nb2prod.commands.convert as convert_module
import nb2prod.plan.build as build_module
from nb2prod.commands.convert import convert
from nb2prod.plan.build import analyse_notebook
from nb2prod.read.notebook import load_notebook
from tests.conftest import EXAMPLES


def count_calls(
    monkeypatch: pytest.MonkeyPatch, calls: Counter[str], module: Any, name: str
) -> None:
    """Replace `module.name` with a wrapper that counts its calls and calls it."""
    real: Callable[..., Any] = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Calls of the full render, as convert sees it, and of the analysis: every analysis
    starts by reading the notebook's roles (plan/build.py)."""
    counted: Counter[str] = Counter()
    count_calls(monkeypatch, counted, convert_module, "render_project")
    count_calls(monkeypatch, counted, build_module, "read_roles")
    return counted


def test_a_convert_that_runs_the_pipeline_renders_and_analyses_once(
    calls: Counter[str], tmp_path: Path
) -> None:
    conversion = convert(EXAMPLES / "wine_classifier.ipynb", tmp_path / "out", run_pipeline=True)
    assert conversion.report.written
    assert calls == {"render_project": 1, "read_roles": 1}


def test_a_convert_again_reuses_its_probe_and_still_analyses_once(
    calls: Counter[str], tmp_path: Path
) -> None:
    """Converting again reuses the recorded probe: no probe, yet the metrics it measured
    still narrow the plan, from the same analysis."""
    notebook, output = EXAMPLES / "wine_classifier.ipynb", tmp_path / "out"
    convert(notebook, output, run_pipeline=True)
    calls.clear()
    convert(notebook, output, run_pipeline=True, force=True)
    assert calls == {"render_project": 1, "read_roles": 1}


def test_an_analysis_made_before_is_converted_from(calls: Counter[str], tmp_path: Path) -> None:
    """The server analyses a notebook as it accepts a convert job: the job reuses that."""
    notebook = EXAMPLES / "wine_classifier.ipynb"
    earlier = analyse_notebook(load_notebook(notebook))
    calls.clear()
    convert(notebook, tmp_path / "out", run_pipeline=False, analysis=earlier)
    assert calls == {"render_project": 1}


def test_an_analysis_of_an_older_save_is_not_converted_from(
    calls: Counter[str], tmp_path: Path
) -> None:
    """A job may wait while the notebook is edited and saved again: the analysis made as
    it was accepted no longer holds, so the file is analysed again."""
    notebook = tmp_path / "wine.ipynb"
    shutil.copy(EXAMPLES / "wine_classifier.ipynb", notebook)
    earlier = analyse_notebook(load_notebook(notebook))
    notebook.write_text(notebook.read_text().replace("n_estimators = 50", "n_estimators = 60"))
    calls.clear()
    conversion = convert(notebook, tmp_path / "out", run_pipeline=False, analysis=earlier)
    assert calls == {"render_project": 1, "read_roles": 1}
    defaults = {p.name: p.default for p in conversion.plan.parameters}
    assert defaults["n_estimators"] == 60

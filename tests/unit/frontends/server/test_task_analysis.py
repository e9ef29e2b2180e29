"""server/tasks.py: the analysis a convert job was accepted with travels to its worker.

The handler analyses the notebook to answer what blocks it; the job converts from that
analysis rather than analysing again, so it must arrive as it left, and anything that
cannot make the trip must only cost the job its own analysis.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from nb2prod import __version__
from nb2prod.commands.check import report_of
from nb2prod.frontends.server.tasks import pack_analysis, unpack_analysis
from nb2prod.plan.build import analyse_notebook, plan_from
from nb2prod.read.notebook import load_notebook
from tests.conftest import EXAMPLE_NOTEBOOKS, make_notebook


def test_an_analysis_arrives_as_it_left() -> None:
    for notebook in EXAMPLE_NOTEBOOKS:
        analysis = analyse_notebook(load_notebook(notebook))
        arrived = unpack_analysis(pack_analysis(analysis))
        assert arrived is not None, notebook
        assert report_of(plan_from(arrived)) == report_of(plan_from(analysis)), notebook


def test_an_analysis_too_deep_to_pickle_stays_behind(tmp_path: Path) -> None:
    """Pickle's recursion limit comes before the analysis's: 500 terms in a row."""
    deep = " + ".join(["1"] * 500)
    notebook = make_notebook(tmp_path / "deep.ipynb", [(f"x = {deep}", ["nb2prod:load"])])
    assert pack_analysis(analyse_notebook(load_notebook(notebook))) is None


def test_what_this_nb2prod_cannot_use_is_none() -> None:
    analysis = analyse_notebook(load_notebook(EXAMPLE_NOTEBOOKS[0]))
    assert unpack_analysis(None) is None
    assert unpack_analysis(b"not a pickle") is None
    assert unpack_analysis(pickle.dumps((__version__, {"not": "an analysis"}))) is None
    assert unpack_analysis(pickle.dumps(("0.0.0-another", analysis))) is None

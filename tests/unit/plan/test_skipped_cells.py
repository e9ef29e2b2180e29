"""skipped_cells.py: how cells tagged skip run beside the pipeline (verify and the project's
papermill test): allowed to fail, installing nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from nb2prod.plan.build import build_plan
from nb2prod.plan.skipped_cells import rewritten_skipped_cells, skipped_cells, without_installs
from nb2prod.read.notebook import load_notebook
from tests.conftest import make_notebook


@pytest.mark.parametrize(
    ("source", "run"),
    [
        ("!pip install xgboost", "pass  # not run by nb2prod verify: !pip install xgboost"),
        ("%pip install -q a b", "pass  # not run by nb2prod verify: %pip install -q a b"),
        (
            "if True:\n    !apt-get install -y x",
            "if True:\n    pass  # not run by nb2prod verify: !apt-get install -y x",
        ),
        ("! conda install y\nx = 1", "pass  # not run by nb2prod verify: ! conda install y\nx = 1"),
        ("!ls data\nimport pip", "!ls data\nimport pip"),
    ],
)
def test_a_skipped_cell_installs_nothing(source: str, run: str) -> None:
    """The project lists what it needs; verify must not change the environment it checks."""
    assert without_installs(source) == run


def test_a_skipped_shell_cell_does_not_run_at_all() -> None:
    assert without_installs("%%bash\napt-get install -y x\n") == (
        "# not run by nb2prod verify (a shell cell):\n# %%bash\n# apt-get install -y x\n"
    )


def test_the_skipped_cells_and_those_that_run_rewritten(tmp_path: Path) -> None:
    """Both the tag and the directive mark a cell skipped; only cells with installs change."""
    notebook = make_notebook(
        tmp_path / "nb.ipynb",
        [
            ("import pandas as pd\nX = [[0.0], [1.0]]\ny = [0, 1]", ["nb2prod:load"]),
            ("!pip install seaborn\nimport seaborn", ["skip"]),
            ("from sklearn.tree import DecisionTreeClassifier\n"
             "model = DecisionTreeClassifier().fit(X, y)", ["nb2prod:train"]),
            "# nb2prod: skip\npd.DataFrame(X).plot()",
        ],
    )  # fmt: skip
    plan = build_plan(load_notebook(notebook))
    assert skipped_cells(plan) == [1, 3]
    assert rewritten_skipped_cells(plan) == {
        1: "pass  # not run by nb2prod verify: !pip install seaborn\nimport seaborn"
    }

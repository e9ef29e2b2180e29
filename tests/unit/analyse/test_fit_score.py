"""fit_score.py: a training score for notebooks that compute no metric.

Only a scikit-learn-API estimator fitted by a plain `model.fit(X, y)` gets the
added `training_score = model.score(X, y)` step; anything else gets none.
"""

from __future__ import annotations

import pytest

from nb2prod.analyse.fit_score import SCORE_NAME, SCORE_TITLE, fit_score_section
from nb2prod.analyse.sections import SectionCode
from nb2prod.read.roles import EVALUATE
from tests.unit.analyse.sections import analysed

SETUP = "from sklearn.tree import DecisionTreeClassifier\nimport sklearn.linear_model as lm"


def sections(train: str) -> list[SectionCode]:
    """A setup section importing estimators and a train section (cell 2) of `train`."""
    setup, _ = analysed("setup", SETUP)
    trained, _ = analysed("train", train, first_index=2)
    return [setup, trained]


def test_a_fitted_estimator_gets_a_score_step_after_training() -> None:
    """The step scores on the arguments of the model's fit, in the last train cell."""
    code = fit_score_section(
        sections("tree_clf = DecisionTreeClassifier()\ntree_clf.fit(X_iris, y_iris)"),
        "tree_clf",
        set(),
    )
    assert code is not None
    assert (code.section.role.name, code.section.title) == (EVALUATE, SCORE_TITLE)
    assert [c.text for c in code.body] == [f"{SCORE_NAME} = tree_clf.score(X_iris, y_iris)"]
    assert code.section.cells[0].index == 2
    assert list(code.needs) == ["tree_clf", "X_iris", "y_iris"]


def test_an_estimator_from_an_imported_module_counts() -> None:
    """`lm.Ridge()` with `import sklearn.linear_model as lm` is an estimator too."""
    code = fit_score_section(sections("m = lm.Ridge()\nm.fit(X, y)"), "m", set())
    assert code is not None
    assert [c.text for c in code.body] == [f"{SCORE_NAME} = m.score(X, y)"]


@pytest.mark.parametrize(
    "train",
    [
        "m = Custom()\nm.fit(X, y)",  # not a scikit-learn-API estimator
        "m = DecisionTreeClassifier()\nm.fit(X, y, sample_weight=w)",  # keywords
        "m = DecisionTreeClassifier()\nm.fit(df[cols], y)",  # not plain names
        "m = DecisionTreeClassifier()",  # never fitted
    ],
)
def test_anything_else_gets_no_score_step(train: str) -> None:
    """Scoring must rerun exactly what the notebook fitted on, or not at all."""
    assert fit_score_section(sections(train), "m", set()) is None


def test_no_model_or_a_taken_name_gets_no_score_step() -> None:
    """Without a model, or when the notebook already uses `training_score`, add nothing."""
    codes = sections("m = DecisionTreeClassifier()\nm.fit(X, y)")
    assert fit_score_section(codes, None, set()) is None
    assert fit_score_section(codes, "m", {SCORE_NAME}) is None

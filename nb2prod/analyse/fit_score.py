"""A metric for a notebook that computes none: its model's score on the data it was
fitted on.

Textbook notebooks often fit a scikit-learn model and show one prediction:

    tree_clf.fit(X_iris, y_iris)
    ...
    tree_clf.predict([[5, 1.5]])

verify would then compare a single row. When no section computes a metric and the
model is a scikit-learn estimator fitted by a plain `model.fit(X, y)`, nb2prod adds
one evaluate step, `training_score = model.score(X, y)`: the generated code runs it
after training, verify runs the same line in its copy of the notebook, and the two
scores compare the fitted models on every training row. The step says in its
docstring that nb2prod added it.
"""

from __future__ import annotations

import ast

from nb2prod.analyse.names import root_name
from nb2prod.analyse.sections import SectionCode, analyse_section
from nb2prod.read.notebook import Cell
from nb2prod.read.roles import EVALUATE, TRAIN, Role, Section

SCORE_NAME = "training_score"
SCORE_FUNCTION = "score_model"
SCORE_TITLE = "Score the model on the data it was fitted on (the notebook computes no metric)"
ESTIMATOR_MODULES = ("sklearn", "imblearn", "xgboost", "lightgbm", "catboost")
"""Packages whose models follow scikit-learn's API: `fit(X, y)` and `score(X, y)`."""


def fit_score_section(
    codes: list[SectionCode], model: str | None, taken: set[str]
) -> SectionCode | None:
    """The evaluate section nb2prod adds after the last train section (scoring on the
    arguments of the model's last fit), or None when the model is not a scikit-learn
    estimator fitted by `model.fit(name, name)`."""
    if model is None or SCORE_NAME in taken:
        return None
    estimators = _estimator_names(codes)
    built = False
    fit: list[str] | None = None
    for code in codes:
        if code.section.role.name != TRAIN:
            continue
        for chunk in code.body:
            for node in chunk.nodes:
                built = built or _builds(node, model, estimators)
                arguments = _fit_arguments(node, model)
                if arguments is not None:
                    fit = arguments
    if not built or fit is None:
        return None
    last_cell = max(c.cell.index for code in codes if code.section.role.name == TRAIN
                    for c in code.body)  # fmt: skip
    line = f"{SCORE_NAME} = {model}.score({', '.join(fit)})"
    section = Section(Role(EVALUATE), [Cell(last_cell, "code", line, (), None)], SCORE_TITLE)
    return analyse_section(section, [])


def _estimator_names(codes: list[SectionCode]) -> set[str]:
    """Names bound by imports from scikit-learn-API packages."""
    names: set[str] = set()
    for code in codes:
        for chunk in code.of_kind("import"):
            for node in chunk.nodes:
                if isinstance(node, ast.ImportFrom) and _estimator_module(node.module or ""):
                    names |= {alias.asname or alias.name for alias in node.names}
                elif isinstance(node, ast.Import):
                    names |= {
                        alias.asname or alias.name.split(".")[0]
                        for alias in node.names
                        if _estimator_module(alias.name)
                    }
    return names


def _estimator_module(module: str) -> bool:
    return module.split(".")[0] in ESTIMATOR_MODULES


def _builds(node: ast.stmt, model: str, estimators: set[str]) -> bool:
    """`model = Estimator(...)` (or `module.Estimator(...)`) with an imported estimator."""
    if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Call):
        return False
    if not any(isinstance(t, ast.Name) and t.id == model for t in node.targets):
        return False
    root = root_name(node.value.func)
    return root is not None and root.id in estimators


def _fit_arguments(node: ast.stmt, model: str) -> list[str] | None:
    """`model.fit(X, y)` at the top level, with names as its arguments."""
    value = node.value if isinstance(node, (ast.Expr, ast.Assign)) else None
    if not isinstance(value, ast.Call) or value.keywords or len(value.args) not in {1, 2}:
        return None
    func = value.func
    if not (
        isinstance(func, ast.Attribute)
        and func.attr == "fit"
        and isinstance(func.value, ast.Name)
        and func.value.id == model
    ):
        return None
    if not all(isinstance(argument, ast.Name) for argument in value.args):
        return None
    return [argument.id for argument in value.args if isinstance(argument, ast.Name)]

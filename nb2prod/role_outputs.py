"""What each role must hand on, beyond what later cells read.

`train` hands on the fitted model, `evaluate` its metrics (written to
`metrics.json`), `predict` its predictions. These are found from the code:
the object `.fit()` is called on, names assigned from `*_score(...)`-style
calls or a `metrics = {...}` dict, names assigned from `.predict(...)`.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from nb2prod.analysis import SectionCode
from nb2prod.names import root_name

METRIC_WORDS = re.compile(
    r"(^|_)(acc|accuracy|f1|precision|recall|auc|roc|r2|rmse|mse|mae|mape|loss|score|error|"
    r"logloss|brier|kappa|mcc|balanced|gini|ndcg|map|iou|dice|bleu|rouge|perplexity)(_|$|\d)"
)
METRIC_CALLS = re.compile(r"(_score|_error|_loss|^score|^accuracy|^r2|^sqrt|^float|^round)$")
ESTIMATOR_CALLS = re.compile(r"(Classifier|Regressor|Regression|Pipeline|Model|Estimator|SVC|SVR)$")


@dataclass(frozen=True)
class Metrics:
    """Where the evaluate section's metrics are: scalar names, or one dict's keys."""

    names: tuple[str, ...]
    dict_name: str | None = None  # set when the section builds `metrics = {...}`


def find_model(code: SectionCode) -> str | None:
    """The name holding the fitted model in a `train` section."""
    fitted: list[str] = []
    constructed: list[str] = []
    for chunk in code.body:
        for node in chunk.nodes:
            for sub in ast.walk(node):
                if (
                    isinstance(sub, ast.Call)
                    and isinstance(sub.func, ast.Attribute)
                    and sub.func.attr in {"fit", "partial_fit"}
                ):
                    root = root_name(sub.func.value)
                    if root is not None:
                        fitted.append(root.id)
                if isinstance(sub, ast.Assign) and isinstance(sub.value, ast.Call):
                    name = _called_name(sub.value)
                    for target in sub.targets:
                        if isinstance(target, ast.Name) and (
                            ESTIMATOR_CALLS.search(name) or name in {"fit", "partial_fit"}
                        ):
                            constructed.append(target.id)
    candidates = fitted + constructed
    if "model" in code.binds:
        return "model"
    return candidates[-1] if candidates else None


def find_metrics(code: SectionCode) -> Metrics:
    """Metric names of an `evaluate` section (see module docstring)."""
    scalars: list[str] = []
    for chunk in code.body:
        for node in chunk.nodes:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name) and isinstance(node.value, ast.Dict):
                    keys = [k.value for k in node.value.keys if isinstance(k, ast.Constant)]
                    if (
                        keys
                        and all(isinstance(k, str) for k in keys)
                        and (target.id == "metrics" or METRIC_WORDS.search(target.id))
                    ):
                        return Metrics(tuple(str(k) for k in keys), dict_name=target.id)
                if isinstance(target, ast.Name) and _looks_like_metric(target.id, node.value):
                    scalars.append(target.id)
            printed = _printed_name(node)  # Kale's pipeline-metrics: `print(accuracy)`
            if printed and printed not in scalars and printed in code.binds + list(code.needs):
                scalars.append(printed)
    return Metrics(tuple(dict.fromkeys(scalars)))


def find_predictions(code: SectionCode) -> list[str]:
    """Names a `predict` section assigns its predictions to."""
    names: list[str] = []
    last: str | None = None
    for chunk in code.body:
        for node in chunk.nodes:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        last = target.id
                        if any(
                            isinstance(s, ast.Call) and "predict" in _called_name(s)
                            for s in ast.walk(node.value)
                        ):
                            names.append(target.id)
    return names or ([last] if last else [])


def _looks_like_metric(name: str, value: ast.expr) -> bool:
    if isinstance(value, ast.Call):
        return bool(METRIC_CALLS.search(_called_name(value)) or METRIC_WORDS.search(name))
    if isinstance(value, (ast.BinOp, ast.UnaryOp)):
        return bool(METRIC_WORDS.search(name))
    return False


def _called_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _printed_name(node: ast.stmt) -> str | None:
    if (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "print"
        and len(node.value.args) == 1
        and isinstance(node.value.args[0], ast.Name)
    ):
        return node.value.args[0].id
    return None

"""What each role must hand on, beyond what later cells read.

- **The model** is the object the predict section predicts with
  (`m.predict(...)`, `m.predict_proba(...)`, `res.predict(...)`, `m(x)` for a
  callable module), wherever an earlier section bound it (`best_model =
  models[best_name]` in evaluate). Without a predict section it is read from the
  train section: what `.fit()` was called on outside a loop, a `best_*` name, or
  a model that is built and then called. A `# nb2prod: model=NAME` line decides
  when the code cannot. The probe then checks the choice at run time.
- **Metric candidates** are every name the evaluate section binds, plus names it
  prints (Kale's `pipeline-metrics`); the probe keeps those whose values are
  numbers or dicts of numbers (see the generated `contracts.metric_values`).
- **Predictions** are names assigned from a call of the model anywhere in the
  predict section, `with torch.inference_mode():` blocks included.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from nb2prod.analyse.names import root_name
from nb2prod.analyse.sections import SectionCode

METRIC_WORDS = re.compile(
    r"(^|_)(acc|accuracy|f1|precision|recall|auc|roc|r2|rmse|mse|mae|mape|loss|score|error|"
    r"logloss|brier|kappa|mcc|balanced|gini|ndcg|map|iou|dice|bleu|rouge|perplexity|aic|bic|"
    r"llf|rsquared|deviance)(_|$|\d|s$)"
)
PREDICT_METHODS = frozenset(
    {"predict", "predict_proba", "predict_log_proba", "decision_function", "forecast",
     "get_prediction", "score_samples"}
)  # fmt: skip
FIT_METHODS = frozenset({"fit", "partial_fit", "fit_transform", "fit_predict"})
ESTIMATOR_CALLS = re.compile(
    r"(Classifier|Regressor|Regression|Pipeline|Model|Estimator|SVC|SVR|Net|Network|Module|"
    r"GLM|OLS|Logit|Probit|WLS|GLS)$"
)
STATSMODELS_MODELS = frozenset(
    {"OLS", "WLS", "GLS", "GLM", "Logit", "Probit", "MNLogit", "Poisson", "NegativeBinomial",
     "QuantReg", "RLM"}
)  # fmt: skip
BEST_NAME = re.compile(r"^best(_|$)")
MODEL_DIRECTIVE = re.compile(r"^\s*#\s*nb2prod\s*:\s*model\s*=\s*(?P<name>\S*)\s*$")


@dataclass(frozen=True)
class Metrics:
    """Where the evaluate section's metrics are.

    `sources` are names whose values are metrics (numbers) or hold them (dicts of
    numbers); `names` the metric names they give, once a run has shown them.
    """

    sources: tuple[str, ...]
    names: tuple[str, ...] = ()
    printed: tuple[tuple[str, int], ...] = ()
    """Names the evaluate section prints (Kale's `pipeline-metrics`), with their cell."""


@dataclass(frozen=True)
class ModelChoice:
    """The model's name, or why it could not be told (with the candidates seen)."""

    name: str | None
    reason: str = ""
    candidates: tuple[str, ...] = ()
    line: int | None = None


def model_directive(code: SectionCode) -> tuple[str, int, int] | None:
    """`# nb2prod: model=NAME` in one of the section's cells: (name, cell index, line)."""
    for cell in code.section.cells:
        for number, line in enumerate(cell.source.splitlines(), start=1):
            match = MODEL_DIRECTIVE.match(line)
            if match:
                return match["name"], cell.index, number
    return None


def predicting_objects(code: SectionCode, provided: set[str]) -> list[tuple[str, int]]:
    """Names from earlier sections that the section predicts with, and where.

    `m.predict(x)` and friends, and `m(x)` for a callable model (a torch module).
    """
    found: list[tuple[str, int]] = []
    for node in _body_nodes(code):
        if not isinstance(node, ast.Call):
            continue
        name: str | None = None
        if isinstance(node.func, ast.Attribute) and node.func.attr in PREDICT_METHODS:
            root = root_name(node.func.value)
            name = root.id if root is not None else None
        elif isinstance(node.func, ast.Name) and node.args:
            name = node.func.id
        if name is not None and name in provided and name in code.needs:
            found.append((name, node.lineno))
    return found


def trained_model(code: SectionCode) -> ModelChoice:
    """The model a train (or evaluate) section produces, when no predict section says.

    A `best_*` name wins; else the last object fitted outside a loop; else a
    model that is built and called (a torch module trained in a loop); else the
    last estimator built. Objects fitted only inside loops are ambiguous.
    """
    best = [n for n in code.binds if BEST_NAME.match(n) and n not in code.maybe_local]
    looped_fits: list[str] = []
    fitted: list[str] = []
    built: list[str] = []
    called: list[str] = []
    for chunk in code.body:
        for statement in chunk.nodes:
            loop_names = _loop_bound(statement)
            handled: set[int] = set()
            for node in ast.walk(statement):
                for name in _fitted_by(node, handled):
                    (looped_fits if name in loop_names else fitted).append(name)
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in built
                ):
                    called.append(node.func.id)
                if (
                    isinstance(node, ast.Assign)
                    and isinstance(node.value, ast.Call)
                    and ESTIMATOR_CALLS.search(_called_name(node.value))
                ):
                    built.extend(t.id for t in node.targets if isinstance(t, ast.Name))
    for group in (best, fitted, called):
        if group:
            return ModelChoice(group[-1])
    if looped_fits:
        return ModelChoice(
            None,
            "the train section fits models only inside a loop "
            f"({', '.join(dict.fromkeys(looped_fits))}), so which one to save is not clear",
            tuple(dict.fromkeys(looped_fits)),
        )
    if built:
        return ModelChoice(built[-1])
    return ModelChoice(None, "the train section fits no model that nb2prod can find")


def fit_inputs(code: SectionCode) -> list[str]:
    """The tables models learn from: the first argument of `.fit(X, y)`, statsmodels'
    `exog` (`sm.OLS(y, X)`), a formula's `data=`."""
    tables: list[ast.expr] = []
    for node in _body_nodes(code):
        if not isinstance(node, ast.Call):
            continue
        name = _called_name(node)
        if isinstance(node.func, ast.Attribute) and name in FIT_METHODS and node.args:
            tables.append(node.args[0])
        elif name in STATSMODELS_MODELS and len(node.args) >= 2:
            tables.append(node.args[1])
        tables += [k.value for k in node.keywords if k.arg in {"exog", "data"}]
    roots = [root_name(table) for table in tables]
    return list(dict.fromkeys(root.id for root in roots if root is not None))


def metric_candidates(code: SectionCode, parameters: set[str]) -> list[str]:
    """Names the evaluate section binds for good (not loop variables), and names it
    prints that earlier sections made (Kale's `pipeline-metrics: print(accuracy)`)."""
    loop_targets = _loop_targets(code)
    bound = [
        event.name
        for _, event in code.events
        if event.kind in {"store", "mutate"}
        and event.definite
        and event.name not in parameters | loop_targets
    ]
    printed = [name for name, _ in printed_names(code) if name in code.needs]
    return list(dict.fromkeys([*bound, *(n for n in printed if n not in parameters)]))


def training_metric_candidates(code: SectionCode, parameters: set[str]) -> list[str]:
    """Names a train section binds that are named like scores (`loss`, `test_acc`),
    loops included: with no evaluate section, the last epoch's loss is the notebook's
    metric. The probe keeps those that hold numbers (`loss_fn`, a module, is dropped)."""
    loop_targets = _loop_targets(code)
    bound = [
        event.name
        for _, event in code.events
        if event.kind == "store"
        and looks_like_metric(event.name)
        and event.name not in parameters | loop_targets
    ]
    return list(dict.fromkeys(bound))


def _loop_targets(code: SectionCode) -> set[str]:
    """Names a top-level `for` of the section binds as its loop variable."""
    return {
        name.id
        for node in _body_nodes(code)
        if isinstance(node, (ast.For, ast.AsyncFor))
        for name in ast.walk(node.target)
        if isinstance(name, ast.Name)
    }


def printed_names(code: SectionCode) -> list[tuple[str, int]]:
    """Bare names the section prints on a line of their own (`print(accuracy)`), with
    the index of their cell."""
    return [
        (name, chunk.cell.index)
        for chunk in code.body
        for node in chunk.nodes
        for name in _printed_names(node)
    ]


def looks_like_metric(name: str) -> bool:
    """Names only break ties (which metrics a smoke test compares): `accuracy`, `val_loss`."""
    return bool(METRIC_WORDS.search(name.lower()))


def find_predictions(code: SectionCode, model: str | None) -> list[str]:
    """Names the predict section assigns its predictions to (else the last name it binds)."""
    names: list[str] = []
    last: str | None = None
    for node in _body_nodes(code):
        if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            for element in _target_names(target):
                last = element
                if any(_is_prediction(s, model) for s in ast.walk(node.value)):
                    names.append(element)
    names = list(dict.fromkeys(names))
    return names or ([last] if last else [])


def _is_prediction(node: ast.AST, model: str | None) -> bool:
    if not isinstance(node, ast.Call):
        return False
    if isinstance(node.func, ast.Attribute):
        return node.func.attr in PREDICT_METHODS or "predict" in node.func.attr
    return isinstance(node.func, ast.Name) and (node.func.id == model or "predict" in node.func.id)


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for element in target.elts for n in _target_names(element)]
    return []


def _body_nodes(code: SectionCode) -> list[ast.AST]:
    """Every node of the section's body, nested blocks included, not inside definitions."""
    nodes: list[ast.AST] = []
    pending: list[ast.AST] = [n for chunk in code.body for n in chunk.nodes]
    while pending:
        node = pending.pop(0)
        nodes.append(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        pending[:0] = list(ast.iter_child_nodes(node))
    return nodes


def _fitted_by(node: ast.AST, handled: set[int]) -> list[str]:
    """What `node` fits: `m` in `m.fit(...)`; also `res` in `res = m.fit()` (statsmodels
    returns its results), after `m`, so the result counts as the later fit."""
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
        func = node.value.func
        if isinstance(func, ast.Attribute) and func.attr == "fit":
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            root = root_name(func.value)
            handled.add(id(node.value))
            return [*([root.id] if root is not None else []), *targets]
        return []
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and id(node) not in handled
    ):
        root = root_name(node.func.value)
        if node.func.attr in FIT_METHODS - {"fit_transform"} and root is not None:
            return [root.id]
    return []


def _loop_bound(statement: ast.stmt) -> set[str]:
    """Names a loop statement binds on each pass (its targets and assignments)."""
    names: set[str] = set()
    for node in ast.walk(statement):
        if isinstance(node, (ast.For, ast.AsyncFor)):
            names |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
            for inner in node.body:
                for sub in ast.walk(inner):
                    if isinstance(sub, ast.Assign):
                        names |= {
                            n.id
                            for t in sub.targets
                            for n in ast.walk(t)
                            if isinstance(n, ast.Name)
                        }
        elif isinstance(node, ast.comprehension):
            names |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    return names


def _called_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _printed_names(node: ast.stmt) -> list[str]:
    """Bare names passed to a top-level `print(...)`."""
    if (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "print"
    ):
        return [a.id for a in node.value.args if isinstance(a, ast.Name)]
    return []

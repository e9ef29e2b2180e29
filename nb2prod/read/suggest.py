"""Suggested roles for cells that declare none, from what their code calls.

Each call in the cell is named by its dotted path (`model.fit`, `pd.read_csv`,
`df.plot.scatter`) and sorted into what it does; the strongest kind wins:

1. only imports: `setup`; only literal assignments: `parameters`
2. `.fit(` / `.partial_fit(`: `train` (a cell that fits and then predicts still trains)
3. plotting (`plt.`, `sns.`, `px.`, `.plot(`, `.hist(`...): `skip`, unless the cell
   keeps data it loads (`df = pd.read_csv(...)` beside a plot is `load`); only display
   lines (`df.head()`, `display(df)`) are `skip` too, unless they show a score
4. `*_score(`, `*_error(`, `classification_report(`, `confusion_matrix(`: `evaluate`
5. `.predict(` / `.predict_proba(` without a fit: `predict`
6. `read_csv(` and the other readers, `load_*(`, `fetch_*(`: `load`
7. `train_test_split(`, `.fillna(`, `.dropna(`, `get_dummies(`...: `preprocess`

A cell that does not parse (a magic, a typo) falls back to the same kinds matched
on its text.
"""

from __future__ import annotations

import ast
import re

from nb2prod.read.notebook import Cell

PLOT_ROOTS = {"plt", "pyplot", "matplotlib", "sns", "seaborn", "px", "plotly", "go", "alt",
              "altair", "bokeh", "hv", "holoviews"}  # fmt: skip
PLOT_CALLS = {"plot", "hist", "boxplot", "scatter", "imshow", "show", "savefig", "subplots",
              "figure", "bar", "barh", "pie", "heatmap", "pairplot", "kdeplot"}  # fmt: skip
DISPLAY_CALLS = {"display", "print", "head", "tail", "describe", "info", "sample",
                 "value_counts", "len"}  # fmt: skip
FIT_CALLS = {"fit", "partial_fit"}
PREDICT_CALLS = {"predict", "predict_proba", "predict_log_proba", "decision_function"}
EVALUATE_CALLS = re.compile(r"^(\w+_(score|error)|classification_report|confusion_matrix)$")
LOAD_CALLS = re.compile(
    r"^(read_(csv|parquet|json|excel|sql|table|feather|pickle)|load_\w+|fetch_\w+)$"
)
PREPROCESS_CALLS = {"train_test_split", "fillna", "dropna", "get_dummies", "astype", "drop",
                    "fit_transform", "transform", "replace", "merge", "map"}  # fmt: skip

_TEXT_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("train", re.compile(r"\.(partial_)?fit\(")),
    ("skip", re.compile(r"\b(plt|sns|px|alt)\.|\.plot\b|\.hist\(|^\s*display\(", re.M)),
    ("evaluate", re.compile(r"\b\w+_(score|error)\(|classification_report\(|confusion_matrix\(")),
    ("predict", re.compile(r"\.predict(_proba)?\(")),
    (
        "load",
        re.compile(r"\bread_(csv|parquet|json|excel|sql|table|feather)\(|\b(load|fetch)_\w+\("),
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
    try:
        tree = ast.parse(cell.source)
    except (SyntaxError, RecursionError):  # RecursionError: nested deeper than Python parses
        return _from_text(cell.source)
    statements = [s for s in tree.body if not _is_docstring(s)]
    if statements and all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in statements):
        return "setup"
    return _from_calls(statements)


def _from_calls(statements: list[ast.stmt]) -> str | None:
    calls = [
        _dotted(node.func) for s in statements for node in ast.walk(s) if isinstance(node, ast.Call)
    ]
    names = [path[-1] for path in calls if path]
    if any(name in FIT_CALLS for name in names):
        return "train"
    if any(_is_plot(path) for path in calls) and not _keeps_loaded_data(statements):
        return "skip"
    evaluates = any(EVALUATE_CALLS.match(name) for name in names)
    predicts = any(name in PREDICT_CALLS for name in names)
    code = [s for s in statements if not isinstance(s, (ast.Import, ast.ImportFrom))]
    if code and all(_is_display(s) for s in code) and not (evaluates or predicts):
        return "skip"  # `df.head()`, `print(df.shape)`: but `print(accuracy_score(...))` evaluates
    if evaluates:
        return "evaluate"
    if predicts:
        return "predict"
    if any(LOAD_CALLS.match(name) for name in names):
        return "load"
    if any(name in PREPROCESS_CALLS for name in names):
        return "preprocess"
    return None


def _dotted(node: ast.expr) -> list[str]:
    """`df.plot.scatter` -> ["df", "plot", "scatter"]; calls in the chain keep their name."""
    parts: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Name):
            parts.append(node.id)
            break
        else:
            break
    return parts[::-1]


def _is_plot(path: list[str]) -> bool:
    if not path:
        return False
    if path[0] in PLOT_ROOTS and len(path) > 1:
        return True
    return any(part in PLOT_CALLS or part.endswith("plot") for part in path[1:])


def _is_display(statement: ast.stmt) -> bool:
    """A line that only shows a value: `df`, `df.head()`, `display(df)`, `print(x)`."""
    if not isinstance(statement, ast.Expr):
        return False
    value = statement.value
    if isinstance(value, (ast.Name, ast.Attribute, ast.Subscript, ast.Constant)):
        return True
    if isinstance(value, ast.Call):
        path = _dotted(value.func)
        return bool(path) and path[-1] in DISPLAY_CALLS
    return False


def _keeps_loaded_data(statements: list[ast.stmt]) -> bool:
    """Whether the cell binds what a loading call returns (`df = pd.read_csv(...)`)."""
    for statement in statements:
        if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            for node in ast.walk(statement.value):
                if isinstance(node, ast.Call):
                    path = _dotted(node.func)
                    if path and LOAD_CALLS.match(path[-1]):
                        return True
    return False


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _from_text(source: str) -> str | None:
    for role, pattern in _TEXT_RULES:
        if pattern.search(source):
            return role
    return None

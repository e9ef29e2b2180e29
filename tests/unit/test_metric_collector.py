"""One rule for what a metric is: `metric_values` in the generated `contracts.py`.

Four places turn values into `{name: float}`: the generated training
(`train.collect_metrics`), the probe at convert time, verify's cell in the notebook
papermill runs, and the generated papermill test's cell (the same cell: see
`plan/metrics_record.py`). All four call the project's
`contracts.metric_values` (nb2prod/generate/runtime/contracts.py), so the notebook's
side and the pipeline's side cannot disagree on which values count. These tests fail
when a fifth reader converts numbers itself or one of the four stops calling it.
"""

from __future__ import annotations

import ast
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from nb2prod.generate.runtime import contracts
from nb2prod.plan.build import build_plan
from nb2prod.plan.metrics_record import metrics_record
from nb2prod.read.notebook import load_notebook
from tests.conftest import ROOT, make_notebook

COLLECTOR = ROOT / "nb2prod" / "generate" / "runtime" / "contracts.py"
GOLDEN = ROOT / "tests" / "golden"
NUMERIC_TYPES = {"int", "float", "bool", "complex", "Real", "Number", "number", "generic"}
CONVERSIONS_IN_CODE_TEXT = ("float(", ".item()", "isinstance(")


def _converts_numbers(node: ast.AST, helpers: set[str]) -> bool:
    """`float(x)`, `x.item()`, `isinstance(x, <numeric type>)` or a call of one of the
    module's `helpers` that do, anywhere under `node`."""
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        if isinstance(call.func, ast.Name) and call.func.id in {"float", *helpers}:
            return True
        if isinstance(call.func, ast.Attribute) and call.func.attr == "item":
            return True
        if isinstance(call.func, ast.Name) and call.func.id == "isinstance" and call.args[1:]:
            named = {n.id for n in ast.walk(call.args[1]) if isinstance(n, ast.Name)}
            named |= {n.attr for n in ast.walk(call.args[1]) if isinstance(n, ast.Attribute)}
            if named & NUMERIC_TYPES:
                return True
    return False


def _number_helpers(tree: ast.AST) -> set[str]:
    """The module's functions that convert numbers, directly or through one another."""
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    helpers: set[str] = set()
    while True:
        found = {f.name for f in functions if _converts_numbers(f, helpers)}
        if found == helpers:
            return helpers
        helpers = found


def _second_collectors(tree: ast.AST) -> Iterator[str]:
    """Code that reads metrics and converts numbers itself: a function named for metrics,
    a statement that mentions them, or a code string (a notebook cell) that does."""
    helpers = _number_helpers(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if "metric" in node.name.lower() and _converts_numbers(node, helpers):
                yield f"def {node.name} (line {node.lineno})"
        elif isinstance(node, ast.stmt) and not hasattr(node, "body"):  # a simple statement
            if "metric" in ast.unparse(node).lower() and _converts_numbers(node, helpers):
                yield f"line {node.lineno}: {ast.unparse(node)[:80]}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if "metric" in text.lower() and any(c in text for c in CONVERSIONS_IN_CODE_TEXT):
                yield f"a code string (line {node.lineno}): {text[:80]!r}"


def _scanned() -> Iterator[Path]:
    """nb2prod's own modules and the golden projects (the templates as rendered), less
    `pipeline.py`: the notebook's own code may compute its metrics as it likes."""
    yield from sorted((ROOT / "nb2prod").rglob("*.py"))
    yield from sorted(p for p in GOLDEN.rglob("*.py") if p.name != "pipeline.py")


def test_metric_values_is_the_only_metric_collector() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {where}"
        for path in _scanned()
        if path != COLLECTOR
        for where in _second_collectors(ast.parse(path.read_text()))
    ]
    assert found == [], "call contracts.metric_values instead of converting metrics here"
    assert list(_second_collectors(ast.parse(COLLECTOR.read_text()))), "the scan finds nothing"


def _golden_projects() -> list[Path]:
    return sorted(p for p in GOLDEN.iterdir() if (p / "nb2prod.json").exists())


def _collector_name(tree: ast.AST, package: str) -> str | None:
    """The name the module's import of `<package>.contracts.metric_values` binds."""
    return next(
        (
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == f"{package}.contracts"
            for alias in node.names
            if alias.name == "metric_values"
        ),
        None,
    )


def _imports_collector(tree: ast.AST, package: str) -> bool:
    return _collector_name(tree, package) is not None


def _calls_collector(tree: ast.AST, package: str) -> bool:
    name = _collector_name(tree, package)
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
        for node in ast.walk(tree)
    )


@pytest.mark.parametrize("project", _golden_projects(), ids=lambda p: p.name)
def test_training_and_the_papermill_test_call_the_collector(project: Path) -> None:
    package = next(p.name for p in (project / "src").iterdir() if p.is_dir())
    train = ast.parse((project / "src" / package / "train.py").read_text())
    collect = next(
        node
        for node in ast.walk(train)
        if isinstance(node, ast.FunctionDef) and node.name == "collect_metrics"
    )
    assert ast.unparse(collect.body[-1]) == "return metric_values(outputs, METRIC_SOURCES)"
    assert _imports_collector(train, package)

    test = (project / "tests" / "test_notebook_regression.py").read_text()
    record = next(
        node.value.value
        for node in ast.walk(ast.parse(test))
        if isinstance(node, ast.Assign)
        and ast.unparse(node.targets[0]) == "RECORD_METRICS"
        and isinstance(node.value, ast.Constant)
    )
    cell = ast.parse(record.replace("<src>", "'src'").replace("<record-path>", "'r.json'"))
    assert _imports_collector(cell, package) and _calls_collector(cell, package)
    assert f"from {package}.train import collect_metrics" in test  # the pipeline's side


def test_the_probe_reads_metrics_with_the_projects_collector() -> None:
    probe = ast.parse((ROOT / "nb2prod" / "run" / "probe.py").read_text())
    calls = [
        ast.unparse(node.func)
        for node in ast.walk(probe)
        if isinstance(node, ast.Call) and "metric" in ast.unparse(node.func).lower()
    ]
    assert "contracts.metric_values" in calls
    assert set(calls) <= {"contracts.metric_values", "MetricValues"}, calls


def test_verify_records_the_notebooks_metrics_with_the_projects_collector(
    tmp_path: Path,
) -> None:
    """The cell verify (and the papermill test) inserts after the evaluate section imports
    `metric_values` from the project's own `src/` and records exactly what it returns."""
    notebook = make_notebook(
        tmp_path / "collector_check.ipynb",
        [
            ("rows = list(range(10))", ["nb2prod:load"]),
            (
                "report = {'f1': sum(rows) / 100, 'flag': True}\nmse = len(rows) / 4",
                ["nb2prod:evaluate"],
            ),
        ],
    )
    plan = build_plan(load_notebook(notebook))
    src = tmp_path / "src"
    (src / plan.package).mkdir(parents=True)
    (src / plan.package / "__init__.py").write_text("")
    shutil.copy(COLLECTOR, src / plan.package / "contracts.py")
    record = metrics_record(plan)
    assert record is not None
    cell = record.code(str(src), str(tmp_path / "metrics.json"))
    assert _calls_collector(ast.parse(cell), plan.package)
    values = {"report": {"f1": np.float64(0.45), "flag": True}, "mse": np.float32(2.5)}
    namespace = dict(values)
    assert plan.package not in sys.modules  # the cell imports this test's copy
    try:
        exec(compile(cell, "verify-cell", "exec"), namespace)  # as the kernel runs it
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] == plan.package]:
            del sys.modules[name]
    sources = list(plan.metrics.sources)
    assert sorted(sources) == ["mse", "report"]
    recorded = json.loads((tmp_path / "metrics.json").read_text())
    assert recorded == contracts.metric_values(values, sources) == {"f1": 0.45, "mse": 2.5}
    assert str(src) not in sys.path  # the cell leaves the kernel's path as it was

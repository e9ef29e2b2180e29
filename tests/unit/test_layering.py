"""nb2prod's modules form a pipeline: a stage imports only from itself and earlier stages.

read -> analyse -> plan -> generate -> run -> commands -> front ends, with errors and
the small helpers every stage uses underneath. A new module must be placed in a stage
here, so the order stays a decision, not an accident. Imports inside functions count
too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

STAGES: list[tuple[str, set[str]]] = [
    ("base", {"nb2prod", "errors", "confine", "protocol"}),
    ("read", {"notebook", "roles", "magics", "suggest"}),
    ("analyse", {"names", "analysis", "globals_rewrite", "parameters", "role_outputs", "hazards",
                 "row_picking", "printed_scores", "shown_predictions", "fit_score"}),
    ("plan", {"plan", "serving", "rows"}),
    ("generate", {"render", "requirements", "install_hints", "write", "generate",
                  "generate.runtime"}),
    ("run", {"child_process", "probe", "notebook_run", "verify_child", "image", "serve"}),
    ("commands", {"check", "convert", "verify", "doctor"}),
    ("frontends", {"cli", "__main__", "console", "doctor_print", "nbconvert_exporter", "server",
                   "server.app", "server.handlers", "server.jobs", "server.paths",
                   "server.processes", "server.tasks", "server.worker"}),
]  # fmt: skip


def stage_of(module: str) -> int | None:
    short = module.removeprefix("nb2prod.") if module != "nb2prod" else module
    return next((i for i, (_, names) in enumerate(STAGES) if short in names), None)


def nb2prod_modules() -> Iterator[tuple[str, Path]]:
    package = ROOT / "nb2prod"
    for path in sorted(package.rglob("*.py")):
        if "runtime" in path.relative_to(package).parts[:-1]:
            continue  # copied into generated projects, never imported by nb2prod
        parts = path.with_suffix("").relative_to(ROOT).parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(n for n in names if n == "nb2prod" or n.startswith("nb2prod."))
    return found


GRAPH = {module: imports_of(path) for module, path in nb2prod_modules()}


def test_every_module_has_a_stage() -> None:
    assert [m for m in GRAPH if stage_of(m) is None] == []


def test_no_module_imports_from_a_later_stage() -> None:
    late = [
        f"{m} ({STAGES[stage_of(m)][0]}) imports {d} ({STAGES[stage_of(d)][0]})"
        for m, deps in GRAPH.items()
        for d in sorted(deps)
        if d in GRAPH and stage_of(m) is not None and (stage_of(d) or 0) > stage_of(m)
    ]
    assert late == []


def test_no_import_cycles() -> None:
    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            module, path = stack.pop()
            for dependency in GRAPH.get(module, ()):
                if dependency == start:
                    return [*path, start]
                if dependency not in path and dependency in GRAPH:
                    stack.append((dependency, [*path, dependency]))
        return None

    cycles = [" -> ".join(c) for m in GRAPH if (c := cycle_from(m)) and m != "nb2prod"]
    assert cycles == []


def test_the_checker_sees_a_late_import() -> None:
    """The stage table is not vacuous: cli (a front end) is later than the plan."""
    assert "nb2prod.plan" in set().union(*GRAPH.values())
    assert stage_of("nb2prod.cli") > stage_of("nb2prod.plan")  # type: ignore[operator]

"""nb2prod's modules form a pipeline: a stage imports only from itself and earlier stages.

read -> analyse -> plan -> generate -> run -> commands -> front ends, one folder each under
nb2prod/, with errors, the child protocol and path confinement at the top, underneath
every stage. A module's folder is its stage, so the order stays a decision, not an
accident. Imports inside functions count
too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

STAGES = ["base", "read", "analyse", "plan", "generate", "run", "commands", "frontends"]
"""A module's stage is its folder under nb2prod/; the modules at the top are the base."""
BASE = {"nb2prod", "nb2prod.errors", "nb2prod.confine", "nb2prod.protocol"}
FRONT_DOORS = {"nb2prod.__main__"}
"""`python -m nb2prod` starts the CLI, so it sits with the front ends."""
JUPYTER_HOOK = ("nb2prod", "nb2prod.frontends.server.app")
"""`jupyter server extension enable nb2prod` asks the top package where the extension is;
its hook imports the front end only when Jupyter calls it."""


def stage_of(module: str) -> int | None:
    if module in BASE:
        return 0
    if module in FRONT_DOORS:
        return STAGES.index("frontends")
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in STAGES:
        return STAGES.index(parts[1])
    return None


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
GRAPH[JUPYTER_HOOK[0]].remove(JUPYTER_HOOK[1])  # called by Jupyter, never on import


def test_every_module_has_a_stage() -> None:
    assert [m for m in GRAPH if stage_of(m) is None] == []


def test_no_module_imports_from_a_later_stage() -> None:
    late = [
        f"{m} ({STAGES[stage_of(m)]}) imports {d} ({STAGES[stage_of(d)]})"
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
    assert "nb2prod.plan.build" in set().union(*GRAPH.values())
    assert stage_of("nb2prod.frontends.cli") > stage_of("nb2prod.plan.build")  # type: ignore[operator]

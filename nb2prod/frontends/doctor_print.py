"""The doctor's one screen: a mark, a name and the fact per line, the fix under each problem.

Kept apart from `doctor.py` (which gathers facts as data for the CLI, the server
and the panel) and from `cli.py` (which only dispatches commands).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from nb2prod.commands.doctor import Diagnosis, ImportFact, Status
    from nb2prod.frontends.console import Style

MARK_WIDTH = 8


def print_diagnosis(diagnosis: Diagnosis, style: Style, out: TextIO) -> None:
    """Every check, then the notebook's imports, then one line that sums it up."""
    from nb2prod import __version__

    checks = diagnosis.checks
    width = max(len(c.name) for c in checks) + 2
    print(style.bold(f"nb2prod {__version__} doctor"), file=out)
    for check in checks:
        _line(style, out, check.status, check.name, width, check.detail, check.fix)
    if diagnosis.notebook is not None:
        _print_imports(diagnosis, style, out)
    print(_summary(diagnosis, style), file=out)


def _print_imports(diagnosis: Diagnosis, style: Style, out: TextIO) -> None:
    """Imports of kept cells, then those only `skip` cells have (a missing one is a note)."""
    imports = diagnosis.imports
    print(style.bold(f"\n{diagnosis.notebook}: {len(imports)} imported module(s)"), file=out)
    if not imports:
        return
    width = max(len(i.module) for i in imports) + 2
    skipped = [i for i in imports if not i.needed]
    for fact in [i for i in imports if i.needed]:
        _import_line(fact, style, out, width)
    if skipped:
        print(
            style.dim("  only in skip cells (the generated project does not need them):"), file=out
        )
    for fact in skipped:
        _import_line(fact, style, out, width)


def _import_line(fact: ImportFact, style: Style, out: TextIO, width: int) -> None:
    where = ("cell " if len(fact.cells) == 1 else "cells ") + ", ".join(map(str, fact.cells))
    source = f"{fact.distribution} {fact.version}" if fact.version else fact.detail
    status = "warning" if fact.status == "missing" and not fact.needed else fact.status
    _line(style, out, status, fact.module, width, f"{source:<24} {where}", fact.fix)


def _line(
    style: Style, out: TextIO, status: Status, name: str, width: int, detail: str, fix: str | None
) -> None:
    print(f"  {_mark(style, status)} {name:<{width}}{detail}", file=out)
    if fix and status != "ok":
        print(f"  {'':<{MARK_WIDTH}} {'':<{width}}{style.dim('fix:')} {fix}", file=out)


def _mark(style: Style, status: Status) -> str:
    """ok, missing or note, padded before colouring (escape codes have no width)."""
    word = {"ok": "ok", "missing": "missing", "warning": "note"}[status]
    padded = f"{word:<{MARK_WIDTH}}"
    return {"ok": style.green, "missing": style.red, "warning": style.yellow}[status](padded)


def _summary(diagnosis: Diagnosis, style: Style) -> str:
    core = [c.name for c in diagnosis.checks if c.failing]
    imports = [i.module for i in diagnosis.imports if i.failing]
    optional = [c.name for c in diagnosis.checks if c.status == "missing" and not c.failing]
    extra = f"; optional, missing: {', '.join(optional)}" if optional else ""
    if diagnosis.ok:
        return style.green("ready: check, convert and verify can run here") + extra
    reasons = [f"missing {', '.join(core)}"] if core else []
    reasons += [f"the notebook's imports {', '.join(imports)} do not resolve"] if imports else []
    return style.red(f"not ready: {'; '.join(reasons)}") + extra

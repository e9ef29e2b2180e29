"""What nb2prod shows in a terminal: colours, problems, the check report, a conversion.

The CLI and the nbconvert exporter print through these, so a problem reads the
same wherever it is met. Colours only on a terminal, never in CI, pipes or with
NO_COLOR set.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from nb2prod.errors import CellRef, Problem, Severity, UserError

if TYPE_CHECKING:
    from nb2prod.commands.convert import Conversion


def print_conversion(result: Conversion, style: Style) -> None:
    """What convert made: one line per function, what was written, and the next command."""
    report = result.report
    plan = result.plan
    out = sys.stdout
    for warning in result.warnings:
        print_problem(warning, style, sys.stderr)
    print(
        style.bold(f"{plan.project}: {len(plan.steps)} functions from {plan.source.path}"),
        file=out,
    )
    for step in plan.steps:
        takes = ", ".join(a.name for a in step.arguments) or "-"
        gives = ", ".join(step.outputs) or "-"
        print(f"  {step.function:<16} {step.cell_span:<14} takes {takes}; gives {gives}", file=out)
    if report.kept_edited:
        print(
            f"backed up your edits of {', '.join(report.kept_edited)} to {report.backup}", file=out
        )
    changed = len(report.written)
    print(
        style.green(f"wrote {changed} file(s) to {report.output}")
        + (f" ({len(report.unchanged)} unchanged)" if report.unchanged else ""),
        file=out,
    )
    print(
        f"next: cd {report.output} && pip install -e '.[test]' && {plan.project}-train && pytest",
        file=out,
    )


def print_report(report: dict[str, Any], style: Style, out: TextIO) -> None:
    """The check report as a table a person can read in a terminal."""
    print(style.bold(f"{report['notebook']}"), file=out)
    print(style.dim(f"{'cell':>4}  {'role':<12} {'first line':<40} takes -> gives"), file=out)
    for cell in report["cells"]:
        role = cell["role"] or "-"
        if not cell["declared"]:
            role = f"({role})"  # inherited from the section above
        first = cell["first_line"]
        first = first if len(first) <= 40 else first[:37] + "..."
        flow = ""
        if cell["inputs"] or cell["outputs"]:
            flow = f"{', '.join(cell['inputs']) or '-'} -> {', '.join(cell['outputs']) or '-'}"
        print(f"{cell['index']:>4}  {role:<12} {first:<40} {flow}".rstrip(), file=out)
        if cell["suggested_role"] and cell["suggested_role"] != cell["role"]:
            print(style.dim(f"{'':>6}suggested role: {cell['suggested_role']}"), file=out)
    rows = report.get("service_rows")
    if rows and rows["rows"] == "raw":
        print(
            f"service rows: raw, through `{rows['function']}` (cell {rows['cell']}), if it "
            "proves row-wise when convert runs it on single rows",
            file=out,
        )
    elif rows:
        print(f"service rows: features: {rows['reason'] or 'see convert'}", file=out)
    problems = report["problems"]
    blocking = [p for p in problems if p["severity"] == "error"]
    for problem in problems:
        print_problem(problem_from_json(problem), style, out)
    summary = (
        style.green("convertible")
        if report["convertible"]
        else style.red(f"{len(blocking)} problem(s) block conversion")
    )
    print(f"{summary}; {len(problems) - len(blocking)} warning(s)", file=out)


def print_error(error: UserError, style: Style) -> None:
    """A user error on stderr, one problem (and its fix) at a time."""
    if not error.problems:
        print(style.red("nb2prod: error: ") + str(error), file=sys.stderr)
    for problem in error.problems:
        print_problem(problem, style, sys.stderr, notebook=error.notebook)


def print_problem(
    problem: Problem, style: Style, out: TextIO, notebook: Path | None = None
) -> None:
    label = style.red("error") if problem.blocking else style.yellow("warning")
    where = f"{notebook}: " if notebook else ""
    if problem.cell is not None:
        where += f"{problem.cell.describe()}: "
    print(f"nb2prod: {label}: {where}{problem.message}", file=out)
    print(f"  fix: {problem.fix}", file=out)


def problem_from_json(data: dict[str, Any]) -> Problem:
    """A problem as `check --json` sent it, back into the one type every front end shows."""
    cell = CellRef(**data["cell"]) if data.get("cell") else None
    return Problem(data["code"], data["message"], data["fix"], Severity(data["severity"]), cell)


class Style:
    """ANSI colours on a terminal; plain text in CI, pipes, or with NO_COLOR set."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @classmethod
    def for_stream(cls, stream: TextIO) -> Style:
        enabled = (
            hasattr(stream, "isatty")
            and stream.isatty()
            and "NO_COLOR" not in os.environ
            and not os.environ.get("CI")
        )
        return cls(bool(enabled))

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def red(self, text: str) -> str:
        return self._wrap("31", text)

    def green(self, text: str) -> str:
        return self._wrap("32", text)

    def yellow(self, text: str) -> str:
        return self._wrap("33", text)

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

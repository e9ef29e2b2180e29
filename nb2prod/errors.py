"""User-facing problems and errors.

Every problem nb2prod reports about a notebook names the cell it is about
(index and first line) and says how to fix it, so a user never has to read a
traceback to find out what to change. `Problem` is one finding; `UserError`
carries one or more of them to the CLI, which prints them and exits 2.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USER_ERROR = 2


class Severity(str, Enum):
    """How much a problem matters: errors block conversion, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class CellRef:
    """Where in the notebook a problem is: cell index, its first line, a line in it."""

    index: int
    first_line: str
    line: int | None = None

    def describe(self) -> str:
        where = f"cell {self.index}"
        if self.line is not None:
            where += f", line {self.line}"
        return f"{where} (`{self.first_line}`)" if self.first_line else where


@dataclass(frozen=True)
class Problem:
    """One finding about a notebook, with the fix a user should apply."""

    code: str
    message: str
    fix: str
    severity: Severity = Severity.ERROR
    cell: CellRef | None = None

    @property
    def blocking(self) -> bool:
        return self.severity is Severity.ERROR

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value
        return data


@dataclass
class UserError(Exception):
    """A mistake in the input that the user can fix; never shown as a traceback."""

    notebook: Path | None
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.summary())

    def summary(self) -> str:
        first = self.problems[0].message if self.problems else "invalid input"
        return f"{self.notebook}: {first}" if self.notebook else first


def user_error(
    notebook: Path | None,
    code: str,
    message: str,
    fix: str,
    cell: CellRef | None = None,
) -> UserError:
    """Build a one-problem `UserError`, the common case for unreadable input."""
    return UserError(notebook, [Problem(code, message, fix, Severity.ERROR, cell)])

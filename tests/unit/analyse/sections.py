"""Build sections of in-memory cells for the analyse-stage unit tests."""

from __future__ import annotations

from nb2prod.analyse.globals_rewrite import Rewrites
from nb2prod.analyse.sections import SectionCode, analyse_section
from nb2prod.errors import Problem
from nb2prod.read.notebook import Cell
from nb2prod.read.roles import Role, Section


def cell(source: str, index: int = 0, tags: tuple[str, ...] = ()) -> Cell:
    """A code cell as `load_notebook` would give it."""
    return Cell(index, "code", source, tags, None)


def section(role: str, *sources: str, first_index: int = 0) -> Section:
    """A section of role `role` whose cells hold `sources`, numbered from `first_index`."""
    cells = [cell(source, first_index + i) for i, source in enumerate(sources)]
    return Section(Role(role), cells)


def analysed(
    role: str, *sources: str, first_index: int = 0, rewrites: Rewrites | None = None
) -> tuple[SectionCode, list[Problem]]:
    """`analyse_section` of a section built from `sources`, and the problems it found."""
    problems: list[Problem] = []
    code = analyse_section(section(role, *sources, first_index=first_index), problems, rewrites)
    return code, problems

"""Cell roles: read them from tags and directives, and group cells into sections.

A role comes from a cell tag (`nb2prod:train`, bare `parameters` or `skip`),
from a first-line directive (`# nb2prod: train`), or from Kubeflow Kale's
tags, which are read for compatibility. A tagged cell starts a section;
untagged cells join the section above; code before the first tagged cell is
the `setup` section (imports, seeds, helpers).
"""

from __future__ import annotations

import difflib
import keyword
import re
from dataclasses import dataclass, field

from nb2prod.errors import Problem, Severity
from nb2prod.read.notebook import Cell, Notebook

PARAMETERS = "parameters"
SETUP = "setup"
LOAD = "load"
PREPROCESS = "preprocess"
TRAIN = "train"
EVALUATE = "evaluate"
PREDICT = "predict"
TEST = "test"
SKIP = "skip"
STEP = "step"  # a Kale `step:NAME` whose name is not one of our roles
SELECT = "select"
"""Not written by users: the start of a predict cell that picks the rows it predicts on."""

ROLES = (PARAMETERS, SETUP, LOAD, PREPROCESS, TRAIN, EVALUATE, PREDICT, TEST, SKIP)
"""The roles a user can write, in the order a pipeline usually has them."""

KALE_TAGS = {
    "imports": SETUP,
    "functions": SETUP,
    "pipeline-parameters": PARAMETERS,
    "pipeline-metrics": EVALUATE,
    "skip": SKIP,
}
BARE_TAGS = {PARAMETERS: PARAMETERS, SKIP: SKIP, "skip-execution": SKIP}
STEP_MEANINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (PREDICT, ("predict", "inference", "infer", "scoring", "serve")),
    (EVALUATE, ("eval", "metric", "assess", "validat")),
    (PREPROCESS, ("split", "preprocess", "prep", "clean", "feature", "transform", "encod",
                  "scal", "normali")),
    (TRAIN, ("train", "fit")),
    (LOAD, ("load", "ingest", "read", "download", "fetch", "getdata")),
)  # fmt: skip
"""Kale step names by meaning, first match wins: `train_test_split` is preprocessing."""
IGNORED_TAG_PREFIXES = ("prev:", "limit:", "label:", "annotation:", "image:", "cache:")

DIRECTIVE = re.compile(r"^\s*#\s*\|?\s*nb2prod\s*:\s*(?P<role>[\w:-]*)\s*$")


@dataclass(frozen=True)
class Role:
    """The role a cell declares, and the name of its section's function."""

    name: str
    step: str | None = None  # Kale step name, when the role came from `step:`

    @property
    def function_name(self) -> str:
        """The step's name (`step:class` gives `class_step`: a keyword is no function name)."""
        if not self.step:
            return self.name
        return f"{self.step}_step" if keyword.iskeyword(self.step) else self.step


@dataclass
class Section:
    """Consecutive code cells that share a role; becomes one function."""

    role: Role
    cells: list[Cell] = field(default_factory=list)
    title: str | None = None  # from the markdown cell just above it
    kale_skip: bool = False
    """Ends with a cell tagged Kale's `skip`, which skips that cell only."""
    kale_names: list[str] = field(default_factory=list)
    """The Kale step names (`step:NAME`, `block:NAME`) its cells declare."""
    prev: list[str] = field(default_factory=list)
    """Kale's `prev:NAME` tags of its cells: the steps it runs after, as written."""

    @property
    def kept(self) -> bool:
        return self.role.name != SKIP

    @property
    def cell_span(self) -> str:
        indexes = [c.index for c in self.cells]
        if len(indexes) == 1:
            return f"cell {indexes[0]}"
        return f"cells {indexes[0]}-{indexes[-1]}"


@dataclass
class RoleReading:
    """Sections found in a notebook, and problems met while reading roles."""

    sections: list[Section]
    problems: list[Problem]
    roles_by_cell: dict[int, str]
    explicit: set[int]  # cells whose role was declared, not inherited


def read_roles(notebook: Notebook) -> RoleReading:
    """Group the notebook's code cells into sections by their declared roles."""
    problems: list[Problem] = []
    sections: list[Section] = []
    roles_by_cell: dict[int, str] = {}
    explicit: set[int] = set()
    pending_title: str | None = None
    kale = _uses_kale_steps(notebook)
    for cell in notebook.cells:
        if cell.kind == "markdown":
            pending_title = _title(cell.source) or pending_title
            continue
        if cell.kind != "code" or not cell.source.strip():
            continue
        role = cell_role(cell, problems)
        current = sections[-1] if sections else None
        if role is not None:
            explicit.add(cell.index)
        if role is None and kale and current is not None and current.kale_skip:
            # Kale skips one cell: the cells after it belong to the step before it
            current = next((s for s in reversed(sections) if s.role.name != SKIP), None)
            if current is not None:
                current.cells.append(cell)
                roles_by_cell[cell.index] = current.role.function_name
                pending_title = None
                continue
            current = sections[-1]
        if role is None:
            role = current.role if current else Role(SETUP)
        if (
            current is None
            or role != current.role
            or (role.name == TEST and cell.index in explicit)
            or _new_kale_step(cell, current)
        ):
            current = Section(role, title=pending_title)
            sections.append(current)
        current.cells.append(cell)
        current.kale_skip = kale and role.name == SKIP and "skip" in cell.tags
        _add_kale_links(current, cell)
        roles_by_cell[cell.index] = role.function_name
        pending_title = None
    unknown_steps = _unknown_kale_steps(notebook, sections)
    if not explicit and not problems:
        first = next((c for c in notebook.cells if c.kind == "code"), None)
        problems.append(
            Problem(
                "no-roles",
                "no cell declares a role, so nb2prod cannot tell load from train",
                "tag cells with nb2prod:<role> (roles: "
                + ", ".join(r for r in ROLES if r != SETUP)
                + ") or start them with `# nb2prod: <role>`; `nb2prod check` suggests roles",
                Severity.ERROR,
                first.ref() if first else None,
            )
        )
    return RoleReading(sections, problems + unknown_steps, roles_by_cell, explicit)


def _unknown_kale_steps(notebook: Notebook, sections: list[Section]) -> list[Problem]:
    """`prev:` tags naming no step of the notebook: a typo there would otherwise drop
    an edge of the user's pipeline without a word."""
    known = {name for section in sections for name in section.kale_names}
    problems = []
    for cell in notebook.cells:
        for tag in cell.tags if cell.kind == "code" else ():
            name, _, value = tag.strip().partition(":")
            if name == "prev" and value.strip() and value.strip() not in known:
                problems.append(
                    Problem(
                        "kale-unknown-prev",
                        f"tag `{tag.strip()}` names no step of this notebook, so the "
                        "pipeline ignores it",
                        "fix the name to one of the notebook's `step:` tags ("
                        + (", ".join(sorted(known)) or "none yet")
                        + ") or remove the tag",
                        Severity.WARNING,
                        cell.ref(),
                    )
                )
    return problems


def _new_kale_step(cell: Cell, current: Section) -> bool:
    """`cell` names a Kale step its section is not: Kale runs each step as its own task
    (`step:feature_a` and `step:feature_b` are two, though both mean preprocessing)."""
    names = [t.split(":", 1)[1].strip() for t in cell.tags if t.startswith(("step:", "block:"))]
    return bool(names) and bool(current.kale_names) and names[0] not in current.kale_names


def _add_kale_links(section: Section, cell: Cell) -> None:
    """Record the Kale step names and `prev:` edges `cell` declares on its section."""
    for tag in cell.tags:
        name, _, value = tag.strip().partition(":")
        value = value.strip()
        if name in ("step", "block") and value and value not in section.kale_names:
            section.kale_names.append(value)
        elif name == "prev" and value and value not in section.prev:
            section.prev.append(value)


def cell_role(cell: Cell, problems: list[Problem]) -> Role | None:
    """The role `cell` declares itself, or None when it declares none."""
    found: list[Role] = []
    for tag in cell.tags:
        role = _role_from_tag(tag, cell, problems)
        if role is not None and role not in found:
            found.append(role)
    directive = _directive(cell, problems)
    if directive is not None and directive not in found:
        found.append(directive)
    if len(found) > 1:
        names = ", ".join(r.function_name for r in found)
        problems.append(
            Problem(
                "conflicting-roles",
                f"the cell declares several roles ({names})",
                "keep one role per cell; split the cell if it does two jobs",
                Severity.ERROR,
                cell.ref(),
            )
        )
    return found[0] if found else None


def _role_from_tag(tag: str, cell: Cell, problems: list[Problem]) -> Role | None:
    tag = tag.strip()
    if tag.startswith("nb2prod:"):
        return _known_role(tag.removeprefix("nb2prod:"), cell, problems, f"tag `{tag}`")
    if tag in BARE_TAGS:
        return Role(BARE_TAGS[tag])
    if tag in KALE_TAGS:
        return Role(KALE_TAGS[tag])
    for prefix in ("step:", "block:"):
        if tag.startswith(prefix):
            name = tag.removeprefix(prefix).strip()
            meaning = kale_step_role(name)
            if meaning is not None:
                return Role(meaning)
            identifier = name.replace("-", "_")
            if identifier.isidentifier():
                return Role(STEP, step=identifier)
            suggestion = re.sub(r"\W+", "_", name).strip("_") or "step"
            problems.append(
                Problem(
                    "bad-step-name",
                    f"Kale tag `{tag}` names a step that is not a Python identifier",
                    "rename the step with letters, digits and underscores, "
                    f"e.g. `step:{suggestion}`",
                    Severity.ERROR,
                    cell.ref(),
                )
            )
            return None
    return None  # other tags (prev:, user tags) carry no role


def _uses_kale_steps(notebook: Notebook) -> bool:
    """Kale's tags are in use (`step:`/`block:` pipelines): its `skip` then skips one cell."""
    return any(tag.startswith(("step:", "block:")) for cell in notebook.cells for tag in cell.tags)


def kale_step_role(name: str) -> str | None:
    """The role a Kale step's name means (`training` -> train, `data-loading` -> load).

    Kale users name steps freely; reading the words lets `step:evaluation` hand on
    its metrics and `step:training` its model, as `nb2prod:evaluate`/`train` would.
    """
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    if not words:
        return None
    joined = "_".join(words)
    if joined in ROLES and joined != SETUP:
        return joined
    for role, stems in STEP_MEANINGS:
        if any(word.startswith(stem) for word in words for stem in stems):
            return role
    return None


def _directive(cell: Cell, problems: list[Problem]) -> Role | None:
    for line in cell.source.splitlines():
        if not line.strip() or line.lstrip().startswith("%%"):
            continue
        match = DIRECTIVE.match(line)
        if match is None:
            return None
        return _known_role(match["role"], cell, problems, f"directive `{line.strip()}`")
    return None


def _known_role(name: str, cell: Cell, problems: list[Problem], origin: str) -> Role | None:
    if name in ROLES:
        return Role(name)
    close = difflib.get_close_matches(name, ROLES, n=1, cutoff=0.5)
    hint = f"did you mean `{close[0]}`? " if close else ""
    problems.append(
        Problem(
            "unknown-role",
            f"unknown role `{name}` in {origin}",
            f"{hint}known roles: {', '.join(ROLES)}",
            Severity.ERROR,
            cell.ref(),
        )
    )
    return None


def _title(markdown: str) -> str | None:
    for line in markdown.splitlines():
        text = line.strip().lstrip("#").strip()
        if text:
            return text
    return None

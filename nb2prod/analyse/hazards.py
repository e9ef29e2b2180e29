"""Things in kept code that would hurt in production: secrets, absolute and relative paths.

A secret in a cell would be copied into the generated project (and its image),
so it blocks conversion. Hard-coded paths are warnings: they work on the
author's machine and nowhere else, or only from the notebook's folder.
"""

from __future__ import annotations

import ast
import re

from nb2prod.analyse.sections import SectionCode
from nb2prod.errors import Problem, Severity
from nb2prod.read.roles import PARAMETERS

SECRET_NAME = re.compile(  # `pass` only as a whole word: `compass` and `bypass` hold no secret
    r"((^|_)pass|password|passwd|secret|token|api_?key|access_?key|private_?key|credentials?)$",
    re.I,
)
CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")  # dbPass -> db_Pass
SECRET_VALUE = re.compile(
    r"^(AKIA[0-9A-Z]{16}|sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|xox[baprs]-[\w-]{10,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----)"
)
ABSOLUTE_PATH = re.compile(r"^(/(home|Users|mnt|data|tmp|opt|root|var)/|[A-Za-z]:\\|~/)")
READERS = re.compile(r"^(read_\w+|load|loadtxt|genfromtxt|open|imread|load_workbook)$")


def find_hazards(codes: list[SectionCode]) -> list[Problem]:
    """Problems for secrets and hard-coded paths in the kept sections' code."""
    problems: list[Problem] = []
    for code in codes:
        if not code.section.kept:
            continue
        in_parameters = code.section.role.name == PARAMETERS  # paths belong there
        for chunk in code.chunks:
            for node in chunk.nodes:
                for sub in ast.walk(node):
                    problem = _secret(sub) or (None if in_parameters else _path(sub))
                    if problem is not None:
                        message, fix, severity = problem
                        line = getattr(sub, "lineno", None)
                        problems.append(
                            Problem(
                                "secret" if severity is Severity.ERROR else "hard-coded-path",
                                message,
                                fix,
                                severity,
                                chunk.cell.ref(line),
                            )
                        )
    return problems


def _secret(node: ast.AST) -> tuple[str, str, Severity] | None:
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
        value = node.value.value
        for target in node.targets:
            if (
                isinstance(target, ast.Name)
                and SECRET_NAME.search(CAMEL_HUMP.sub("_", target.id))
                and isinstance(value, str)
                and len(value) >= 6
            ):
                return _secret_problem(f"`{target.id}` holds a secret written into the code")
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and SECRET_VALUE.match(node.value)
    ):
        return _secret_problem("a string in the code looks like an access key or token")
    return None


def _secret_problem(message: str) -> tuple[str, str, Severity]:
    return (
        message + "; it would be copied into the generated project and its image",
        "read it from an environment variable (os.environ['NAME']) and remove it from the "
        "notebook (rotate it if the notebook was shared)",
        Severity.ERROR,
    )


def _path(node: ast.AST) -> tuple[str, str, Severity] | None:
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and ABSOLUTE_PATH.match(node.value)
    ):
        return (
            f"hard-coded absolute path `{node.value}` works only on this machine",
            "make it a parameter (a literal in the parameters cell) so it can be set per run",
            Severity.WARNING,
        )
    if isinstance(node, ast.Call) and node.args:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        first = node.args[0]
        if (
            READERS.match(name)
            and isinstance(first, ast.Constant)
            and isinstance(first.value, str)
            and not ABSOLUTE_PATH.match(first.value)
            and "://" not in first.value
        ):
            return (
                f"`{name}('{first.value}')` reads a path relative to the notebook's folder; "
                "the generated training resolves it from the folder it runs in",
                "make the path a parameter, or run the training from the notebook's folder",
                Severity.WARNING,
            )
    return None

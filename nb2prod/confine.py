"""Paths nb2prod reads back from disk are untrusted until checked.

A project's manifest (`nb2prod.json`) is a file anyone can edit, and a project
folder may hold symbolic links. Before nb2prod writes, deletes or runs anything
a project names, the path must be relative, normalized, and reach its target
without leaving the project through a link; otherwise the command stops with
exit 2 and says which path and why.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from nb2prod.errors import UserError, user_error


def relative_path(value: object) -> str | None:
    """`value` as a normalized relative POSIX path (`src/pkg/x.py`), or None when it is
    not one: absolute, empty, with `..` or `.` parts, backslashes or NUL bytes."""
    if not isinstance(value, str) or not value or "\\" in value or "\0" in value:
        return None
    path = PurePosixPath(value)
    if path.is_absolute() or any(part in {"", ".", ".."} for part in value.split("/")):
        return None
    return str(path)


def inside(root: Path, relative: str, *, about: Path) -> Path:
    """`root / relative`, refusing a path that leaves `root` through a symbolic link (an
    existing part of it that is a link) or that is not a plain relative path.

    `about` is the file the error names (the notebook or the project).
    """
    checked = relative_path(relative)
    if checked is None:
        raise _escape(about, relative, "it is not a relative path inside the project")
    current = root
    for part in PurePosixPath(checked).parts:
        current = current / part
        if current.is_symlink():
            raise _escape(about, relative, f"{current} is a symbolic link")
    return root / checked


def umask() -> int:
    """The process's umask, read without changing it (threads may be creating files)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def folder_mode() -> int:
    """The mode `mkdir` would give a new folder: what users expect of a project folder."""
    return 0o777 & ~umask()


def _escape(about: Path, relative: str, why: str) -> UserError:
    return user_error(
        about,
        "path-outside-project",
        f"nb2prod will not write or delete `{relative}`: {why}; it only touches files "
        "inside the project folder",
        "remove the link or the entry (or convert into a new folder)",
    )

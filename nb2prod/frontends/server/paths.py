"""Client paths -> files inside the server's root, and back.

A client names files the way the Jupyter contents API does: relative to the
server's root, `/` separated, a leading `/` meaning the root itself. Anything
that resolves outside the root (`..`, an absolute path in disguise, a symlink
pointing out) is refused, so the extension can never read or write beyond
what the server serves.
"""

from __future__ import annotations

from pathlib import Path


class OutsideRoot(ValueError):
    """The path resolves outside the server's root (or is not a usable path)."""


class UnusablePath(OutsideRoot):
    """The file system cannot use the path at all (a name too long, say): a bad request."""


def resolve_inside(root: Path, api_path: object) -> Path:
    """The absolute, symlink-free path of `api_path` under `root`; `OutsideRoot` otherwise."""
    if not isinstance(api_path, str) or not api_path.strip() or "\x00" in api_path:
        raise OutsideRoot(f"not a path: {api_path!r}")
    root = root.resolve()
    try:
        candidate = (root / api_path.replace("\\", "/").lstrip("/")).resolve()
        candidate.exists()  # ENAMETOOLONG and friends surface here, not later
    except (OSError, RuntimeError) as error:  # RuntimeError: a symlink loop
        raise UnusablePath(
            f"not a usable path ({type(error).__name__}): {api_path[:80]!r}"
        ) from None
    if candidate != root and root not in candidate.parents:
        raise OutsideRoot(f"`{api_path}` is outside the server's root")
    return candidate


def api_path_of(root: Path, path: Path | str) -> str | None:
    """The client-side name of `path`, or None when it is not under `root`."""
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def is_hidden(root: Path, path: Path) -> bool:
    """Whether `path` (resolved, under `root`) is hidden as Jupyter means it: a part of
    its name below the root starts with a dot."""
    try:
        parts = path.relative_to(root.resolve()).parts
    except ValueError:
        return False
    return any(part.startswith(".") for part in parts)

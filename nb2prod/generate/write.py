"""Write the generated project without ever losing a file.

A first conversion renders everything into a temporary folder beside the
target and renames it into place, so a failure leaves nothing half-written.
A re-run reads the manifest (`nb2prod.json`): files whose content still has
the hash nb2prod wrote are updated; files the user edited are named and left
alone unless `force` is given, in which case a backup is kept first. A re-run
stages inside the target (renames then stay on one device, even when the target
is a mount point) and treats the manifest as untrusted: every path it names must
stay inside the project (`confine.py`). A file system that refuses (read-only,
full, no permission) is the user's error to fix, exit 2, never a crash.

Writers of one folder take turns (a lock on the folder that holds the project:
the CLI and a JupyterLab Export may write the same project), and each first removes
the staging folders a killed writer left behind, which only a writer holding the
lock can own.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nb2prod import __version__
from nb2prod.confine import folder_mode, inside, relative_path
from nb2prod.errors import Problem, UserError, user_error

MANIFEST = "nb2prod.json"
BACKUPS = ".nb2prod-backup"
STAGING = ".nb2prod-staging-"
"""The prefix of the folders a write stages in (inside the project, or beside a new one)."""


@dataclass
class WriteReport:
    """What a conversion did to the output folder."""

    output: Path
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_edited: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    backup: Path | None = None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_project(
    output: Path,
    files: dict[str, bytes],
    manifest_data: dict[str, Any],
    *,
    notebook: Path,
    force: bool = False,
) -> WriteReport:
    """Write `files` under `output` safely; raise `UserError` when that would lose work."""
    check_output(output, notebook)
    manifest = _manifest(files, manifest_data)
    files = {**files, MANIFEST: manifest}
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with _writers_take_turns(output.parent):
            _remove_abandoned_staging(output)
            if not output.exists():
                _write_fresh(output, files)
                return WriteReport(output, written=sorted(files))
            return _update(output, files, notebook=notebook, force=force)
    except OSError as error:
        raise _cannot_write(output, notebook, error) from None


@contextlib.contextmanager
def _writers_take_turns(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (flock on the directory itself: no lock file to
    leave behind). The kernel drops it when the process dies, so a killed writer never
    blocks the next one. Where flock is missing (Windows), writers do not wait."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing the last descriptor releases the lock


def _remove_abandoned_staging(output: Path) -> None:
    """Staging folders of a writer killed mid-write (SIGKILL skips its clean-up): inside the
    project, and beside it for a first write. Called with the lock held, so none is live."""
    beside = re.compile(re.escape(f".{output.name}{STAGING}") + r"[^/]{1,16}")
    candidates = [p for p in output.parent.iterdir() if beside.fullmatch(p.name)]
    if output.is_dir():
        candidates += [p for p in output.iterdir() if p.name.startswith(STAGING)]
    for path in candidates:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)


def _cannot_write(output: Path, notebook: Path, error: OSError) -> UserError:
    """The file system's refusal as the user's problem, with what to do about it."""
    fixes = {
        errno.EROFS: "the folder is on a read-only file system: choose another folder with -o",
        errno.ENOSPC: "the disk is full: free some space, or choose another folder with -o",
        errno.EDQUOT: "your disk quota is used up: free some space, or choose another folder",
        errno.EACCES: "you may not write there: choose a folder of your own with -o",
        errno.EPERM: "you may not write there: choose a folder of your own with -o",
    }
    reason = error.strerror or type(error).__name__
    where = f" ({error.filename})" if error.filename else ""
    return user_error(
        notebook,
        "cannot-write",
        f"could not write the project to {output}: {reason}{where}; nothing was half-written",
        fixes.get(error.errno or 0, "choose another folder with -o"),
    )


def read_manifest(project: Path) -> dict[str, Any]:
    """The manifest of a generated project, or a `UserError` saying it is not one."""
    try:
        manifest = json.loads((project / MANIFEST).read_text())
    except (OSError, ValueError):
        raise user_error(
            project,
            "not-a-project",
            f"{project} is not a project generated by nb2prod (no readable {MANIFEST})",
            "pass the folder `nb2prod convert` wrote (-o)",
        ) from None
    if not isinstance(manifest, dict):
        raise user_error(
            project, "not-a-project", f"{MANIFEST} in {project} is damaged", "convert again"
        )
    return manifest


def check_output(output: Path, notebook: Path) -> None:
    """Fail early when the output path cannot be a project folder."""
    if output.exists() and not output.is_dir():
        raise user_error(
            notebook,
            "output-is-file",
            f"the output path {output} exists and is a file, not a directory",
            "choose a new folder with -o, or remove the file",
        )


def _manifest(files: dict[str, bytes], data: dict[str, Any]) -> bytes:
    content = {
        "nb2prod_version": __version__,
        **data,
        "files": {path: sha256(body) for path, body in sorted(files.items())},
    }
    return (json.dumps(content, indent=2) + "\n").encode()


def _write_fresh(output: Path, files: dict[str, bytes]) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}{STAGING}", dir=output.parent))
    try:
        os.chmod(staging, folder_mode())  # mkdtemp's 0700 would become the project's mode
        _write_tree(staging, files)
        os.rename(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_tree(root: Path, files: dict[str, bytes]) -> None:
    for path, body in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)


def _update(output: Path, files: dict[str, bytes], *, notebook: Path, force: bool) -> WriteReport:
    recorded = _recorded_hashes(output, notebook)
    for path in {*files, *recorded}:  # nothing is read, written or deleted through a link
        inside(output, path, about=notebook)
    report = WriteReport(output)
    edited: list[str] = []
    for path, body in files.items():
        target = output / path
        if not target.is_file():
            continue
        current = sha256(target.read_bytes())
        if current == sha256(body):
            report.unchanged.append(path)
        elif path != MANIFEST and recorded.get(path) != current:
            edited.append(path)
    stale = [
        path
        for path, digest in recorded.items()
        if path not in files
        and (output / path).is_file()
        and sha256((output / path).read_bytes()) == digest
    ]
    if edited and not force:
        raise UserError(notebook, [_edited_problem(output, edited)])
    staging = Path(tempfile.mkdtemp(prefix=STAGING, dir=output))  # renames stay on one device
    try:
        changed = {p: b for p, b in files.items() if p not in report.unchanged}
        _write_tree(staging, changed)
        if edited:
            report.backup = _backup(output, edited)
            report.kept_edited = edited
        for path in sorted(changed, key=lambda p: p == MANIFEST):  # manifest last
            (output / path).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / path, output / path)
            report.written.append(path)
        for path in stale:
            (output / path).unlink()
            report.removed.append(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _recorded_hashes(output: Path, notebook: Path) -> dict[str, str]:
    manifest = output / MANIFEST
    if not manifest.is_file():
        if any(output.iterdir()):
            raise user_error(
                notebook,
                "output-not-ours",
                f"the output folder {output} already holds files that nb2prod did not write",
                "choose a new folder with -o, or empty this one",
            )
        return {}
    try:
        files = json.loads(manifest.read_text()).get("files", {})
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        raise user_error(
            notebook,
            "bad-manifest",
            f"{manifest} is not valid JSON, so nb2prod cannot tell which files you edited",
            f"restore {MANIFEST} from version control, or convert into a new folder",
        ) from None
    if not isinstance(files, dict):
        files = {"files": files}  # named below as the entry that is not a path
    bad = [str(path) for path in files if relative_path(path) != path]
    if bad:
        raise user_error(
            notebook,
            "bad-manifest",
            f"{manifest} lists paths outside the project ({', '.join(bad[:3])}): nb2prod "
            "writes and deletes only inside the project, so it stops here",
            f"restore {MANIFEST} from version control, or convert into a new folder",
        )
    return {str(k): str(v) for k, v in files.items()}


def _edited_problem(output: Path, edited: list[str]) -> Problem:
    names = ", ".join(edited)
    return Problem(
        "edited-files",
        f"you edited generated files in {output}: {names}; nb2prod will not overwrite them",
        "keep your edits (nothing was written), or re-run with --force to overwrite them "
        f"after a backup in {output / BACKUPS}",
    )


def _backup(output: Path, paths: list[str]) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    root = output / BACKUPS / stamp
    for path in paths:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(output / path, target)
    return root

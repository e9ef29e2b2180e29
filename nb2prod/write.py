"""Write the generated project without ever losing a file.

A first conversion renders everything into a temporary folder beside the
target and renames it into place, so a failure leaves nothing half-written.
A re-run reads the manifest (`nb2prod.json`): files whose content still has
the hash nb2prod wrote are updated; files the user edited are named and left
alone unless `force` is given, in which case a backup is kept first.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nb2prod import __version__
from nb2prod.errors import Problem, UserError, user_error

MANIFEST = "nb2prod.json"
BACKUPS = ".nb2prod-backup"


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
    if not output.exists():
        _write_fresh(output, files)
        return WriteReport(output, written=sorted(files))
    return _update(output, files, notebook=notebook, force=force)


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
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
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
    report = WriteReport(output)
    edited: list[str] = []
    for path, body in files.items():
        target = output / path
        if not target.exists():
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
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
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

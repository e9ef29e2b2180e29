"""write.py: atomic first write, updates of untouched files, refusal to overwrite edits.

The writer decides from the manifest's hashes which files are still nb2prod's, so it
is tested on small in-memory projects; that `convert` writes through it is in
tests/unit/commands/test_convert.py.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path

import pytest

from nb2prod import __version__
from nb2prod.confine import folder_mode
from nb2prod.errors import UserError
from nb2prod.generate.write import (
    BACKUPS,
    MANIFEST,
    WriteReport,
    _cannot_write,
    read_manifest,
    write_project,
)

NOTEBOOK = Path("analysis.ipynb")
"""The notebook the errors name; the writer never reads it."""
FILES = {"pyproject.toml": b"[project]\n", "src/pkg/pipeline.py": b"x = 1\n", "README.md": b"hi"}


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its content."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def write(out: Path, files: dict[str, bytes] | None = None, **kw: bool) -> WriteReport:
    return write_project(
        out, FILES if files is None else files, {"project": "p"}, notebook=NOTEBOOK, **kw
    )


def refusal(out: Path, files: dict[str, bytes] | None = None) -> UserError:
    """The `UserError` a write raises; the test checks the folder was not touched."""
    before = tree(out) if out.exists() else None
    with pytest.raises(UserError) as raised:
        write(out, files)
    assert (tree(out) if out.exists() else None) == before
    return raised.value


def test_a_first_write_creates_every_file_and_the_manifest(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "out"
    report = write(out)
    assert report.written == sorted([*FILES, MANIFEST])
    assert tree(out) == {**FILES, MANIFEST: (out / MANIFEST).read_bytes()}
    assert list(out.parent.iterdir()) == [out]  # the staging folder was renamed, not copied


def test_the_manifest_holds_the_hash_of_every_file_and_the_callers_data(tmp_path: Path) -> None:
    """The hashes are how a re-run tells nb2prod's files from the user's edits."""
    write(tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["nb2prod_version"] == __version__
    assert manifest["project"] == "p"
    assert manifest["files"] == {p: hashlib.sha256(b).hexdigest() for p, b in FILES.items()}
    assert read_manifest(tmp_path / "out") == manifest


def test_a_fresh_project_folder_gets_mkdirs_mode_not_a_temporary_folders(tmp_path: Path) -> None:
    """mkdtemp's 0700 would hide the project from the user's group."""
    write(tmp_path / "out")
    assert (tmp_path / "out").stat().st_mode & 0o777 == folder_mode()


def test_rerun_updates_nothing_when_nothing_changed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out)
    before = tree(out)
    report = write(out)
    assert report.written == [] and report.removed == [] and report.backup is None
    assert sorted(report.unchanged) == sorted([*FILES, MANIFEST])
    assert tree(out) == before


def test_rerun_refuses_to_overwrite_an_edited_file(tmp_path: Path) -> None:
    """Nothing at all is written: not the other changed files, not the manifest."""
    out = tmp_path / "out"
    write(out)
    (out / "src/pkg/pipeline.py").write_bytes(b"x = 1\n# my change\n")
    changed = {**FILES, "src/pkg/pipeline.py": b"x = 2\n", "README.md": b"new"}
    problem = refusal(out, changed).problems[0]
    assert problem.code == "edited-files"
    assert "src/pkg/pipeline.py" in problem.message and "README.md" not in problem.message
    assert "--force" in problem.fix and BACKUPS in problem.fix


def test_force_overwrites_after_a_backup(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out)
    edited = b"x = 1\n# my change\n"
    (out / "src/pkg/pipeline.py").write_bytes(edited)
    report = write(out, {**FILES, "src/pkg/pipeline.py": b"x = 2\n"}, force=True)
    assert report.kept_edited == ["src/pkg/pipeline.py"]
    assert report.backup is not None and report.backup.parent == out / BACKUPS
    assert (report.backup / "src/pkg/pipeline.py").read_bytes() == edited
    assert (out / "src/pkg/pipeline.py").read_bytes() == b"x = 2\n"
    assert report.written == ["src/pkg/pipeline.py", MANIFEST]  # the manifest last


def test_force_with_nothing_edited_makes_no_backup(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out)
    report = write(out, {**FILES, "README.md": b"new"}, force=True)
    assert report.backup is None and not (out / BACKUPS).exists()
    assert report.written == ["README.md", MANIFEST]


def test_untouched_generated_files_are_updated_and_stale_ones_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, {"a.txt": b"one", "b.txt": b"old"})
    report = write(out, {"a.txt": b"two"})
    assert (out / "a.txt").read_bytes() == b"two"
    assert not (out / "b.txt").exists() and report.removed == ["b.txt"]
    assert json.loads((out / MANIFEST).read_text())["files"] == {
        "a.txt": hashlib.sha256(b"two").hexdigest()
    }


def test_a_stale_file_the_user_edited_is_kept(tmp_path: Path) -> None:
    """nb2prod no longer generates it, but it is the user's now: never deleted."""
    out = tmp_path / "out"
    write(out, {"a.txt": b"one", "b.txt": b"old"})
    (out / "b.txt").write_bytes(b"mine")
    report = write(out, {"a.txt": b"one"})
    assert report.removed == [] and (out / "b.txt").read_bytes() == b"mine"


def test_a_deleted_generated_file_is_written_again(tmp_path: Path) -> None:
    """A missing file was not edited: it comes back without --force."""
    out = tmp_path / "out"
    write(out)
    (out / "README.md").unlink()
    report = write(out)
    assert report.written == ["README.md"] and (out / "README.md").read_bytes() == b"hi"


def test_the_users_own_files_beside_the_project_are_left_alone(tmp_path: Path) -> None:
    """Files the manifest never listed are neither edits nor stale."""
    out = tmp_path / "out"
    write(out)
    (out / "notes.txt").write_text("mine")
    write(out, {**FILES, "README.md": b"new"})
    assert (out / "notes.txt").read_text() == "mine"


def test_a_folder_with_foreign_files_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    error = refusal(out)
    assert error.problems[0].code == "output-not-ours"
    assert "did not write" in error.problems[0].message


def test_an_empty_folder_is_written_into(tmp_path: Path) -> None:
    """`mkdir out` before converting is not a reason to refuse."""
    out = tmp_path / "out"
    out.mkdir()
    assert sorted(write(out).written) == sorted([*FILES, MANIFEST])
    assert tree(out)["README.md"] == b"hi"


def test_an_output_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file")
    assert refusal(tmp_path / "out").problems[0].code == "output-is-file"


@pytest.mark.parametrize(
    ("manifest", "says"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"files": {"../outside.txt": "0" * 64}}), "outside the project"),
        (json.dumps({"files": {"/etc/passwd": "0" * 64}}), "outside the project"),
    ],
)
def test_a_damaged_or_hostile_manifest_stops_the_write(
    tmp_path: Path, manifest: str, says: str
) -> None:
    """The manifest is a file anyone can edit: it must not steer a write or a delete."""
    out = tmp_path / "out"
    write(out)
    (out / MANIFEST).write_text(manifest)
    error = refusal(out)
    assert error.problems[0].code == "bad-manifest" and says in error.problems[0].message


def test_a_path_through_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    """A link planted in the project must not let the writer reach outside it."""
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    write(out)
    elsewhere.mkdir()
    os.symlink(elsewhere, out / "src" / "linked")
    error = refusal(out, {**FILES, "src/linked/x.py": b"x"})
    assert error.problems[0].code == "path-outside-project"
    assert list(elsewhere.iterdir()) == []


def test_a_failure_while_writing_leaves_nothing_behind(tmp_path: Path) -> None:
    """`a.txt` is written, then `a.txt/b.txt` cannot be: the half-written staging folder
    goes, and the error is the user's to fix, not a traceback."""
    out = tmp_path / "out"
    with pytest.raises(UserError) as raised:
        write(out, {"a.txt": b"one", "a.txt/b.txt": b"two"})
    assert raised.value.problems[0].code == "cannot-write"
    assert "nothing was half-written" in raised.value.problems[0].message
    assert list(tmp_path.iterdir()) == []


def test_a_failure_while_updating_changes_no_file(tmp_path: Path) -> None:
    """A re-run stages every changed file before it replaces any."""
    out = tmp_path / "out"
    write(out)
    before = tree(out)
    with pytest.raises(UserError):
        write(out, {**FILES, "README.md": b"new", "x": b"1", "x/y": b"2"})
    assert tree(out) == before
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["README.md", MANIFEST, "pyproject.toml", "src"]
    )


def test_a_file_system_refusal_is_the_users_error_to_fix(tmp_path: Path) -> None:
    """A parent that is a file (ENOTDIR) cannot be written into: exit 2, never a crash."""
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError) as raised:
        write(tmp_path / "file" / "out")
    problem = raised.value.problems[0]
    assert problem.code == "cannot-write" and str(tmp_path / "file") in problem.message
    assert problem.fix == "choose another folder with -o"


@pytest.mark.parametrize(
    ("code", "fix"),
    [
        (errno.EROFS, "read-only file system"),
        (errno.ENOSPC, "the disk is full"),
        (errno.EACCES, "you may not write there"),
    ],
)
def test_each_refusal_gets_its_own_fix(code: int, fix: str) -> None:
    error = _cannot_write(Path("out"), NOTEBOOK, OSError(code, os.strerror(code), "out/x"))
    problem = error.problems[0]
    assert fix in problem.fix
    assert problem.message.startswith(f"could not write the project to out: {os.strerror(code)}")
    assert "(out/x)" in problem.message


@pytest.mark.parametrize("content", [None, "[1, 2]", "{oops"])
def test_read_manifest_says_when_a_folder_is_not_a_project(
    tmp_path: Path, content: str | None
) -> None:
    if content is not None:
        (tmp_path / MANIFEST).write_text(content)
    with pytest.raises(UserError) as raised:
        read_manifest(tmp_path)
    assert raised.value.problems[0].code == "not-a-project"

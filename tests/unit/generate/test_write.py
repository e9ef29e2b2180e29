"""Safe output: atomic first write, updates of untouched files, refusal to overwrite edits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nb2prod.commands.convert import convert
from nb2prod.errors import UserError
from nb2prod.generate.write import BACKUPS, write_project
from tests.conftest import EXAMPLES

NOTEBOOK = EXAMPLES / "wine_classifier.ipynb"


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_rerun_updates_nothing_when_nothing_changed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    convert(NOTEBOOK, out)
    before = _tree(out)
    report = convert(NOTEBOOK, out).report
    assert report.written == []
    assert _tree(out) == before


def test_rerun_refuses_to_overwrite_an_edited_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    convert(NOTEBOOK, out)
    pipeline = out / "src" / "wine_classifier" / "pipeline.py"
    pipeline.write_text(pipeline.read_text() + "\n# my change\n")
    before = _tree(out)
    with pytest.raises(UserError) as error:
        convert(NOTEBOOK, out)
    assert "src/wine_classifier/pipeline.py" in error.value.problems[0].message
    assert "--force" in error.value.problems[0].fix
    assert _tree(out) == before  # nothing written at all


def test_force_overwrites_after_a_backup(tmp_path: Path) -> None:
    out = tmp_path / "out"
    convert(NOTEBOOK, out)
    pipeline = out / "src" / "wine_classifier" / "pipeline.py"
    edited = pipeline.read_text() + "\n# my change\n"
    pipeline.write_text(edited)
    report = convert(NOTEBOOK, out, force=True).report
    assert report.backup is not None and report.backup.parent == out / BACKUPS
    assert (report.backup / "src" / "wine_classifier" / "pipeline.py").read_text() == edited
    assert "# my change" not in pipeline.read_text()


def test_untouched_generated_files_are_updated_and_stale_ones_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_project(out, {"a.txt": b"one", "b.txt": b"old"}, {}, notebook=NOTEBOOK)
    report = write_project(out, {"a.txt": b"two"}, {}, notebook=NOTEBOOK)
    assert (out / "a.txt").read_bytes() == b"two"
    assert not (out / "b.txt").exists() and report.removed == ["b.txt"]
    assert json.loads((out / "nb2prod.json").read_text())["files"]["a.txt"]


def test_a_folder_with_foreign_files_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="did not write"):
        convert(NOTEBOOK, out)
    assert _tree(out) == {"notes.txt": b"mine"}


def test_a_failure_while_writing_leaves_nothing_behind(tmp_path: Path) -> None:
    out = tmp_path / "out"

    class Exploding(dict):
        def items(self):  # fails half-way through the write
            yield "a.txt", b"one"
            raise OSError("disk full")

    with pytest.raises(OSError):
        write_project(out, Exploding(), {}, notebook=NOTEBOOK)
    assert list(tmp_path.iterdir()) == []

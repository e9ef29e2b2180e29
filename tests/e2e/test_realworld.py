"""The real-world corpus (tests/realworld/): its manifest and tagging, and a fast subset end to end.

The whole corpus runs with `make test-realworld` (it writes docs/realworld.md); here, a few small
scikit-learn-only notebooks must convert, train and verify, comparing at least one metric and
predictions by both the predict function and the service.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

REALWORLD = ROOT / "tests" / "realworld"
sys.path.insert(0, str(REALWORLD))

import run as realworld_run  # noqa: E402
import tag as realworld_tag  # noqa: E402

ENTRIES = json.loads((REALWORLD / "manifest.json").read_text())["notebooks"]
PERMISSIVE = {"MIT", "BSD-3-Clause", "BSD-2-Clause", "Apache-2.0", "CC0-1.0", "CC-BY-4.0"}
FAST_SUBSET = ["sm_logit_fair", "sm_predict"]
"""Small statsmodels notebooks (< 30 s each) that convert, train and verify today
(docs/realworld.md); each compares a metric and predictions by the predict function and by
the service."""


def test_the_corpus_has_twenty_public_permissively_licensed_pinned_notebooks() -> None:
    assert len({(e["repo"], e["path"]) for e in ENTRIES}) >= 20
    ids = [e["id"] for e in ENTRIES]
    assert len(ids) == len(set(ids))
    for entry in ENTRIES:
        assert entry["repo"].count("/") == 1 and entry["path"].endswith(".ipynb"), entry
        assert len(entry["commit"]) == 40 and len(entry["blob"]) == 40, entry
        assert entry["licence"] in PERMISSIVE, entry
        assert entry["covers"], entry
        assert (REALWORLD / "notebooks" / f"{entry['id']}.ipynb").is_file(), entry
        assert (REALWORLD / "tags" / f"{entry['id']}.json").is_file(), entry
        for data in entry["data"]:
            path = REALWORLD / "data" / entry["id"] / data["path"]
            assert path.is_file() and path.stat().st_size < 1_000_000, data


def test_stored_notebooks_are_the_originals_with_outputs_stripped() -> None:
    from strip import strip

    for entry in ENTRIES:
        stored = (REALWORLD / "notebooks" / f"{entry['id']}.ipynb").read_text()
        assert strip(stored) == stored, entry["id"]  # stripping again changes nothing
        cells = json.loads(stored)["cells"]
        assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize("notebook_id", [e["id"] for e in ENTRIES])
def test_tagging_applies_cleanly(notebook_id: str, tmp_path: Path) -> None:
    path = realworld_tag.write_tagged(notebook_id, tmp_path)
    node = json.loads(path.read_text())
    tags = [t for c in node["cells"] for t in c.get("metadata", {}).get("tags", [])]
    assert tags, "a tagged notebook declares roles (its own Kale tags or ours)"
    original = json.loads((REALWORLD / "notebooks" / f"{notebook_id}.ipynb").read_text())
    recipe = json.loads((REALWORLD / "tags" / f"{notebook_id}.json").read_text())
    added = len(recipe.get("add_cells", []))
    assert len(node["cells"]) == len(original["cells"]) + added  # only recorded cells are added
    entry = next(e for e in ENTRIES if e["id"] == notebook_id)
    for data in entry["data"]:
        assert (tmp_path / data["path"]).is_file()


def test_every_edit_says_why_and_changes_one_cell_a_little() -> None:
    for entry in ENTRIES:
        recipe = json.loads((REALWORLD / "tags" / f"{entry['id']}.json").read_text())
        for edit in recipe.get("edits", []):
            assert edit.get("why", "").strip(), (entry["id"], edit)
            assert edit["old"] != edit["new"], (entry["id"], edit)
            assert edit["new"].count("\n") - edit["old"].count("\n") <= 4, (entry["id"], edit)
        for added in recipe.get("add_cells", []):  # a cell the tool's own way asks for
            assert added.get("why", "").strip() and added["source"].strip(), (entry["id"], added)
            assert added["source"].count("\n") <= 5, (entry["id"], added)


def test_an_edit_that_no_longer_applies_fails_loudly(tmp_path: Path, monkeypatch) -> None:
    tags = tmp_path / "tags"
    tags.mkdir()
    recipe = {"tags": {"0": ["skip"]}, "edits": [{"cell": 0, "old": "not there", "new": "x"}]}
    (tags / "homl3_iris_tree.json").write_text(json.dumps(recipe))
    monkeypatch.setattr(realworld_tag, "TAGS", tags)
    with pytest.raises(realworld_tag.TagError, match="finds its text 0 times"):
        realworld_tag.tagged("homl3_iris_tree")


@pytest.mark.e2e
@pytest.mark.parametrize("notebook_id", FAST_SUBSET)
def test_a_small_real_world_notebook_converts_and_verifies(notebook_id: str, tmp_path: Path):
    result = realworld_run.run_one(notebook_id, tmp_path)
    logs = "\n".join(p.read_text()[-3000:] for p in sorted((tmp_path / "logs").glob("*.log")))
    assert result.convert == 0 and result.train == 0 and result.verify == 0, logs
    assert result.metrics >= 1, result
    assert result.predictions_function >= 1 and result.predictions_service >= 1, result

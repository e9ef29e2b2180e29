"""nb2prod writes, deletes and runs only inside the project: attacks through an edited
manifest and through symbolic links are refused with exit 2, and nothing outside moves.

Each test converts a small notebook once (module fixture), copies the project, plants
the attack, and runs the real CLI.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import make_notebook, run_cli

CELLS = [
    "from sklearn.datasets import load_iris\nfrom sklearn.tree import DecisionTreeClassifier",
    ("X, y = load_iris(return_X_y=True)", ["nb2prod:load"]),
    ("model = DecisionTreeClassifier(random_state=0).fit(X, y)", ["nb2prod:train"]),
    ("accuracy = model.score(X, y)", ["nb2prod:evaluate"]),
    ("predictions = model.predict(X[:3])", ["nb2prod:predict"]),
]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("confine")
    notebook = make_notebook(root / "iris.ipynb", CELLS)
    result = run_cli("convert", str(notebook), "-o", str(root / "project"), timeout=300)
    assert result.returncode == 0, result.stderr
    return notebook, root / "project"


@pytest.fixture
def attack(converted: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path, Path]:
    """(notebook, a copy of the project, an `outside` folder holding a victim file)."""
    notebook, project = converted
    copy = tmp_path / "work" / "project"
    shutil.copytree(project, copy, symlinks=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("keep me\n")
    return notebook, copy, outside


def _edit_manifest(project: Path, change) -> None:
    path = project / "nb2prod.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def _refused(result, code: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert code in result.stdout + result.stderr, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize("form", ["relative", "absolute"])
def test_a_manifest_path_outside_the_project_is_refused(attack, form: str) -> None:
    notebook, project, outside = attack
    victim = outside / "victim.txt"
    digest = hashlib.sha256(victim.read_bytes()).hexdigest()
    path = str(victim) if form == "absolute" else "../../outside/victim.txt"
    _edit_manifest(project, lambda m: m["files"].update({path: digest}))
    _refused(
        run_cli("convert", str(notebook), "-o", str(project), timeout=300),
        "lists paths outside the project",
    )
    assert victim.read_text() == "keep me\n"


def test_a_symlinked_folder_inside_the_project_is_not_written_through(attack) -> None:
    notebook, project, outside = attack
    shutil.rmtree(project / "reference")
    (project / "reference").symlink_to(outside, target_is_directory=True)
    result = run_cli("convert", str(notebook), "-o", str(project), timeout=300)
    _refused(result, "is a symbolic link")
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]


def test_verify_refuses_a_notebook_path_outside_the_project(attack) -> None:
    _, project, outside = attack
    planted = outside / "nb.ipynb"
    marker = outside / "ran.txt"
    make_notebook(planted, [f"open({str(marker)!r}, 'w').write('ran')"])
    _edit_manifest(project, lambda m: m["source"].update({"path": "../../outside/nb.ipynb"}))
    _refused(run_cli("verify", str(project), timeout=300), "inside the project folder")
    assert not marker.exists()


def test_verify_does_not_write_through_a_symlinked_verification_folder(attack) -> None:
    _, project, outside = attack
    shutil.rmtree(project / "verification", ignore_errors=True)
    (project / "verification").symlink_to(outside, target_is_directory=True)
    _refused(run_cli("verify", str(project), timeout=300), "inside the project folder")
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]


def test_verify_replaces_links_planted_inside_its_folder(attack) -> None:
    """Files verify writes (the executed copy, the report) replace a link, never follow it."""
    _, project, outside = attack
    victim = outside / "victim.txt"
    folder = project / "verification"
    folder.mkdir(exist_ok=True)
    for name in ("report.json", "executed-iris.ipynb", "input-iris.ipynb"):
        (folder / name).unlink(missing_ok=True)
        (folder / name).symlink_to(victim)
    result = run_cli("verify", str(project), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert victim.read_text() == "keep me\n"
    assert not (folder / "report.json").is_symlink()

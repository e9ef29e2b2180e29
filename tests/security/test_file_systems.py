"""A file system that refuses is the user's problem to fix (exit 2 with the reason), never
nb2prod's crash (exit 3), and nothing is left half-written.

Read-only and full file systems are real tmpfs mounts, which needs root (CI runs as
root); elsewhere those tests skip.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_notebook, run_cli

CELLS = [
    "from sklearn.datasets import load_iris\nfrom sklearn.tree import DecisionTreeClassifier",
    ("X, y = load_iris(return_X_y=True)", ["nb2prod:load"]),
    ("model = DecisionTreeClassifier(random_state=0).fit(X, y)", ["nb2prod:train"]),
    ("predictions = model.predict(X[:3])", ["nb2prod:predict"]),
]


@pytest.fixture(scope="module")
def notebook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_notebook(tmp_path_factory.mktemp("fs") / "iris.ipynb", CELLS)


def _mount(target: Path, options: str) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    yield from _mount(tmp_path / "ro", "ro,size=1m")


@pytest.fixture
def full(tmp_path: Path) -> Iterator[Path]:
    yield from _mount(tmp_path / "full", "size=64k")


@pytest.fixture
def mount_point(tmp_path: Path) -> Iterator[Path]:
    yield from _mount(tmp_path / "mounted", "size=16m")


def _user_error(result, fragment: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert fragment in output, output
    assert "Traceback" not in output and "bug in nb2prod" not in output, output


def test_a_read_only_file_system_is_exit_2(notebook: Path, read_only: Path) -> None:
    result = run_cli("convert", str(notebook), "-o", str(read_only / "project"), "--no-run")
    _user_error(result, "read-only file system")
    assert list(read_only.iterdir()) == []


def test_a_full_disk_is_exit_2_and_leaves_nothing(notebook: Path, full: Path) -> None:
    result = run_cli("convert", str(notebook), "-o", str(full / "project"), "--no-run")
    _user_error(result, "disk is full")
    assert list(full.iterdir()) == []


def test_converting_into_an_empty_mount_point_works(notebook: Path, mount_point: Path) -> None:
    result = run_cli("convert", str(notebook), "-o", str(mount_point), "--no-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (mount_point / "nb2prod.json").is_file()
    again = run_cli("convert", str(notebook), "-o", str(mount_point), "--no-run")
    assert again.returncode == 0, again.stdout + again.stderr
    assert not [p for p in mount_point.iterdir() if p.name.startswith(".nb2prod-staging")]


def test_an_unusable_output_path_is_exit_2(notebook: Path) -> None:
    _user_error(run_cli("convert", str(notebook), "-o", "/proc/self/project", "--no-run"), "")


def test_the_project_folder_follows_the_umask(notebook: Path, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        result = run_cli("convert", str(notebook), "-o", str(tmp_path / "p"), "--no-run")
    finally:
        os.umask(old)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "p").stat().st_mode & 0o777 == 0o755

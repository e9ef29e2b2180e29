"""Golden files: the generated project of each example, committed and compared file by file.

An intended change to the output updates `tests/golden/` in the same commit
(`make golden`), so reviewers see it as a diff. Installed versions differ
between machines, so version pins (and the manifest's hash of the file that
holds them) are normalised before comparing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from nb2prod.convert import convert
from tests.conftest import EXAMPLE_NOTEBOOKS, ROOT

GOLDEN = ROOT / "tests" / "golden"
PIN = re.compile(r'"([A-Za-z0-9._\[\]-]+)==[^"]+"')


def _normalised(relative: str, data: bytes) -> str:
    text = data.decode()
    if relative == "pyproject.toml":
        return PIN.sub(r'"\1==<pinned>"', text)
    if relative == "nb2prod.json":
        manifest = json.loads(text)
        manifest["files"]["pyproject.toml"] = "<depends on pins>"
        return json.dumps(manifest, indent=2)
    return text


def _files(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): _normalised(str(path.relative_to(root)), path.read_bytes())
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("notebook", EXAMPLE_NOTEBOOKS, ids=lambda p: p.stem)
def test_generated_project_matches_golden(notebook: Path, tmp_path: Path) -> None:
    out = tmp_path / notebook.stem
    convert(notebook, out)
    expected_dir = GOLDEN / notebook.stem
    if os.environ.get("NB2PROD_UPDATE_GOLDEN"):
        shutil.rmtree(expected_dir, ignore_errors=True)
        shutil.copytree(out, expected_dir)
    generated, expected = _files(out), _files(expected_dir)
    assert sorted(generated) == sorted(expected)
    for relative, text in generated.items():
        assert text == expected[relative], f"{relative} differs from tests/golden/{notebook.stem}"

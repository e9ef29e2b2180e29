"""Golden files: the generated project of each example, committed and compared file by file.

An intended change to the output updates `tests/golden/` in the same commit
(`make golden`), so reviewers see it as a diff. Installed versions differ
between machines, so version pins (and the manifest's hash of the file that
holds them) are normalised before comparing. Floats computed by the probe
(predictions, metrics, profiles) differ in their last digits with the CPU's BLAS
kernels, so they are compared within a relative 1e-9 and the manifest's hashes of
files holding them are checked against those files instead (`tests/tolerant.py`);
every other character must match. Files nb2prod copies as they are
(`render.COPIED`: the runtime modules, the ignore files) have no golden copy:
they must equal their source in `nb2prod/generate/` byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from nb2prod.commands.convert import convert
from nb2prod.generate.render import COPIED
from tests.conftest import EXAMPLE_NOTEBOOKS, EXAMPLES, ROOT
from tests.tolerant import FLOAT32_RTOL, RTOL, file_difference, normalise_manifest

GOLDEN = ROOT / "tests" / "golden"
TRAINED_IN_FLOAT32 = frozenset({"digits_cnn", "tabular_mlp"})
"""PyTorch examples: their probed floats are compared within FLOAT32_RTOL."""
GENERATE = ROOT / "nb2prod" / "generate"
PIN = re.compile(r'"([A-Za-z0-9._\[\]-]+)==[^"]+"')


def _normalised(root: Path, relative: str, data: bytes, copied: frozenset[str]) -> str:
    text = data.decode()
    if relative == "pyproject.toml":
        return PIN.sub(r'"\1==<pinned>"', text)
    if relative == "nb2prod.json":
        text = normalise_manifest(root, text, also=frozenset({"pyproject.toml"}))
        manifest = json.loads(text)  # a copied file's hash is checked against the file itself
        for name in copied & set(manifest.get("files", {})):
            manifest["files"][name] = "<copied as is>"
        return json.dumps(manifest, indent=2)
    return text


def copied_files(project: Path) -> dict[str, Path]:
    """The project's files that are nb2prod's own, copied as they are, and their sources."""
    package = json.loads((project / "nb2prod.json").read_text()).get("package")
    if package is None:  # a hand-made project of the comparison's own tests
        return {}
    targets = {target.format(package=package): GENERATE / s for s, (target, _) in COPIED.items()}
    return {target: source for target, source in targets.items() if (project / target).exists()}


def _files(root: Path, copied: frozenset[str] = frozenset()) -> dict[str, str]:
    return {
        str(path.relative_to(root)): _normalised(
            root, str(path.relative_to(root)), path.read_bytes(), copied
        )
        for path in sorted(root.rglob("*"))
        if path.is_file() and str(path.relative_to(root)) not in copied
    }


def _differences(generated_dir: Path, expected_dir: Path, rtol: float = RTOL) -> list[str]:
    copied = frozenset(copied_files(generated_dir))
    generated, expected = _files(generated_dir, copied), _files(expected_dir, copied)
    if sorted(generated) != sorted(expected):
        return [f"files {sorted(set(generated) ^ set(expected))} are not in both"]
    return [
        f"{relative}: {found}"
        for relative, text in generated.items()
        if (found := file_difference(relative, text, expected[relative], rtol))
    ]


@pytest.mark.parametrize("notebook", EXAMPLE_NOTEBOOKS, ids=lambda p: p.stem)
def test_generated_project_matches_golden(notebook: Path, tmp_path: Path) -> None:
    out = tmp_path / notebook.stem
    convert(notebook, out)
    expected_dir = GOLDEN / notebook.stem
    copied = copied_files(out)
    if os.environ.get("NB2PROD_UPDATE_GOLDEN"):
        shutil.rmtree(expected_dir, ignore_errors=True)
        shutil.copytree(out, expected_dir)
        for relative in copied:
            (expected_dir / relative).unlink()
    differences = _differences(
        out, expected_dir, FLOAT32_RTOL if notebook.stem in TRAINED_IN_FLOAT32 else RTOL
    )
    assert differences == [], f"differs from tests/golden/{notebook.stem}"
    changed = [r for r, source in copied.items() if (out / r).read_bytes() != source.read_bytes()]
    assert changed == [], "copied files must equal their source in nb2prod/generate/"
    hashes = json.loads((out / "nb2prod.json").read_text())["files"]
    assert all(hashes[r] == hashlib.sha256((out / r).read_bytes()).hexdigest() for r in copied)
    assert not [r for r in copied if (expected_dir / r).exists()], "copies have no golden file"


def test_other_blas_kernels_still_match(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another CPU's OpenBLAS kernels change the last digits only: the comparison holds."""
    notebook = EXAMPLES / "diabetes_regression.ipynb"
    convert(notebook, tmp_path / "here")
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Prescott")  # the probe's child reads it
    convert(notebook, tmp_path / "prescott")
    assert _differences(tmp_path / "here", tmp_path / "prescott") == []


def _project(root: Path, response: str, readme: str = "rmse 0.5 on 3.12.1\n") -> Path:
    import hashlib
    import json

    files = {"examples/response.json": response, "README.md": readme}
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    digests = {r: hashlib.sha256(t.encode()).hexdigest() for r, t in files.items()}
    (root / "nb2prod.json").write_text(json.dumps({"files": digests}, indent=2))
    return root


@pytest.mark.parametrize(
    ("response", "readme", "same"),
    [
        ('[{"p": 0.6444378901862808}]', "rmse 0.5 on 3.12.1\n", True),
        ('[{"p": 0.6444378901862806}]', "rmse 0.5000000000000001 on 3.12.1\n", True),
        ('[{"p": 0.6444378}]', "rmse 0.5 on 3.12.1\n", False),  # a real change
        ('[{"q": 0.6444378901862808}]', "rmse 0.5 on 3.12.1\n", False),  # a key
        ('[{"p": 1}]', "rmse 0.5 on 3.12.1\n", False),  # a type
        ('[{"p": 0.6444378901862808}]', "mae 0.5 on 3.12.1\n", False),  # a word
        ('[{"p": 0.6444378901862808}]', "rmse 0.5 on 3.12.2\n", False),  # a version
        ('[{"p": 0.6444378901862808}]', "rmse 0.5 on 3.12.1", False),  # a newline
        ('[{"p": 0.6444378901862808}, 2]', "rmse 0.5 on 3.12.1\n", False),  # an item
        ('[ {"p": 0.6444378901862808}]', "rmse 0.5 on 3.12.1\n", False),  # layout
    ],
)
def test_comparison_forgives_float_round_off_only(
    tmp_path: Path, response: str, readme: str, same: bool
) -> None:
    expected = _project(tmp_path / "expected", '[{"p": 0.6444378901862808}]')
    generated = _project(tmp_path / "generated", response, readme)
    assert (_differences(generated, expected) == []) is same


def test_manifest_hashes_must_be_those_of_the_files(tmp_path: Path) -> None:
    expected = _project(tmp_path / "expected", '[{"p": 0.6444378901862808}]')
    generated = _project(tmp_path / "generated", '[{"p": 0.6444378901862806}]')
    assert _differences(generated, expected) == []
    (generated / "examples" / "response.json").write_text('[{"p": 0.6444378901862807}]')
    [difference] = _differences(generated, expected)
    assert difference.startswith("nb2prod.json") and "is not its sha256" in difference

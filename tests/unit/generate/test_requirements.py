"""requirements.py: pinned distributions from the imports and the `pip install` lines.

An import name is not a distribution name, the standard library and local modules
are no requirement, and a user's own specifier wins over the installed pin.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nb2prod.errors import Problem
from nb2prod.generate.requirements import (
    Requirement,
    canonical_name,
    distribution_for,
    installed_version,
    resolve_requirements,
)


@pytest.fixture
def no_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the scan of every installed distribution (about a second) for missing modules."""
    monkeypatch.setattr("nb2prod.generate.requirements.metadata.packages_distributions", dict)


def pinned(name: str) -> str:
    """`name==<installed version>`, as the requirements pin it here."""
    version = installed_version(name)
    assert version is not None, f"{name} is a dev dependency of nb2prod"
    return f"{name}=={version.split('+')[0]}"


def resolve(
    modules: list[str], pip_lines: list[str], folder: Path
) -> tuple[list[str], list[tuple[str, str]]]:
    """The requirements as strings, and (code, message) of each problem."""
    problems: list[Problem] = []
    found = resolve_requirements(modules, pip_lines, folder, problems)
    return [str(r) for r in found], [(p.code, p.message) for p in problems]


def test_stdlib_and_future_imports_are_no_requirement(tmp_path: Path) -> None:
    """`os`, `json` and `__future__` come with Python."""
    assert resolve(["os", "json", "__future__"], [], tmp_path) == ([], [])


def test_imports_map_to_pinned_distributions_sorted_by_name(tmp_path: Path) -> None:
    """`sklearn` is `scikit-learn`, pinned to the version installed here."""
    found, problems = resolve(["sklearn", "numpy"], [], tmp_path)
    assert found == [pinned("numpy"), pinned("scikit-learn")]
    assert problems == []


def test_a_shared_namespace_maps_to_the_distribution_that_owns_its_api(tmp_path: Path) -> None:
    """`opentelemetry` is one import name of seven installed distributions (bentoml's);
    `from opentelemetry import trace` needs the API alone, not a pin of each."""
    found, problems = resolve(["opentelemetry"], [], tmp_path)
    assert found == [pinned("opentelemetry-api")]
    assert problems == []


@pytest.mark.usefixtures("no_scan")
def test_modules_next_to_the_notebook_are_left_out_with_a_warning(tmp_path: Path) -> None:
    """`helpers.py` or a `pkgdir/` folder beside the notebook is not on PyPI."""
    (tmp_path / "helpers.py").write_text("")
    (tmp_path / "pkgdir").mkdir()
    found, problems = resolve(["helpers", "pkgdir"], [], tmp_path)
    assert found == []
    assert [code for code, _ in problems] == ["local-module", "local-module"]
    assert "`import helpers` reads a module next to the notebook" in problems[0][1]


@pytest.mark.usefixtures("no_scan")
def test_a_missing_module_is_kept_unpinned_with_a_warning(tmp_path: Path) -> None:
    """Not installed here: the well-known distribution name, unpinned, and how to fix it."""
    problems: list[Problem] = []
    found = resolve_requirements(["cv2", "nosuchmod_xyz"], [], tmp_path, problems)
    assert found == [Requirement("nosuchmod_xyz", ""), Requirement("opencv-python", "")]
    assert [p.code for p in problems] == ["unknown-distribution", "unknown-distribution"]
    assert problems[0].message == (
        "`cv2` is imported but not installed here, so it cannot be pinned"
    )
    assert problems[0].fix == (
        "`pip install opencv-python` (the distribution that provides it) and convert again"
    )
    assert problems[1].fix.startswith("`pip install nosuchmod-xyz`")


@pytest.mark.usefixtures("no_scan")
def test_bentomls_own_packages_name_bentoml_where_it_is_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """single_worker.py imports `_bentoml_impl`: converted where BentoML is not installed
    (nb2prod's plain install), the project must still get a valid PEP 508 name, `bentoml`
    (`_bentoml_impl` made pip refuse the whole pyproject.toml)."""
    monkeypatch.setattr("nb2prod.generate.requirements._provides", lambda *_: False)
    found = resolve_requirements(["_bentoml_impl", "_bentoml_sdk"], [], tmp_path, [])
    assert found == [Requirement("bentoml", "")]


def test_pip_lines_keep_the_users_specifier_and_extras(tmp_path: Path) -> None:
    """`pandas>=2` stays as written; an unpinned line gets the installed pin."""
    found, problems = resolve([], ["pandas>=2", "requests[socks]==2.0", "pytest"], tmp_path)
    assert found == ["pandas>=2", pinned("pytest"), "requests[socks]==2.0"]
    assert problems == []


def test_a_pip_line_replaces_the_same_distribution_from_an_import(tmp_path: Path) -> None:
    """`Scikit_Learn[extra]` and the `sklearn` import are one distribution, once."""
    found, _ = resolve(["sklearn"], ["Scikit_Learn[extra]"], tmp_path)
    version = installed_version("scikit-learn")
    assert found == [f"Scikit_Learn[extra]=={version}"]


def test_local_paths_and_urls_in_pip_lines_are_left_out(tmp_path: Path) -> None:
    """A path or VCS URL cannot be pinned from PyPI; the generated project skips it."""
    lines = ["./local", "/abs/pkg", "git+https://example.com/x.git", "https://x/y.whl"]
    assert resolve([], lines, tmp_path) == ([], [])


def test_distribution_for_installed_modules_reads_the_installed_files() -> None:
    """The installed distribution's own files say which import names it provides."""
    assert distribution_for("sklearn.linear_model") == "scikit-learn"
    assert distribution_for("numpy") == "numpy"
    assert distribution_for("IPython") == "ipython"


@pytest.mark.usefixtures("no_scan")
def test_distribution_for_missing_modules_uses_known_renames() -> None:
    """Missing: a well-known rename, else the import name with dashes."""
    assert distribution_for("cv2") == "opencv-python"
    assert distribution_for("my_mod.sub") == "my-mod"


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("Scikit_Learn[x]", "scikit-learn"),
        ("zope.interface", "zope-interface"),
        ("typing__extensions", "typing-extensions"),
        ("numpy", "numpy"),
    ],
)
def test_canonical_name_is_pep_503_without_extras(name: str, canonical: str) -> None:
    """One spelling per distribution, so imports and pip lines merge."""
    assert canonical_name(name) == canonical


def test_installed_version_is_none_for_a_missing_distribution() -> None:
    """A missing distribution gets no pin rather than an error."""
    assert installed_version("nosuch-distribution-xyz") is None


def test_a_local_build_label_is_not_pinned(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`torch 2.13.0+cpu` is pinned `torch==2.13.0`: PyPI has no `+cpu` build, and the pin
    still takes it from an index that has (PEP 440 ignores the candidate's label)."""
    monkeypatch.setattr(
        "nb2prod.generate.requirements.installed_version",
        lambda name: "2.13.0+cpu" if name == "torch" else None,
    )
    monkeypatch.setattr(
        "nb2prod.generate.requirements._distributions_of", lambda modules: {"torch": ["torch"]}
    )
    assert resolve(["torch"], [], tmp_path)[0] == ["torch==2.13.0"]

"""Every module of nb2prod has a direct unit test under tests/unit/<its stage>/.

An end-to-end run that happens to pass through a module says little about its own
decisions and takes minutes; a unit test that imports the module says which of them
broke, in seconds. A module counts as tested when a test file in its stage's folder
(tests/unit/ itself for the base modules at the top of nb2prod/) imports it. Modules
copied into generated projects (generate/runtime/) have tests of their own in
tests/unit/generate/runtime/, and a stage package whose __init__.py holds only its
docstring has nothing to test.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

UNIT = ROOT / "tests" / "unit"
NOT_TESTED_HERE = {"nb2prod.__main__"}
"""`python -m nb2prod` is one call of the CLI's `main`, which test_cli.py tests."""


def module_name(path: Path, root: Path) -> str:
    parts = path.with_suffix("").relative_to(root).parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def only_a_docstring(path: Path) -> bool:
    """An __init__.py with nothing but its docstring (and `from __future__`)."""
    body = ast.parse(path.read_text()).body
    return all(
        (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        or (isinstance(node, ast.ImportFrom) and node.module == "__future__")
        for node in body
    )


def modules_to_test(root: Path = ROOT) -> dict[str, Path]:
    """Each module of the checkout at `root` to test, and the folder its tests must be in."""
    package, unit = root / "nb2prod", root / "tests" / "unit"
    found: dict[str, Path] = {}
    for path in sorted(package.rglob("*.py")):
        inner = path.relative_to(package).parts
        name = module_name(path, root)
        if inner[:2] == ("generate", "runtime") or name in NOT_TESTED_HERE:
            continue
        if path.name == "__init__.py" and len(inner) > 1 and only_a_docstring(path):
            continue
        found[name] = unit / inner[0] if len(inner) > 1 else unit
    return found


def imported_modules(source: str) -> set[str]:
    """The nb2prod modules a file imports: `import a.b`, `from a.b import c` (a.b and a.b.c,
    since c may be a module), anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "nb2prod" or name.startswith("nb2prod.")}


def imports_in(folder: Path, top: bool) -> set[str]:
    """What the test files of `folder` import: its subfolders' too, unless it is the `top`
    of the unit tests (a base module's tests sit there, not in a stage's folder)."""
    files = folder.glob("test_*.py") if top else folder.rglob("test_*.py")
    return set().union(*(imported_modules(path.read_text()) for path in files))


def untested(root: Path = ROOT) -> list[str]:
    """The modules of the checkout at `root` that no unit test of their stage imports."""
    folders = modules_to_test(root)
    unit = root / "tests" / "unit"
    imported = {folder: imports_in(folder, folder == unit) for folder in set(folders.values())}
    return sorted(
        f"{name} (no test in {folder.relative_to(root)}/ imports it)"
        for name, folder in folders.items()
        if name not in imported[folder]
    )


def test_every_module_has_a_unit_test_in_its_stage() -> None:
    missing = untested()
    assert not missing, "modules without a direct unit test:\n  " + "\n  ".join(missing)


def test_the_module_list_is_not_empty_and_skips_what_it_should() -> None:
    """The check is not vacuous: it sees the stages' modules and the base, not the runtime."""
    folders = modules_to_test()
    assert folders["nb2prod.commands.verify"] == UNIT / "commands"
    assert folders["nb2prod.frontends.server.app"] == UNIT / "frontends"
    assert folders["nb2prod.errors"] == UNIT
    assert folders["nb2prod"] == UNIT  # the top package has code: the version, the hook
    assert "nb2prod.generate.runtime.contracts" not in folders
    assert "nb2prod.read" not in folders  # only a docstring


def test_a_module_tested_only_from_another_stage_is_named(tmp_path: Path) -> None:
    """The check fails, naming the module and the folder its test belongs in."""
    files = {
        "nb2prod/__init__.py": '"""The package."""\nVERSION = 1\n',
        "nb2prod/__main__.py": "",
        "nb2prod/errors.py": "",
        "nb2prod/read/__init__.py": '"""The read stage."""\n',
        "nb2prod/read/notebook.py": "",
        "nb2prod/read/roles.py": "",
        "nb2prod/generate/runtime/contracts.py": "",
        "tests/unit/test_base.py": "import nb2prod\nfrom nb2prod import errors\n",
        "tests/unit/read/test_roles.py": "from nb2prod.read.roles import x\n",
        "tests/unit/plan/test_build.py": "from nb2prod.read.notebook import load\n",
        "tests/unit/read/helpers.py": "from nb2prod.read.notebook import load\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert untested(tmp_path) == ["nb2prod.read.notebook (no test in tests/unit/read/ imports it)"]
    (tmp_path / "tests/unit/read/deeper").mkdir()
    (tmp_path / "tests/unit/read/deeper/test_notebook.py").write_text(
        "import nb2prod.read.notebook\n"
    )
    assert untested(tmp_path) == []
    (tmp_path / "tests/unit/test_base.py").write_text("import nb2prod\n")
    (tmp_path / "tests/unit/read/test_errors.py").write_text("import nb2prod.errors\n")
    assert untested(tmp_path) == ["nb2prod.errors (no test in tests/unit/ imports it)"]


def test_every_form_of_import_counts() -> None:
    source = (
        "import nb2prod.run.image\n"
        "from nb2prod.run import notebook_run\n"
        "from nb2prod.generate.write import write_project\n"
        "def later():\n    from nb2prod.errors import UserError\n"
        "import os\nfrom . import sibling\n"
    )
    assert imported_modules(source) >= {
        "nb2prod.run.image",
        "nb2prod.run.notebook_run",
        "nb2prod.generate.write",
        "nb2prod.errors",
    }
    assert "os" not in imported_modules(source)

"""Files copied into projects as they are (`render.COPIED`) and the templates beside them.

Copied files skip Jinja and ruff, so each must already be what rendering would give: a
runtime module must be what nb2prod's ruff pass leaves unchanged. And the rule that put
them here: a file with nothing to fill in is not a template.
"""

from __future__ import annotations

from nb2prod.generate.render import (
    ALWAYS,
    COPIED,
    GENERATE,
    copied_files,
    templates_dir,
    tidy_python,
)

PACKAGE = "shop_model"


def test_every_runtime_module_is_copied_and_every_copied_file_exists() -> None:
    modules = {
        f"runtime/{path.name}"
        for path in (GENERATE / "runtime").glob("*.py")
        if path.name != "__init__.py"
    }
    static = {f"static/{path.name}" for path in (GENERATE / "static").iterdir()}
    assert set(COPIED) == modules | static


def test_runtime_modules_are_what_the_ruff_pass_would_make_them() -> None:
    python = {
        target.format(package=PACKAGE): (GENERATE / source).read_text()
        for source, (target, _) in COPIED.items()
        if source.endswith(".py")
    }
    assert tidy_python(python, PACKAGE) == python


def test_copies_are_byte_for_byte_and_only_for_their_feature() -> None:
    files = copied_files({ALWAYS}, PACKAGE)
    assert set(files) == {
        f"src/{PACKAGE}/contracts.py",
        f"src/{PACKAGE}/data_quality.py",
        ".gitignore",
    }
    assert files[".gitignore"] == (GENERATE / "static" / "gitignore").read_bytes()
    assert files[f"src/{PACKAGE}/contracts.py"] == (GENERATE / "runtime/contracts.py").read_bytes()


def test_every_template_has_something_to_fill_in() -> None:
    root = templates_dir() / "project"
    static = [
        str(path.relative_to(root))
        for path in sorted(root.rglob("*.j2"))
        if not any(tag in path.read_text() for tag in ("{{", "{%"))
    ]
    assert static == [], "copy these from nb2prod/generate/ instead (render.COPIED)"


def test_the_imports_of_extras_are_not_the_services_requirements() -> None:
    """kfp (the pipeline), pyarrow and ray (batch scoring), and kfp_values' lazy torch and
    joblib imports belong to the project's extras: pinned in the core requirements, they
    would put kfp and torch into a scikit-learn model's serving image."""
    from nb2prod.generate.render import EXTRA_FILES, _core_code

    for name in EXTRA_FILES:
        assert not _core_code(name.format(package=PACKAGE), PACKAGE), name
    assert not _core_code("tests/test_service.py", PACKAGE)
    for core in ("service.py", f"src/{PACKAGE}/pipeline.py", f"src/{PACKAGE}/predict_batch.py"):
        assert _core_code(core, PACKAGE), core

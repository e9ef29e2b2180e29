"""confine.py: paths read back from a project are checked before nb2prod touches them.

A manifest anyone can edit must not make nb2prod write or delete outside the
project, through `..`, an absolute path or a symbolic link.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nb2prod.confine import folder_mode, inside, relative_path, umask
from nb2prod.errors import UserError


@pytest.mark.parametrize(
    "value", ["/etc/passwd", "a/../b", "./a", "a//b", "a\\b", "a\0b", "", 3, None]
)
def test_anything_but_a_plain_relative_path_is_refused(value: object) -> None:
    """Absolute, `..`, `.`, empty parts, backslashes, NUL bytes and non-strings."""
    assert relative_path(value) is None


def test_a_plain_relative_path_is_kept() -> None:
    """`src/pkg/x.py` is the normal form of a manifest entry."""
    assert relative_path("src/pkg/x.py") == "src/pkg/x.py"


def test_inside_returns_the_path_under_the_root(tmp_path: Path) -> None:
    """Missing parts are fine: the writer creates them."""
    assert inside(tmp_path, "src/new.py", about=tmp_path) == tmp_path / "src" / "new.py"


def test_inside_refuses_a_symbolic_link_on_the_way(tmp_path: Path) -> None:
    """A linked folder could point anywhere: the error names the link."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "src").symlink_to(tmp_path / "outside")
    with pytest.raises(UserError) as raised:
        inside(tmp_path / "project", "src/x.py", about=tmp_path / "project")
    (problem,) = raised.value.problems
    assert problem.code == "path-outside-project"
    assert "is a symbolic link" in problem.message


def test_inside_refuses_parent_parts(tmp_path: Path) -> None:
    """`../x` is not inside the project, whatever exists there."""
    with pytest.raises(UserError, match="not a relative path inside the project"):
        inside(tmp_path, "../x", about=tmp_path)


def test_folder_mode_follows_the_umask() -> None:
    """A new project folder gets the mode `mkdir` would give."""
    assert folder_mode() == 0o777 & ~umask()

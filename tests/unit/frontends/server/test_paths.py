"""server/paths.py: client paths map to files inside the server's root, never outside.

The panel's REST handlers take paths from the browser, so anything resolving
outside the root must be refused before it is read or written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nb2prod.frontends.server.paths import (
    OutsideRoot,
    UnusablePath,
    api_path_of,
    is_hidden,
    resolve_inside,
)


def test_client_paths_resolve_under_the_root(tmp_path: Path) -> None:
    """A leading `/` is the root; backslashes are separators."""
    root = tmp_path.resolve()
    assert resolve_inside(root, "/nb.ipynb") == root / "nb.ipynb"
    assert resolve_inside(root, "a\\b.ipynb") == root / "a" / "b.ipynb"
    assert resolve_inside(root, "/") == root


@pytest.mark.parametrize("api_path", ["../x", "/../../etc/passwd", "", "  ", "a\x00b", 3])
def test_paths_outside_the_root_or_not_paths_are_refused(tmp_path: Path, api_path: object) -> None:
    """`..`, empty strings, NUL bytes and non-strings never reach the file system."""
    with pytest.raises(OutsideRoot):
        resolve_inside(tmp_path, api_path)


def test_a_symlink_pointing_out_is_refused(tmp_path: Path) -> None:
    """The link's target decides, not its name."""
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "out").symlink_to(tmp_path)
    with pytest.raises(OutsideRoot, match="outside the server's root"):
        resolve_inside(tmp_path / "root", "out/secret")


def test_a_name_too_long_is_an_unusable_path(tmp_path: Path) -> None:
    """ENAMETOOLONG is a bad request, not a server error."""
    with pytest.raises(UnusablePath):
        resolve_inside(tmp_path, "x" * 5000)


def test_api_path_of_and_is_hidden(tmp_path: Path) -> None:
    """Back to the client's name; dot-folders below the root are hidden."""
    root = tmp_path.resolve()
    assert api_path_of(root, root / "a" / "b.ipynb") == "a/b.ipynb"
    assert api_path_of(root, tmp_path.parent) is None
    assert is_hidden(root, root / ".cache" / "x")
    assert not is_hidden(root, root / "a" / "x")
    assert not is_hidden(root, tmp_path.parent)

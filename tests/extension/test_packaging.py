"""`pip install` put both halves of the extension in place, and Jupyter sees them as OK."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def jupyter(*args: str) -> str:
    done = subprocess.run(
        [str(BIN / "jupyter"), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)  # no colours


def test_the_lab_extension_is_installed_and_ok() -> None:
    listing = jupyter("labextension", "list")
    assert re.search(r"nb2prod v\S+ enabled OK \(python, nb2prod\)", listing), listing


def test_the_server_extension_is_enabled_and_ok() -> None:
    listing = jupyter("server", "extension", "list")
    assert re.search(r"\bnb2prod enabled", listing), listing
    assert re.search(r"\bnb2prod \S+ OK", listing), listing


def test_the_npm_package_and_the_python_package_have_one_version() -> None:
    """package.json is the one place the version is written; the wheel reads it at build time."""
    from nb2prod import __version__

    npm = json.loads((ROOT / "jupyter_extension" / "package.json").read_text())["version"]
    assert __version__ == npm
    assert not re.search(r"^version\s*=", (ROOT / "pyproject.toml").read_text(), re.M)

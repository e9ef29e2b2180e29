"""nb2prod/__init__.py: importing nb2prod costs nothing, its version is read when asked.

Every `nb2prod --help` and every child process imports the package: it must not read
package metadata (tens of milliseconds) nor import Jupyter Server, whose extension hook
(`_jupyter_server_extension_points`, tested in tests/unit/frontends/server/test_app.py)
imports it only when Jupyter calls.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

import nb2prod
from tests.conftest import ROOT


def test_the_version_is_the_installed_distributions() -> None:
    try:
        expected = metadata.version("nb2prod")
    except metadata.PackageNotFoundError:
        expected = "0+unknown"
    assert nb2prod.__version__ == expected


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'nb2prod' has no attribute 'versoin'"):
        nb2prod.versoin  # type: ignore[attr-defined]  # noqa: B018


def test_importing_nb2prod_reads_no_metadata_and_imports_no_server() -> None:
    code = (
        "import sys\nimport nb2prod\n"
        "print([m for m in ('importlib.metadata', 'jupyter_server') if m in sys.modules])\n"
        "nb2prod.__version__\n"
        "print('importlib.metadata' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.splitlines() == ["[]", "True"]

"""The `pip install` line that fixes a missing module, for nb2prod's extras and the notebook's.

A `ModuleNotFoundError` names an import (`sklearn`), not what to install
(`scikit-learn`), and nb2prod's own optional packages come through its extras
(`nb2prod[serve]`). Every command that meets a missing module says the same line,
names the interpreter it is missing from, and ends with exit 2, never as a bug.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from importlib import metadata
from pathlib import Path

from nb2prod.errors import UserError, user_error
from nb2prod.generate.requirements import canonical_name, distribution_for

MISSING_PACKAGE = "missing-package"
"""The problem code of every "install this package" error."""

# nb2prod's optional imports and the extra (pyproject.toml) that installs each.
EXTRA_OF_MODULE = {
    "bentoml": "serve",
    "uvloop": "serve",
    "httptools": "serve",
    "skl2onnx": "onnx",
    "onnxruntime": "onnx",
    "docker": "image",
    "jupyterlab": "lab",
    "jupyter_server": "lab",
    "kfp": "kfp",
}

_NO_MODULE = re.compile(r"No module named '([^']+)'")


def missing_module(message: str) -> str | None:
    """The top-level module a `ModuleNotFoundError` message names, if it names one.

    In a traceback the error is the last line, so the last mention wins."""
    found = _NO_MODULE.findall(message)
    return found[-1].split(".")[0] if found else None


def absent_module(name: str | None) -> str | None:
    """`name`'s top-level module when it is really not installed here, else None.

    Missing `sklearn.foo` with `sklearn` installed is a version mismatch, and a missing
    `nb2prod.x` is a bug in nb2prod: neither is fixed by installing a package.
    """
    top = (name or "").split(".")[0]
    if not top or top == "nb2prod" or top in sys.stdlib_module_names:
        return None
    try:
        found = importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):  # in sys.modules without a spec: it is there
        found = True
    return None if found else top


def nb2prod_extra_line(module: str) -> str | None:
    """`pip install 'nb2prod[serve]'` for a module that one of nb2prod's extras provides."""
    extra = EXTRA_OF_MODULE.get(module.split(".")[0])
    return f"pip install 'nb2prod[{extra}]'" if extra else None


def distribution_line(module: str) -> str:
    """`pip install scikit-learn` for `sklearn`: how a notebook's own import is installed."""
    return f"pip install {distribution_for(module)}"


def install_line(module: str) -> str:
    """The one line to run: nb2prod's extra when it provides `module`, else its distribution."""
    return nb2prod_extra_line(module) or distribution_line(module)


def not_installed(module: str) -> str:
    """What is missing, from where, and what provides it, as one clause for a message."""
    distribution = distribution_for(module)
    provides = "" if distribution == module else f"; the distribution `{distribution}` provides it"
    return f"`{module}` is not installed in the Python nb2prod runs on ({sys.executable}){provides}"


def missing_package(module: str, about: Path | None = None) -> UserError:
    """The exit-2 error for a package a command needs: what, where, and the line to run."""
    fix = f"`{install_line(module)}`, then run the command again"
    return user_error(about, MISSING_PACKAGE, not_installed(module), fix)


def missing_package_error(error: BaseException, about: Path | None = None) -> UserError | None:
    """`missing_package` for an import of a package that is not installed; None when
    `error` is anything else (then it is a bug)."""
    if not isinstance(error, ModuleNotFoundError):
        return None
    module = absent_module(error.name or missing_module(str(error)))
    return None if module is None else missing_package(module, about)


def require(module: str, about: Path | None = None) -> None:
    """Stop with the install line before a command that needs `module` starts."""
    if absent_module(module) is not None:
        raise missing_package(module, about)


_DEPENDENCIES = re.compile(r"^dependencies\s*=\s*\[(.*?)^\]", re.M | re.S)


def project_requirements(project: Path) -> list[str]:
    """The requirements of a generated project's pyproject.toml (none if it is unreadable).

    Read with a pattern, not a TOML parser (none in the standard library of Python
    3.10): the list is the one nb2prod's template writes, one quoted requirement a line.
    """
    try:
        found = _DEPENDENCIES.search((project / "pyproject.toml").read_text())
    except OSError:
        return []
    return re.findall(r'"([^"]+)"', found.group(1) if found else "")


def _distribution(requirement: str) -> str:
    return canonical_name(re.split(r"[\s\[<>=!~;@]", requirement, maxsplit=1)[0])


def project_requirement(project: Path, module: str) -> str | None:
    """The requirement of the project's pyproject.toml that installs `module`, or None."""
    wanted = canonical_name(distribution_for(module))
    found = (r for r in project_requirements(project) if _distribution(r) == wanted)
    return next(found, None)


def uninstalled_requirements(project: Path) -> list[str]:
    """The project's requirements with no distribution installed in this Python (their
    versions are not compared: a newer scikit-learn still runs, verify says if it differs)."""
    missing = []
    for requirement in project_requirements(project):
        try:
            metadata.version(_distribution(requirement))
        except metadata.PackageNotFoundError:
            missing.append(requirement)
    return missing


def shown_path(path: Path) -> str:
    """`path` as a user would type it here: relative below the working folder, quoted."""
    try:
        shown = str(path.relative_to(Path.cwd()))
    except ValueError:
        shown = str(path)
    return shlex.quote(shown)

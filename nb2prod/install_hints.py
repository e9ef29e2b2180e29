"""The `pip install` line that fixes a missing module, for nb2prod's extras and the notebook's.

A `ModuleNotFoundError` names an import (`sklearn`), not what to install
(`scikit-learn`), and nb2prod's own optional packages come through its extras
(`nb2prod[serve]`). Every command that meets a missing module says the same line.
"""

from __future__ import annotations

import re

from nb2prod.requirements import distribution_for

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
}

_NO_MODULE = re.compile(r"No module named '([^']+)'")


def missing_module(message: str) -> str | None:
    """The top-level module a `ModuleNotFoundError` message names, if it names one."""
    match = _NO_MODULE.search(message)
    return match.group(1).split(".")[0] if match else None


def nb2prod_extra_line(module: str) -> str | None:
    """`pip install 'nb2prod[serve]'` for a module that one of nb2prod's extras provides."""
    extra = EXTRA_OF_MODULE.get(module.split(".")[0])
    return f"pip install 'nb2prod[{extra}]'" if extra else None


def install_line(module: str) -> str:
    """The one line to run: nb2prod's extra when it provides `module`, else its distribution."""
    return nb2prod_extra_line(module) or f"pip install {distribution_for(module)}"

"""nb2prod: a role-tagged notebook becomes a tested production project."""

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """Where Jupyter Server finds nb2prod (`jupyter server extension enable nb2prod`).

    The extension lives with the other front ends; it is imported only when Jupyter asks,
    so importing nb2prod never imports Jupyter Server.
    """
    from nb2prod.frontends.server.app import Nb2prodExtension

    return [{"module": "nb2prod.frontends.server", "app": Nb2prodExtension}]


def __getattr__(name: str) -> Any:
    """`__version__`, read from the installed metadata on first use only: importlib.metadata
    costs ~50 ms, which `nb2prod --help` and every child process would otherwise pay."""
    if name != "__version__":
        raise AttributeError(f"module 'nb2prod' has no attribute {name!r}")
    from importlib import metadata

    try:  # the version lives in one place, jupyter_extension/package.json, read at build time
        version = metadata.version("nb2prod")
    except metadata.PackageNotFoundError:  # a source tree on sys.path, never installed
        version = "0+unknown"
    globals()["__version__"] = version
    return version

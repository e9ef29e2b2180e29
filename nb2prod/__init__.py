"""nb2prod: a role-tagged notebook becomes a tested production project."""

from typing import Any


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

"""nb2prod: a role-tagged notebook becomes a tested production project."""

from importlib import metadata

try:  # the version lives in one place, jupyter_extension/package.json, read at build time
    __version__ = metadata.version("nb2prod")
except metadata.PackageNotFoundError:  # a source tree on sys.path, never installed
    __version__ = "0+unknown"

"""nb2prod: a role-tagged notebook becomes a tested production project."""

__version__ = "0.1.0"

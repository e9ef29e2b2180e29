"""Unit tests laid out like the package: tests/unit/<stage>/... tests nb2prod/<stage>/...."""

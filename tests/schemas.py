"""Validate JSON nb2prod sends against its schemas (nb2prod/schemas/*.schema.json).

The schemas are the one description of that JSON: the front end's types are generated
from them (scripts/schema_types.py), and the tests validate real answers against them,
so a field the server adds without a schema update fails a test.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parents[1] / "nb2prod" / "schemas"


@cache
def registry() -> Registry:
    resources = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        schema = json.loads(path.read_text())
        assert schema["$id"] == path.name, f"{path.name}: its $id must be its file name"
        resources.append((path.name, Resource.from_contents(schema)))
    return Registry().with_resources(resources)


def assert_valid(name: str, data: Any) -> None:
    """`data` follows `nb2prod/schemas/<name>.schema.json`; the failure lists every error."""
    schema = registry()[f"{name}.schema.json"].contents
    validator = Draft202012Validator(schema, registry=registry())
    errors = [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in validator.iter_errors(data)
    ]
    assert not errors, f"not a valid {name}:\n" + "\n".join(errors)

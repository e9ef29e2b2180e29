"""jupyter_extension/src/schema.ts is what scripts/schema_types.py makes of the schemas."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ROOT


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("schema_types", ROOT / "scripts/schema_types.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_types_are_generated_from_the_schemas() -> None:
    committed = (ROOT / "jupyter_extension" / "src" / "schema.ts").read_text()
    assert committed == generator().typescript(), (
        "schema.ts is stale: run `python scripts/schema_types.py` and commit it"
    )


def test_each_schema_type_and_its_fields_reach_typescript(tmp_path: Path) -> None:
    schema = {
        "$id": "thing.schema.json",
        "title": "Thing",
        "description": "A thing.",
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "size": {"type": ["integer", "null"]},
            "kind": {"$ref": "#/$defs/kind"},
            "tags": {"type": "array", "items": {"type": ["string", "null"]}},
        },
        "required": ["name", "kind"],
        "additionalProperties": False,
        "$defs": {"kind": {"title": "Kind", "enum": ["a", "b"]}},
    }
    (tmp_path / "thing.schema.json").write_text(json.dumps(schema))
    text = generator().typescript(tmp_path)
    assert "/** A thing. */\nexport interface IThing {\n  name: string;\n" in text
    assert "  size?: number | null;\n  kind: Kind;\n  tags?: (string | null)[];\n}" in text
    assert "export type Kind = 'a' | 'b';" in text


def test_a_keyword_the_types_cannot_say_is_refused(tmp_path: Path) -> None:
    schema = {"title": "Thing", "type": "object", "properties": {"n": {"minimum": 0}}}
    (tmp_path / "thing.schema.json").write_text(json.dumps(schema))
    with pytest.raises(ValueError, match="minimum"):
        generator().typescript(tmp_path)

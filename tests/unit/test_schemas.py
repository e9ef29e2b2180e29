"""nb2prod/schemas: valid JSON Schemas, strict on nb2prod's own objects, and what the
commands answer follows them (the handler tests validate every REST answer too)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from nb2prod.commands.check import check_report
from nb2prod.commands.doctor import diagnose
from nb2prod.errors import CellRef, Problem, Severity, UserError
from nb2prod.frontends.server.jobs import _stopped_error, _timeout_error
from nb2prod.frontends.server.tasks import error_json
from tests.conftest import EXAMPLE_NOTEBOOKS, ROOT
from tests.schemas import SCHEMAS, assert_valid

SCHEMA_FILES = sorted(SCHEMAS.glob("*.schema.json"))


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_each_schema_is_a_valid_draft_2020_12_schema(path: Path) -> None:
    schema = json.loads(path.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == path.name
    Draft202012Validator.check_schema(schema)


def objects(schema: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema that lists properties, with where it is."""
    if isinstance(schema, dict):
        if "properties" in schema:
            yield where, schema
        for key, value in schema.items():
            yield from objects(value, f"{where}/{key}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            yield from objects(value, f"{where}/{i}")


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_nb2prod_objects_refuse_fields_the_schema_does_not_name(path: Path) -> None:
    """So a field the server starts sending fails the tests until the schema names it."""
    for where, schema in objects(json.loads(path.read_text())):
        assert schema.get("additionalProperties") is False, f"{path.name}{where or '/'}"


@pytest.mark.parametrize("notebook", EXAMPLE_NOTEBOOKS, ids=lambda p: p.stem)
def test_check_reports_follow_the_schema(notebook: Path) -> None:
    assert_valid("check_report", check_report(notebook))


def test_a_report_with_problems_on_cells_follows_the_schema() -> None:
    report = check_report(ROOT / "tests" / "bad_inputs" / "syntax_error_in_preprocess.ipynb")
    assert any(p["cell"] for p in report["problems"])
    assert_valid("check_report", report)


def test_a_field_the_schema_does_not_name_fails() -> None:
    report = check_report(EXAMPLE_NOTEBOOKS[0])
    report["cells"][0]["new_field"] = 1
    with pytest.raises(AssertionError, match="new_field"):
        assert_valid("check_report", report)


def test_the_diagnosis_follows_the_schema() -> None:
    assert_valid("doctor", diagnose().to_json())
    assert_valid("doctor", diagnose(EXAMPLE_NOTEBOOKS[0]).to_json())


def test_errors_follow_the_schema(tmp_path: Path) -> None:
    problems = [
        Problem("a", "message", "fix"),
        Problem("b", "message", "fix", Severity.WARNING, CellRef(3, "x = 1", 2)),
    ]
    error = error_json(UserError(tmp_path / "nb.ipynb", problems), tmp_path)
    assert error["notebook"] == "nb.ipynb"
    assert_valid("error", error)
    for job_error in (error, _stopped_error("cancelled"), _timeout_error(5)):
        assert_valid("error", job_error)
        assert_valid("job", {"job": {
            "id": "0" * 32, "kind": "convert", "subject": "nb.ipynb", "status": "failed",
            "elapsed": 1.5, "result": None, "error": job_error,
        }})  # fmt: skip

"""server/handlers.py: the routes, and the work a handler does before it starts a job.

Requests through a real Jupyter Server (authentication, status codes, schemas) are
in tests/extension/handlers/; here are the route table and the helpers the handlers
run in a thread: check of unsaved content, convert's preflight, and the notebook a
project to verify names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from nb2prod.errors import UserError
from nb2prod.frontends.server.handlers import (
    Nb2prodHandler,
    _check,
    _preflight,
    _project_notebook,
    routes,
)
from nb2prod.frontends.server.jobs import JobRunner
from tests.unit.notebooks import REGRESSION, notebook_node, write_notebook

BLOCKING = [("x = undefined_name", ["nb2prod:load"])]


def test_every_route_is_under_nb2prod_with_the_root_and_the_job_pool(tmp_path: Path) -> None:
    jobs = JobRunner()
    table = routes(tmp_path, jobs)
    assert [pattern for pattern, _, _ in table] == [
        "/nb2prod/check",
        "/nb2prod/convert",
        "/nb2prod/verify",
        "/nb2prod/jobs/([0-9a-f]{32})",
        "/nb2prod/roles",
        "/nb2prod/doctor",
    ]
    assert all(issubclass(handler, Nb2prodHandler) for _, handler, _ in table)
    assert all(settings == {"root": tmp_path, "jobs": jobs} for _, _, settings in table)


@pytest.mark.parametrize(
    ("job_id", "routed"),
    [("0123456789abcdef" * 2, True), ("0123456789ABCDEF" * 2, False), ("abc", False)],
)
def test_a_job_route_takes_only_a_job_id(tmp_path: Path, job_id: str, routed: bool) -> None:
    """Job ids are uuid4().hex: anything else is not a job, and never reaches the handler."""
    pattern = routes(tmp_path, JobRunner())[3][0]
    assert bool(re.fullmatch(pattern, f"/nb2prod/jobs/{job_id}")) is routed


def test_check_reports_on_unsaved_content_as_if_it_were_the_file(tmp_path: Path) -> None:
    """The panel follows edits before they are saved: the file says one thing, the
    content another, and the report is about the content, under the file's name."""
    notebook = write_notebook(tmp_path / "nb.ipynb", REGRESSION)
    saved = _check(notebook, None)
    unsaved = _check(notebook, notebook_node(BLOCKING))
    assert saved["convertible"] and not unsaved["convertible"]
    assert unsaved["notebook"] == saved["notebook"] == str(notebook)
    assert [c["index"] for c in unsaved["cells"]] == [0]


def test_check_of_unusable_content_is_a_user_error(tmp_path: Path) -> None:
    """The client's content is read as strictly as the file would be."""
    with pytest.raises(UserError) as raised:
        _check(tmp_path / "nb.ipynb", notebook_node([]))
    assert raised.value.problems[0].code == "no-cells"
    assert raised.value.notebook == tmp_path / "nb.ipynb"


def test_convert_preflight_refuses_blocking_problems_before_a_job_starts(tmp_path: Path) -> None:
    _preflight(write_notebook(tmp_path / "ok.ipynb", REGRESSION))  # nothing to refuse
    with pytest.raises(UserError) as raised:
        _preflight(write_notebook(tmp_path / "bad.ipynb", BLOCKING))
    assert raised.value.problems[0].cell is not None


def project(tmp_path: Path, path: str) -> Path:
    folder = tmp_path / "project"
    (folder / "notebooks").mkdir(parents=True)
    (folder / "notebooks" / "nb.ipynb").write_text("{}")
    (folder / "nb2prod.json").write_text(json.dumps({"source": {"path": path}}))
    return folder


def test_the_notebook_a_verify_job_will_run_is_the_manifests(tmp_path: Path) -> None:
    assert _project_notebook(project(tmp_path, "nb.ipynb")) == "nb.ipynb"


@pytest.mark.parametrize("path", ["../../../etc/passwd", "/etc/passwd", "gone.ipynb"])
def test_a_manifest_naming_another_notebook_is_refused(tmp_path: Path, path: str) -> None:
    """verify runs that notebook: it must be the project's own copy."""
    with pytest.raises(UserError) as raised:
        _project_notebook(project(tmp_path, path))
    assert raised.value.problems[0].code in {"path-outside-project", "no-notebook"}

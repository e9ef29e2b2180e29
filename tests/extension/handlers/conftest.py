"""Fixtures for the JupyterLab extension's tests: a Jupyter Server with nb2prod loaded.

pytest-jupyter's fixtures are imported here rather than registered with
`pytest_plugins` in the top-level conftest, so its autouse fixtures (an event
loop and a server cleanup per test) only apply to the tests in this folder.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("jupyter_server", reason="the extension tests need `pip install -e .[dev]`")

from pytest_jupyter.jupyter_server import *  # noqa: E402, F403

from tests.conftest import EXAMPLES, ROOT  # noqa: E402
from tests.schemas import assert_valid  # noqa: E402

BAD_INPUTS = ROOT / "tests" / "bad_inputs"
SCHEMA_OF_ROUTE = {
    "check": "check_report",
    "convert": "job",
    "verify": "job",
    "jobs": "job",
    "roles": "roles",
    "doctor": "doctor",
}
"""The schema (nb2prod/schemas) of each route's success; every error answers `error`."""


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    """Load only nb2prod's server extension (as its jupyter-config file would)."""
    return {"ServerApp": {"jpserver_extensions": {"nb2prod": True}}}


@pytest.fixture
def served_root(jp_root_dir: Path) -> Path:
    """The server's root with the example notebooks and two bad inputs in it."""
    for notebook in EXAMPLES.glob("*.ipynb"):
        shutil.copy(notebook, jp_root_dir / notebook.name)
    for name in ("syntax_error_in_preprocess.ipynb", "binary_garbage.ipynb"):
        shutil.copy(BAD_INPUTS / name, jp_root_dir / name)
    return jp_root_dir


@pytest.fixture
def api(jp_fetch: Any) -> Any:
    """`await api("check", {...})`: POST JSON to an nb2prod route, errors returned not raised.

    Every answer is checked against its schema: a success against its route's, an error
    against `error.schema.json`, so the front end's generated types describe what it gets."""

    async def call(route: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if data is not None:
            kwargs.update(method="POST", body=json.dumps(data))
        response = await jp_fetch("nb2prod", route, raise_error=False, **kwargs)
        assert_follows_schema(route, response)
        return response

    return call


def assert_follows_schema(route: str, response: Any) -> None:
    schema = SCHEMA_OF_ROUTE[route.split("/")[0]] if response.code < 400 else "error"
    assert_valid(schema, json.loads(response.body))


@pytest.fixture
def wait_for_job(api: Any) -> Any:
    """Poll `GET /nb2prod/jobs/<id>` until the job has ended; return its JSON."""

    async def wait(job_id: str, timeout: float = 240) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            response = await api(f"jobs/{job_id}")
            assert response.code == 200, response.body
            job = json.loads(response.body)["job"]
            if job["status"] not in ("queued", "running"):
                return job
            assert time.monotonic() < deadline, f"job still {job['status']} after {timeout} s"
            await asyncio.sleep(0.25)

    return wait


def body_of(response: Any) -> Any:
    return json.loads(response.body)


__all__ = ["BAD_INPUTS", "body_of"]

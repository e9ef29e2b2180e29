"""server/app.py: how Jupyter Server finds nb2prod's extension, and what the app owns.

`jupyter server extension enable nb2prod` asks the top package for its extension
points; the app then registers the routes on the server's root and owns the job
pool, which must stop with the server. A real server is in tests/extension/.
"""

from __future__ import annotations

import asyncio
import atexit
import time
from pathlib import Path

import pytest
from jupyter_server.serverapp import ServerApp
from traitlets.config import Config

import nb2prod
from nb2prod.frontends.server.app import Nb2prodExtension
from nb2prod.frontends.server.handlers import (
    CheckHandler,
    ConvertHandler,
    DoctorHandler,
    JobHandler,
    RolesHandler,
    VerifyHandler,
)


def test_the_top_package_points_jupyter_at_the_extension_app() -> None:
    """The module named is where Jupyter looks for `_jupyter_server_extension_points` too."""
    (point,) = nb2prod._jupyter_server_extension_points()
    assert point == {"module": "nb2prod.frontends.server", "app": Nb2prodExtension}


def test_the_app_is_named_versioned_and_leaves_other_extensions_loaded() -> None:
    assert (
        Nb2prodExtension.name == "nb2prod"
    )  # `c.ServerApp.jpserver_extensions = {"nb2prod": ...}`
    assert Nb2prodExtension.version == nb2prod.__version__
    assert Nb2prodExtension.load_other_extensions is True


def test_workers_and_job_timeout_have_defaults_and_come_from_config() -> None:
    assert (Nb2prodExtension().workers, Nb2prodExtension().job_timeout) == (2, 1800.0)
    config = Config({"Nb2prodExtension": {"workers": 4, "job_timeout": 60}})
    app = Nb2prodExtension(config=config)
    assert (app.workers, app.job_timeout) == (4, 60.0)


@pytest.fixture
def app(tmp_path: Path) -> Nb2prodExtension:
    """The extension linked to a server on `tmp_path`, its settings and handlers made."""
    extension = Nb2prodExtension(config=Config({"Nb2prodExtension": {"workers": 3}}))
    extension.serverapp = ServerApp(root_dir=str(tmp_path))
    extension.initialize_settings()
    extension.initialize_handlers()
    yield extension
    extension.jobs.shutdown()
    atexit.unregister(extension.jobs.shutdown)


def test_settings_make_a_job_pool_from_the_apps_config(app: Nb2prodExtension) -> None:
    assert (app.jobs.workers, app.jobs.timeout) == (3, 1800.0)


def test_every_route_is_registered_on_the_servers_resolved_root(
    app: Nb2prodExtension, tmp_path: Path
) -> None:
    routes = {pattern: handler for pattern, handler, _ in app.handlers}
    assert routes == {
        "/nb2prod/check": CheckHandler,
        "/nb2prod/convert": ConvertHandler,
        "/nb2prod/verify": VerifyHandler,
        "/nb2prod/jobs/([0-9a-f]{32})": JobHandler,
        "/nb2prod/roles": RolesHandler,
        "/nb2prod/doctor": DoctorHandler,
    }
    for _, _, settings in app.handlers:
        assert settings == {"root": tmp_path.resolve(), "jobs": app.jobs}


def test_stopping_the_extension_stops_its_jobs_at_once(app: Nb2prodExtension) -> None:
    """A verify may run for many minutes; the server must not wait for it."""
    job = app.jobs.submit("demo", "x", time.sleep, 120)
    assert job.status == "running"
    started = time.monotonic()
    asyncio.run(app.stop_extension())
    assert time.monotonic() - started < 30
    assert job.status == "cancelled" and "server stopped" in job.error["message"]
    with pytest.raises(RuntimeError, match="stopped"):
        app.jobs.submit("demo", "y", time.sleep, 1)

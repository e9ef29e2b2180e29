"""The extension app: registers the handlers and owns the job pool's lifetime."""

from __future__ import annotations

import asyncio
import atexit
from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Int

from nb2prod import __version__
from nb2prod.frontends.server.handlers import routes
from nb2prod.frontends.server.jobs import JobRunner


class Nb2prodExtension(ExtensionApp):
    """nb2prod inside Jupyter Server: `/nb2prod/check`, `/convert`, `/verify`, `/jobs/<id>`.

    Configure it as `c.Nb2prodExtension.workers = 2` and `c.Nb2prodExtension.job_timeout`
    (or `--Nb2prodExtension.job_timeout=600` on the command line).
    """

    name = "nb2prod"
    version = __version__
    load_other_extensions = True

    workers = Int(
        2, config=True, help="How many convert/verify jobs run at once (each in its own process)."
    )

    job_timeout = Float(
        1800.0,
        config=True,
        help="Seconds a convert/verify job may run; then it is killed with every process it "
        "started and reported failed (timeout).",
    )

    def initialize_settings(self) -> None:
        self.jobs = JobRunner(workers=self.workers, timeout=self.job_timeout)
        atexit.register(self.jobs.shutdown)  # also when the server exits without stopping us

    def initialize_handlers(self) -> None:
        root = Path(self.serverapp.root_dir).resolve()
        self.handlers.extend(routes(root, self.jobs))

    async def stop_extension(self) -> None:
        """Stop jobs with the server, not minutes after it (a verify can be long): queued
        jobs are cancelled, running ones killed with every process they started."""
        await asyncio.to_thread(self.jobs.shutdown)

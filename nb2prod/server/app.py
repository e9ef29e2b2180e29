"""The extension app: registers the handlers and owns the job pool's lifetime."""

from __future__ import annotations

from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from traitlets import Int

from nb2prod import __version__
from nb2prod.server.handlers import routes
from nb2prod.server.jobs import JobRunner


class Nb2prodExtension(ExtensionApp):
    """nb2prod inside Jupyter Server: `/nb2prod/check`, `/convert`, `/verify`, `/jobs/<id>`."""

    name = "nb2prod"
    version = __version__
    load_other_extensions = True

    workers = Int(
        2, config=True, help="How many convert/verify jobs run at once (each in its own process)."
    )

    def initialize_settings(self) -> None:
        self.jobs = JobRunner(workers=self.workers)

    def initialize_handlers(self) -> None:
        root = Path(self.serverapp.root_dir).resolve()
        self.handlers.extend(routes(root, self.jobs))

    async def stop_extension(self) -> None:
        """Stop running jobs with the server, not minutes after it (a verify can be long)."""
        self.jobs.shutdown()

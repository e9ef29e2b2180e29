"""The Jupyter Server extension behind nb2prod's JupyterLab panel and Export button.

It serves `check`, `convert` and `verify` over authenticated REST handlers
(`handlers.py`); the long runs go to a process pool as jobs (`jobs.py`, `tasks.py`);
every path a client sends is resolved inside the server's root (`paths.py`).
The handlers call the same functions as the CLI: no conversion logic lives here
or in the TypeScript front end.
"""

from __future__ import annotations

from typing import Any

from nb2prod import __version__


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """Tell Jupyter Server where the extension app is (read by `jupyter server extension`).

    The app is imported here, not at the top: job workers import this package too, and
    need nothing from Jupyter Server.
    """
    from nb2prod.server.app import Nb2prodExtension

    return [{"module": "nb2prod.server", "app": Nb2prodExtension}]


__all__ = ["__version__", "_jupyter_server_extension_points"]

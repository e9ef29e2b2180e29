"""The Jupyter Server extension behind nb2prod's JupyterLab panel and Export button.

It serves `check`, `convert` and `verify` over authenticated REST handlers
(`handlers.py`); the long runs go to a process pool as jobs (`jobs.py`, `tasks.py`);
every path a client sends is resolved inside the server's root (`paths.py`).
The handlers call the same functions as the CLI: no conversion logic lives here
or in the TypeScript front end.
"""

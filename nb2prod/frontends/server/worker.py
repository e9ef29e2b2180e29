"""The process one job runs in:
`python -c "from nb2prod.frontends.server.worker import main; main()" DIR`.

`DIR` is the job's scratch folder (the server removes it when the job ends): it
holds `task.pickle` (the function and its arguments), receives `outcome.json`
(`{"result": ...}` or `{"error": ...}`) and `log.txt` (stdout and stderr), and
its `tmp/` is the job's TMPDIR, so the temporary folders of the job and of
what it starts are removed with it, even when the job is killed.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any

from nb2prod.run.processes import become_subreaper, kill_tree

TASK = "task.pickle"
OUTCOME = "outcome.json"
LOG = "log.txt"


def main() -> None:
    scratch = Path(sys.argv[1])
    become_subreaper()
    try:
        task, args = pickle.loads((scratch / TASK).read_bytes())
        outcome = task(*args)
    except BaseException as failure:  # a bug, not a user mistake: reported, not raised
        outcome = {"error": _failure_json(failure)}
    finally:
        kill_tree(os.getpid(), include_leader=False)  # what the task left running
    written = scratch / f"{OUTCOME}.part"
    written.write_text(json.dumps(outcome, default=str))
    written.rename(scratch / OUTCOME)


def _failure_json(failure: BaseException) -> dict[str, Any]:
    """What the job met, as the front end shows it: a package to install (the CLI's
    problem and line, e.g. a task that cannot even be unpickled), else an internal error."""
    from nb2prod.generate.install_hints import missing_package_error

    missing = missing_package_error(failure)
    if missing is not None:
        return {"message": missing.summary(), "problems": [p.to_json() for p in missing.problems]}
    return {"message": f"internal error: {type(failure).__name__}: {failure}", "problems": []}

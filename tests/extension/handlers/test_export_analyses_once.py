"""One Export analyses the notebook once: on the server and in the job's process together.

The requests are those of the Export dialog (jupyter_extension/src/exportDialog.ts)
without the regression check: POST /nb2prod/convert, which analyses the notebook and
answers what blocks it, then GET /nb2prod/jobs/ID until the job ends. The job runs in
a worker process of its own, so the analyses are counted in a file: here the real
analysis is wrapped in this process, and in the worker by a `sitecustomize` module put
first on its PYTHONPATH (the worker inherits the server's environment). Every analysis
starts by reading the notebook's roles, so `read_roles` is what is counted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import nb2prod.plan.build as build
from tests.extension.handlers.conftest import body_of

COUNT_FILE = "NB2PROD_TEST_ANALYSES"
WORKER_HOOK = f'''"""Count the analyses of a job's process (tests/extension/handlers)."""
import os

if "{COUNT_FILE}" in os.environ:
    import nb2prod.plan.build as build

    _real = build.read_roles

    def _counted(*args, **kwargs):
        with open(os.environ["{COUNT_FILE}"], "a") as log:
            log.write("job\\n")
        return _real(*args, **kwargs)

    build.read_roles = _counted
'''


@pytest.fixture
def analyses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """Where each analysis ran from now on, in order: `server` or `job`."""
    log = tmp_path / "analyses.log"
    hook = tmp_path / "worker-hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(WORKER_HOOK)
    monkeypatch.setenv(COUNT_FILE, str(log))
    paths = [str(hook), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    real = build.read_roles

    def counted(*args: Any, **kwargs: Any) -> Any:
        with log.open("a") as written:
            written.write("server\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(build, "read_roles", counted)
    return lambda: log.read_text().split() if log.exists() else []


async def export(api: Any, wait_for_job: Any, notebook: str, output: str) -> dict[str, Any]:
    """The dialog's requests: start the convert job, then poll it until it ends."""
    response = await api("convert", {"path": notebook, "output": output})
    assert response.code == 202, response.body
    return await wait_for_job(body_of(response)["job"]["id"])


async def test_an_export_analyses_the_notebook_once(
    api: Any, wait_for_job: Any, served_root: Path, analyses: Callable[[], list[str]]
) -> None:
    """The server's analysis (what blocks the notebook) is the one the job converts from."""
    job = await export(api, wait_for_job, "wine_classifier.ipynb", "out/wine")
    assert job["status"] == "done", job["error"]
    assert analyses() == ["server"]


async def test_a_job_analyses_on_its_own_when_the_analysis_does_not_pickle(
    api: Any, wait_for_job: Any, served_root: Path, analyses: Callable[[], list[str]]
) -> None:
    """An expression nested hundreds deep is beyond pickle's recursion limit but not the
    analysis's: the job is still accepted, and analyses the notebook itself (which also
    shows the worker's analyses are counted). Its pipeline then stops early on purpose."""
    notebook = json.loads((served_root / "wine_classifier.ipynb").read_text())
    load = next(c for c in notebook["cells"] if "nb2prod:load" in c["metadata"].get("tags", []))
    deep = " + ".join(["1"] * 500)
    load["source"] = f"wine = load_wine(as_frame=True)\ndeep = {deep}\n"
    load["source"] += 'raise RuntimeError("stop")\ndf = wine.frame\n'
    (served_root / "deep.ipynb").write_text(json.dumps(notebook))

    job = await export(api, wait_for_job, "deep.ipynb", "out/deep")
    assert job["status"] == "failed"
    assert [p["code"] for p in job["error"]["problems"]] == ["pipeline-failed"]
    assert analyses() == ["server", "job"]

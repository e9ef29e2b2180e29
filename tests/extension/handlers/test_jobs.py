"""Jobs that can be trusted: truthful states, cancel, timeout, server stop, one job per
folder, and every path a job touches confined to the server's root.

`JobRunner` on its own is tested in tests/unit/frontends/server/test_jobs.py; these
go through a real Jupyter Server (pytest-jupyter) with tiny notebooks that hang
(`time.sleep`) after starting a child `sleep`, so "killed with everything it
started" is checked on real processes.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_notebook
from tests.extension.handlers.conftest import body_of
from tests.unit.run.pids import alive, gone


async def eventually(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


# --- through a real Jupyter Server ---------------------------------------------------


def hanging_notebook(path: Path, pid_file: Path) -> Path:
    """An iris notebook whose training starts a child `sleep`, then hangs."""
    return make_notebook(
        path,
        [
            "import subprocess, time\nfrom sklearn.datasets import load_iris\n"
            "from sklearn.tree import DecisionTreeClassifier",
            ("X, y = load_iris(return_X_y=True)", ["nb2prod:load"]),
            (
                "import tempfile\nscratch = tempfile.mkdtemp()\n"
                "child = subprocess.Popen(['sleep', '300'])\n"
                f"open({str(pid_file)!r}, 'w').write(f'{{child.pid}} {{scratch}}')\n"
                "time.sleep(300)\nmodel = DecisionTreeClassifier().fit(X, y)",
                ["nb2prod:train"],
            ),
            ("predictions = model.predict(X[:2])", ["nb2prod:predict"]),
        ],
    )


def extension(jp_serverapp: Any) -> Any:
    (app,) = jp_serverapp.extension_manager.extension_apps["nb2prod"]
    return app


@pytest.fixture
def hanging(served_root: Path, tmp_path: Path) -> Any:
    """`hanging(name)`: a hanging notebook in the root and the file its child's pid goes to."""

    def make(name: str = "hang") -> tuple[str, Path]:
        pid_file = tmp_path / f"{name}.pid"
        hanging_notebook(served_root / f"{name}.ipynb", pid_file)
        return f"{name}.ipynb", pid_file

    return make


async def started_child(pid_file: Path) -> tuple[int, Path]:
    """Wait until the notebook code runs: its child `sleep`'s pid and its temp folder."""
    await eventually(lambda: pid_file.exists() and " " in pid_file.read_text())
    pid, scratch = pid_file.read_text().split(" ", 1)
    return int(pid), Path(scratch)


async def status_of(api: Any, job_id: str) -> dict[str, Any]:
    return body_of(await api(f"jobs/{job_id}"))["job"]


async def test_default_output_through_a_symlink_out_of_the_root_is_refused(
    api: Any, served_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (served_root / "sub").mkdir()
    shutil.copy(served_root / "wine_classifier.ipynb", served_root / "sub")
    os.symlink(outside, served_root / "sub" / "wine-classifier")
    response = await api("convert", {"path": "sub/wine_classifier.ipynb"})
    assert response.code == 403, response.body
    assert "outside the server's root" in body_of(response)["message"]
    explicit = await api(
        "convert", {"path": "sub/wine_classifier.ipynb", "output": "sub/wine-classifier"}
    )
    assert explicit.code == 403
    await asyncio.sleep(1)
    assert list(outside.iterdir()) == [], "nothing may be written outside the root"


async def test_verify_of_a_project_whose_notebook_is_outside_the_root_is_refused(
    api: Any, served_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    shutil.copy(served_root / "wine_classifier.ipynb", outside / "wine.ipynb")
    project = served_root / "project"
    project.mkdir()
    os.symlink(outside, project / "notebooks")
    (project / "nb2prod.json").write_text(json.dumps({"source": {"path": "wine.ipynb"}}))
    response = await api("verify", {"path": "project"})
    assert response.code == 400, response.body
    assert body_of(response)["problems"][0]["code"] == "path-outside-project"

    (project / "notebooks").unlink()
    (project / "notebooks").mkdir()
    manifest = {"source": {"path": "../../outside/wine.ipynb"}}
    (project / "nb2prod.json").write_text(json.dumps(manifest))
    response = await api("verify", {"path": "project"})
    assert response.code == 400, response.body
    assert list(outside.iterdir()) == [outside / "wine.ipynb"]


async def test_hidden_notebooks_and_outputs_are_refused(api: Any, served_root: Path) -> None:
    shutil.copy(served_root / "wine_classifier.ipynb", served_root / ".hidden.ipynb")
    response = await api("convert", {"path": ".hidden.ipynb"})
    assert response.code == 403 and "hidden" in body_of(response)["message"]
    response = await api("convert", {"path": "wine_classifier.ipynb", "output": ".secret/out"})
    assert response.code == 403 and "allow_hidden" in body_of(response)["message"]
    assert not (served_root / ".secret").exists()


async def test_a_hanging_job_is_cancelled_with_everything_it_started(
    api: Any, served_root: Path, hanging: Any
) -> None:
    notebook, pid_file = hanging()
    response = await api("convert", {"path": notebook, "output": "out/hang"})
    assert response.code == 202, response.body
    job_id = body_of(response)["job"]["id"]
    child, notebook_temp = await started_child(pid_file)
    assert notebook_temp.is_dir()
    assert (await status_of(api, job_id))["status"] == "running"

    response = await api(f"jobs/{job_id}", method="DELETE")
    assert response.code == 200, response.body
    job = body_of(response)["job"]
    assert job["status"] == "cancelled" and "cancelled" in job["error"]["message"]
    assert not alive(child), "the notebook's child `sleep` must be killed"
    assert not notebook_temp.exists(), "the job's temporary folders must be removed"
    assert not (served_root / "out" / "hang").exists()
    assert (await status_of(api, job_id))["status"] == "cancelled"


async def test_a_job_past_the_timeout_is_killed_and_reported_failed(
    api: Any, jp_serverapp: Any, served_root: Path, hanging: Any
) -> None:
    runner = extension(jp_serverapp).jobs
    notebook, pid_file = hanging()
    response = await api("convert", {"path": notebook, "output": "out/hang"})
    job_id = body_of(response)["job"]["id"]
    child, _ = await started_child(pid_file)
    runner.timeout = 4  # the job has run its notebook's code: it is past this limit now
    await eventually(lambda: runner.get(job_id).status != "running", timeout=30)
    job = await status_of(api, job_id)
    assert job["status"] == "failed"
    assert job["error"]["message"].startswith("timeout: the job ran longer than 4 s")
    assert job["error"]["problems"][0]["fix"]
    assert not alive(child)
    assert gone(runner.get(job_id).pid)


async def test_with_every_worker_busy_a_job_is_queued_and_one_folder_one_job(
    api: Any, jp_serverapp: Any, served_root: Path, hanging: Any
) -> None:
    assert extension(jp_serverapp).jobs.workers == 2
    jobs, children = [], []
    for name in ("a", "b"):
        notebook, pid_file = hanging(name)
        response = await api("convert", {"path": notebook, "output": f"out/{name}"})
        jobs.append(body_of(response)["job"]["id"])
        children.append((await started_child(pid_file))[0])
    third = await api("convert", {"path": "wine_classifier.ipynb", "output": "out/c"})
    assert third.code == 202
    third_id = body_of(third)["job"]["id"]
    await asyncio.sleep(0.5)
    assert (await status_of(api, third_id))["status"] == "queued"
    assert [(await status_of(api, j))["status"] for j in jobs] == ["running", "running"]

    same = await api("convert", {"path": "wine_classifier.ipynb", "output": "out/a"})
    assert same.code == 409, same.body
    refused = body_of(same)
    assert "one job per folder" in refused["message"]
    assert refused["problems"][0]["code"] == "folder-busy"
    queued_same = await api("convert", {"path": "wine_classifier.ipynb", "output": "out/c"})
    assert queued_same.code == 409

    cancelled = body_of(await api(f"jobs/{third_id}", method="DELETE"))["job"]
    assert cancelled["status"] == "cancelled"
    for job_id in jobs:
        await api(f"jobs/{job_id}", method="DELETE")
    assert not any(alive(child) for child in children)
    assert not (served_root / "out" / "c").exists(), "a cancelled queued job never ran"


async def test_stopping_the_server_kills_running_jobs(
    api: Any, jp_serverapp: Any, served_root: Path, hanging: Any
) -> None:
    notebook, pid_file = hanging()
    response = await api("convert", {"path": notebook, "output": "out/hang"})
    job_id = body_of(response)["job"]["id"]
    child, notebook_temp = await started_child(pid_file)
    app = extension(jp_serverapp)
    job = app.jobs.get(job_id)
    group = os.getpgid(job.pid)
    assert group == job.pid, "a job leads its own process group"
    started = time.monotonic()
    await app.stop_extension()
    assert time.monotonic() - started < 15
    assert job.status == "cancelled"
    assert gone(job.pid) and not alive(child)
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)
    assert not notebook_temp.exists()

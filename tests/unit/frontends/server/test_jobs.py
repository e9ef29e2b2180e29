"""server/jobs.py: a job pool that tells the truth about each job and cleans up after it.

Each job runs `worker.py` in a process of its own; these tests drive `JobRunner`
directly with standard-library tasks (`dict`, `time.sleep`), so states, cancel,
timeout, shutdown and one job per folder are checked on real processes in seconds.
Through a real Jupyter Server: tests/extension/handlers/test_jobs.py.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from nb2prod.frontends.server.jobs import FolderBusy, Job, JobRunner
from tests.unit.run.pids import gone, wait_until


def test_a_finished_job_reports_its_result() -> None:
    runner = JobRunner(workers=1)
    try:
        job = runner.submit("demo", "x", dict, {"result": {"answer": 42}})
        assert job.wait(30)
        assert job.to_json()["status"] == "done"
        assert job.to_json()["result"] == {"answer": 42}
        assert runner.get(job.id) is job
        assert job.scratch is not None and not job.scratch.exists()
    finally:
        runner.shutdown()


def test_queued_jobs_are_reported_queued_until_a_worker_is_free() -> None:
    runner = JobRunner(workers=1)
    try:
        first = runner.submit("demo", "a", time.sleep, 120)
        second = runner.submit("demo", "b", time.sleep, 120)
        assert first.status == "running" and second.status == "queued"
        assert second.process is None, "a queued job has no process yet"
        runner.cancel(first.id)
        assert first.status == "cancelled"
        wait_until(lambda: second.status == "running")
        runner.cancel(second.id)
        assert second.status == "cancelled"
    finally:
        runner.shutdown()


def test_a_job_past_its_timeout_is_killed_and_failed() -> None:
    runner = JobRunner(workers=1, timeout=1)
    try:
        job = runner.submit("demo", "x", time.sleep, 120)
        assert job.wait(30)
        assert job.status == "failed"
        assert job.error is not None and job.error["message"].startswith("timeout:")
        assert job.error["problems"][0]["code"] == "job-timeout"
        assert job.pid is not None and gone(job.pid)
    finally:
        runner.shutdown()


def test_one_job_per_folder(tmp_path: Path) -> None:
    runner = JobRunner(workers=2)
    try:
        job = runner.submit("demo", "a", time.sleep, 120, folder=tmp_path)
        with pytest.raises(FolderBusy):
            runner.submit("demo", "b", time.sleep, 120, folder=tmp_path)
        runner.cancel(job.id)
        again = runner.submit("demo", "b", dict, {"result": {}}, folder=tmp_path)
        assert again.wait(30) and again.status == "done"
    finally:
        runner.shutdown()


def test_shutdown_ends_running_and_queued_jobs_at_once() -> None:
    runner = JobRunner(workers=1)
    job = runner.submit("demo", "x", time.sleep, 120)
    queued = runner.submit("demo", "y", time.sleep, 120)
    started = time.monotonic()
    runner.shutdown()
    assert time.monotonic() - started < 10
    assert job.status == queued.status == "cancelled"
    assert job.error is not None and "server stopped" in job.error["message"]
    assert job.pid is not None and gone(job.pid)


def test_a_task_that_raises_fails_the_job_with_its_message() -> None:
    runner = JobRunner(workers=1)
    try:
        job = runner.submit("demo", "x", int, "not a number")
        assert job.wait(30) and job.status == "failed"
        assert job.error is not None
        assert job.error["message"].startswith("internal error: ValueError: invalid literal")
        assert job.to_json()["result"] is None
    finally:
        runner.shutdown()


def test_a_worker_that_dies_without_an_outcome_fails_with_its_exit_status() -> None:
    """`os._exit` skips everything: no outcome.json, so the job says how its process ended."""
    runner = JobRunner(workers=1)
    try:
        job = runner.submit("demo", "x", os._exit, 7)
        assert job.wait(30) and job.status == "failed"
        assert job.error is not None
        assert job.error["message"].startswith(
            "internal error: the job's process ended (exit status 7) without a result"
        )
    finally:
        runner.shutdown()


def test_an_unknown_job_is_none_and_cancelling_a_finished_job_changes_nothing() -> None:
    runner = JobRunner(workers=1)
    try:
        assert runner.get("0" * 32) is None and runner.cancel("0" * 32) is None
        job = runner.submit("demo", "x", dict, {"result": {}})
        assert job.wait(30)
        assert runner.cancel(job.id) is job and job.status == "done"
    finally:
        runner.shutdown()


def test_a_jobs_json_shows_its_result_only_once_done() -> None:
    job = Job("convert", "nb.ipynb", dict, ())
    job.result = {"partial": True}
    shown = job.to_json()
    assert (shown["kind"], shown["subject"], shown["status"]) == ("convert", "nb.ipynb", "queued")
    assert shown["result"] is None and len(shown["id"]) == 32
    job.status = "done"
    assert job.to_json()["result"] == {"partial": True}

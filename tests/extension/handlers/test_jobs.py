"""The job pool: results come back as JSON, and stopping the server ends running jobs."""

from __future__ import annotations

import time
from typing import Any

from nb2prod.server.jobs import JobRunner


def wait_until(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_finished_job_reports_its_result() -> None:
    runner = JobRunner(workers=1)
    try:
        job = runner.submit("demo", "x", dict, {"result": {"answer": 42}})
        wait_until(job.future.done)
        assert job.to_json()["status"] == "done"
        assert job.to_json()["result"] == {"answer": 42}
        assert runner.get(job.id) is job
    finally:
        runner.shutdown()


def test_shutdown_ends_a_running_job_at_once() -> None:
    runner = JobRunner(workers=1)
    job = runner.submit("demo", "x", time.sleep, 120)
    wait_until(job.future.running)
    started = time.monotonic()
    runner.shutdown()
    wait_until(job.future.done, timeout=10)
    assert time.monotonic() - started < 10
    assert job.to_json()["status"] == "failed"
    assert job.to_json()["error"]["message"]

"""Background jobs: each long run in a process of its own, its state kept for polling.

`convert` trains the model once and `verify` runs papermill: tens of seconds
each, running the notebook's own code. Each job runs in a fresh interpreter
(`worker.py`) started in its own session, never forked from the server, so it
inherits no server thread or socket and cannot touch the server's state. At
most `workers` jobs run at once; the others wait, reported `queued`. A job is
`running` only once its process has started, then `done`, `failed` (a user
error, a crash, or `timeout` seconds passed) or `cancelled` (by the client, or
because the server stopped). Timeout, cancel and server stop kill the job's
process with everything it started (`processes.kill_tree`), and its scratch
folder (its TMPDIR) is removed. Only one queued or running job may write a
given folder (`FolderBusy`). Finished jobs are kept, newest last, up to `KEEP`.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nb2prod.errors import Problem
from nb2prod.frontends.server.worker import LOG, OUTCOME, TASK
from nb2prod.run.processes import kill_tree

KEEP = 100
POLL = 0.1  # seconds between checks of a running job
ACTIVE = ("queued", "running")


class FolderBusy(Exception):
    """Another queued or running job writes the same folder."""

    def __init__(self, job: Job) -> None:
        super().__init__(job.id)
        self.job = job


@dataclass(eq=False)
class Job:
    """One submitted run: its kind (`convert`, `verify`), what it is about, its state."""

    kind: str
    subject: str
    task: Callable[..., dict[str, Any]]
    args: tuple[Any, ...]
    folder: Path | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    status: str = "queued"
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    process: subprocess.Popen[bytes] | None = None
    scratch: Path | None = None
    stop_reason: str | None = None  # "cancelled", "server-stopped"
    log_tail: str = ""
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _ended: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended (and was cleaned up); False on timeout."""
        return self._ended.wait(timeout)

    def to_json(self) -> dict[str, Any]:
        end = self.finished or time.time()
        return {
            "id": self.id,
            "kind": self.kind,
            "subject": self.subject,
            "status": self.status,
            "elapsed": round(end - self.created, 2),
            "result": self.result if self.status == "done" else None,
            "error": self.error,
        }


class JobRunner:
    """Runs at most `workers` jobs at once, each killed after `timeout` seconds."""

    def __init__(self, workers: int = 2, timeout: float = 1800) -> None:
        self.workers = max(1, workers)
        self.timeout = timeout
        self._lock = threading.RLock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._queue: deque[Job] = deque()
        self._running: set[Job] = set()
        self._closed = False

    def submit(
        self,
        kind: str,
        subject: str,
        task: Callable[..., dict[str, Any]],
        *args: Any,
        folder: Path | None = None,
    ) -> Job:
        """Queue `task(*args)` (a picklable module-level function); it starts when a worker
        is free. `FolderBusy` when a queued or running job already writes `folder`."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the job runner has stopped")
            if folder is not None:
                busy = self.writing(folder)
                if busy is not None:
                    raise FolderBusy(busy)
            job = Job(kind, subject, task, args, folder)
            self._jobs[job.id] = job
            self._queue.append(job)
            self._start_queued()
            self._forget_old()
        return job

    def writing(self, folder: Path) -> Job | None:
        """The queued or running job that writes `folder`, if any."""
        with self._lock:
            return next(
                (j for j in self._jobs.values() if j.folder == folder and j.status in ACTIVE),
                None,
            )

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def cancel(self, job_id: str, reason: str = "cancelled") -> Job | None:
        """Cancel a queued job, or kill a running one with what it started; a finished job
        is left as it is. None for an unknown id."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status not in ACTIVE:
                return job
            if job.status == "queued":
                self._queue.remove(job)
                self._end(job, "cancelled", _stopped_error(reason))
                return job
            job.stop_reason = reason
            job._stop.set()
        job.wait(30)
        return job

    def shutdown(self) -> None:
        """The server is stopping: cancel queued jobs, kill running ones and their
        processes, remove their scratch folders. Idempotent."""
        with self._lock:
            self._closed = True
            for job in list(self._queue):
                self._queue.remove(job)
                self._end(job, "cancelled", _stopped_error("server-stopped"))
            running = list(self._running)
            for job in running:
                job.stop_reason = "server-stopped"
                job._stop.set()
        for job in running:
            job.wait(30)

    def _start_queued(self) -> None:
        while self._queue and len(self._running) < self.workers and not self._closed:
            job = self._queue.popleft()
            try:
                self._launch(job)
            except OSError as failure:  # no process could start: the job fails, not the server
                self._cleanup(job)
                self._end(job, "failed", _internal(f"the job could not start: {failure}"))
                continue
            self._running.add(job)
            threading.Thread(target=self._watch, args=(job,), daemon=True).start()

    def _launch(self, job: Job) -> None:
        job.scratch = Path(tempfile.mkdtemp(prefix="nb2prod-job-"))
        (job.scratch / "tmp").mkdir()
        (job.scratch / TASK).write_bytes(pickle.dumps((job.task, job.args)))
        env = {**os.environ, "TMPDIR": str(job.scratch / "tmp")}
        with open(job.scratch / LOG, "wb") as log:
            job.process = subprocess.Popen(
                [sys.executable, "-c", "from nb2prod.frontends.server.worker import main; main()",
                 str(job.scratch)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, start_new_session=True,
            )  # fmt: skip
        job.status, job.started = "running", time.time()

    def _watch(self, job: Job) -> None:
        """Wait for the job's process (without reaping it, so its pid cannot be reused
        before its tree is killed), its timeout, or a cancel; then end the job."""
        assert job.process is not None and job.started is not None
        timed_out = False
        while not _exited(job.process.pid):
            left = job.started + self.timeout - time.time()  # `timeout` may be changed
            if left <= 0:
                timed_out = True
                break
            if job._stop.wait(min(POLL, left)):
                break
        kill_tree(job.process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            job.process.wait(timeout=30)
        outcome = _read_outcome(job)
        self._cleanup(job)
        with self._lock:
            if job.stop_reason is not None:
                self._end(job, "cancelled", _stopped_error(job.stop_reason))
            elif timed_out:
                self._end(job, "failed", _timeout_error(self.timeout))
            elif outcome is None:
                self._end(job, "failed", _crashed(job))
            elif "result" in outcome:
                job.result = outcome["result"]
                self._end(job, "done", None)
            else:
                self._end(job, "failed", outcome.get("error") or _internal("no result"))
            self._running.discard(job)
            self._start_queued()

    def _cleanup(self, job: Job) -> None:
        if job.scratch is not None:
            job.log_tail = _tail(job.scratch / LOG)
            shutil.rmtree(job.scratch, ignore_errors=True)

    def _end(self, job: Job, status: str, error: dict[str, Any] | None) -> None:
        job.status, job.error, job.finished = status, error, time.time()
        job._ended.set()

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.status not in ACTIVE]
        for job in finished[: max(0, len(self._jobs) - KEEP)]:
            del self._jobs[job.id]


def _exited(pid: int) -> bool:
    """Whether the child `pid` has ended, leaving it to be reaped (its pid stays taken)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _read_outcome(job: Job) -> dict[str, Any] | None:
    assert job.scratch is not None
    try:
        outcome = json.loads((job.scratch / OUTCOME).read_text())
    except (OSError, ValueError):
        return None
    return outcome if isinstance(outcome, dict) else None


def _tail(log: Path, limit: int = 2000) -> str:
    try:
        return log.read_bytes()[-limit:].decode(errors="replace").strip()
    except OSError:
        return ""


def _problem(code: str, message: str, fix: str) -> dict[str, Any]:
    return {"message": message, "problems": [Problem(code, message, fix).to_json()]}


def _stopped_error(reason: str) -> dict[str, Any]:
    if reason == "server-stopped":
        return _problem(
            "job-cancelled",
            "the job was cancelled: the server stopped, with every process the job started",
            "start the export again",
        )
    return _problem(
        "job-cancelled",
        "the job was cancelled; it was stopped with every process it started",
        "start the export again when you want it",
    )


def _timeout_error(timeout: float) -> dict[str, Any]:
    return _problem(
        "job-timeout",
        f"timeout: the job ran longer than {timeout:g} s and was stopped with every process "
        "it started",
        "make the notebook faster (quick parameters, less data), or raise the server's limit: "
        "--Nb2prodExtension.job_timeout=SECONDS",
    )


def _internal(message: str) -> dict[str, Any]:
    return {"message": f"internal error: {message}", "problems": []}


def _crashed(job: Job) -> dict[str, Any]:
    code = job.process.returncode if job.process is not None else None
    return _internal(
        f"the job's process ended (exit status {code}) without a result\n{job.log_tail}"
    )

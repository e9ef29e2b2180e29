"""Background jobs: long runs in a process pool, their state kept for polling.

`convert` trains the model once and `verify` runs papermill: tens of seconds
each. They run in worker processes (spawned, not forked, so no server thread
or socket is inherited) so the server stays responsive and a run cannot touch
the server's own state (verify sets PATH for papermill, for example). The
client polls `GET /nb2prod/jobs/<id>`; finished jobs are kept, newest last, up
to `KEEP` of them.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

KEEP = 100


@dataclass
class Job:
    """One submitted run: its kind (`convert`, `verify`), future and what it is about."""

    kind: str
    future: Future[dict[str, Any]]
    subject: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: float = field(default_factory=time.time)
    finished: float | None = None

    @property
    def status(self) -> str:
        """queued, running, done, or failed (a user error or a crash: see `error`)."""
        if self.future.done():
            return "failed" if self.error is not None else "done"
        return "running" if self.future.running() else "queued"

    @property
    def error(self) -> dict[str, Any] | None:
        if not self.future.done():
            return None
        if self.future.cancelled():
            return {"message": "the job was cancelled (the server stopped)", "problems": []}
        failure = self.future.exception()
        if failure is not None:  # a bug or a killed worker, not a user mistake
            message = f"internal error: {type(failure).__name__}: {failure}"
            return {"message": message, "problems": []}
        return self.future.result().get("error")

    def to_json(self) -> dict[str, Any]:
        done = self.future.done() and self.error is None
        end = self.finished or time.time()
        return {
            "id": self.id,
            "kind": self.kind,
            "subject": self.subject,
            "status": self.status,
            "elapsed": round(end - self.created, 2),
            "result": self.future.result().get("result") if done else None,
            "error": self.error,
        }


class JobRunner:
    """Runs tasks in a small process pool and remembers their jobs by id."""

    def __init__(self, workers: int = 2) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._jobs: OrderedDict[str, Job] = OrderedDict()

    def submit(
        self, kind: str, subject: str, task: Callable[..., dict[str, Any]], *args: Any
    ) -> Job:
        """Start `task(*args)` in a worker; a pool broken by a crashed worker is replaced."""
        try:
            future = self._executor().submit(task, *args)
        except BrokenProcessPool:
            self._pool = None
            future = self._executor().submit(task, *args)
        job = Job(kind, future, subject)
        future.add_done_callback(lambda _: setattr(job, "finished", time.time()))
        self._jobs[job.id] = job
        while len(self._jobs) > KEEP:
            oldest = next(iter(self._jobs.values()))
            if not oldest.future.done():
                break
            self._jobs.popitem(last=False)
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def shutdown(self) -> None:
        """Cancel queued jobs and end running ones: the server is stopping."""
        if self._pool is None:
            return
        processes = list(getattr(self._pool, "_processes", {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        self._pool = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        return self._pool

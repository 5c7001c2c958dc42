"""The page's regenerates, in background workers: the request that asks for one returns at once, the page polls
how far it got, and a draft has at most one running at a time.

A job lives only in this process's memory: what it writes goes to the database in one transaction at its end (the
regenerate service's), so a crash or restart loses only the unfinished attempt, which the owner asks for again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.errors import JobRunning, PawpostError

log = logging.getLogger(__name__)

# The steps a regenerate reports, in order; `Job.done` counts those finished.
STEPS = ("waiting for the models", "describing the photos", "writing the captions")
# How long a finished job's result is still shown on its draft's card.
KEEP_SECONDS = 120.0

Report = Callable[[int, str], None]


class JobState(StrEnum):
    """Where a regenerate of the page stands (a job's, not a draft's)."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # not a draft state


@dataclass
class Job:
    """One regenerate: `state` a JobState; `step` says what it does now, `done` of `total` steps are
    finished; `message` is the result line (done) or what went wrong (failed)."""

    draft_id: int
    step: str = STEPS[0]
    done: int = 0
    total: int = len(STEPS)
    state: str = JobState.RUNNING
    message: str = ""
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.state == JobState.RUNNING

    def to_json(self) -> dict[str, Any]:
        return {"draft_id": self.draft_id, "state": self.state, "step": self.step, "done": self.done,
                "total": self.total, "message": self.message,
                "seconds": round((self.finished or time.monotonic()) - self.started, 1)}


class Jobs:
    """The regenerates of one site, by draft id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[int, Job] = {}

    def start(self, draft_id: int, work: Callable[[Report], str]) -> Job:
        """Run `work(report)` in a worker thread (JobRunning while the draft has one running); it returns the
        result line and calls `report(done, step)` as it goes."""
        with self._lock:
            self._prune()
            old = self._jobs.get(draft_id)
            if old is not None and old.running:
                raise JobRunning(draft_id)
            job = self._jobs[draft_id] = Job(draft_id)
        job.thread = threading.Thread(target=self._run, args=(job, work), name=f"regenerate-{draft_id}", daemon=True)
        job.thread.start()
        return job

    def get(self, draft_id: int) -> Job | None:
        with self._lock:
            self._prune()
            return self._jobs.get(draft_id)

    def wait(self, draft_id: int, timeout: float) -> Job | None:
        """The draft's job once it has finished (or still running after `timeout` seconds)."""
        job = self.get(draft_id)
        if job is not None and job.thread is not None:
            job.thread.join(timeout)
        return job

    def _run(self, job: Job, work: Callable[[Report], str]) -> None:
        def report(done: int, step: str) -> None:
            with self._lock:
                job.done, job.step = done, step

        try:
            message, state = work(report), JobState.DONE
        except PawpostError as exc:
            message, state = str(exc), JobState.FAILED
        except Exception:
            log.exception("web: regenerating draft %d failed", job.draft_id)
            message, state = "regenerating failed; the details are in pawpost's log", JobState.FAILED
        with self._lock:
            job.message, job.state, job.finished = message, state, time.monotonic()
            if state == JobState.DONE:
                job.done, job.step = job.total, "finished"

    def _prune(self) -> None:
        now = time.monotonic()
        for draft_id in [i for i, j in self._jobs.items() if j.finished and now - j.finished > KEEP_SECONDS]:
            del self._jobs[draft_id]


class ReportingCaptioner:
    """A captioner that reports the regenerate's steps as the caption stage calls it: describing the photos (the
    models load on first use), then each round of writing. Everything else is the captioner's own."""

    def __init__(self, captioner: Any, report: Report) -> None:
        self._captioner = captioner
        self._report = report
        self._rounds = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._captioner, name)

    def describe(self, *args: Any, **kwargs: Any) -> Any:
        self._report(1, STEPS[1])
        return self._captioner.describe(*args, **kwargs)

    def write(self, *args: Any, **kwargs: Any) -> Any:
        self._rounds += 1
        self._report(2, STEPS[2] + (f" (round {self._rounds})" if self._rounds > 1 else ""))
        return self._captioner.write(*args, **kwargs)

"""Scheduled jobs of the all-in-one server: rollups, retention, offline detection.

One thread runs each job at its interval; a job that fails is logged and tried again at its
next turn. (Several servers over one PostgreSQL will claim jobs with leases: a later step.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from forewarn.services import agents, metrics
from forewarn.services.context import Context

log = logging.getLogger("forewarn.jobs")


@dataclass
class Job:
    name: str
    every: float
    run: Callable[[Context], object]
    next_at: float = field(default=0.0)


def default_jobs() -> list[Job]:
    return [
        Job("offline", 15, agents.mark_offline),
        Job("rollup", 60, metrics.rollup),
        Job("retention", 3600, lambda ctx: metrics.enforce_retention(ctx)),
        Job("batch-ids", 3600, agents.prune_batch_ids),
    ]


class Scheduler:
    def __init__(self, ctx: Context, jobs: list[Job] | None = None) -> None:
        self.ctx = ctx
        self.jobs = jobs if jobs is not None else default_jobs()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_due(self, now: float) -> None:
        for job in self.jobs:
            if now < job.next_at:
                continue
            job.next_at = now + job.every
            try:
                job.run(self.ctx)
            except Exception:
                log.exception("job %s failed", job.name)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_due(time.monotonic())
            self._stop.wait(1.0)

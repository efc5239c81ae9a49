"""Jobs run beside the check-in loop: a few worker threads and a bounded queue.

A script may run for up to an hour; while it runs the agent must go on checking in (its
metrics, its watches, and the news that the job started). The loop only verifies and accepts
a job (fast: about 80 us) and puts it in the queue; a worker runs it. What a worker has to
say goes through its own connection to the agent's buffer (SQLite serializes the writers):

- when a job starts: a small batch with a `running` entry, and the job marked started in the
  buffer's meta, in one transaction;
- when it ends: a batch with its result, and the job taken out of the running ones, again in
  one transaction.

Then the worker nudges the loop, which sends at once instead of at its next tick. A full
queue accepts nothing more: the job is not remembered, and the server delivers it again
later (services.agent_jobs.REDELIVER).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from forewarn.agent.buffer import Buffer
from forewarn.agent.jobs import JobRunner, result
from forewarn.domain.jobs import Envelope

log = logging.getLogger("forewarn.agent.jobs")

THREADS = 2  # at most this many jobs at once
QUEUE_SIZE = 20  # wire.MAX_JOBS: one answer's worth waiting
# What a worker stores: (its buffer, the running entry or None, the result or None, kept).
Record = Callable[[Buffer, dict[str, Any] | None, dict[str, Any] | None, str], None]


class JobWorkers:
    """Worker threads running the accepted jobs of one JobRunner."""

    def __init__(
        self,
        jobs: JobRunner,
        open_buffer: Callable[[], Buffer],
        record: Record,
        nudge: Callable[[], None],
        *,
        threads: int = THREADS,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.jobs = jobs
        self._open_buffer = open_buffer  # each worker its own connection to the same file
        self._record = record
        self._nudge = nudge
        self._queue: queue.Queue[Envelope] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._busy = 0  # queued or running
        self._busy_lock = threading.Condition()
        self._threads = [
            threading.Thread(target=self._loop, name=f"forewarn-job-{i}", daemon=True)
            for i in range(threads)
        ]
        for t in self._threads:
            t.start()

    def has_room(self) -> bool:
        return not self._queue.full()

    def submit(self, env: Envelope) -> None:
        """Queue an accepted job (the caller checked has_room: only the loop submits)."""
        with self._busy_lock:
            self._busy += 1
        try:
            self._queue.put_nowait(env)
        except queue.Full:
            with self._busy_lock:
                self._busy -= 1
            raise

    @property
    def busy(self) -> int:
        with self._busy_lock:
            return self._busy

    def wait_idle(self, timeout: float) -> bool:
        """Block until no job is queued or running (True), or `timeout` passed (False)."""
        deadline = time.monotonic() + timeout
        with self._busy_lock:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._busy_lock.wait(min(left, 1.0))
            return True

    def stop(self, timeout: float = 1.0) -> None:
        """Take no more jobs. A job still running is left to finish or be cut off with the
        process; after a restart it is reported as interrupted (jobs.INTERRUPTED)."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout / max(len(self._threads), 1))

    # ---- one worker ------------------------------------------------------------------------

    def _loop(self) -> None:
        buffer: Buffer | None = None
        try:
            while not self._stop.is_set():
                try:
                    env = self._queue.get(timeout=0.5)
                except queue.Empty:
                    continue
                if buffer is None:
                    buffer = self._open_buffer()
                try:
                    self._run(buffer, env)
                finally:
                    with self._busy_lock:
                        self._busy -= 1
                        self._busy_lock.notify_all()
                self._nudge()
        finally:
            if buffer is not None:
                buffer.close()

    def _run(self, buffer: Buffer, env: Envelope) -> None:
        jobs = self.jobs

        def started(kept: str) -> None:
            entry = {"job": env.id, "started_at": jobs.running.get(env.id) or jobs.clock()}
            self._record(buffer, entry, None, kept)

        try:
            if self._stop.is_set():
                return  # never started: reported as not started after the restart
            try:
                done = jobs.execute(env, persist=started)
            except sqlite3.Error:
                raise  # the start could not be stored: it did not run
            except Exception as exc:  # a bug here must not kill the worker
                log.exception("job %d failed in the agent", env.id)
                now = jobs.clock()
                done = result(env.id, "failed", now, now, reason=f"agent error: {exc}")
            self._nudge()  # the running entry goes out now, not at the next tick
            with jobs.lock:
                jobs.finish(env.id)
                self._record(buffer, None, done, jobs.remember())
        except sqlite3.Error:
            # The buffer cannot be written (a full disk): the job stays among the running
            # ones, and the next start reports it as interrupted rather than forgetting it.
            log.exception("cannot store the state of job %d", env.id)


class LongPoll:
    """The fast path: a thread that keeps one request open at the server (GET
    /api/v1/agent/jobs, held up to `wait` seconds) so a job issued now starts within a second
    or two instead of at the next check-in. What it gets goes to `offer` (the loop verifies
    and queues it as any job). Failures back off (5 s doubling to 5 min); a refused
    credential ends it. Check-in answers still carry jobs: this only makes them sooner."""

    def __init__(
        self,
        fetch: Callable[[float], list[Any]],
        offer: Callable[[list[Any]], None],
        *,
        wait: float = 25.0,
        backoff_max: float = 300.0,
    ) -> None:
        self._fetch = fetch
        self._offer = offer
        self.wait = wait
        self.backoff_max = backoff_max
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="forewarn-long-poll", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop asking; a request in flight is left to end (the thread is a daemon)."""
        self._stop.set()

    def _loop(self) -> None:
        from forewarn.agent.client import ClientError, Unauthorized

        failures = 0
        while not self._stop.is_set():
            try:
                orders = self._fetch(self.wait)
            except Unauthorized:
                log.warning("the server refused this agent's credential: no long poll")
                return
            except ClientError as exc:
                failures += 1
                delay = min(self.backoff_max, 5.0 * 2 ** min(failures - 1, 10))
                log.debug("long poll failed (%s); again in %.0f s", exc, delay)
                self._stop.wait(delay)
                continue
            failures = 0
            if orders and not self._stop.is_set():
                self._offer(orders)

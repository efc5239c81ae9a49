"""The agent's loop: sample, buffer, drain, back off; repeat every interval.

Each tick (the interval, 60 s by default, ±10 % jitter so that a hundred agents restarted
together do not stay in step) takes one metrics sample and, when due, an inventory: the
changed sections every `inventory_interval`, everything once a day. The batch goes into the
buffer first and only then to the server, oldest batch first, so an outage costs nothing but
delay. While the server is unreachable the agent keeps collecting on schedule and retries
with exponential backoff; a refused batch is quarantined; a refused credential stops it.

Time comes from an injected Clock and sleep function: tests drive hours of this loop in
milliseconds, and SIGTERM (via stop()) wakes the real sleep at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import select
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from forewarn.agent import AGENT_VERSION
from forewarn.agent.buffer import Buffer, compress, encode
from forewarn.agent.client import ClientError, Refused, Retry, Unauthorized
from forewarn.agent.collectors.authlog import AuthReader
from forewarn.agent.collectors.authlog import Taken as AuthTaken
from forewarn.agent.job_worker import JobWorkers
from forewarn.agent.jobs import META_JOBS, JobRunner
from forewarn.agent.posture import META_POSTURE, Assessor
from forewarn.agent.sweeps import META_DONE, Sweeper
from forewarn.agent.watch import META_CONFIG, META_STATE, META_WATCH_TS, Taken, Watcher
from forewarn.domain.clock import Clock, SystemClock
from forewarn.domain.jobs import MAX_TIMEOUT, Envelope

log = logging.getLogger("forewarn.agent")

WIRE_VERSION = 1
SAMPLE_POINTS = 500  # wire.MAX_POINTS: the most points one sample may carry
# Bounds on the interval a server may set: never a busy loop, never silent for hours.
MIN_INTERVAL = 10
MAX_INTERVAL = 3600
# Clocks keep microseconds: a deadline this close counts as reached, else the loop would
# spin on sub-microsecond sleeps that never move the clock.
TIME_EPSILON = 0.001

META_AUTH = "auth_state"  # where the auth log / journal was read up to
Inventory = dict[str, Any]
Hashes = dict[str, str]


class Sender(Protocol):
    """What the runner needs of a client (forewarn.agent.client.Client is one)."""

    def send(self, body_gzip: bytes) -> dict[str, Any]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Sources:
    """Where the facts come from; real_sources() wires in the collectors."""

    sample: Callable[[float], dict[str, Any]]
    inventory: Callable[[], Inventory]
    changed_sections: Callable[[Inventory, Hashes], Inventory]
    section_hashes: Callable[[Inventory], Hashes]


def real_sources() -> Sources:
    """The collectors of this machine (imported here: `status` and tests do not need them)."""
    from forewarn.agent import collect
    from forewarn.agent.collectors.metrics import MetricsCollector

    metrics = MetricsCollector()
    return Sources(
        sample=metrics.sample,
        inventory=collect.collect_inventory,
        changed_sections=collect.changed_sections,
        section_hashes=collect.section_hashes,
    )


@dataclass(frozen=True)
class Schedule:
    """How often to do what, in seconds."""

    interval: float = 60
    inventory_interval: float = 15 * 60
    full_inventory_interval: float = 24 * 3600
    jitter: float = 0.10
    backoff_first: float = 5
    backoff_max: float = 300
    # False pins `interval` (set on the command line): the server's answers do not change it.
    server_sets_interval: bool = True


class Outcome(StrEnum):
    """Why run() or run_once() returned."""

    STOPPED = "stopped"  # stop() was called (SIGTERM)
    FINISHED = "finished"  # max_ticks reached
    UNAUTHORIZED = "unauthorized"  # the server refused the credential
    SENT = "sent"  # run_once: everything buffered was delivered
    PENDING = "pending"  # run_once: the server could not be reached; batches kept


@dataclass(frozen=True)
class _InventoryTaken:
    """An inventory collected this tick: what to send and what to remember once buffered."""

    payload: Inventory | None  # None: nothing changed
    hashes: Hashes
    at: float
    full: bool

    def remember(self) -> dict[str, str]:
        """Meta rows written in the same transaction as the batch."""
        meta = {"inventory_hashes": json.dumps(self.hashes), "inventory_at": repr(self.at)}
        if self.full:
            meta["full_inventory_at"] = repr(self.at)
        return meta


class _Drain(StrEnum):
    EMPTY = "empty"
    PAUSED = "paused"  # time to collect again; more to send
    FAILED = "failed"
    UNAUTHORIZED = "unauthorized"


def build_batch(
    now: float,
    samples: list[dict[str, Any]],
    inventory: Inventory | None,
    *,
    config_rev: str = "",
    watch: list[dict[str, Any]] | None = None,
    sweeps: list[dict[str, Any]] | None = None,
    posture: list[dict[str, Any]] | None = None,
    auth: dict[str, Any] | None = None,
    stopping: bool = False,
    jobs: list[dict[str, Any]] | None = None,
    running: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A check-in batch without its batch_id and seq (the buffer assigns those)."""
    batch: dict[str, Any] = {
        "v": WIRE_VERSION,
        "agent_version": AGENT_VERSION,
        "sent_at": now,
        "samples": samples,
        "inventory": inventory,
    }
    if config_rev:
        batch["config_rev"] = config_rev
    if watch:
        batch["watch"] = watch
    if sweeps:
        batch["sweeps"] = sweeps
    if posture:
        batch["posture"] = posture
    if auth is not None:
        batch["auth"] = auth
    if stopping:
        batch["stopping"] = True
    if jobs:
        batch["jobs"] = jobs
    if running:
        batch["running"] = running
    return batch


def full_inventory(inventory: Inventory) -> Inventory:
    """Every section, marked full: the server replaces what it knows with this."""
    return {"full": True, **{k: v for k, v in inventory.items() if k != "full"}}


def finite_sample(sample: dict[str, Any]) -> dict[str, Any]:
    """The sample without non-finite values: one NaN would get the whole batch refused."""
    points = sample.get("points") or []
    kept = [p for p in points if _finite(p.get("value"))]
    if len(kept) == len(points):
        return sample
    log.debug("dropped %d non-finite metric values", len(points) - len(kept))
    return {**sample, "points": kept}


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


class Runner:
    """One agent's loop over a buffer, a sender and its sources."""

    def __init__(
        self,
        buffer: Buffer,
        sender: Sender,
        sources: Sources,
        *,
        schedule: Schedule | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], object] | None = None,
        rng: random.Random | None = None,
        watcher: Watcher | None = None,
        sweeper: Sweeper | None = None,
        assessor: Assessor | None = None,
        auth: AuthReader | None = None,
        jobs: JobRunner | None = None,
    ) -> None:
        self.buffer = buffer
        self.sender = sender
        self.sources = sources
        self.schedule = schedule or Schedule()
        self._clock = clock or SystemClock()
        self._stop_requested = False
        self._waker = None if sleep else _Waker()
        self._sleep = sleep or self._waker.sleep  # type: ignore[union-attr]
        self._rng = rng or random.Random()
        self.interval = (
            _clamp_interval(buffer.get_meta("interval") or self.schedule.interval)
            if self.schedule.server_sets_interval
            else self.schedule.interval
        )
        self.failures = 0
        self._retry_after: float | None = None
        self._hashes: Hashes = json.loads(buffer.get_meta("inventory_hashes") or "{}")
        self._inventory_at = _float_or_none(buffer.get_meta("inventory_at"))
        self._full_inventory_at = _float_or_none(buffer.get_meta("full_inventory_at"))
        self.watcher = watcher
        self._last_watch_ts = _float_or_none(buffer.get_meta(META_WATCH_TS))
        if watcher is not None:
            watcher.restore(buffer.get_meta(META_CONFIG), buffer.get_meta(META_STATE))
        self.sweeper = sweeper
        if sweeper is not None:
            sweeper.restore(buffer.get_meta(META_DONE))
        self.assessor = assessor
        if assessor is not None:
            assessor.restore(buffer.get_meta(META_POSTURE))
        self.auth = auth
        if auth is not None:
            auth.restore(buffer.get_meta(META_AUTH))
        self.jobs = jobs
        self._job_news = False  # a worker stored something to send
        self._inbox: list[list[Any]] = []  # jobs the long poll fetched, for the loop to take
        self._inbox_lock = threading.Lock()
        self.workers: JobWorkers | None = None
        if jobs is not None:
            owed = jobs.restore(buffer.get_meta(META_JOBS))
            if owed:  # jobs a stop, a crash or their own reboot interrupted: say so
                self._buffer_job_results(owed)
            self.workers = JobWorkers(jobs, self._reopen_buffer, self._record_job, self.nudge)

    # ---- control ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Finish the current step and return; safe to call from a signal handler."""
        self._stop_requested = True
        if self._waker:
            self._waker.wake()

    def _reopen_buffer(self) -> Buffer:
        """Another connection to this buffer, with its bounds (for a worker thread)."""
        b = self.buffer
        return Buffer(b.path, max_bytes=b.max_bytes, max_quarantined=b.max_quarantined)

    def nudge(self) -> None:
        """A job started or ended (called from a worker thread): send without waiting for
        the next tick."""
        self._job_news = True
        if self._waker:
            self._waker.wake()

    def offer_jobs(self, orders: list[Any]) -> None:
        """Jobs fetched by the long poll (another thread): the loop verifies and queues them
        at once, as it does a check-in answer's."""
        with self._inbox_lock:
            self._inbox.append(orders)
        self.nudge()

    def _take_offered(self) -> None:
        with self._inbox_lock:
            offered, self._inbox = self._inbox, []
        for orders in offered:
            self._run_jobs(orders)

    @property
    def stopping(self) -> bool:
        return self._stop_requested

    def close(self) -> None:
        if self.workers is not None:
            self.workers.stop()
        if self._waker:
            self._waker.close()
        if self.sweeper is not None:
            self.sweeper.stop()

    def run(self, *, max_ticks: int | None = None) -> Outcome:
        """Loop until stop(), a refused credential, or `max_ticks` collections."""
        now = self._now()
        next_tick = next_send = now
        ticks = 0
        while not self.stopping:
            now = self._now()
            next_tick, next_send = self._guard_clock_jump(now, next_tick, next_send)
            if self._job_news:
                self._job_news = False
                self._take_offered()
                self._after_jobs()
                if not self.failures:  # during an outage the backoff still decides
                    next_send = now
            if now + TIME_EPSILON >= next_tick:
                self.tick()
                ticks += 1
                next_tick = now + self._jittered(self.interval)
            if self._now() + TIME_EPSILON >= next_send and not self.stopping:
                drained = self.drain(deadline=next_tick)
                if drained is _Drain.UNAUTHORIZED:
                    return Outcome.UNAUTHORIZED
                next_send = self._next_send(drained, next_tick)
            if max_ticks is not None and ticks >= max_ticks:
                return Outcome.FINISHED
            wait = min(next_tick, next_send) - self._now()
            if wait > TIME_EPSILON:
                self._sleep(wait)
        return Outcome.STOPPED

    def run_once(self) -> Outcome:
        """Collect one batch and try once to deliver everything buffered."""
        self.tick()
        drained = self.drain(deadline=math.inf)
        # Jobs the answers brought run to their end (each is bounded by its own timeout),
        # then their results go too; an answer to those may bring more jobs.
        while drained is _Drain.EMPTY and self.workers is not None and self.workers.busy:
            if not self.workers.wait_idle(MAX_TIMEOUT + 60) or self.stopping:
                break
            self._job_news = False
            self._after_jobs()
            drained = self.drain(deadline=math.inf)
        if drained is _Drain.UNAUTHORIZED:
            return Outcome.UNAUTHORIZED
        return Outcome.SENT if drained is _Drain.EMPTY else Outcome.PENDING

    # ---- one step each ---------------------------------------------------------------------

    def tick(self) -> None:
        """Take a sample (and the inventory when due) and buffer them as one batch."""
        now = self._now()
        samples = self._take_sample(now)
        watched = self._take_watches(now)
        watch_ts = self._watch_ts_after(now)
        if watched is not None:
            # Samples of their own: a sample holds at most 500 points, and the machine's
            # metrics may already fill most of that.
            points = watched.points
            samples += [
                {"ts": watch_ts, "points": points[i : i + SAMPLE_POINTS]}
                for i in range(0, len(points), SAMPLE_POINTS)
            ]
        taken = self._take_inventory(now)
        payload = taken.payload if taken else None
        readings = watched.readings if watched else []
        reports = self._take_sweeps()
        posture = self._take_posture(now)
        auth = self._take_auth(now)
        auth_report = auth.report if auth else None
        quiet = not samples and payload is None and not readings and not reports
        if quiet and not posture and not auth_report:
            if taken:  # nothing changed: remember that it was checked
                self.buffer.set_meta(taken.remember())
                self._remember_inventory(taken)
            return
        remember = taken.remember() if taken else {}
        if watched is not None and self.watcher is not None:
            remember[META_STATE] = json.dumps(watched.state, separators=(",", ":"))
            if watched.points:
                remember[META_WATCH_TS] = repr(watch_ts)
        if reports and self.sweeper is not None:
            remember[META_DONE] = self.sweeper.remember(reports)
        if posture and self.assessor is not None and self.watcher is not None:
            remember[META_POSTURE] = self.assessor.remember(self.watcher.config.posture, now)
        if auth is not None:
            remember[META_AUTH] = json.dumps(auth.state, separators=(",", ":"))
        rev = self.watcher.rev if self.watcher else ""
        try:
            self.buffer.append(
                build_batch(
                    now,
                    samples,
                    payload,
                    config_rev=rev,
                    watch=readings,
                    sweeps=reports,
                    posture=posture,
                    auth=auth_report,
                ),
                remember=remember or None,
            )
        except sqlite3.Error:
            # A full or broken disk: this batch is lost, but sending what is buffered may
            # still work (and frees space), so keep going; the inventory is retried next tick.
            log.exception("cannot write to the buffer %s", self.buffer.path)
            return
        except (ValueError, TypeError):
            # A collector produced something JSON cannot carry (NaN, an object): the server
            # would refuse the batch anyway. Nothing was stored; the next tick tries afresh.
            log.exception("this tick's batch cannot be encoded; skipped")
            return
        if taken:
            self._remember_inventory(taken)
        if watched is not None and self.watcher is not None:
            self.watcher.commit(watched)
            if watched.points:
                self._last_watch_ts = watch_ts
        if auth is not None and self.auth is not None:
            self.auth.commit(auth)

    def farewell(self) -> bool:
        """Tell the server this agent stops on purpose (SIGTERM), so that its silence from now
        on reads as a deliberate stop, not a crash. One attempt; never kept for later: a
        farewell delivered after the next start would say the agent is off while it runs."""
        batch = build_batch(self._now(), [], None, stopping=True)
        try:
            self.buffer.append(batch)
        except sqlite3.Error:
            return False
        delivered = False
        try:
            answer = self.sender.send(compress(encode(batch)))
            delivered = answer.get("batch_id") == batch["batch_id"]
        except ClientError as exc:
            log.info("could not tell the server that this agent stops: %s", exc)
        finally:
            self.sender.close()
            self.buffer.acknowledge(batch["batch_id"])
        return delivered

    def drain(self, deadline: float) -> _Drain:
        """Send buffered batches oldest first until empty, a failure, or `deadline`."""
        try:
            while not self.stopping:
                item = self.buffer.oldest()
                if item is None:
                    return _Drain.EMPTY
                if not self._deliver(*item):
                    return _Drain.FAILED
                if self._now() >= deadline:
                    return _Drain.PAUSED
            return _Drain.PAUSED
        except Unauthorized as exc:
            log.error("%s. This agent stops; re-enrol it: forewarn agent enroll --force", exc)
            self.buffer.set_meta({"last_error": str(exc), "last_error_at": repr(self._now())})
            return _Drain.UNAUTHORIZED
        finally:
            self.sender.close()

    def _deliver(self, batch_id: str, body: bytes) -> bool:
        """Send one batch; True if it left the buffer (acknowledged or quarantined)."""
        try:
            answer = self.sender.send(body)
            if answer.get("batch_id") != batch_id:
                raise Retry(f"the server acknowledged {answer.get('batch_id')!r}, not {batch_id}")
        except Refused as exc:
            log.warning("batch %s quarantined: %s", batch_id, exc)
            if self.buffer.quarantine(batch_id, str(exc)):
                self._forget_inventory()
            return True
        except Retry as exc:
            self._failed(exc)
            return False
        self.buffer.acknowledge(batch_id)
        self._apply_interval(answer.get("interval"))
        self._apply_config(answer.get("config"))
        self._run_jobs(answer.get("jobs"))
        if self.failures:
            log.info("check-in works again after %d failed attempts", self.failures)
            self.failures = 0
        return True

    # ---- decisions -------------------------------------------------------------------------

    def _take_sample(self, now: float) -> list[dict[str, Any]]:
        try:
            return [finite_sample(self.sources.sample(now))]
        except Exception:
            # One broken collector must not stop the agent; the log says which.
            log.exception("metrics sample failed")
            return []

    def _watch_ts_after(self, now: float) -> float:
        """The time of this tick's watch sample, in a later whole second than the last one.

        The server keeps one value per series and second, and a log watch's value is a
        count of new lines: two ticks within one second (`run --once` twice in a row) would
        lose the second count. Moving it to the next second costs at most a second of skew.
        """
        last = self._last_watch_ts
        # Within a second or so of the last one only: after a clock set back for real, the
        # samples follow the clock.
        if last is not None and -2 < now - last < 1 and int(now) <= int(last):
            return float(int(last) + 1)
        return now

    def _take_watches(self, now: float) -> Taken | None:
        if self.watcher is None:
            return None
        try:
            return self.watcher.take(now)
        except Exception:
            log.exception("watching processes and logs failed")
            return None

    def _take_auth(self, now: float) -> AuthTaken | None:
        if self.auth is None:
            return None
        try:
            return self.auth.take(now)
        except Exception:
            log.exception("reading the authentication log failed")
            return None

    def _take_sweeps(self) -> list[dict[str, Any]]:
        if self.sweeper is None or self.watcher is None:
            return []
        try:
            return self.sweeper.poll(self.watcher.config.sweeps)
        except Exception:
            log.exception("running the discovery sweeps failed")
            return []

    def _take_posture(self, now: float) -> list[dict[str, Any]]:
        if self.assessor is None or self.watcher is None:
            return []
        try:
            return self.assessor.take(self.watcher.config.posture, now)
        except Exception:
            log.exception("evaluating the posture policies failed")
            return []

    def _apply_config(self, doc: object) -> None:
        if self.watcher is None or doc is None:
            return
        kept = self.watcher.apply(doc)
        if kept is not None:
            self.buffer.set_meta({META_CONFIG: kept})

    def _run_jobs(self, orders: object) -> None:
        """Verify the jobs of an answer and hand them to the workers. A refusal is buffered
        at once; an accepted job is remembered before it is queued. A job beyond the queue's
        room is left alone: the server delivers it again."""
        if self.jobs is None or self.workers is None or not isinstance(orders, list):
            return
        jobs, workers = self.jobs, self.workers
        for order in orders[:20]:  # wire.MAX_JOBS
            if self.stopping or not workers.has_room():
                return
            accepted = jobs.accept(
                order, persist=lambda kept: self.buffer.set_meta({META_JOBS: kept})
            )
            if isinstance(accepted, Envelope):
                workers.submit(accepted)
            elif accepted is not None:
                self._buffer_job_results([accepted])

    def _after_jobs(self) -> None:
        if self.jobs is not None and self.jobs.updates_changed:
            # Updates were installed (or tried): the next tick sends the updates section
            # again, changed or not, so the server sees the new state within one interval.
            self.jobs.updates_changed = False
            self._hashes.pop("updates", None)
            self._inventory_at = None

    def _record_job(
        self,
        buffer: Buffer,
        running: dict[str, Any] | None,
        done: dict[str, Any] | None,
        kept: str,
    ) -> None:
        """Store a job's start or result with the jobs' state, in one transaction (called
        by a worker with its own connection to the buffer)."""
        batch = build_batch(
            self._now(),
            [],
            None,
            jobs=[done] if done else None,
            running=[running] if running else None,
        )
        buffer.append(batch, remember={META_JOBS: kept})

    def _buffer_job_results(self, results: list[dict[str, Any]]) -> None:
        assert self.jobs is not None
        batch = build_batch(self._now(), [], None, jobs=results)
        try:
            with self.jobs.lock:  # the state stored is the newest, whichever thread writes
                self.buffer.append(batch, remember={META_JOBS: self.jobs.remember()})
        except (sqlite3.Error, ValueError, TypeError):
            log.exception("cannot buffer the results of jobs %s", [r["job"] for r in results])

    def _take_inventory(self, now: float) -> _InventoryTaken | None:
        """The inventory part of the next batch when one is due."""
        due = self._inventory_due(now)
        if due is None:
            return None
        full = due == "full"
        try:
            current = self.sources.inventory()
            # Merged over the old digests: a section that could not be read this time is
            # left out, and keeps the digest of what the server last got.
            hashes = {**self._hashes, **self.sources.section_hashes(current)}
            changed = current if full else self.sources.changed_sections(current, self._hashes)
        except Exception:
            log.exception("inventory collection failed")
            return None
        if full:
            payload: Inventory | None = full_inventory(changed)
        else:
            sections = {k: v for k, v in changed.items() if k != "full"}
            payload = {"full": False, **sections} if sections else None
        return _InventoryTaken(payload, hashes, now, full)

    def _remember_inventory(self, taken: _InventoryTaken) -> None:
        self._hashes = taken.hashes
        self._inventory_at = taken.at
        if taken.full:
            self._full_inventory_at = taken.at

    def _inventory_due(self, now: float) -> str | None:
        """'full', 'changes' or None; a clock that went backwards counts as due.

        A full inventory waits for the next inventory slot, so even a full inventory the
        server keeps refusing is collected once per `inventory_interval`, not every tick.
        """
        full_at, any_at = self._full_inventory_at, self._inventory_at
        if any_at is not None and 0 <= now - any_at < self.schedule.inventory_interval:
            return None
        if full_at is None or not 0 <= now - full_at < self.schedule.full_inventory_interval:
            return "full"
        return "changes"

    def _forget_inventory(self) -> None:
        # The server refused inventory we counted as delivered: all of it goes again at the
        # next inventory slot.
        self._hashes = {}
        self._full_inventory_at = None
        self.buffer.set_meta({"inventory_hashes": "{}", "full_inventory_at": ""})

    def _apply_interval(self, value: object) -> None:
        if not self.schedule.server_sets_interval:
            return
        if not isinstance(value, int | float) or isinstance(value, bool):
            return
        interval = _clamp_interval(value)
        if interval != self.interval:
            log.info("the server set the interval to %g s (was %g s)", interval, self.interval)
            self.interval = interval
            self.buffer.set_meta({"interval": repr(interval)})

    def _failed(self, exc: Retry) -> None:
        self.failures += 1
        self._retry_after = exc.retry_after
        if self.failures == 1:
            depth = self.buffer.stats().depth
            log.warning("check-in failed: %s; %d batches kept, retrying", exc, depth)
        else:
            log.debug("check-in failed again (%d): %s", self.failures, exc)
        self.buffer.set_meta({"last_error": str(exc), "last_error_at": repr(self._now())})

    def _next_send(self, drained: _Drain, next_tick: float) -> float:
        now = self._now()
        if drained is _Drain.FAILED:
            delay = self.backoff_delay()
            log.debug("next check-in attempt in %.1f s", delay)
            return now + delay
        # Empty: nothing to send before the next batch exists. Paused: collect, then go on.
        return next_tick if drained is _Drain.EMPTY else now

    def backoff_delay(self) -> float:
        """Exponential (5 s doubling to 5 min) with jitter over the lower half of each step.

        The jitter spreads agents that lost the server together; drawing from the lower half
        keeps the delays growing while they grow. A Retry-After from the server is honoured up
        to the cap.
        """
        # The exponent is capped: after days of outage 2**failures would overflow a float.
        doublings = min(max(self.failures - 1, 0), 30)
        step = min(self.schedule.backoff_max, self.schedule.backoff_first * 2**doublings)
        delay = self._rng.uniform(step / 2, step)
        if self._retry_after:
            delay = max(delay, min(self._retry_after, self.schedule.backoff_max))
        return delay

    def _jittered(self, interval: float) -> float:
        j = self.schedule.jitter
        return interval * self._rng.uniform(1 - j, 1 + j)

    def _guard_clock_jump(
        self, now: float, next_tick: float, next_send: float
    ) -> tuple[float, float]:
        # The wall clock can be set backwards (NTP on a machine that was far off): without
        # this the agent would wait for the lost time before collecting again.
        limit = now + 2 * max(self.interval, self.schedule.backoff_max)
        return (now if next_tick > limit else next_tick, now if next_send > limit else next_send)

    def _now(self) -> float:
        return self._clock.now().timestamp()


class _Waker:
    """A sleep that stop() can cut short, even from a signal handler.

    A self-pipe rather than threading.Event: Event.set() takes a lock the sleeping thread may
    hold at the moment the signal arrives, which would deadlock the handler.
    """

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def sleep(self, seconds: float) -> None:
        readable, _, _ = select.select([self._read], [], [], max(seconds, 0))
        if readable:
            with contextlib.suppress(BlockingIOError):
                os.read(self._read, 512)

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._write, b"!")

    def close(self) -> None:
        os.close(self._read)
        os.close(self._write)


def _clamp_interval(value: object) -> float:
    try:
        interval = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 60.0
    if not math.isfinite(interval):
        return 60.0
    return min(max(interval, MIN_INTERVAL), MAX_INTERVAL)


def _float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None

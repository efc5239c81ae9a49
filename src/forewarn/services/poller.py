"""The poller: runs every due check on time, many at once, and records what it saw.

Due checks are *claimed* with a lease in the database: one UPDATE marks up to N due, unleased
checks as this poller's until the lease ends (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
several pollers over one database never take the same check; SQLite runs a write statement
alone). Recording a result releases the lease and sets the next due time; a poller that dies
simply lets its leases run out and another takes its checks over.

Inside one poller, probes run as asyncio tasks under a global concurrency bound and a
per-host bound, each with a hard timeout; results are recorded in groups from a worker
thread so the event loop never waits for the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
import threading
import uuid
from collections import defaultdict, deque
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from pydantic import BaseModel
from sqlalchemy import bindparam, text

from forewarn.domain.observation import Observation, Result, Status
from forewarn.probes import registry
from forewarn.probes.runner import Resources, run_probe
from forewarn.services import agent_checks, results, secret_params
from forewarn.services.context import Context
from forewarn.services.ingest import SeriesCache
from forewarn.services.recorder import Recorder
from forewarn.store.bulk import select_in, time_from_driver
from forewarn.store.types import UTCDateTime

log = logging.getLogger(__name__)

# A claimed check not recorded within this long is free for any poller again. Longer than the
# largest check timeout (120 s) plus a recording delay.
LEASE_S = 150


class Claimed(NamedTuple):
    """A claimed check's definition. A NamedTuple, not a frozen dataclass: one is made per
    check run in the poller's event loop from the claim's plain row, 0.3 us instead of 1.2."""

    check_id: int
    type: str
    target: str
    params: dict[str, Any]
    timeout_s: float
    asset_id: int
    # When the definition last changed (a UNIX time): the cache key of its validated params.
    version: float


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What a poller makes of a definition once per version (Poller._prepare)."""

    version: float
    params: BaseModel | str  # the probe's validated Params, or why the definition is bad
    host: str  # for the per-host limit ("" when none)


# A claimed check as plain values, for the pipe from the recorder child (marshal).
ClaimRow = tuple[int, str, str, dict[str, Any], float, int, float]


def _claim_sql(dialect: str) -> str:
    lock = " FOR UPDATE OF cs SKIP LOCKED" if dialect == "postgresql" else ""
    return (
        "UPDATE check_states SET lease_owner = :owner, lease_until = :until "
        "WHERE check_id IN ("
        " SELECT cs.check_id FROM check_states cs JOIN checks c ON c.id = cs.check_id"
        " WHERE c.enabled = :true AND cs.next_due_at <= :now"
        " AND (cs.lease_until IS NULL OR cs.lease_until < :now)"
        f" ORDER BY cs.next_due_at LIMIT :n{lock}) "
        # Re-checked here: on SQLite another process may have leased a row since the SELECT.
        "AND (lease_until IS NULL OR lease_until < :now) "
        "RETURNING check_id"
    )


_DEFS = (
    "SELECT id, type, target, params, timeout_s, asset_id, updated_at FROM checks"
    " WHERE id IN ({in})"
)


def claim_rows(
    ctx: Context, owner: str, now: datetime, limit: int, sent: dict[int, Any] | None = None
) -> list[ClaimRow | int]:
    """Lease up to `limit` due checks to `owner`; answer their definitions as plain rows.

    The definitions are read on the driver's cursor: SQLAlchemy's result processing (JSON,
    two type processors per datetime) cost more per check than the statements themselves.
    With `sent` (the recorder child's memory of the definitions it already handed over, by
    check id: the stored time of their last change), a definition unchanged since is answered
    by its id alone, and its JSON is not parsed again."""
    until = now + timedelta(seconds=LEASE_S)
    with ctx.db.transaction() as session:
        dialect = session.get_bind().dialect.name
        stmt = text(_claim_sql(dialect)).bindparams(
            bindparam("now", now, type_=UTCDateTime()),
            bindparam("until", until, type_=UTCDateTime()),
            bindparam("owner", owner),
            bindparam("n", limit),
            bindparam("true", True),
        )
        ids = sorted(session.execute(stmt).scalars())
        if not ids:
            return []
        timeof = time_from_driver(dialect)
        out: list[ClaimRow | int] = []
        handed: dict[int, Any] = {}
        for start in range(0, len(ids), 500):
            for cid, kind, target, params, timeout, asset, updated in select_in(
                session, _DEFS, ids[start : start + 500]
            ):
                if sent is not None:
                    if updated is not None and sent.get(cid) == updated:
                        out.append(cid)
                        continue
                    handed[cid] = updated
                if isinstance(params, str):  # SQLite's JSON is text; PostgreSQL's is parsed
                    params = json.loads(params)
                version = timeof(updated)
                stamp = version.timestamp() if version is not None else 0.0
                out.append((cid, kind, target, params, float(timeout), asset, stamp))
    if sent is not None:
        sent.update(handed)  # only once the claim is committed
    return out


def claim(ctx: Context, owner: str, now: datetime, limit: int) -> list[Claimed]:
    """Lease up to `limit` due checks to `owner`; answer their definitions."""
    return [Claimed._make(row) for row in claim_rows(ctx, owner, now, limit)]  # type: ignore[arg-type]


def host_of(check_type: str, target: str) -> str:
    """The host a check talks to, for the per-host limit ("" when none)."""
    if check_type in ("http", "prometheus"):
        return urlsplit(target).hostname or ""
    if check_type in ("heartbeat", "agent", "nagios"):
        return ""
    host = target.rsplit(":", 1)[0] if target.count(":") == 1 else target
    return host.strip("[]")


class Poller:
    def __init__(
        self,
        ctx: Context,
        *,
        owner: str | None = None,
        concurrency: int = 500,
        per_host: int = 16,
        batch: int = 1_000,
        flush_s: float = 0.2,
        idle_s: float = 1.0,
        drain_s: float = 10.0,
        record_in_child: bool = False,
    ) -> None:
        self.ctx = ctx
        self.owner = owner or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.concurrency = concurrency
        self.per_host = per_host
        self.batch = batch
        self.flush_s = flush_s
        self.idle_s = idle_s
        self.drain_s = drain_s
        # Recording on the second core (services.recorder); tests record in-process.
        self.recorder = Recorder(ctx.settings, self.owner) if record_in_child else None
        self.series = SeriesCache()
        self.resources = Resources()
        # Each check's validated params and host, by check id (see _prepare). A long-running
        # poller has them all; the benchmark carries them from pass to pass, as `series`.
        self.params_cache: dict[int, _Prepared] = {}
        # The per-host limit: checks running per host, and each full host's line of checks.
        self._per_host: dict[str, int] = {}
        self._host_line: defaultdict[str, deque[tuple[Claimed, _Prepared]]] = defaultdict(deque)
        self._in_line = 0
        self._freed = asyncio.Event()
        self._freed_claimer = asyncio.Event()
        self._queue: deque[Claimed] = deque()
        # The claimer keeps `_ahead` checks claimed (queued or running) and tops that up in
        # groups of at least `_group`; `_draining` once stopping: no queued check starts then.
        self._ahead = 2 * concurrency
        self._group = max(1, min(batch, concurrency // 4))
        self._draining = False
        # Results are sent to be recorded every `flush_s`, or as soon as `_flush_group` wait or
        # nothing runs: the recorder then works in step with the probes instead of taking a
        # large group (and the claims behind it) every `flush_s`, and no result waits idle.
        self._flush_group = max(1, min(batch, concurrency // 2))
        self._flush_now = asyncio.Event()
        self._pending: list[Observation] = []
        self._running: set[asyncio.Task[None]] = set()
        self.ran = 0  # checks run, for tests and the benchmark

    def _prepare(self, c: Claimed) -> _Prepared:
        """The check's validated params and host, made once per version of its definition:
        validating (pydantic, the URL) and finding the host (urlsplit) cost more than the
        poller's whole bookkeeping of a run. Never raises: it runs inside the scheduler
        (`_refill`), where an error would stop every check, not one; a definition that cannot
        be prepared runs as UNKNOWN saying why."""
        cached = self.params_cache.get(c.check_id)
        if cached is not None and cached.version == c.version:
            return cached
        try:
            model: BaseModel | str = registry.validate(
                c.type,
                c.target,
                secret_params.open_params(self.ctx, c.params),
                plugin_dirs=self.ctx.settings.nagios_plugin_dirs,
            )
        except ValueError as exc:
            model = f"bad check definition: {exc}"
        except Exception as exc:  # e.g. a secret that no longer decrypts: this check only
            log.exception("check %d: preparing its definition failed", c.check_id)
            model = f"cannot prepare the check: {type(exc).__name__}: {exc}"[:500]
        prepared = self.params_cache[c.check_id] = _Prepared(
            c.version, model, host_of(c.type, c.target)
        )
        return prepared

    async def _run_one(self, c: Claimed, prep: _Prepared) -> None:
        host = prep.host
        try:
            params = prep.params
            if isinstance(params, str):
                result, ms = Result(Status.UNKNOWN, params), 0.0
            else:
                result, ms = await run_probe(c.type, c.target, params, c.timeout_s, self.resources)
            self._pending.append(Observation(c.check_id, self.ctx.clock.now(), result, ms))
            self.ran += 1
            if len(self._pending) >= self._flush_group:
                self._flush_now.set()
        finally:
            # Out of the running set (and its host's count) before counting free slots by it.
            # (No done callback does this: it would cost a turn of the loop per check. A task
            # cancelled before it started skips this, which only happens when stopping.)
            task = asyncio.current_task()
            if task is not None:
                self._running.discard(task)
            if host:
                self._host_free(host)
            self._freed.set()
            self._refill()
            if not self._running and self._pending:
                self._flush_now.set()  # nothing else running: record what ran without waiting

    def _take(self, claimed: list[Claimed]) -> list[Claimed]:
        """Queue the active checks of a claim and start what fits; answer the passive ones."""
        passive = [c for c in claimed if c.type in registry.PASSIVE]
        if passive:
            self._queue.extend(c for c in claimed if c.type not in registry.PASSIVE)
        else:
            self._queue.extend(claimed)
        self._refill()
        return passive

    async def _judge(self, passive: list[Claimed]) -> None:
        if passive:
            obs = await asyncio.to_thread(agent_checks.judge, self.ctx, passive)
            self._pending.extend(obs)
            self.ran += len(obs)

    def _refill(self) -> None:
        """Start queued checks in the free slots; wake the claimer once a group is free.

        Called where a slot frees up (a check ends) and where checks are queued (a claim), so
        a slot is refilled in the same step of the loop: waking a loop task for it (three
        waiter tasks each time) cost the event loop as much as a third of the probe. A check
        whose host is at its limit waits in that host's line, outside the slots, and starts
        when one of that host's checks ends (`_host_free`): no task waits on a semaphore."""
        queue, running, limit = self._queue, self._running, self.concurrency
        while queue and len(running) < limit and not self._draining:
            c = queue.popleft()
            prep = self._prepare(c)
            host = prep.host
            if host:
                n = self._per_host.get(host, 0)
                if n >= self.per_host:
                    self._host_line[host].append((c, prep))
                    self._in_line += 1
                    continue
                self._per_host[host] = n + 1
            self._launch(c, prep)
        if self._ahead - self._claimed_out() >= self._group:
            self._freed_claimer.set()

    def _host_free(self, host: str) -> None:
        """One of `host`'s checks ended: its slot goes to the next check in its line, if any
        (a global slot is free: the ending check's)."""
        line = self._host_line.get(host)
        if line and not self._draining:
            self._in_line -= 1
            self._launch(*line.popleft())  # the host's count stays as it was
            if not line:
                del self._host_line[host]
            return
        n = self._per_host[host] - 1
        if n:
            self._per_host[host] = n
        else:
            del self._per_host[host]

    def _launch(self, c: Claimed, prep: _Prepared) -> None:
        self._running.add(asyncio.create_task(self._run_one(c, prep)))

    async def flush(self) -> None:
        while self._pending:
            group, self._pending = self._pending[: self.batch], self._pending[self.batch :]
            try:
                if self.recorder is not None:
                    await self.recorder.send(group)
                    continue
                await asyncio.to_thread(
                    results.record, self.ctx, group, series=self.series, lease_owner=self.owner
                )
            except Exception:
                # The leases run out and the checks run again: nothing is lost but one result.
                log.exception("recording %d check results failed", len(group))

    async def _flusher(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if not self._flush_now.is_set():
                await _first(self._flush_now.wait(), timeout=self.flush_s)
            self._flush_now.clear()
            await self.flush()

    async def _claim(self, limit: int) -> list[Claimed]:
        """Lease due checks to this poller: in the recorder child when there is one (the one
        writer of this poller's rows), else here."""
        now = self.ctx.clock.now()
        if self.recorder is None:
            return await asyncio.to_thread(claim, self.ctx, self.owner, now, limit)
        rows = await self.recorder.claim(now.timestamp(), limit)
        return [Claimed._make(r) for r in rows]

    def _claimed_out(self) -> int:
        """Claimed checks not finished: queued, in a host's line, or running."""
        return len(self._queue) + self._in_line + len(self._running)

    async def tick(self) -> int:
        """Claim everything due now, run it to the end and record it; answer how many ran.

        One step of `run`, for tests and simulations that move a manual clock.
        """
        before = self.ran
        while True:
            claimed = await self._claim(self.batch)
            await self._judge(self._take(claimed))
            # Every check of this claim started before the next claim (their leases run).
            while self._queue or self._in_line:
                self._freed.clear()
                await self._freed.wait()
            if len(claimed) < self.batch:
                break
        while self._running:
            await asyncio.wait(set(self._running))
        await self.flush()
        return self.ran - before

    async def _claimer(self, stop: asyncio.Event) -> None:
        """Keep a queue of claimed checks ahead of the free slots, so a slot that frees up
        starts its next check at once instead of waiting for the database (whose writer may
        be busy recording). Passive checks are judged as soon as they are claimed."""
        while not stop.is_set():
            want = min(self.batch, self._ahead - self._claimed_out())
            if want < self._group:
                self._freed_claimer.clear()
                await _first(self._freed_claimer.wait(), stop.wait(), timeout=0.05)
                continue
            try:
                claimed = await self._claim(want)
            except Exception:
                log.exception("claiming due checks failed")
                claimed = []
            await self._judge(self._take(claimed))
            if len(claimed) < want:
                # Nothing more due now: wait a little (or until stopped).
                await _first(stop.wait(), timeout=self.idle_s * random.uniform(0.5, 1))

    async def _recorder_ready(self, stop: asyncio.Event, wait_s: float = 30.0) -> None:
        """Until the recorder child has started (or `stop`, or `wait_s`): checks claimed
        before it can record would only wait, leased, and its start-up (about a second of
        CPU) would slow the first probes."""
        if self.recorder is None:
            return
        for _ in range(int(wait_s / 0.1)):
            if stop.is_set() or await asyncio.to_thread(self.recorder.wait_ready, 0.1):
                return
        log.warning("the recorder process did not start within %.0f s; claiming anyway", wait_s)

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run due checks until `stop` is set; then finish what is running."""
        await self._recorder_ready(stop)
        flusher = asyncio.create_task(self._flusher(stop))
        claimer = asyncio.create_task(self._claimer(stop))
        try:
            while not stop.is_set():
                self._refill()  # slots are refilled as they free up; this is a safety net
                await _first(stop.wait(), timeout=self.idle_s)
        finally:
            # Let running checks finish briefly; the rest are cancelled and their leases run
            # out, so another poller (or this one, restarted) runs them again. Claimed checks
            # not started are left to their leases likewise. (Cancelled, not awaited: when
            # the loop above ended on an error, `stop` is not set and it would never end.)
            self._draining = True
            claimer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await claimer
            if self._running:
                await asyncio.wait(set(self._running), timeout=self.drain_s)
            for task in list(self._running):
                task.cancel()
            stop.set()
            await flusher
            await self.flush()
            await self.resources.close()
            if self.recorder is not None:
                await self.recorder.finish()


async def _first(*waits: Coroutine[Any, Any, Any], timeout: float) -> None:
    """Until the first of `waits` finishes or `timeout` passes; the rest are cancelled."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


class PollerThread:
    """A poller on its own event loop in a thread, beside the API's loop in one process."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.poller = Poller(
            ctx,
            concurrency=ctx.settings.poller_concurrency,
            per_host=ctx.settings.poller_per_host,
            record_in_child=ctx.settings.poller_record_in_child,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="forewarn-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(5)

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await self.poller.run(self._stop)

        try:
            asyncio.run(main())
        except Exception:
            log.exception("the poller stopped on an error")

    def stop(self, timeout: float = 15.0) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

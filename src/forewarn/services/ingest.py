"""Ingest of agent check-ins: one validated batch in, metrics and inventory stored, or nothing.

A batch is stored in one transaction together with its batch id, so a retried batch is
recognised and acknowledged without being stored twice. Check-ins arriving together are
written by one writer thread in one transaction (group commit): on SQLite one commit per
check-in would cap ingest at the disk's sync rate, and requests are answered only after the
commit that holds their batch.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.orm import Session

from forewarn.domain.changes import diff_section
from forewarn.services.auth import hash_secret
from forewarn.services.context import Context
from forewarn.services.errors import unauthorized
from forewarn.store.bulk import insert_ignore, insert_samples
from forewarn.store.models import (
    Agent,
    AgentBatch,
    InventoryChange,
    InventorySection,
    KeyValue,
    MetricSeries,
)
from forewarn.wire import SECTIONS, Batch, BatchAnswer

log = logging.getLogger("forewarn.ingest")

ROLLUP_LOW_WATER = "rollup_low_water"


@dataclass(frozen=True)
class AgentRef:
    agent_id: int
    asset_id: int
    org_id: int
    interval: int


class AgentCache:
    """Agent credentials looked up recently; a re-enrolled agent's old token lapses within ttl."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._items: dict[str, tuple[float, AgentRef]] = {}
        self._lock = threading.Lock()

    def resolve(self, ctx: Context, secret: str) -> AgentRef:
        digest = hash_secret(secret)
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(digest)
        if hit and now - hit[0] < self.ttl:
            return hit[1]
        with ctx.db.read() as session:
            row = session.scalar(select(Agent).where(Agent.token_hash == digest))
            if row is None:
                raise unauthorized("unknown agent credential; enrol the agent again")
            ref = AgentRef(row.id, row.asset_id, row.org_id, row.interval)
        with self._lock:
            if len(self._items) > 100_000:
                self._items.clear()
            self._items[digest] = (now, ref)
        return ref


# ---- the unit of work -------------------------------------------------------------------------


class SeriesCache:
    """(asset, name, labels) -> series id; series are created on first sight."""

    def __init__(self) -> None:
        self._ids: dict[tuple[int, str, str], int] = {}
        self._lock = threading.Lock()

    def known(self, keys: list[tuple[int, str, str]]) -> dict[tuple[int, str, str], int]:
        """The ids already known for these keys (misses are simply absent)."""
        with self._lock:
            ids = self._ids
            return {k: ids[k] for k in keys if k in ids}

    def create(
        self, session: Session, wanted: dict[tuple[int, str, str], tuple[int, dict[str, str]]]
    ) -> dict[tuple[int, str, str], int]:
        """Ids for every key in `wanted` (key -> (org_id, labels)), creating missing series."""
        missing = list(wanted)
        rows = [
            {"asset_id": k[0], "name": k[1], "labels_key": k[2], "org_id": o, "labels": labels}
            for k, (o, labels) in wanted.items()
        ]
        insert_ignore(session, MetricSeries.__table__, rows)  # type: ignore[arg-type]
        key_cols = tuple_(MetricSeries.asset_id, MetricSeries.name, MetricSeries.labels_key)
        found: dict[tuple[int, str, str], int] = {}
        for start in range(0, len(missing), 300):
            chunk = missing[start : start + 300]
            stmt = select(
                MetricSeries.asset_id, MetricSeries.name, MetricSeries.labels_key, MetricSeries.id
            ).where(key_cols.in_(chunk))
            for asset_id, name, key, sid in session.execute(stmt):
                found[(asset_id, name, key)] = sid
        return found

    def remember(self, ids: dict[tuple[int, str, str], int]) -> None:
        """Cache ids once the transaction that created them committed (a rollback undoes them)."""
        with self._lock:
            if len(self._ids) > 2_000_000:
                self._ids.clear()
            self._ids.update(ids)


def labels_key(labels: dict[str, str]) -> str:
    """Canonical text of a label set: "k=v,k=v" in key order ("" for none)."""
    if not labels:
        return ""
    if len(labels) == 1:
        ((k, v),) = labels.items()
        return f"{k}={v}"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def _write_metrics(
    session: Session,
    series: SeriesCache,
    items: list[tuple[AgentRef, Batch]],
    created: dict[tuple[int, str, str], int],
) -> int | None:
    """Store every sample point; answer the oldest timestamp written (for late rollups).

    The hot loop of ingest: per point only a key and a row tuple are built; label dicts
    are copied only for series seen for the first time.
    """
    keys: list[tuple[int, str, str]] = []
    rows: list[tuple[int, float]] = []
    oldest: int | None = None
    for ref, batch in items:
        asset = ref.asset_id
        for sample in batch.samples:
            ts = int(sample.ts)
            oldest = ts if oldest is None or ts < oldest else oldest
            for p in sample.points:
                keys.append((asset, p.name, labels_key(p.labels) if p.labels else ""))
                rows.append((ts, p.value))
    if not keys:
        return None
    ids = series.known(keys)
    if len(ids) < len(set(keys)):
        wanted = {}
        for ref, batch in items:
            for sample in batch.samples:
                for p in sample.points:
                    key = (ref.asset_id, p.name, labels_key(p.labels) if p.labels else "")
                    if key not in ids:
                        wanted[key] = (ref.org_id, dict(p.labels))
        created.update(series.create(session, wanted))
        ids.update(created)
    insert_samples(session, [(ids[k], ts, v) for k, (ts, v) in zip(keys, rows, strict=True)])
    return oldest


def _write_inventory(session: Session, ctx: Context, ref: AgentRef, batch: Batch) -> None:
    inv = batch.inventory
    if inv is None:
        return
    present = {s: getattr(inv, s) for s in SECTIONS if getattr(inv, s) is not None}
    if not present:
        return
    now = ctx.clock.now()
    current = {
        row.section: row
        for row in session.scalars(
            select(InventorySection).where(
                InventorySection.asset_id == ref.asset_id,
                InventorySection.section.in_(list(present)),
            )
        )
    }
    for section, value in present.items():
        data = (
            [item.model_dump() for item in value] if isinstance(value, list) else value.model_dump()
        )
        row = current.get(section)
        for change in diff_section(section, row.data if row else None, data):
            session.add(
                InventoryChange(
                    org_id=ref.org_id,
                    asset_id=ref.asset_id,
                    at=now,
                    section=change.section,
                    change=change.change,
                    key=change.key[:300],
                    summary=change.summary[:500],
                    before=change.before,
                    after=change.after,
                )
            )
        if row is None:
            session.add(
                InventorySection(
                    asset_id=ref.asset_id,
                    org_id=ref.org_id,
                    section=section,
                    data=data,
                    updated_at=now,
                )
            )
        elif row.data != data:
            row.data, row.updated_at = data, now


def _touch_agents(session: Session, ctx: Context, items: list[tuple[AgentRef, Batch]]) -> None:
    """Last seen, last seq, version and top processes of each agent; back online if it was not.

    Bulk UPDATEs by primary key (executemany), not ORM objects: this runs for every group.
    """
    now = ctx.clock.now()
    last: dict[int, Batch] = {}
    for ref, batch in items:
        if ref.agent_id not in last or batch.seq >= last[ref.agent_id].seq:
            last[ref.agent_id] = batch
    plain: list[dict[str, Any]] = []
    with_top: list[dict[str, Any]] = []
    for agent_id, batch in last.items():
        row: dict[str, Any] = {"id": agent_id, "last_seen_at": now, "last_seq": batch.seq}
        if batch.agent_version:
            row["version"] = batch.agent_version
        top = next((smp.top for smp in reversed(batch.samples) if smp.top), None)
        if top:
            row["top"] = [p.model_dump() for p in top]
        (with_top if top else plain).append(row)
    for rows in (plain, with_top):
        # executemany wants one shape per statement: group rows by the keys they set.
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            shapes.setdefault(tuple(sorted(row)), []).append(row)
        for same in shapes.values():
            session.execute(update(Agent), same)
    session.execute(
        update(Agent)
        .where(Agent.id.in_(list(last)), Agent.status != "online")
        .values(status="online", status_since=now)
        .execution_options(synchronize_session=False)
    )


def _note_late_samples(session: Session, oldest: int | None) -> None:
    """Tell the rollup job to look back this far: a replayed outage lands behind its watermark."""
    if oldest is None:
        return
    row = session.get(KeyValue, ROLLUP_LOW_WATER)
    if row is None:
        session.add(KeyValue(key=ROLLUP_LOW_WATER, value=str(oldest)))
    elif not row.value or oldest < int(row.value):
        row.value = str(oldest)


def store(ctx: Context, series: SeriesCache, items: list[tuple[AgentRef, Batch]]) -> list[str]:
    """Store the batches in one transaction; answer 'stored' or 'duplicate' for each."""
    created: dict[tuple[int, str, str], int] = {}
    statuses = _store(ctx, series, items, created)
    series.remember(created)
    return statuses


def _store(
    ctx: Context,
    series: SeriesCache,
    items: list[tuple[AgentRef, Batch]],
    created: dict[tuple[int, str, str], int],
) -> list[str]:
    with ctx.db.transaction() as session:
        keys = [(ref.agent_id, batch.batch_id) for ref, batch in items]
        stored = session.execute(
            select(AgentBatch.agent_id, AgentBatch.batch_id).where(
                tuple_(AgentBatch.agent_id, AgentBatch.batch_id).in_(keys)
            )
        )
        seen = {(agent_id, batch_id) for agent_id, batch_id in stored}
        fresh: list[tuple[AgentRef, Batch]] = []
        statuses = []
        for (ref, batch), key in zip(items, keys, strict=True):
            if key in seen:
                statuses.append("duplicate")
                continue
            seen.add(key)
            fresh.append((ref, batch))
            statuses.append("stored")
        if fresh:
            now = ctx.clock.now()
            session.execute(
                insert(AgentBatch),
                [
                    {"agent_id": r.agent_id, "batch_id": b.batch_id, "received_at": now}
                    for r, b in fresh
                ],
            )
            _note_late_samples(session, _write_metrics(session, series, fresh, created))
            for ref, batch in fresh:
                _write_inventory(session, ctx, ref, batch)
            _touch_agents(session, ctx, fresh)
        return statuses


# ---- group commit -------------------------------------------------------------------------------


@dataclass
class _Job:
    ref: AgentRef
    batch: Batch
    future: asyncio.Future[str]
    loop: asyncio.AbstractEventLoop


def _settle(outcomes: list[tuple[asyncio.Future[str], str | BaseException]]) -> None:
    """Runs in the event loop: answer every waiting request of one group at once."""
    for future, outcome in outcomes:
        if future.done():  # the request was cancelled (client gone)
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class IngestWriter:
    """One thread that stores queued check-ins, many per transaction."""

    def __init__(self, ctx: Context, max_group: int = 200) -> None:
        self.ctx = ctx
        self.max_group = max_group
        self.series = SeriesCache()
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def store(self, ref: AgentRef, batch: Batch) -> str:
        """Queue the batch and wait until the transaction holding it committed.

        The writer wakes the event loop once per group, not once per request: a cross-thread
        wake-up per request (asyncio.wrap_future) cost two thirds of the throughput.
        """
        self._ensure_started()
        loop = asyncio.get_running_loop()
        job = _Job(ref, batch, loop.create_future(), loop)
        self._queue.put(job)
        return await job.future

    def answer(self, ref: AgentRef, batch: Batch, status: str) -> BatchAnswer:
        return BatchAnswer(
            batch_id=batch.batch_id,
            status="duplicate" if status == "duplicate" else "stored",
            interval=ref.interval,
            server_time=self.ctx.clock.now().timestamp(),
        )

    def _ensure_started(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout)

    def _take_group(self) -> tuple[list[_Job], bool]:
        first = self._queue.get()
        if first is None:
            return [], True
        group = [first]
        while len(group) < self.max_group:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return group, True
            group.append(job)
        return group, False

    def _run(self) -> None:
        while True:
            group, stopping = self._take_group()
            if group:
                self._write(group)
            if stopping:
                return

    def _write(self, group: list[_Job]) -> None:
        outcomes = self._outcomes(group)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[str], Any]]] = {}
        for job, outcome in zip(group, outcomes, strict=True):
            by_loop.setdefault(job.loop, []).append((job.future, outcome))
        for loop, items in by_loop.items():
            if not loop.is_closed():
                loop.call_soon_threadsafe(_settle, items)

    def _outcomes(self, group: list[_Job]) -> list[str | BaseException]:
        try:
            return list(store(self.ctx, self.series, [(j.ref, j.batch) for j in group]))
        except Exception as exc:
            if len(group) == 1:
                log.exception("storing batch %s failed", group[0].batch.batch_id)
                return [exc]
            # One bad batch must not fail its neighbours: store them one by one.
            return [outcome for job in group for outcome in self._outcomes([job])]

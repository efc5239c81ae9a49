"""Ingest of agent check-ins: one validated batch in, metrics and inventory stored, or nothing.

A batch is stored in one transaction together with its batch id, so a retried batch is
recognised and acknowledged without being stored twice. Check-ins arriving together are
written in one transaction (group commit): on SQLite one commit per check-in would cap ingest
at the disk's sync rate, and requests are answered only after the commit that holds their
batch.

The transactions run in a writer process of the server's own, not in a thread of it. A
check-in costs about as much CPU to store as to receive and validate, and one process runs
Python on one core at a time (the GIL): with a writer thread the two halves took turns, and
the hand-overs between them cost as much again (bench_ingest: 2,300 check-ins/s, half of the
parse-only anchor's rate). The server reduces each validated batch to a Checkin of plain
values and sends groups of them, marshalled (some 10 us per check-in), through a pipe; the
writer answers each group once it is committed. Other writers that hold the database (jobs,
a checkpoint) stall only the writer, never the event loop.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import gc
import logging
import marshal
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, case, select, text, update
from sqlalchemy.orm import Session

from forewarn.domain.changes import diff_section
from forewarn.services import activity, patching
from forewarn.services.auth import hash_secret
from forewarn.services.context import Context
from forewarn.services.errors import unauthorized
from forewarn.store.bulk import insert_ignore, insert_new, insert_sample_values
from forewarn.store.db import Database
from forewarn.store.models import (
    Agent,
    AgentBatch,
    AgentWatch,
    Check,
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
    config_rev: str = ""  # as it was when the credential was looked up (up to ttl old)


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
            ref = AgentRef(row.id, row.asset_id, row.org_id, row.interval, row.config_rev)
        with self._lock:
            if len(self._items) > 100_000:
                self._items.clear()
            self._items[digest] = (now, ref)
        return ref


# ---- what is stored -----------------------------------------------------------------------------

Point = tuple[str, dict[str, str], float]  # name, labels, value


class Checkin(NamedTuple):
    """One validated batch as plain values: what the writer stores, and all it is told.

    Plain so that it travels to the writer process by marshal, the cheapest serialisation
    Python has; the asset and organization come from the agent's credential, never the body.
    """

    agent_id: int
    asset_id: int
    org_id: int
    batch_id: str
    seq: int
    version: str
    samples: list[tuple[int, list[Point]]]  # (epoch second, points)
    top: list[dict[str, Any]] | None  # the latest top processes sent, if any
    inventory: dict[str, Any] | None  # section -> its complete current data, sections sent
    watch: list[tuple[int, float, str, str]]  # (check id, epoch, last matching line, error)
    # authentication events (wire.AuthEvent dicts; summarised ones with their count)
    auth: list[dict[str, Any]] | None = None
    stopping: bool = False  # the agent's farewell: it was told to stop


def checkin_of(ref: AgentRef, batch: Batch) -> Checkin:
    """The batch reduced to what is stored, for the agent the credential named."""
    samples = [(int(s.ts), [(p.name, p.labels, p.value) for p in s.points]) for s in batch.samples]
    top = next((s.top for s in reversed(batch.samples) if s.top), None)
    inventory = None
    if batch.inventory is not None:
        inv = batch.inventory
        inventory = {}
        for section in SECTIONS:
            value = getattr(inv, section)
            if value is not None:
                inventory[section] = (
                    [item.model_dump() for item in value]
                    if isinstance(value, list)
                    else value.model_dump()
                )
    return Checkin(
        ref.agent_id,
        ref.asset_id,
        ref.org_id,
        batch.batch_id,
        batch.seq,
        batch.agent_version,
        samples,
        [p.model_dump() for p in top] if top else None,
        inventory,
        [(w.check, w.ts, w.line, w.error) for w in batch.watch],
        _auth_events(batch),
        batch.stopping,
    )


def _auth_events(batch: Batch) -> list[dict[str, Any]] | None:
    """The batch's authentication events; counted ones as one event with their count."""
    if batch.auth is None:
        return None
    out = [e.model_dump(exclude_defaults=True) for e in batch.auth.events]
    for m in batch.auth.more:
        line = (
            f"{m.count} more {m.outcome} {m.action}s"
            + (f" by {m.user}" if m.user else "")
            + (f" from {m.source}" if m.source else "")
            + " (counted by the agent, lines not sent)"
        )
        out.append(
            {
                "at": m.last,
                "service": m.service,
                "action": m.action,
                "outcome": m.outcome,
                "user": m.user,
                "source": m.source,
                "count": min(m.count, 2**31 - 1),
                "line": line,
            }
        )
    return out


# ---- the unit of work -------------------------------------------------------------------------


class SeriesCache:
    """(asset, name, labels) -> series id; series are created on first sight.

    Held per asset: a check-in's points are looked up in its machine's own small dict, which
    stays in the CPU's cache for the whole batch, rather than scattered through one dict of
    every series (measured: 25-37 -> 21 us per check-in of 60 points, agents in random order).
    """

    MAX_SERIES = 2_000_000

    def __init__(self) -> None:
        self._by_asset: dict[int, dict[tuple[str, str], int]] = {}
        self._size = 0
        self._lock = threading.Lock()

    def of_asset(self, asset_id: int) -> dict[tuple[str, str], int]:
        """(name, labels key) -> id for one asset's known series; read it, never change it.
        No lock: a dict lookup is atomic under the GIL, and this runs for every check-in."""
        return self._by_asset.get(asset_id) or {}

    def get(self, key: tuple[int, str, str]) -> int | None:
        return self.of_asset(key[0]).get((key[1], key[2]))

    def known(self, keys: list[tuple[int, str, str]]) -> dict[tuple[int, str, str], int]:
        """The ids already known for these keys (misses are simply absent)."""
        found = {}
        with self._lock:
            for k in keys:
                sid = self._by_asset.get(k[0], {}).get((k[1], k[2]))
                if sid is not None:
                    found[k] = sid
        return found

    def create(
        self, session: Session, wanted: dict[tuple[int, str, str], tuple[int, dict[str, str]]]
    ) -> dict[tuple[int, str, str], int]:
        """Ids for every key in `wanted` (key -> (org_id, labels)), creating missing series;
        and the ids of every other series of those assets, read on the way anyway. Cached, they
        spare the next groups the same read: a recorder that starts cold with 10,000 checks on
        one asset otherwise read all its series again for each group of a few hundred results
        (1-1.5 s of stall in the recorder child per benchmark pass).

        Looked up by asset, not by the three-column key: PostgreSQL plans an IN list of
        a few hundred (asset, name, labels) rows for longer than it runs it (30 ms per 300),
        while `asset_id IN (...)` is a plain index range whatever its length.
        """
        rows = [
            {"asset_id": k[0], "name": k[1], "labels_key": k[2], "org_id": o, "labels": labels}
            for k, (o, labels) in wanted.items()
        ]
        insert_ignore(session, MetricSeries.__table__, rows)  # type: ignore[arg-type]
        assets = sorted({k[0] for k in wanted})
        found: dict[tuple[int, str, str], int] = {}
        for start in range(0, len(assets), 500):
            chunk = assets[start : start + 500]
            found.update(_series_ids(session, MetricSeries.asset_id.in_(chunk)))
        return found

    def preload(self, session: Session, prefix: str) -> int:
        """Cache every series whose name starts with `prefix` (a recorder's `check.` series)
        before the first result comes: what a long-running recorder knows anyway, read in one
        pass at start instead of by the first groups of results. How many."""
        where = MetricSeries.name.startswith(prefix, autoescape=True)
        found = _series_ids(session, where, limit=self.MAX_SERIES // 2)
        self.remember(found)
        return len(found)

    def remember(self, ids: dict[tuple[int, str, str], int]) -> None:
        """Cache ids once the transaction that created them committed (a rollback undoes them)."""
        with self._lock:
            if self._size + len(ids) > self.MAX_SERIES:
                self._by_asset, self._size = {}, 0
            for (asset_id, name, key), sid in ids.items():
                mine = self._by_asset.setdefault(asset_id, {})
                if (name, key) not in mine:
                    self._size += 1
                mine[name, key] = sid


def _series_ids(
    session: Session, where: Any, limit: int | None = None
) -> dict[tuple[int, str, str], int]:
    """(asset, name, labels key) -> id of the series matching `where`."""
    stmt = select(
        MetricSeries.asset_id, MetricSeries.name, MetricSeries.labels_key, MetricSeries.id
    ).where(where)
    rows = session.execute(stmt if limit is None else stmt.limit(limit))
    return {(asset_id, name, key): sid for asset_id, name, key, sid in rows}


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
    items: list[Checkin],
    created: dict[tuple[int, str, str], int],
) -> int | None:
    """Store every sample point; answer the oldest timestamp written (for late rollups).

    The hot loop of ingest, run for some 60 points per check-in: one key and one cache
    lookup per point, the row appended flat. Points of series not seen before are set
    aside, and their label dicts copied, only on a miss.
    """
    flat: list[float] = []  # series_id, ts, value, series_id, ts, value, ...
    unknown: list[tuple[tuple[int, str, str], int, float, int, dict[str, str]]] = []
    oldest: int | None = None
    for c in items:
        known = series.of_asset(c.asset_id).get
        for ts, points in c.samples:
            if oldest is None or ts < oldest:
                oldest = ts
            for name, labels, value in points:
                if not labels:
                    lk = ""
                elif len(labels) == 1:  # labels_key's commonest case, without the call
                    ((k, v),) = labels.items()
                    lk = f"{k}={v}"
                else:
                    lk = labels_key(labels)
                sid = known((name, lk))
                if sid is None:
                    unknown.append(((c.asset_id, name, lk), ts, value, c.org_id, labels))
                else:
                    flat += (sid, ts, value)
    if unknown:
        wanted = {key: (org, dict(labels)) for key, _, _, org, labels in unknown}
        made = series.create(session, wanted)
        created.update(made)
        for key, ts, value, _, _ in unknown:
            flat += (made[key], ts, value)
    insert_sample_values(session, flat)
    return oldest


def _write_inventory(session: Session, now: datetime, c: Checkin) -> None:
    present = c.inventory
    if not present:
        return
    current = {
        row.section: row
        for row in session.scalars(
            select(InventorySection).where(
                InventorySection.asset_id == c.asset_id,
                InventorySection.section.in_(list(present)),
            )
        )
    }
    for section, data in present.items():
        row = current.get(section)
        changes = diff_section(section, row.data if row else None, data)
        activity.note_changes(session, now, c.org_id, c.asset_id, changes)
        for change in changes:
            session.add(
                InventoryChange(
                    org_id=c.org_id,
                    asset_id=c.asset_id,
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
                    asset_id=c.asset_id, org_id=c.org_id, section=section, data=data, updated_at=now
                )
            )
        elif row.data != data:
            row.data, row.updated_at = data, now
        if section == patching.SECTION:
            patching.note_updates(session, now, c.org_id, c.asset_id, data)


_agents = cast(Table, Agent.__table__)
_seen = bindparam("seen", type_=_agents.c.last_seen_at.type)
_version = bindparam("version", type_=_agents.c.version.type)
# One executemany for every agent of a group: last seen, last seq, version (when sent) and
# back online if it was not. SET expressions all read the row as it was, so status_since
# moves only for an agent that was offline.
_TOUCH = (
    update(_agents)
    .where(_agents.c.id == bindparam("agent"))
    .values(
        last_seen_at=_seen,
        last_seq=bindparam("seq"),
        version=case((_version == "", _agents.c.version), else_=_version),
        status="online",
        status_since=case((_agents.c.status == "online", _agents.c.status_since), else_=_seen),
    )
)
_TOUCH_TOP = _TOUCH.values(top=bindparam("top", type_=_agents.c.top.type))

_state = KeyValue.__tablename__
# Lower the rollup job's low-water mark to the oldest sample written; the job empties it once
# it has looked back that far. A conditional UPDATE, and only when the mark is higher: it
# locks the one row it changes, and most groups change nothing (the rollup job holds that
# row for its whole run, and several servers share it on PostgreSQL).
_LOWER_WATER = text(
    f"UPDATE {_state} SET value = :value WHERE key = :key AND CASE "
    "WHEN value = '' THEN TRUE ELSE CAST(value AS BIGINT) > :oldest END"
)


def _write_watch(session: Session, now: datetime, c: Checkin) -> None:
    """The words of the agent's watches: the latest error (or none) and the latest matching
    line with its time. Readings for checks that are not this asset's are dropped: an agent
    speaks only of its own machine."""
    errors: dict[int, str] = {}
    lines: dict[int, tuple[float, str]] = {}
    for check_id, ts, line, error in sorted(c.watch, key=lambda r: r[1]):
        errors[check_id] = error
        if line:
            lines[check_id] = (ts, line)
    own = set(
        session.scalars(
            select(Check.id).where(Check.id.in_(list(errors)), Check.asset_id == c.asset_id)
        )
    )
    if not own:
        return
    stored = {
        w.check_id: w
        for w in session.scalars(select(AgentWatch).where(AgentWatch.check_id.in_(list(own))))
    }
    for check_id in sorted(own):
        row = stored.get(check_id)
        if row is None:
            row = AgentWatch(check_id=check_id, asset_id=c.asset_id, line="", line_at=None)
            session.add(row)
        row.at = now
        row.error = errors[check_id][:1000]
        if check_id in lines:
            ts, line = lines[check_id]
            row.line, row.line_at = line[:1000], datetime.fromtimestamp(ts, UTC)


def _touch_agents(session: Session, now: datetime, items: list[Checkin]) -> None:
    """Last seen, last seq, version and top processes of each agent; back online if it was not."""
    last: dict[int, Checkin] = {}
    for c in items:
        if c.agent_id not in last or c.seq >= last[c.agent_id].seq:
            last[c.agent_id] = c
    plain: list[dict[str, Any]] = []
    with_top: list[dict[str, Any]] = []
    for c in last.values():
        row = {"agent": c.agent_id, "seen": now, "seq": c.seq, "version": c.version}
        if c.top:
            row["top"] = c.top
            with_top.append(row)
        else:
            plain.append(row)
    if plain:
        session.execute(_TOUCH, plain)
    if with_top:
        session.execute(_TOUCH_TOP, with_top)


def _note_late_samples(session: Session, oldest: int | None) -> None:
    """Tell the rollup job to look back this far: a replayed outage lands behind its watermark."""
    if oldest is None:
        return
    mark = session.scalar(select(KeyValue.value).where(KeyValue.key == ROLLUP_LOW_WATER))
    if mark is None:
        insert_ignore(session, KeyValue.__table__, [{"key": ROLLUP_LOW_WATER, "value": ""}])  # type: ignore[arg-type]
    elif mark and int(mark) <= oldest:
        return
    session.execute(_LOWER_WATER, {"key": ROLLUP_LOW_WATER, "value": str(oldest), "oldest": oldest})


def store(db: Database, now: datetime, series: SeriesCache, items: list[Checkin]) -> list[str]:
    """Store the check-ins in one transaction; answer 'stored' or 'duplicate' for each."""
    created: dict[tuple[int, str, str], int] = {}
    statuses = _store(db, now, series, items, created)
    series.remember(created)
    return statuses


def _store(
    db: Database,
    now: datetime,
    series: SeriesCache,
    items: list[Checkin],
    created: dict[tuple[int, str, str], int],
) -> list[str]:
    with db.transaction() as session:
        # Claiming the batch ids is the deduplication: a row that is already there (an
        # earlier delivery, or the same batch twice in this group) is not claimed again.
        new = insert_new(
            session,
            AgentBatch.__table__,  # type: ignore[arg-type]
            [{"agent_id": c.agent_id, "batch_id": c.batch_id, "received_at": now} for c in items],
            ("agent_id", "batch_id"),
        )
        fresh: list[Checkin] = []
        statuses = []
        for c in items:
            key = (c.agent_id, c.batch_id)
            if key in new:
                new.discard(key)
                fresh.append(c)
                statuses.append("stored")
            else:
                statuses.append("duplicate")
        if fresh:
            _note_late_samples(session, _write_metrics(session, series, fresh, created))
            for c in fresh:
                _write_inventory(session, now, c)
                if c.watch:
                    _write_watch(session, now, c)
                if c.auth or c.stopping:
                    activity.record(session, now, c.org_id, c.asset_id, c.auth or (), c.stopping)
            _touch_agents(session, now, fresh)
        return statuses


def store_each(db: Database, now: datetime, series: SeriesCache, items: list[Checkin]) -> list[str]:
    """Like store, but one bad check-in does not fail its neighbours: on an error the group is
    stored one by one, and the one that fails answers why ('error: ...')."""
    try:
        return store(db, now, series, items)
    except Exception as exc:
        if len(items) == 1:
            log.exception("storing batch %s failed", items[0].batch_id)
            return [f"error: {type(exc).__name__}"]
        return [outcome for c in items for outcome in store_each(db, now, series, [c])]


# ---- the writer process ---------------------------------------------------------------------
#
# Frames both ways are a 4-byte length and a marshal payload. In: the database URL first (not
# on the command line, where `ps` would show a password), then groups of (now in epoch
# microseconds, [marshalled Checkin, ...]). Out: per group, the outcome of each check-in.

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _send(stream: IO[bytes], payload: bytes) -> None:
    stream.write(len(payload).to_bytes(4, "big"))
    stream.write(payload)
    stream.flush()


def _receive(stream: IO[bytes]) -> bytes | None:
    """The next frame, or None at the end of the stream (the other side went away)."""
    head = stream.read(4)
    if len(head) < 4:
        return None
    size = int.from_bytes(head, "big")
    payload = stream.read(size)
    return payload if len(payload) == size else None


def writer_main() -> None:
    """The writer process: store each group it is sent and answer its outcomes, until the
    server closes the pipe (or dies: the pipe closes with it)."""
    # The server decides when this ends, by closing the pipe once it has stopped taking
    # check-ins: a Ctrl-C or a service manager's TERM to the whole group must not cut a
    # group short while the server still waits for its answer.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    inp = os.fdopen(os.dup(0), "rb")
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print must not land in the answers
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:  ingest writer: %(message)s")
    url = _receive(inp)
    if url is None:
        return
    db = Database(url.decode())
    series = SeriesCache()
    # As in the server (cli.tune_gc): the series cache is large and long-lived, and the
    # collector's default threshold would walk it thousands of times a second.
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    try:
        while (frame := _receive(inp)) is not None:
            micros, jobs = marshal.loads(frame)
            now = _EPOCH + timedelta(microseconds=micros)
            items = [Checkin._make(marshal.loads(job)) for job in jobs]
            _send(out, marshal.dumps(store_each(db, now, series, items)))
    except BrokenPipeError:
        pass  # the server went away mid-answer: what it was not told, its agents send again
    finally:
        db.dispose()


class IngestFailed(Exception):
    """A check-in was not acknowledged as stored; the agent keeps it and sends it again."""


class _WriterProcess:
    """The server's end of one writer process: frames out by a plain write, answers in
    through the event loop's reader, so no thread of the server waits on the writer."""

    def __init__(self, database_url: str, loop: asyncio.AbstractEventLoop) -> None:
        self.proc = subprocess.Popen(
            # -P: no current directory on sys.path, so nothing there can shadow a module.
            [
                sys.executable,
                "-P",
                "-c",
                "from forewarn.services.ingest import writer_main; writer_main()",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.inp, self.out = self.proc.stdin, self.proc.stdout
        with contextlib.suppress(OSError):  # room for a whole group: the write never waits
            fcntl.fcntl(self.inp.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
        os.set_blocking(self.out.fileno(), False)
        self.loop = loop
        self._buffer = bytearray()
        self.answers: collections.deque[list[str]] = collections.deque()
        self.on_answer: Callable[[], None] = lambda: None
        self.on_lost: Callable[[], None] = lambda: None
        self.alive = True
        loop.add_reader(self.out.fileno(), self._readable)
        _send(self.inp, database_url.encode())

    def send(self, now: datetime, jobs: list[bytes]) -> None:
        micros = (now - _EPOCH) // timedelta(microseconds=1)
        _send(self.inp, marshal.dumps((micros, jobs)))

    def _readable(self) -> None:
        try:
            chunk = os.read(self.out.fileno(), 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.close(0.0)
            self.on_lost()
            return
        buf = self._buffer
        buf += chunk
        while len(buf) >= 4:
            size = int.from_bytes(buf[:4], "big")
            if len(buf) < 4 + size:
                break
            self.answers.append(marshal.loads(buf[4 : 4 + size]))
            del buf[: 4 + size]
        if self.answers:
            self.on_answer()

    def close(self, timeout: float) -> None:
        """Close the pipe (the writer ends after the group it is storing) and wait for it."""
        if not self.alive:
            return
        self.alive = False
        if not self.loop.is_closed():
            self.loop.remove_reader(self.out.fileno())
        with contextlib.suppress(OSError):
            self.inp.close()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


# ---- group commit -------------------------------------------------------------------------------


@dataclass
class _Job:
    checkin: bytes  # a marshalled Checkin
    future: asyncio.Future[str]


class IngestWriter:
    """Sends queued check-ins to the writer process, many per transaction, one group at a time.

    Everything here runs in the event loop: a request queues its check-in and waits; the
    check-ins queued while the writer stored the previous group go as the next group the
    moment its answer arrives. A thread in between cost a GIL hand-over per group, each up
    to the interpreter's 5 ms switch interval while the loop was busy parsing.
    """

    def __init__(self, ctx: Context, max_group: int = 200) -> None:
        self.ctx = ctx
        self.max_group = max_group
        self._pending: list[_Job] = []
        self._storing: list[_Job] = []  # the group the writer is storing
        self._writer: _WriterProcess | None = None
        self._scheduled = False

    async def store(self, ref: AgentRef, batch: Batch) -> str:
        """Queue the batch and wait until the transaction holding it committed."""
        loop = asyncio.get_running_loop()
        job = _Job(marshal.dumps(tuple(checkin_of(ref, batch))), loop.create_future())
        self._pending.append(job)
        if not self._scheduled:
            # After the requests already read have queued theirs too: one group, not many.
            self._scheduled = True
            loop.call_soon(self._send_next, loop)
        return await job.future

    @property
    def writer_pid(self) -> int | None:
        """The writer process's id, once one runs."""
        writer = self._writer
        return writer.proc.pid if writer is not None and writer.alive else None

    def answer(self, ref: AgentRef, batch: Batch, status: str) -> BatchAnswer:
        return BatchAnswer(
            batch_id=batch.batch_id,
            status="duplicate" if status == "duplicate" else "stored",
            interval=ref.interval,
            server_time=self.ctx.clock.now().timestamp(),
        )

    def stop(self, timeout: float = 10.0) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close(timeout)
        self._fail(self._storing + self._pending, "the server is stopping")
        self._storing, self._pending = [], []

    def _send_next(self, loop: asyncio.AbstractEventLoop) -> None:
        self._scheduled = False
        if self._storing or not self._pending:
            return
        group = self._pending[: self.max_group]
        del self._pending[: self.max_group]
        self._storing = group
        try:
            writer = self._writer_for(loop)
            writer.send(self.ctx.clock.now(), [job.checkin for job in group])
        except OSError as exc:
            self._writer_lost(f"ingest writer failed: {exc}", loop)

    def _writer_for(self, loop: asyncio.AbstractEventLoop) -> _WriterProcess:
        writer = self._writer
        if writer is not None and writer.alive and writer.loop is loop:
            return writer
        if writer is not None:  # dead, or serving an event loop that is gone (tests)
            writer.close(1.0)
        writer = self._writer = _WriterProcess(self.ctx.db.url, loop)
        writer.on_answer = self._answered
        writer.on_lost = lambda: self._writer_lost("ingest writer exited", loop)
        return writer

    def _answered(self) -> None:
        writer = self._writer
        assert writer is not None
        while writer.answers and self._storing:
            outcomes = writer.answers.popleft()
            if len(outcomes) != len(self._storing):
                self._writer_lost("ingest writer answered out of turn", writer.loop)
                return
            group, self._storing = self._storing, []
            for job, outcome in zip(group, outcomes, strict=True):
                if job.future.done():  # the request was cancelled (client gone)
                    continue
                if outcome in ("stored", "duplicate"):
                    job.future.set_result(outcome)
                else:
                    job.future.set_exception(IngestFailed(f"storing the batch failed ({outcome})"))
        self._send_next(writer.loop)

    def _writer_lost(self, why: str, loop: asyncio.AbstractEventLoop) -> None:
        # Whether the group being stored was committed is unknown: nothing is acknowledged,
        # the agents send again and what was stored is answered as a duplicate. The next
        # group starts a new writer.
        log.error("%s; starting another for the next group", why)
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close(1.0)
        group, self._storing = self._storing, []
        self._fail(group, "the batch was not stored; send it again")
        if self._pending and not self._scheduled and not loop.is_closed():
            self._scheduled = True
            loop.call_soon(self._send_next, loop)

    @staticmethod
    def _fail(jobs: list[_Job], why: str) -> None:
        for job in jobs:
            if not job.future.done() and not job.future.get_loop().is_closed():
                job.future.set_exception(IngestFailed(why))

"""Signed jobs for agents: issue (sign with the server's key), deliver in check-in answers,
record results, and show them (docs/jobs.md).

A job is signed once, when it is issued, and stored with its signature: delivering it again
re-sends the same bytes. A job is delivered at the agent's next check-in (queued -> sent) and
again, should the answer have been lost, every REDELIVER until a result arrives or it expires;
the agent refuses the copies as replays. The first final result of a job wins: results are
idempotent by job id, and a result for a job of another agent changes nothing.

(services/jobs.py is the server's own scheduled work; this module is about agents' jobs.)
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from forewarn.domain.inventory import Role
from forewarn.domain.jobs import FINAL_STATES, Envelope, canonical
from forewarn.services import keys
from forewarn.services.context import Context
from forewarn.services.pagination import Page, paginate_desc
from forewarn.services.scope import Actor, get_in_scope, scoped
from forewarn.store.models import AgentJob
from forewarn.wire import MAX_JOBS, JobOrder, JobResult, JobRunning

DEFAULT_TTL = timedelta(hours=24)
REDELIVER = timedelta(minutes=5)
# How stale this process's list of agents with jobs may be: a job issued by another server
# process reaches its agent at most this much (plus one interval) later.
PENDING_TTL = 5.0


class _Pending:
    """The agents that have a job not yet finished, per database, refreshed every PENDING_TTL.

    Every check-in asks whether its agent has a job; almost always none. One query per
    check-in cost about as much again as storing the batch (bench/bench_jobs.py), so a
    process keeps the set and one query refreshes it for all agents. Jobs issued in this
    process are added at once. Being in the set only means "look": a stale member costs one
    query, never a wrong delivery.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sets: dict[str, tuple[float, set[int]]] = {}

    def has(self, ctx: Context, agent_id: int) -> bool:
        key = str(ctx.db.engine.url)
        with self._lock:
            hit = self._sets.get(key)
        if hit is None or time.monotonic() - hit[0] > PENDING_TTL:
            hit = (time.monotonic(), self._load(ctx))
            with self._lock:
                self._sets[key] = hit
        return agent_id in hit[1]

    def add(self, url: str, agent_id: int) -> None:
        with self._lock:
            hit = self._sets.get(url)
            if hit is not None:
                hit[1].add(agent_id)

    def discard(self, ctx: Context, agent_id: int) -> None:
        """Its jobs were just delivered: nothing to look for until a redelivery is due (the
        refresh finds those) or another job is issued."""
        with self._lock:
            hit = self._sets.get(str(ctx.db.engine.url))
            if hit is not None:
                hit[1].discard(agent_id)

    @staticmethod
    def _load(ctx: Context) -> set[int]:
        with ctx.db.read() as session:
            return set(
                session.scalars(select(AgentJob.agent_id).where(_due(ctx.clock.now())).distinct())
            )


pending = _Pending()


def _due(now: datetime) -> ColumnElement[bool]:
    """Jobs to put in an answer: queued ones, and sent ones whose result is overdue."""
    clause: ColumnElement[bool] = (AgentJob.not_after > now) & (
        (AgentJob.state == "queued")
        | ((AgentJob.state == "sent") & (AgentJob.sent_at <= now - REDELIVER))
    )
    return clause


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    asset_id: int
    agent_id: int
    script_id: int | None
    kind: str
    title: str
    state: str
    created_by: str
    created_at: datetime
    not_after: datetime
    sent_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    exit_code: int | None
    output: str
    output_cut: bool
    reason: str


def sign(key: Any, envelope: Envelope) -> tuple[str, str]:
    """(canonical envelope, base64 Ed25519 signature of its bytes)."""
    raw = canonical(envelope)
    return raw.decode("ascii"), base64.b64encode(key.sign(raw)).decode("ascii")


def issue(
    session: Session,
    key: Any,
    now: datetime,
    *,
    org_id: int,
    asset_id: int,
    agent_id: int,
    kind: str,
    payload: dict[str, Any],
    title: str = "",
    created_by: str = "",
    script_id: int | None = None,
    ttl: timedelta = DEFAULT_TTL,
) -> AgentJob:
    """Queue one signed job in the caller's transaction (its id is part of what is signed)."""
    row = AgentJob(
        org_id=org_id,
        asset_id=asset_id,
        agent_id=agent_id,
        script_id=script_id,
        kind=kind,
        title=title[:200],
        state="queued",
        envelope="",
        sig="",
        created_by=created_by[:200],
        created_at=now,
        not_after=now + ttl,
    )
    session.add(row)
    session.flush()
    envelope = Envelope(
        id=row.id,
        asset_id=asset_id,
        agent_id=agent_id,
        kind=kind,
        payload=payload,
        issued_at=int(now.timestamp()),
        not_after=int((now + ttl).timestamp()),
        nonce=os.urandom(16).hex(),
    )
    row.envelope, row.sig = sign(key, envelope)
    pending.add(str(session.get_bind().engine.url), agent_id)
    return row


def deliver(ctx: Context, agent_id: int) -> list[JobOrder]:
    """The jobs to put in this agent's check-in answer, marked sent (usually none: one read)."""
    if not pending.has(ctx, agent_id):
        return []
    now = ctx.clock.now()
    with ctx.db.read() as session:
        rows = session.execute(
            select(AgentJob.id, AgentJob.envelope, AgentJob.sig)
            .where(AgentJob.agent_id == agent_id, _due(now))
            .order_by(AgentJob.id)
            .limit(MAX_JOBS)
        ).all()
    if rows:
        with ctx.db.transaction() as session:
            session.execute(
                update(AgentJob)
                .where(
                    AgentJob.id.in_([r.id for r in rows]), AgentJob.state.in_(("queued", "sent"))
                )
                .values(state="sent", sent_at=now)
            )
    if len(rows) < MAX_JOBS:
        pending.discard(ctx, agent_id)
    return [JobOrder(id=r.id, envelope=r.envelope, sig=r.sig) for r in rows]


def expire(ctx: Context) -> int:
    """Jobs never delivered before their deadline: no result can come (a scheduled job)."""
    with ctx.db.transaction() as session:
        result = session.execute(
            update(AgentJob)
            .where(AgentJob.state == "queued", AgentJob.not_after <= ctx.clock.now())
            .values(state="timed_out", reason="expired before the agent checked in")
        )
        return int(getattr(result, "rowcount", 0) or 0)


def record_results(ctx: Context, agent_id: int, results: Sequence[JobResult]) -> int:
    """Store what the agent reported; the first final result of a job wins. Answers how many
    changed a job."""
    changed = 0
    with ctx.db.transaction() as session:
        for res in results:
            row = session.get(AgentJob, res.job)
            if row is None or row.agent_id != agent_id or row.state in FINAL_STATES:
                continue
            row.state = res.state
            row.exit_code = res.exit_code
            row.output = res.output
            row.output_cut = res.output_cut
            row.reason = res.reason
            row.started_at = datetime.fromtimestamp(res.started_at, UTC)
            row.finished_at = datetime.fromtimestamp(res.finished_at, UTC)
            changed += 1
    return changed


def record_running(ctx: Context, agent_id: int, running: Sequence[JobRunning]) -> int:
    """Mark this agent's jobs it reported started as running (a job already finished, or
    another agent's, is left as it is). Answers how many changed."""
    changed = 0
    with ctx.db.transaction() as session:
        for entry in running:
            row = session.get(AgentJob, entry.job)
            if row is None or row.agent_id != agent_id or row.state not in ("queued", "sent"):
                continue
            row.state = "running"
            row.started_at = datetime.fromtimestamp(entry.started_at, UTC)
            changed += 1
    return changed


def signing_key(ctx: Context) -> Any:
    return keys.signing_key(ctx)


def list_jobs(
    ctx: Context,
    actor: Actor,
    *,
    org_id: int | None = None,
    asset_id: int | None = None,
    state: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[JobOut]:
    """Newest first, with their output; only the organizations the actor may see."""
    stmt = scoped(select(AgentJob), actor, AgentJob.org_id)
    if org_id is not None:
        stmt = stmt.where(AgentJob.org_id == org_id)
    if asset_id is not None:
        stmt = stmt.where(AgentJob.asset_id == asset_id)
    if state is not None:
        stmt = stmt.where(AgentJob.state == state)
    with ctx.db.read() as session:
        page = paginate_desc(session, stmt, AgentJob.id, limit, cursor)
        return Page([JobOut.model_validate(r) for r in page.items], page.next_cursor)


def get_job(ctx: Context, actor: Actor, job_id: int) -> JobOut:
    with ctx.db.read() as session:
        return JobOut.model_validate(get_in_scope(session, actor, AgentJob, job_id, Role.VIEWER))

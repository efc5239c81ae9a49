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
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from forewarn.domain.inventory import Role
from forewarn.domain.jobs import FINAL_STATES, Envelope, canonical
from forewarn.services import keys
from forewarn.services.context import Context
from forewarn.services.pagination import Page, paginate_desc
from forewarn.services.scope import Actor, get_in_scope, scoped
from forewarn.store.models import AgentJob
from forewarn.wire import MAX_JOBS, JobOrder, JobResult

DEFAULT_TTL = timedelta(hours=24)
REDELIVER = timedelta(minutes=5)


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
    return row


def deliver(ctx: Context, agent_id: int) -> list[JobOrder]:
    """The jobs to put in this agent's check-in answer, marked sent (usually none: one read)."""
    now = ctx.clock.now()
    due = (AgentJob.state == "queued") | (
        (AgentJob.state == "sent") & (AgentJob.sent_at <= now - REDELIVER)
    )
    with ctx.db.read() as session:
        rows = session.execute(
            select(AgentJob.id, AgentJob.envelope, AgentJob.sig, AgentJob.not_after)
            .where(AgentJob.agent_id == agent_id, AgentJob.state.in_(("queued", "sent")), due)
            .order_by(AgentJob.id)
            .limit(MAX_JOBS)
        ).all()
    if not rows:
        return []
    live = [r for r in rows if r.not_after > now]
    with ctx.db.transaction() as session:
        expired = [r.id for r in rows if r.not_after <= now]
        if expired:  # never delivered in time: no result can come
            session.execute(
                update(AgentJob)
                .where(AgentJob.id.in_(expired), AgentJob.state == "queued")
                .values(state="timed_out", reason="expired before the agent checked in")
            )
        if live:
            session.execute(
                update(AgentJob)
                .where(
                    AgentJob.id.in_([r.id for r in live]), AgentJob.state.in_(("queued", "sent"))
                )
                .values(state="sent", sent_at=now)
            )
    return [JobOrder(id=r.id, envelope=r.envelope, sig=r.sig) for r in live]


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

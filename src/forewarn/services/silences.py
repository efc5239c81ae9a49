"""Silences: "do not tell anyone about these alerts until then" (the length of a job).

A silenced alert still opens and shows in the inbox; only its messages wait. When the
silence ends and the alert is still open, the next escalation turn sends what is due then,
so a problem that outlived the job is not lost. A silence always has an end.

An organization's silence applies to its own alerts only (its admins and technicians make
them); the provider's owners may make one over every organization.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from forewarn.domain import alerting
from forewarn.domain.alerting import AlertState
from forewarn.domain.inventory import Role
from forewarn.services import audit
from forewarn.services.context import Context
from forewarn.services.errors import invalid, not_found
from forewarn.services.schemas import Id
from forewarn.services.scope import (
    Actor,
    get_in_scope,
    get_org_in_scope,
    org_or_provider,
    require_owner,
)
from forewarn.store.models import AlertRow, SilenceRow

MAX_DAYS = 31


class SilenceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_id: Id | None = Field(None, description="none: over every organization (owners)")
    matchers: list[str] = Field(
        min_length=1, max_length=20, description='e.g. ["check=12"] or ["asset=3", "type=ping"]'
    )
    starts_at: datetime | None = Field(None, description="default: now")
    ends_at: datetime | None = None
    duration_min: int | None = Field(None, ge=1, le=MAX_DAYS * 1440)
    comment: str = Field("", max_length=1000)

    @model_validator(mode="after")
    def _an_end(self) -> SilenceCreate:
        if (self.ends_at is None) == (self.duration_min is None):
            raise ValueError("a silence needs an end: give ends_at or duration_min (one of them)")
        return self


class SilenceFromAlert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration_min: int = Field(ge=1, le=MAX_DAYS * 1440)
    comment: str = Field("", max_length=1000)


class SilenceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int | None
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    created_at: datetime


def _domain(row: SilenceRow) -> alerting.Silence:
    return alerting.Silence(
        matchers=tuple(alerting.Matcher.parse(m) for m in row.matchers),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        created_by=row.created_by,
        comment=row.comment,
        id=row.id,
    )


def active_for(session: Session, org_id: int, now: datetime) -> list[alerting.Silence]:
    """The silences that may mute an organization's alerts now."""
    rows = session.scalars(
        select(SilenceRow).where(
            (SilenceRow.org_id == org_id) | SilenceRow.org_id.is_(None),
            SilenceRow.starts_at <= now,
            SilenceRow.ends_at > now,
        )
    )
    return [_domain(r) for r in rows]


def create(ctx: Context, actor: Actor, data: SilenceCreate) -> SilenceOut:
    now = ctx.clock.now()
    starts = data.starts_at or now
    ends = data.ends_at or starts + timedelta(minutes=data.duration_min or 0)
    if ends - starts > timedelta(days=MAX_DAYS):
        raise invalid(f"a silence lasts at most {MAX_DAYS} days")
    if ends <= now:
        raise invalid("this silence would already be over")
    with ctx.db.transaction() as session:
        if data.org_id is None:
            require_owner(actor)
        else:
            get_org_in_scope(session, actor, data.org_id, Role.TECHNICIAN)
        row = SilenceRow(
            org_id=data.org_id,
            matchers=data.matchers,
            starts_at=starts,
            ends_at=ends,
            created_by=actor.username,
            comment=data.comment,
            created_at=now,
        )
        try:
            _domain(row)  # the pure rules: matchers parse, one requires a value, an end
        except ValueError as exc:
            raise invalid(str(exc), [{"loc": ["body", "matchers"], "msg": str(exc)}]) from None
        session.add(row)
        session.flush()
        audit.record(
            session,
            ctx.clock,
            actor,
            "silence.create",
            entity="silence",
            entity_id=row.id,
            org_id=row.org_id,
            after=SilenceOut.model_validate(row).model_dump(mode="json"),
        )
        return SilenceOut.model_validate(row)


def silence_alert(ctx: Context, actor: Actor, alert_id: int, data: SilenceFromAlert) -> SilenceOut:
    """Silence what this alert is about (its check, or else its labels) for a while."""
    with ctx.db.read() as session:
        row = get_in_scope(session, actor, AlertRow, alert_id, Role.TECHNICIAN)
        labels = dict(row.labels)
        org_id = row.org_id
    keys = ("org", "check") if labels.get("check") else tuple(k for k in labels if k != "severity")
    matchers = [
        str(alerting.Matcher(k, alerting.MatchOp.EQ, labels[k])) for k in keys if k in labels
    ]
    return create(
        ctx,
        actor,
        SilenceCreate(
            org_id=org_id, matchers=matchers, duration_min=data.duration_min, comment=data.comment
        ),
    )


def list_(
    ctx: Context, actor: Actor, *, org_id: int | None = None, active: bool = True
) -> list[SilenceOut]:
    """Silences the actor may see (its organizations' and the provider's), ending soonest first;
    `active` keeps those not yet over."""
    stmt = select(SilenceRow).where(org_or_provider(actor, SilenceRow.org_id))
    if org_id is not None:
        stmt = stmt.where((SilenceRow.org_id == org_id) | SilenceRow.org_id.is_(None))
    if active:
        stmt = stmt.where(SilenceRow.ends_at > ctx.clock.now())
    with ctx.db.read() as session:
        rows = session.scalars(stmt.order_by(SilenceRow.ends_at, SilenceRow.id).limit(500))
        return [SilenceOut.model_validate(r) for r in rows]


def expire(ctx: Context, actor: Actor, silence_id: int) -> SilenceOut:
    """End a silence now (its alerts are told at the next escalation turn)."""
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        row = session.get(SilenceRow, silence_id)
        if row is None or (row.org_id is not None and actor.role_in(row.org_id) is None):
            raise not_found("silence")
        if row.org_id is None:
            require_owner(actor)
        else:
            get_org_in_scope(session, actor, row.org_id, Role.TECHNICIAN)
        if row.ends_at > now:
            planned_end = row.ends_at
            row.ends_at = max(now, row.starts_at + timedelta(microseconds=1))
            _release(session, row, planned_end, now)
        audit.record(
            session,
            ctx.clock,
            actor,
            "silence.expire",
            entity="silence",
            entity_id=row.id,
            org_id=row.org_id,
            after={"ends_at": row.ends_at.isoformat()},
        )
        return SilenceOut.model_validate(row)


def _release(session: Session, row: SilenceRow, planned_end: datetime, now: datetime) -> None:
    """The alerts this silence held until its planned end are due at the next escalation
    turn (which routes them, or parks them again if another silence still mutes them)."""
    stmt = select(AlertRow).where(
        AlertRow.state != AlertState.RESOLVED.value, AlertRow.notify_at == planned_end
    )
    if row.org_id is not None:
        stmt = stmt.where(AlertRow.org_id == row.org_id)
    matchers = _domain(row).matchers
    for alert in session.scalars(stmt):
        if alerting.matches_all(matchers, alert.labels):
            alert.notify_at = now


# ---- an organization's silences page ---------------------------------------------------------

HELD_LIMIT = 10_000  # open alerts looked at to count what each silence holds


def recently_ended(ctx: Context, actor: Actor, org_id: int, *, limit: int = 20) -> list[SilenceOut]:
    """An organization's silences (and the provider's) that are over, the last to end first."""
    now = ctx.clock.now()
    stmt = (
        select(SilenceRow)
        .where(org_or_provider(actor, SilenceRow.org_id))
        .where((SilenceRow.org_id == org_id) | SilenceRow.org_id.is_(None))
        .where(SilenceRow.ends_at <= now)
        .order_by(SilenceRow.ends_at.desc(), SilenceRow.id.desc())
        .limit(limit)
    )
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id)
        return [SilenceOut.model_validate(r) for r in session.scalars(stmt)]


def held_now(ctx: Context, actor: Actor, org_id: int) -> dict[int, int]:
    """How many of the organization's open alerts each silence active now holds back, by
    silence id (the provider's silences count this organization's alerts only)."""
    now = ctx.clock.now()
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id)
        active = active_for(session, org_id, now)
        if not active:
            return {}
        labels = session.scalars(
            select(AlertRow.labels)
            .where(AlertRow.org_id == org_id, AlertRow.state != alerting.AlertState.RESOLVED.value)
            .limit(HELD_LIMIT)
        ).all()
    return {s.id: sum(1 for ls in labels if s.mutes(ls, now)) for s in active if s.id is not None}

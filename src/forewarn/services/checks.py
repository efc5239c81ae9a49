"""Checks: what to watch on an asset, how often, and what was seen.

A definition is validated by its probe module before it is saved, so a bad target, a negative
interval or an unknown SNMP version is a 422 that says so and nothing is stored.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import delete as delete_
from sqlalchemy import select
from sqlalchemy.orm import Session

from forewarn.domain.inventory import Role
from forewarn.domain.observation import Status
from forewarn.domain.uptime import Uptime, uptime
from forewarn.probes import registry
from forewarn.services import agent_config, audit, maintenance, secret_params
from forewarn.services.context import Context
from forewarn.services.errors import invalid
from forewarn.services.pagination import Page, paginate, paginate_desc
from forewarn.services.rows import apply_changes, flush_or_conflict
from forewarn.services.schemas import (
    CheckCreate,
    CheckEventOut,
    CheckOut,
    CheckStateOut,
    CheckUpdate,
    ResultOut,
)
from forewarn.services.scope import Actor, get_in_scope, scoped
from forewarn.store.models import (
    Asset,
    Check,
    CheckEvent,
    CheckResult,
    CheckStateRow,
    Organization,
)

_CLASH = "this asset already has a check of that name"


def validate_definition(
    ctx: Context, check_type: str, target: str, params: dict[str, Any]
) -> dict[str, Any]:
    """The params as the probe understood them (JSON-ready); 422 with the probe's reason."""
    try:
        model = registry.validate(
            check_type, target, params, plugin_dirs=ctx.settings.nagios_plugin_dirs
        )
    except ValidationError as exc:
        errors = [
            {"loc": ["body", "params", *map(str, e["loc"])], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        first = errors[0]
        where = ".".join(first["loc"][2:]) or "params"
        raise invalid(f"{check_type} check: {where}: {first['msg']}", errors) from None
    except ValueError as exc:
        raise invalid(f"{check_type} check: {exc}") from None
    dumped: dict[str, Any] = model.model_dump(mode="json", exclude_unset=True)
    return dumped


def _state_out(check: Check, st: CheckStateRow | None) -> CheckStateOut:
    from forewarn.services.results import to_domain

    if st is None:
        return CheckStateOut(
            display="pending",
            status="ok",
            is_hard=True,
            attempt=1,
            flapping=False,
            message="",
            details="",
            since=None,
            last_at=None,
            next_due_at=None,
            duration_ms=0.0,
        )
    d = to_domain(st)
    return CheckStateOut(
        display=d.display if check.enabled else "disabled",
        status=d.status.label,
        is_hard=d.is_hard,
        attempt=d.attempt,
        flapping=d.flapping,
        message=st.message,
        details=st.details,
        since=d.since,
        last_at=d.last_at,
        next_due_at=st.next_due_at if check.enabled else None,
        duration_ms=st.duration_ms,
    )


def to_out(check: Check, st: CheckStateRow | None) -> CheckOut:
    return CheckOut(
        id=check.id,
        org_id=check.org_id,
        asset_id=check.asset_id,
        name=check.name,
        type=check.type,
        target=check.target,
        params=secret_params.masked(check.params),
        interval_s=check.interval_s,
        retry_interval_s=check.retry_interval_s,
        max_attempts=check.max_attempts,
        timeout_s=check.timeout_s,
        enabled=check.enabled,
        parent_id=check.parent_id,
        source=check.source,
        push_path=f"/hb/{check.push_token}" if check.push_token else None,
        state=_state_out(check, st),
    )


def _check_parent(session: Session, check: Check, parent_id: int | None) -> None:
    if parent_id is None:
        return
    parent = session.get(Check, parent_id)
    if parent is None or parent.org_id != check.org_id:
        raise invalid("parent check not found in this organization")
    seen = {check.id}
    while parent is not None:
        if parent.id in seen:
            raise invalid("a check cannot depend on itself, directly or through others")
        seen.add(parent.id)
        parent = session.get(Check, parent.parent_id) if parent.parent_id else None


def first_due(check: Check, now: datetime) -> datetime:
    """When a new (or re-enabled) check first runs: at once, or, for a heartbeat, when its
    first ping is due."""
    if check.type == "heartbeat":
        p = check.params
        return now + timedelta(seconds=p.get("period_s", 86_400) + p.get("grace_s", 3_600))
    return now


def add(session: Session, ctx: Context, asset: Asset, data: CheckCreate, source: str) -> Check:
    """Insert a validated check and its initial state (shared by the API and policies)."""
    now = ctx.clock.now()
    params = secret_params.seal(ctx, validate_definition(ctx, data.type, data.target, data.params))
    check = Check(
        org_id=asset.org_id,
        asset_id=asset.id,
        name=data.name,
        type=data.type,
        target=data.target,
        params=params,
        interval_s=data.interval_s,
        retry_interval_s=data.retry_interval_s,
        max_attempts=data.max_attempts,
        timeout_s=data.timeout_s,
        enabled=data.enabled,
        source=source,
        push_token=secrets.token_urlsafe(24) if data.type == "heartbeat" else None,
        created_at=now,
        updated_at=now,
    )
    session.add(check)
    flush_or_conflict(session, _CLASH)
    _check_parent(session, check, data.parent_id)
    check.parent_id = data.parent_id
    session.add(
        CheckStateRow(
            check_id=check.id,
            org_id=check.org_id,
            next_due_at=first_due(check, now),
            history="",
        )
    )
    session.flush()
    if check.type == "agent":
        agent_config.refresh(session, [check.asset_id], ctx.clock.now())
    return check


def add_by_hand(
    session: Session, ctx: Context, actor: Actor, asset: Asset, data: CheckCreate
) -> Check:
    """A check someone asked for (the API, an adopted device), recorded in the audit log.
    Policy-made checks go through `add` alone: the policy change is what is audited."""
    check = add(session, ctx, asset, data, "manual")
    audit.record(
        session,
        ctx.clock,
        actor,
        "check.create",
        entity="check",
        entity_id=check.id,
        org_id=check.org_id,
        after=audit.snapshot(check),
    )
    return check


def create(ctx: Context, actor: Actor, data: CheckCreate) -> CheckOut:
    with ctx.db.transaction() as session:
        asset = get_in_scope(session, actor, Asset, data.asset_id, Role.TECHNICIAN)
        check = add_by_hand(session, ctx, actor, asset, data)
        return to_out(check, session.get(CheckStateRow, check.id))


def get(ctx: Context, actor: Actor, check_id: int) -> CheckOut:
    with ctx.db.read() as session:
        check = get_in_scope(session, actor, Check, check_id)
        return to_out(check, session.get(CheckStateRow, check_id))


def list_(
    ctx: Context,
    actor: Actor,
    *,
    org_id: int | None = None,
    asset_id: int | None = None,
    problems: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[CheckOut]:
    """Checks in scope; `problems` keeps those whose current state is not OK."""
    stmt = scoped(select(Check), actor, Check.org_id)
    if org_id is not None:
        stmt = stmt.where(Check.org_id == org_id)
    if asset_id is not None:
        stmt = stmt.where(Check.asset_id == asset_id)
    if problems:
        stmt = stmt.join(CheckStateRow, CheckStateRow.check_id == Check.id).where(
            CheckStateRow.status != int(Status.OK), Check.enabled.is_(True)
        )
    with ctx.db.read() as session:
        page = paginate(session, stmt, Check.id, limit, cursor)
        ids = [c.id for c in page.items]
        states = {
            s.check_id: s
            for s in session.scalars(select(CheckStateRow).where(CheckStateRow.check_id.in_(ids)))
        }
        return Page([to_out(c, states.get(c.id)) for c in page.items], page.next_cursor)


def update(ctx: Context, actor: Actor, check_id: int, data: CheckUpdate) -> CheckOut:
    with ctx.db.transaction() as session:
        check = get_in_scope(session, actor, Check, check_id, Role.TECHNICIAN)
        before = audit.snapshot(check)
        changes = data.model_dump(exclude_unset=True)
        if "target" in changes or "params" in changes:
            target = changes.get("target", check.target)
            stored = check.params
            params = secret_params.unmask(ctx, changes.get("params", stored), stored)
            if "params" not in changes:
                params = secret_params.open_params(ctx, stored)
            changes["params"] = secret_params.seal(
                ctx, validate_definition(ctx, check.type, target, params)
            )
        if "parent_id" in changes:
            _check_parent(session, check, changes["parent_id"])
        was_enabled = check.enabled
        apply_changes(check, changes, nullable={"parent_id"})
        check.updated_at = ctx.clock.now()
        flush_or_conflict(session, _CLASH)
        st = session.get(CheckStateRow, check.id)
        if st is not None and ((check.enabled and not was_enabled) or "target" in changes):
            st.next_due_at = first_due(check, check.updated_at)
        if check.type == "agent":
            agent_config.refresh(session, [check.asset_id], ctx.clock.now())
        audit.record(
            session,
            ctx.clock,
            actor,
            "check.update",
            entity="check",
            entity_id=check.id,
            org_id=check.org_id,
            before=before,
            after=audit.snapshot(check),
        )
        return to_out(check, st)


def delete(ctx: Context, actor: Actor, check_id: int) -> None:
    with ctx.db.transaction() as session:
        check = get_in_scope(session, actor, Check, check_id, Role.TECHNICIAN)
        before = audit.snapshot(check)
        session.execute(delete_(CheckResult).where(CheckResult.check_id == check_id))
        session.delete(check)
        session.flush()
        if before["type"] == "agent":
            agent_config.refresh(session, [before["asset_id"]], ctx.clock.now())
        audit.record(
            session,
            ctx.clock,
            actor,
            "check.delete",
            entity="check",
            entity_id=check_id,
            org_id=before["org_id"],
            before=before,
        )


def events(
    ctx: Context, actor: Actor, check_id: int, *, limit: int = 50, cursor: str | None = None
) -> Page[CheckEventOut]:
    """The check's timeline, newest first."""
    with ctx.db.read() as session:
        get_in_scope(session, actor, Check, check_id)
        stmt = select(CheckEvent).where(CheckEvent.check_id == check_id)
        page = paginate_desc(session, stmt, CheckEvent.id, limit, cursor)
        return Page([CheckEventOut.model_validate(e) for e in page.items], page.next_cursor)


def results(
    ctx: Context, actor: Actor, check_id: int, frm: datetime, to: datetime
) -> list[ResultOut]:
    """Raw results in [frm, to), at most 10,000 (a day at one a minute is 1,440)."""
    if to <= frm:
        raise invalid("'to' must be after 'from'")
    with ctx.db.read() as session:
        get_in_scope(session, actor, Check, check_id)
        stmt = (
            select(CheckResult.ts, CheckResult.status)
            .where(
                CheckResult.check_id == check_id,
                CheckResult.ts >= _epoch(frm),
                CheckResult.ts < _epoch(to),
            )
            .order_by(CheckResult.ts)
            .limit(10_000)
        )
        return [ResultOut(ts=ts, status=s) for ts, s in session.execute(stmt)]


def _epoch(moment: datetime) -> int:
    """Epoch seconds within the 32-bit column range (a year-9999 bound is just "the end")."""
    return max(-(2**31), min(2**31 - 1, int(moment.timestamp())))


def status_changes(
    session: Session, check_id: int, frm: datetime, to: datetime
) -> list[tuple[datetime, Status]]:
    """The status timeline of a check over [frm, to), with the status it entered `frm` in."""
    before = session.execute(
        select(CheckEvent.at, CheckEvent.new)
        .where(
            CheckEvent.check_id == check_id,
            CheckEvent.at < frm,
            CheckEvent.kind.in_(("soft", "hard")),
        )
        .order_by(CheckEvent.at.desc(), CheckEvent.id.desc())
        .limit(1)
    ).first()
    rows = session.execute(
        select(CheckEvent.at, CheckEvent.new)
        .where(
            CheckEvent.check_id == check_id,
            CheckEvent.at >= frm,
            CheckEvent.at < to,
            CheckEvent.kind.in_(("soft", "hard")),
        )
        .order_by(CheckEvent.at, CheckEvent.id)
    ).all()
    out = [(before.at, Status(before.new))] if before else []
    return out + [(at, Status(new)) for at, new in rows]


@dataclass(frozen=True)
class UptimeReport:
    """A check's uptime: the last 24 h, 7 and 30 days, and each local calendar day."""

    last_24h: Uptime
    last_7d: Uptime
    last_30d: Uptime
    days: list[tuple[date, Uptime]]


def uptime_report_in(
    session: Session, check: Check, site_id: int | None, tz: str, now: datetime, days: int = 90
) -> UptimeReport:
    """Two reads (the status timeline and the maintenance windows) for the whole period;
    every day is then a slice of them."""
    zone = ZoneInfo(tz)
    first = now.astimezone(zone).date() - timedelta(days=days - 1)
    frm = min(datetime.combine(first, time(), zone).astimezone(UTC), now - timedelta(days=30))
    changes = status_changes(session, check.id, frm, now)
    windows = maintenance.windows_of(session, [check.org_id])
    holes = maintenance.intervals(windows, check.org_id, site_id, check.asset_id, frm, now)
    out = []
    for i in range(days):
        day = first + timedelta(days=i)
        start = datetime.combine(day, time(), zone).astimezone(UTC)
        end = min(datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC), now)
        out.append((day, uptime(changes, start, end, holes)))

    def last(span: timedelta) -> Uptime:
        return uptime(changes, now - span, now, holes)

    return UptimeReport(
        last(timedelta(hours=24)), last(timedelta(days=7)), last(timedelta(days=30)), out
    )


def uptime_report(ctx: Context, actor: Actor, check_id: int, days: int = 90) -> UptimeReport:
    """A check's uptime in its organization's calendar, maintenance left out."""
    with ctx.db.read() as session:
        check = get_in_scope(session, actor, Check, check_id)
        asset = session.get(Asset, check.asset_id)
        org = session.get(Organization, check.org_id)
        tz = org.timezone if org is not None else "UTC"
        site_id = asset.site_id if asset is not None else None
        return uptime_report_in(session, check, site_id, tz, ctx.clock.now(), days)

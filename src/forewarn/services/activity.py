"""Suspicious activity: security events stored at ingest, judged by a job, raised as alerts.

- `record` and `note_changes` run in ingest's transaction: the agent's authentication
  events, its farewell (a clean stop) and the inventory changes that matter for security
  (domain.activity.signals_from_changes) become SecurityEvent rows, marked pending.
- `evaluate` (the "security" job, every 30 s) takes the pending rows per machine, gives them
  to the pure rules with the history they need, raises one alert per detection's identity
  (rule, machine and source or account) with the evidence as a timeline event, and clears
  what ends by itself: a burst after a quiet period, the firewall once it is on again, an
  agent stop once the agent checks in.
- `list_events` is a machine's recent security events, for its page and the API.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from forewarn.domain import activity
from forewarn.domain.alerting import AlertKind
from forewarn.domain.changes import Change
from forewarn.domain.inventory import Role
from forewarn.services import alerts, orgs
from forewarn.services.context import Context
from forewarn.services.pagination import Page, paginate_desc
from forewarn.services.scope import Actor, get_in_scope
from forewarn.store.models import (
    Agent,
    AlertEvent,
    AlertRow,
    Asset,
    InventorySection,
    Organization,
    SecurityEvent,
)

log = logging.getLogger(__name__)

BATCH = 5_000  # pending events judged per turn; the rest wait for the next
HISTORY = 20_000  # at most this many earlier events per machine as context
RETENTION = timedelta(days=90)
# A stop notice is judged after this long: an agent back by then was restarted, not stopped.
STOP_GRACE = timedelta(minutes=2)
EVENT_KINDS = (
    "login",
    "sudo",
    "su",
    "admin_added",
    "listener_public",
    "firewall_off",
    "firewall_on",
    "agent_stopped",
)


# ---- at ingest ----------------------------------------------------------------------------------


def record(
    session: Session,
    now: datetime,
    org_id: int,
    asset_id: int,
    auth: Sequence[dict[str, Any]],
    stopping: bool,
) -> None:
    """Store an agent's authentication events and its farewell, pending for the job."""
    for e in auth:
        at = _epoch(e.get("at"), now)
        session.add(
            SecurityEvent(
                org_id=org_id,
                asset_id=asset_id,
                at=at,
                received_at=now,
                kind=str(e.get("action", "login"))[:32],
                outcome=str(e.get("outcome", ""))[:16],
                service=str(e.get("service", ""))[:64],
                user=str(e.get("user", ""))[:255],
                source=str(e.get("source", ""))[:255],
                method=str(e.get("method", ""))[:64],
                target=str(e.get("target", ""))[:255],
                invalid_user=bool(e.get("invalid_user", False)),
                count=max(1, int(e.get("count", 1))),
                line=str(e.get("line", ""))[:1000],
                pending=True,
            )
        )
    if stopping:
        session.add(
            SecurityEvent(
                org_id=org_id,
                asset_id=asset_id,
                at=now,
                received_at=now,
                kind="agent_stopped",
                service="forewarn-agent",
                line="the agent said it stops (SIGTERM): a deliberate stop",
                pending=True,
            )
        )


def note_changes(
    session: Session, now: datetime, org_id: int, asset_id: int, changes: Iterable[Change]
) -> None:
    """Inventory changes that are security events (a new administrator, ...), pending."""
    for s in activity.signals_from_changes(changes):
        session.add(
            SecurityEvent(
                org_id=org_id,
                asset_id=asset_id,
                at=now,
                received_at=now,
                kind=s.kind,
                service="inventory",
                user=s.user[:255],
                source=s.source[:255],
                method=s.method[:64],
                line=s.line[:1000],
                pending=True,
            )
        )


def _epoch(value: object, default: datetime) -> datetime:
    try:
        return datetime.fromtimestamp(float(value), UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return default


# ---- the job -----------------------------------------------------------------------------------


def evaluate(ctx: Context) -> int:
    """Judge the pending events and clear what ended; answers the detections raised."""
    now = ctx.clock.now()
    raised = 0
    with ctx.db.transaction() as session:
        pending = session.scalars(
            select(SecurityEvent)
            .where(SecurityEvent.pending.is_(True))
            .order_by(SecurityEvent.id)
            .limit(BATCH)
        ).all()
        by_asset: dict[int, list[SecurityEvent]] = defaultdict(list)
        for row in pending:
            by_asset[row.asset_id].append(row)
        for asset_id, rows in by_asset.items():
            raised += _judge(session, ctx, now, asset_id, rows)
        _clear_quiet_bursts(session, ctx, now)
        _clear_returned_agents(session, ctx, now)
        session.execute(delete(SecurityEvent).where(SecurityEvent.received_at < now - RETENTION))
    return raised


def _judge(
    session: Session, ctx: Context, now: datetime, asset_id: int, rows: list[SecurityEvent]
) -> int:
    asset = session.get(Asset, asset_id)
    if asset is None:
        return 0
    ready = []
    for row in rows:
        if row.kind == "agent_stopped" and row.received_at > now - STOP_GRACE:
            continue  # judged once the grace is over: a restart is not a stop
        ready.append(row)
    if not ready:
        return 0
    earliest = min(r.at for r in ready)
    ids = {r.id for r in ready}
    history = session.scalars(
        select(SecurityEvent)
        .where(
            SecurityEvent.asset_id == asset_id,
            SecurityEvent.kind == "login",
            SecurityEvent.at >= earliest - activity.LOOKBACK,
            SecurityEvent.pending.is_(False),
        )
        .order_by(SecurityEvent.at.desc())
        .limit(HISTORY)
    ).all()
    events = [_event(r, new=True) for r in ready if not _restarted(session, r)]
    events += [_event(r, new=False) for r in history if r.id not in ids]
    org = session.get(Organization, asset.org_id)
    hours = orgs.business_hours(org) if org is not None else None
    detections = activity.detect(events, hours, _service_accounts(session, asset_id))
    for d in detections:
        _raise(session, ctx, now, asset, d)
    for r in ready:
        r.pending = False
        if r.kind == "firewall_on":
            labels = _labels(asset, activity.FIREWALL_OFF, {})
            alerts.clear(session, ctx, labels, now, "the host firewall is active again")
    return len(detections)


def _restarted(session: Session, row: SecurityEvent) -> bool:
    """A stop notice whose agent has checked in since: it was a restart."""
    if row.kind != "agent_stopped":
        return False
    seen = session.scalar(select(Agent.last_seen_at).where(Agent.asset_id == row.asset_id))
    return seen is not None and seen > row.received_at


def _event(row: SecurityEvent, *, new: bool) -> activity.Event:
    return activity.Event(
        at=row.at,
        kind=row.kind,
        outcome=row.outcome,
        service=row.service,
        user=row.user,
        source=row.source,
        method=row.method,
        target=row.target,
        invalid_user=row.invalid_user,
        count=row.count,
        line=row.line,
        new=new,
    )


def _service_accounts(session: Session, asset_id: int) -> set[str]:
    """The machine's system accounts, from its inventory (root is a person)."""
    data = session.scalar(
        select(InventorySection.data).where(
            InventorySection.asset_id == asset_id, InventorySection.section == "accounts"
        )
    )
    return {
        str(a.get("name"))
        for a in data or []
        if isinstance(a, dict) and a.get("system") and a.get("name") != "root"
    }


def _labels(asset: Asset, rule: str, key: dict[str, str]) -> dict[str, str]:
    return {
        "org": str(asset.org_id),
        "site": str(asset.site_id or ""),
        "asset": str(asset.id),
        "kind": AlertKind.SECURITY.value,
        "rule": rule,
        **{k: v[:200] for k, v in key.items()},
    }


def _raise(
    session: Session, ctx: Context, now: datetime, asset: Asset, d: activity.Detection
) -> None:
    labels = _labels(asset, d.rule, d.key)
    row = alerts.raise_(
        session, ctx, asset.org_id, labels, d.severity, now, d.summary, asset_id=asset.id
    )
    if d.evidence:
        detail = "\n".join(line[:1000] for line in d.evidence)
        session.add(AlertEvent(alert_id=row.id, at=now, kind="evidence", detail=detail))


def _open_security(session: Session, rule: str) -> list[AlertRow]:
    rows = session.scalars(
        select(AlertRow).where(AlertRow.state != "resolved", AlertRow.asset_id.is_not(None))
    ).all()
    return [
        r
        for r in rows
        if (r.labels or {}).get("kind") == AlertKind.SECURITY.value
        and (r.labels or {}).get("rule") == rule
    ]


def _clear_quiet_bursts(session: Session, ctx: Context, now: datetime) -> None:
    for row in _open_security(session, activity.FAILED_LOGINS):
        if activity.burst_is_quiet(row.last_fired_at, now):
            minutes = int(activity.QUIET_PERIOD.total_seconds() // 60)
            alerts.clear(
                session, ctx, _identity(row), now, f"no more failed logins for {minutes} minutes"
            )


def _clear_returned_agents(session: Session, ctx: Context, now: datetime) -> None:
    for row in _open_security(session, activity.AGENT_STOPPED):
        seen = session.scalar(select(Agent.last_seen_at).where(Agent.asset_id == row.asset_id))
        if seen is not None and seen > row.opened_at:
            alerts.clear(session, ctx, _identity(row), now, "the agent checks in again")


def _identity(row: AlertRow) -> dict[str, str]:
    return {k: v for k, v in (row.labels or {}).items() if k != "severity"}


# ---- reading -------------------------------------------------------------------------------------


def list_events(
    ctx: Context,
    actor: Actor,
    asset_id: int,
    *,
    kind: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[dict[str, Any]]:
    """A machine's security events, newest first."""
    with ctx.db.read() as session:
        get_in_scope(session, actor, Asset, asset_id, Role.VIEWER)
        stmt = select(SecurityEvent).where(SecurityEvent.asset_id == asset_id)
        if kind:
            stmt = stmt.where(SecurityEvent.kind == kind)
        page = paginate_desc(session, stmt, SecurityEvent.id, limit, cursor)
        return Page([event_out(e) for e in page.items], page.next_cursor)


def event_out(e: SecurityEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at,
        "received_at": e.received_at,
        "kind": e.kind,
        "outcome": e.outcome,
        "service": e.service,
        "user": e.user,
        "source": e.source,
        "method": e.method,
        "target": e.target,
        "invalid_user": e.invalid_user,
        "count": e.count,
        "line": e.line,
    }


def stopped_since(session: Session, asset_id: int, since: datetime) -> datetime | None:
    """When the machine's agent said it stops, if it did at or after `since`."""
    return session.scalar(
        select(SecurityEvent.received_at)
        .where(
            SecurityEvent.asset_id == asset_id,
            SecurityEvent.kind == "agent_stopped",
            SecurityEvent.received_at >= since,
        )
        .order_by(SecurityEvent.received_at.desc())
        .limit(1)
    )

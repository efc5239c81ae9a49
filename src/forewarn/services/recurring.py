"""Recurring problems as findings: the checks and assets that fail again and again, and the
assets with the most tickets (domain.recurring decides what counts).

Rules, each refreshed by the scheduled job and resolved once no longer true (the window moves
on and the old failures fall out of it):
- "recurring.check": one check failed 3+ times within 30 days; its failures are the evidence;
- "recurring.asset": an asset had 3+ incidents within 30 days from at least two checks;
- "recurring.tickets": an asset with 3+ tickets opened within 30 days (through their linked
  alerts), at most TOP_TICKET_ASSETS of them per organization, those with the most first.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forewarn.domain import recurring
from forewarn.domain.observation import Status
from forewarn.domain.recurring import THRESHOLD, WINDOW, HardChange
from forewarn.services import findings
from forewarn.services.context import Context
from forewarn.store.models import (
    AlertRow,
    Asset,
    Check,
    CheckEvent,
    Organization,
    Ticket,
    TicketAlert,
)

CHECK_RULE = "recurring.check"
ASSET_RULE = "recurring.asset"
TICKETS_RULE = "recurring.tickets"
TOP_TICKET_ASSETS = 5
MAX_EVIDENCE = 50  # failures or tickets listed in one finding's evidence
_DAYS = WINDOW.days


def _label(status: int) -> str:
    try:
        return Status(status).label
    except ValueError:
        return str(status)


def _failure(change: HardChange, names: dict[int, str]) -> dict[str, Any]:
    return {
        "at": change.at.isoformat(timespec="seconds"),
        "check_id": change.check_id,
        "check": names.get(change.check_id, ""),
        "status": _label(change.new),
        "message": change.message[:300],
    }


def _changes(session: Session, org_id: int, now: datetime) -> list[tuple[HardChange, int]]:
    """The hard changes of the organization's checks within the window, with their asset."""
    rows = session.execute(
        select(CheckEvent, Check.asset_id)
        .join(Check, Check.id == CheckEvent.check_id)
        .where(
            CheckEvent.org_id == org_id,
            CheckEvent.kind == "hard",
            CheckEvent.at > now - WINDOW,
        )
    )
    return [
        (HardChange(e.check_id, e.at, e.old, e.new, e.message or ""), asset_id)
        for e, asset_id in rows
    ]


def _check_findings(
    changes: list[tuple[HardChange, int]],
    now: datetime,
    checks: dict[int, str],
    assets: dict[int, str],
) -> list[findings.Raised]:
    asset_of = {c.check_id: a for c, a in changes}
    raised = []
    for check_id, failed in recurring.recurring_checks([c for c, _ in changes], now).items():
        asset_id = asset_of[check_id]
        where = f"'{checks.get(check_id, check_id)}' on {assets.get(asset_id, 'an asset')}"
        raised.append(
            findings.Raised(
                key=f"check:{check_id}",
                severity=recurring.severity(len(failed)),
                title=f"Check {where} failed {len(failed)} times in {_DAYS} days",
                detail="The same check keeps failing: look for the cause rather than fixing "
                "each failure again.",
                evidence={
                    "check_id": check_id,
                    "failures": len(failed),
                    "window_days": _DAYS,
                    "history": [_failure(c, checks) for c in failed[-MAX_EVIDENCE:]],
                },
                asset_id=asset_id,
            )
        )
    return raised


def _asset_findings(
    changes: list[tuple[HardChange, int]],
    now: datetime,
    checks: dict[int, str],
    assets: dict[int, str],
) -> list[findings.Raised]:
    by_asset: dict[int, list[HardChange]] = defaultdict(list)
    for change, asset_id in changes:
        by_asset[asset_id].append(change)
    raised = []
    for asset_id, own in sorted(by_asset.items()):
        incidents = recurring.recurring_asset(own, now)
        if incidents is None:
            continue
        name = assets.get(asset_id, f"asset {asset_id}")
        raised.append(
            findings.Raised(
                key=f"asset:{asset_id}",
                severity=recurring.severity(len(incidents)),
                title=f"{name} had {len(incidents)} incidents in {_DAYS} days",
                detail="Several of its checks fail again and again: the machine itself may "
                "need attention (hardware, capacity, replacement).",
                evidence={
                    "incidents": len(incidents),
                    "window_days": _DAYS,
                    "history": [
                        {
                            "at": group[0].at.isoformat(timespec="seconds"),
                            "checks": sorted({checks.get(c.check_id, "") for c in group}),
                        }
                        for group in incidents[-MAX_EVIDENCE:]
                    ],
                },
                asset_id=asset_id,
            )
        )
    return raised


def _ticket_findings(
    session: Session, org_id: int, now: datetime, assets: dict[int, str]
) -> list[findings.Raised]:
    rows = session.execute(
        select(AlertRow.asset_id, Ticket)
        .join(TicketAlert, TicketAlert.ticket_id == Ticket.id)
        .join(AlertRow, AlertRow.id == TicketAlert.alert_id)
        .where(
            Ticket.org_id == org_id,
            Ticket.created_at > now - WINDOW,
            AlertRow.asset_id.is_not(None),
        )
    )
    tickets: dict[int, dict[int, Ticket]] = defaultdict(dict)
    for asset_id, ticket in rows:
        if asset_id is not None:
            tickets[asset_id][ticket.id] = ticket
    busy = sorted(
        ((a, t) for a, t in tickets.items() if len(t) >= THRESHOLD),
        key=lambda item: (-len(item[1]), item[0]),
    )[:TOP_TICKET_ASSETS]
    raised = []
    for asset_id, own in busy:
        listed = sorted(own.values(), key=lambda t: t.created_at)
        name = assets.get(asset_id, f"asset {asset_id}")
        raised.append(
            findings.Raised(
                key=f"asset:{asset_id}",
                severity=recurring.severity(len(listed)),
                title=f"{name} had {len(listed)} tickets in {_DAYS} days",
                detail="One of the assets with the most tickets: the break/fix pattern.",
                evidence={
                    "tickets": len(listed),
                    "window_days": _DAYS,
                    "history": [
                        {
                            "ticket_id": t.id,
                            "title": t.title[:200],
                            "at": t.created_at.isoformat(timespec="seconds"),
                            "status": t.status,
                        }
                        for t in listed[-MAX_EVIDENCE:]
                    ],
                },
                asset_id=asset_id,
            )
        )
    return raised


def refresh_org(ctx: Context, org_id: int) -> findings.SyncReport:
    now = ctx.clock.now()
    total = findings.SyncReport()
    with ctx.db.transaction() as session:
        assets: dict[int, str] = {
            i: n
            for i, n in session.execute(select(Asset.id, Asset.name).where(Asset.org_id == org_id))
        }
        checks: dict[int, str] = {
            i: n
            for i, n in session.execute(select(Check.id, Check.name).where(Check.org_id == org_id))
        }
        changes = _changes(session, org_id, now)
        for rule, raised in (
            (CHECK_RULE, _check_findings(changes, now, checks, assets)),
            (ASSET_RULE, _asset_findings(changes, now, checks, assets)),
            (TICKETS_RULE, _ticket_findings(session, org_id, now, assets)),
        ):
            report = findings.sync(session, org_id, rule, raised, now)
            total.add(report)
    return total


def refresh(ctx: Context) -> findings.SyncReport:
    """The scheduled job: every organization's recurring-problem findings brought up to date."""
    with ctx.db.read() as session:
        org_ids = list(session.scalars(select(Organization.id).order_by(Organization.id)))
    total = findings.SyncReport()
    for org_id in org_ids:
        report = refresh_org(ctx, org_id)
        total.add(report)
    return total

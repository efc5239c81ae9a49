"""The monthly client report: an organization's month as one canonical, versioned JSON document,
stored per (organization, month) and rendered to HTML and PDF on request (reports/).

The figures come from the services that already define them, read for the month in the
organization's time zone: uptime from each check's status timeline with maintenance left out
(domain.uptime), alert and ticket times and the proactive share (tickets.service_report),
patch compliance (patching.compliance_of_org), the health score and what lowers it most
(health.org_health). docs/reports.md defines every figure.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forewarn.domain.alerting import about_a_ticket
from forewarn.domain.inventory import Role
from forewarn.domain.uptime import Uptime, uptime
from forewarn.reports import monthly as paper
from forewarn.services import (
    audit,
    checks,
    health,
    maintenance,
    patching,
    report_sending,
    tickets,
)
from forewarn.services.context import Context
from forewarn.services.errors import conflict, invalid
from forewarn.services.scope import SYSTEM, Actor, get_in_scope, get_org_in_scope
from forewarn.store.models import (
    AlertRow,
    Assessment,
    Asset,
    Check,
    ClientReport,
    Finding,
    Organization,
    Ticket,
)

log = logging.getLogger("forewarn.reports")

SCHEMA = "forewarn.monthly-report/1"
KIND = "monthly"
SEVERITIES = ("critical", "high", "warning", "medium", "low", "info")
TREND_MONTHS = 12
WORST_CHECKS = 5
ATTENTION_ITEMS = 5
_PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})")


# ---- shapes -----------------------------------------------------------------------------------


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Checked by period_of, which names what is wrong; the bound only keeps junk short.
    period: str = Field(max_length=32, description="YYYY-MM in the organization's time zone")


class ReportSummary(BaseModel):
    id: int
    org_id: int
    kind: str
    period: str
    created_at: datetime
    created_by: str
    schema_version: str
    headline: str
    queued_at: datetime | None = Field(
        None, description="when it was first put in the outbox for its recipients; none: never"
    )


class ReportOut(ReportSummary):
    document: dict[str, Any]


class ReportList(BaseModel):
    items: list[ReportSummary]


# ---- the month ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A calendar month on the organization's clocks; `end` is cut at `now` while it runs."""

    month: str
    first: date
    start: datetime  # UTC
    end: datetime  # UTC
    partial: bool

    @property
    def label(self) -> str:
        return f"{self.first:%B %Y}"

    def days(self) -> list[date]:
        out, day = [], self.first
        while day.month == self.first.month:
            out.append(day)
            day += timedelta(days=1)
        return out


def _next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def period_of(month: str, tz: str, now: datetime) -> Period:
    """The month `YYYY-MM` in zone `tz`; refused (with the reason) when malformed or to come."""
    found = _PERIOD.fullmatch(month or "")
    if not found:
        raise invalid(f"period {month!r} is not a month written YYYY-MM")
    year, mon = int(found[1]), int(found[2])
    if not 1 <= mon <= 12:
        raise invalid(f"period {month!r}: there is no month {mon}")
    if year < 2000:
        raise invalid(f"period {month!r} is before the year 2000")
    zone = ZoneInfo(tz)
    first = date(year, mon, 1)
    today = now.astimezone(zone).date()
    if first > today:
        raise invalid(f"period {month!r} has not begun yet (today is {today} in {tz})")
    start = datetime.combine(first, time(), zone).astimezone(UTC)
    end = datetime.combine(_next_month(first), time(), zone).astimezone(UTC)
    return Period(month, first, start, min(end, now), partial=end > now)


def last_month(tz: str, now: datetime) -> str:
    """The month before the current one on the organization's clocks."""
    first = now.astimezone(ZoneInfo(tz)).date().replace(day=1)
    return f"{first - timedelta(days=1):%Y-%m}"


def this_month(tz: str, now: datetime) -> str:
    return f"{now.astimezone(ZoneInfo(tz)):%Y-%m}"


def _day_bounds(day: date, zone: ZoneInfo, p: Period) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
    return max(start, p.start), min(end, p.end)


def _days_begun(p: Period, zone: ZoneInfo) -> list[date]:
    """The month's local days that had begun by the period's end (all of a finished month)."""
    return [d for d in p.days() if _day_bounds(d, zone, p)[0] < p.end]


# ---- reading the month ------------------------------------------------------------------------


def _ratio_percent(up: float, down: float) -> float | None:
    judged = up + down
    return round(100.0 * up / judged, 3) if judged > 0 else None


def _uptime(session: Session, org: Organization, p: Period) -> dict[str, Any]:
    """Every enabled check of the organization over the month and each of its days: time up
    over time judged (up + down), maintenance and unknown time left out (domain.uptime)."""
    zone = ZoneInfo(org.timezone)
    rows = session.execute(
        select(Check.id, Check.name, Check.asset_id, Asset.name, Asset.site_id)
        .join(Asset, Asset.id == Check.asset_id)
        .where(Check.org_id == org.id, Check.enabled.is_(True))
        .order_by(Check.id)
    ).all()
    windows = maintenance.windows_of(session, [org.id])
    days = _days_begun(p, zone)
    daily_up = [0.0] * len(days)
    daily_down = [0.0] * len(days)
    total = Uptime(0.0, 0.0, 0.0, 0.0)
    per_check = []
    for check_id, name, asset_id, asset_name, site_id in rows:
        changes = checks.status_changes(session, check_id, p.start, p.end)
        holes = maintenance.intervals(windows, org.id, site_id, asset_id, p.start, p.end)
        whole = uptime(changes, p.start, p.end, holes)
        total = Uptime(
            total.up + whole.up,
            total.down + whole.down,
            total.unknown + whole.unknown,
            total.maintenance + whole.maintenance,
        )
        for i, day in enumerate(days):
            frm, to = _day_bounds(day, zone, p)
            part = uptime(changes, frm, to, holes)
            daily_up[i] += part.up
            daily_down[i] += part.down
        if whole.up + whole.down > 0:
            per_check.append((whole, check_id, name, asset_name))
    per_check.sort(key=lambda c: (c[0].ratio or 0.0, -c[0].down, c[1]))
    worst = [
        {
            "check_id": check_id,
            "check": name,
            "asset": asset_name,
            "percent": _ratio_percent(u.up, u.down),
            "down_s": round(u.down),
        }
        for u, check_id, name, asset_name in per_check
        if u.down > 0
    ][:WORST_CHECKS]
    return {
        "percent": _ratio_percent(total.up, total.down),
        "checks": len(rows),
        "checks_judged": len(per_check),
        "up_s": round(total.up),
        "down_s": round(total.down),
        "maintenance_s": round(total.maintenance),
        "unknown_s": round(total.unknown),
        "daily": [
            {"date": d.isoformat(), "percent": _ratio_percent(u, dn)}
            for d, u, dn in zip(days, daily_up, daily_down, strict=True)
        ],
        "worst": worst,
    }


def _by_severity(counter: Counter[str]) -> dict[str, int]:
    known = {s: counter.get(s, 0) for s in SEVERITIES if counter.get(s, 0)}
    others = {s: n for s, n in sorted(counter.items()) if s not in SEVERITIES}
    return {**known, **others}


def _alerts(session: Session, org: Organization, p: Period) -> dict[str, Any]:
    """Alerts raised in the month and alerts resolved in it (whenever raised), by severity,
    and how many were raised on each local day. SLA alerts (a ticket's deadline) are about
    our own service, not the client's IT: they are left out."""
    zone = ZoneInfo(org.timezone)
    raised = [
        (severity, at)
        for severity, at, labels in session.execute(
            select(AlertRow.severity, AlertRow.opened_at, AlertRow.labels).where(
                AlertRow.org_id == org.id,
                AlertRow.opened_at >= p.start,
                AlertRow.opened_at < p.end,
            )
        )
        if not about_a_ticket(labels or {})
    ]
    resolved = [
        severity
        for severity, labels in session.execute(
            select(AlertRow.severity, AlertRow.labels).where(
                AlertRow.org_id == org.id,
                AlertRow.resolved_at >= p.start,
                AlertRow.resolved_at < p.end,
            )
        )
        if not about_a_ticket(labels or {})
    ]
    per_day = Counter(at.astimezone(zone).date() for _, at in raised)
    days = _days_begun(p, zone)
    return {
        "raised": len(raised),
        "resolved": len(resolved),
        "raised_by_severity": _by_severity(Counter(s for s, _ in raised)),
        "resolved_by_severity": _by_severity(Counter(resolved)),
        "daily": [{"date": d.isoformat(), "raised": per_day.get(d, 0)} for d in days],
    }


def _tickets_closed(session: Session, org_id: int, p: Period) -> int:
    """Tickets resolved in the month, whenever they were opened."""
    return int(
        session.scalar(
            select(func.count(Ticket.id)).where(
                Ticket.org_id == org_id, Ticket.resolved_at >= p.start, Ticket.resolved_at < p.end
            )
        )
        or 0
    )


def _findings(session: Session, org_id: int) -> dict[str, Any]:
    """Findings open when the report was made (accepted risks are not counted as open)."""
    rows = session.execute(
        select(Finding.severity, func.count(Finding.id))
        .where(Finding.org_id == org_id, Finding.status == "open")
        .group_by(Finding.severity)
    ).all()
    counter = Counter({severity: int(n) for severity, n in rows})
    return {"open": sum(counter.values()), "by_severity": _by_severity(counter)}


def _stored_scores(session: Session, org_id: int, before: str) -> dict[str, int | None]:
    """The health score each earlier monthly report recorded, by month."""
    rows = session.execute(
        select(ClientReport.period, ClientReport.document)
        .where(
            ClientReport.org_id == org_id,
            ClientReport.kind == KIND,
            ClientReport.period < before,
        )
        .order_by(ClientReport.period.desc())
        .limit(TREND_MONTHS - 1)
    ).all()
    return {period: (doc.get("health") or {}).get("score") for period, doc in rows}


def _assessment_scores(session: Session, org: Organization) -> dict[str, float]:
    """The overall score (0-100) of the latest assessment in each month, in the organization's
    time zone; assessments that found no data have no score and are left out."""
    rows = session.execute(
        select(Assessment.created_at, Assessment.score)
        .where(Assessment.org_id == org.id, Assessment.score.is_not(None))
        .order_by(Assessment.created_at, Assessment.id)
    ).all()
    zone = ZoneInfo(org.timezone)
    return {
        f"{at.astimezone(zone):%Y-%m}": round(score, 1) for at, score in rows if score is not None
    }


def _months_up_to(month: str, count: int) -> list[str]:
    year, mon = int(month[:4]), int(month[5:])
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{mon:02d}")
        year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return out[::-1]


def _trend(
    month: str, score_now: int | None, stored: dict[str, int | None], assessed: dict[str, float]
) -> list[dict[str, Any]]:
    """Month by month up to this one: the health score each report recorded (this month's is
    today's) and the assessment's overall score where there was one."""
    out = []
    for m in _months_up_to(month, TREND_MONTHS):
        health_score = score_now if m == month else stored.get(m)
        if health_score is None and m not in assessed and m != month:
            continue
        out.append({"period": m, "health_score": health_score, "assessment_score": assessed.get(m)})
    return out


def _headline(caught: int, problems: int) -> str:
    if problems == 0:
        return "No problems needed a ticket this month."
    noun = "problem was" if problems == 1 else "problems were"
    return f"{caught:,} of {problems:,} {noun} caught before anyone reported them."


def _no_data_reason(u: dict[str, Any], a: dict[str, Any], t: dict[str, Any], label: str) -> str:
    if u["checks_judged"] or a["raised"] or a["resolved"] or t["opened"] or t["closed"]:
        return ""
    return (
        f"There is no data for {label}: no check result, no alert and no ticket in the month. "
        "That is not a clean bill of health: it means nothing was watched."
    )


def build(ctx: Context, actor: Actor, org_id: int, month: str) -> dict[str, Any]:
    """The month's document: every figure, as plain JSON values. Reads only."""
    now = ctx.clock.now()
    with ctx.db.read() as session:
        org = get_org_in_scope(session, actor, org_id, Role.VIEWER)
        tz = org.timezone
        p = period_of(month, tz, now)
        org_part = {
            "id": org.id,
            "name": org.name,
            "timezone": org.timezone,
            "currency": org.currency,
        }
        uptime_part = _uptime(session, org, p)
        alerts_part = _alerts(session, org, p)
        closed = _tickets_closed(session, org.id, p)
        findings_part = _findings(session, org.id)
        patches = patching.compliance_of_org(session, org.id, now)
        stored = _stored_scores(session, org.id, month)
        assessed = _assessment_scores(session, org)
    service = tickets.service_report(ctx, actor, org_id, month)
    scored = health.org_health(ctx, actor, org_id, top=ATTENTION_ITEMS)
    tickets_part = {
        "opened": service.tickets,
        "closed": closed,
        "proactive": service.proactive,
        "proactive_share": service.proactive_share,
        "mtta_s": service.mtta_s,
        "mttr_s": service.mttr_s,
        "time_to_respond_s": service.time_to_respond_s,
        "time_to_resolve_s": service.time_to_resolve_s,
    }
    reason = _no_data_reason(uptime_part, alerts_part, tickets_part, p.label)
    return {
        "schema": SCHEMA,
        "kind": KIND,
        "org": org_part,
        "period": {
            "month": p.month,
            "label": p.label,
            "start": p.start.isoformat(),
            "end": p.end.isoformat(),
            "partial": p.partial,
        },
        "generated_at": now.isoformat(),
        "no_data": bool(reason),
        "no_data_reason": reason or None,
        "headline": {
            "caught": service.proactive,
            "problems": service.problems,
            "text": _headline(service.proactive, service.problems),
        },
        "uptime": uptime_part,
        "alerts": alerts_part,
        "tickets": tickets_part,
        "patching": {
            "compliance": patches.compliance,
            "reporting": patches.reporting,
            "compliant": patches.compliant,
            "security_days": patches.security_days,
        },
        "findings": findings_part,
        "health": {
            "score": scored.score,
            "label": scored.label,
            "band": scored.band,
            "as_of": now.isoformat(),
        },
        "risk_trend": _trend(month, scored.score, stored, assessed),
        "attention": [
            {
                "reason": d.reason,
                "asset": d.asset_name,
                "category": str(d.category),
                "level": str(d.level),
                "points": d.impact if d.impact is not None else d.points,
            }
            for d in scored.items
        ],
    }


# ---- storing ----------------------------------------------------------------------------------


def _summary(row: ClientReport) -> ReportSummary:
    return ReportSummary(
        id=row.id,
        org_id=row.org_id,
        kind=row.kind,
        period=row.period,
        created_at=row.created_at,
        created_by=row.created_by,
        schema_version=row.schema_version,
        headline=str((row.document.get("headline") or {}).get("text", "")),
        queued_at=row.queued_at,
    )


def _out(row: ClientReport) -> ReportOut:
    return ReportOut(**_summary(row).model_dump(), document=row.document)


def _store(
    ctx: Context, actor: Actor, org_id: int, month: str, document: dict[str, Any], by: str
) -> ReportOut:
    """Insert or replace the (organization, month) report, in one transaction."""
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        row = session.scalars(
            select(ClientReport).where(
                ClientReport.org_id == org_id,
                ClientReport.kind == KIND,
                ClientReport.period == month,
            )
        ).first()
        before = (
            {"period": row.period, "created_at": row.created_at.isoformat(), "by": row.created_by}
            if row is not None
            else None
        )
        if row is None:
            row = ClientReport(org_id=org_id, kind=KIND, period=month)
            session.add(row)
        row.created_at = now
        row.created_by = by
        row.schema_version = SCHEMA
        row.document = document
        try:
            session.flush()
        except IntegrityError:
            raise conflict(f"the {month} report is being generated already; try again") from None
        audit.record(
            session,
            ctx.clock,
            actor,
            "report.generate",
            entity="client_report",
            entity_id=row.id,
            org_id=org_id,
            before=before,
            after={"kind": KIND, "period": month},
        )
        # Its recipients are told in this same transaction: stored means queued.
        report_sending.on_generated(ctx, session, row)
        return _out(row)


def generate(ctx: Context, actor: Actor, org_id: int, month: str) -> ReportOut:
    """Build the month's report and store it, replacing an earlier one of the same month.
    Technicians and above."""
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id, Role.TECHNICIAN)
    document = build(ctx, actor, org_id, month)
    return _store(ctx, actor, org_id, month, document, actor.username)


def list_(ctx: Context, actor: Actor, org_id: int) -> ReportList:
    """The organization's stored reports, newest month first."""
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id, Role.VIEWER)
        rows = session.scalars(
            select(ClientReport)
            .where(ClientReport.org_id == org_id)
            .order_by(ClientReport.period.desc(), ClientReport.id.desc())
        ).all()
        return ReportList(items=[_summary(r) for r in rows])


def get(ctx: Context, actor: Actor, report_id: int) -> ReportOut:
    with ctx.db.read() as session:
        return _out(get_in_scope(session, actor, ClientReport, report_id))


class Named(Protocol):
    org_id: int
    kind: str
    period: str


def file_name(report: Named, ext: str) -> str:
    """The download's name: forewarn-<org id>-monthly-2026-10.pdf."""
    return f"forewarn-{report.org_id}-{report.kind}-{report.period}.{ext}"


def generate_last_month(ctx: Context) -> int:
    """The scheduled turn: last month's report for every organization that has none yet.
    Idempotent: a month already stored (by hand or by an earlier turn) is left as it is."""
    now = ctx.clock.now()
    with ctx.db.read() as session:
        orgs = session.execute(
            select(Organization.id, Organization.timezone, Organization.created_at)
        ).all()
        done = set(
            session.execute(
                select(ClientReport.org_id, ClientReport.period).where(ClientReport.kind == KIND)
            ).all()
        )
    made = 0
    for org_id, tz, created_at in orgs:
        month = last_month(tz, now)
        # Nothing to tell of a month before the client was one.
        if (org_id, month) in done or created_at >= period_of(month, tz, now).end:
            continue
        try:
            document = build(ctx, SYSTEM, org_id, month)
            _store(ctx, SYSTEM, org_id, month, document, "scheduler")
        except Exception:
            # One organization's failure must not keep the others' reports from being made;
            # its month is tried again next turn.
            log.exception("monthly report of organization %s for %s failed", org_id, month)
            continue
        made += 1
    return made


# ---- documents ----------------------------------------------------------------------------------


def html_of(ctx: Context, actor: Actor, report_id: int) -> tuple[ReportOut, str]:
    """The stored report and its HTML, rendered from the stored JSON."""
    report = get(ctx, actor, report_id)
    return report, paper.html(report.document)


def pdf_of(ctx: Context, actor: Actor, report_id: int) -> tuple[ReportOut, bytes]:
    """The stored report and its PDF, printed on request from the stored JSON."""
    report = get(ctx, actor, report_id)
    return report, paper.pdf(report.document)

"""Tickets: opened from alerts (by a route's rule, or by hand), or reported by a client's own
staff; assigned, commented, moved through their statuses, with SLA timers; and the month's
service figures per organization (domain.tickets has the rules and the definitions).

Who may do what: anyone who sees an organization (its viewers too — a client's own staff)
may report a ticket and comment; technicians and above change status, priority and
assignee, link alerts and open tickets from alerts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forewarn.domain import tickets as rules
from forewarn.domain.alerting import AlertKind, Severity, about_a_ticket
from forewarn.domain.inventory import Role
from forewarn.domain.routing import BusinessHours
from forewarn.domain.tickets import Origin, Priority, TicketStatus
from forewarn.services import audit, orgs, users
from forewarn.services.context import Context
from forewarn.services.errors import invalid
from forewarn.services.pagination import Page, paginate_desc
from forewarn.services.schemas import MAX_ID, Id
from forewarn.services.scope import Actor, get_in_scope, get_org_in_scope, require, scoped
from forewarn.store.models import (
    AlertEvent,
    AlertRow,
    Organization,
    Ticket,
    TicketAlert,
    TicketEvent,
)

# ---- shapes -----------------------------------------------------------------------------------


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_id: Id
    title: str = Field(min_length=1, max_length=300)
    description: str = Field("", max_length=20_000)
    priority: Priority = Priority.NORMAL
    alert_ids: list[Id] = Field(default_factory=list, max_length=50)


class TicketUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=300)
    status: TicketStatus | None = None
    priority: Priority | None = None
    assignee_id: int | None = Field(
        None, ge=0, le=MAX_ID, description="a user of the organization; 0: nobody"
    )


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=20_000)


class SlaOut(BaseModel):
    respond_due: datetime
    resolve_due: datetime
    respond_breached: bool
    resolve_breached: bool
    respond_at_risk: bool
    resolve_at_risk: bool


class TicketOut(BaseModel):
    id: int
    org_id: int
    title: str
    status: str
    priority: str
    origin: str
    reporter: str
    assignee_id: int | None
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    sla: SlaOut


class TicketEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    author: str
    kind: str
    detail: str


class StepState(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    title: str
    detail: str
    safeguards: list[str]
    done_at: datetime | None
    done_by: str


class ChecklistState(BaseModel):
    """A checklist started as this ticket (services.checklists): its steps and progress."""

    template: str
    title: str
    parameters: dict[str, Any]
    done: int
    total: int
    steps: list[StepState]


class TicketDetail(TicketOut):
    description: str
    alert_ids: list[int]
    events: list[TicketEventOut]
    checklist: ChecklistState | None = None


class ServiceReport(BaseModel):
    """An organization's month: alerts and tickets, and how fast they were dealt with."""

    org_id: int
    month: str
    alerts: int
    mtta_s: float | None = Field(description="mean time to acknowledge an alert, seconds")
    mttr_s: float | None = Field(description="mean time to resolve an alert, seconds")
    tickets: int
    time_to_respond_s: float | None
    time_to_resolve_s: float | None
    proactive: int
    proactive_share: float | None = Field(
        description="share of the month's tickets the platform raised before anyone reported "
        "them (docs/alerts.md has the definition)"
    )
    problems: int = Field(
        0, description="the month's tickets about a problem: all but planned work (checklists)"
    )


class _Hours:
    """Organizations' business hours and time zones, read once each (SLA clocks stop
    outside the hours; deadlines are told on the zone's clock)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.known: dict[int, tuple[BusinessHours | None, str]] = {}

    def _read(self, org_id: int) -> tuple[BusinessHours | None, str]:
        if org_id not in self.known:
            org = self.session.get(Organization, org_id)
            # The zone was checked at the edge (schemas.TimeZone), as `_month` trusts it too.
            tz = (org.timezone if org else None) or "UTC"
            self.known[org_id] = (orgs.business_hours(org) if org else None, tz)
        return self.known[org_id]

    def of(self, org_id: int) -> BusinessHours | None:
        return self._read(org_id)[0]

    def zone(self, org_id: int) -> str:
        return self._read(org_id)[1]


def _sla(t: Ticket, now: datetime, hours: BusinessHours | None) -> rules.SlaState:
    return rules.sla_state(
        Priority(t.priority), t.created_at, t.first_response_at, t.resolved_at, now, hours=hours
    )


def _out(t: Ticket, now: datetime, hours: _Hours) -> TicketOut:
    sla = _sla(t, now, hours.of(t.org_id))
    return TicketOut(
        id=t.id,
        org_id=t.org_id,
        title=t.title,
        status=t.status,
        priority=t.priority,
        origin=t.origin,
        reporter=t.reporter,
        assignee_id=t.assignee_id,
        created_at=t.created_at,
        updated_at=t.updated_at,
        first_response_at=t.first_response_at,
        resolved_at=t.resolved_at,
        closed_at=t.closed_at,
        sla=SlaOut(**{k: getattr(sla, k) for k in SlaOut.model_fields}),
    )


def _detail(session: Session, t: Ticket, now: datetime) -> TicketDetail:
    from forewarn.services import checklists  # checklists open tickets: imported at use

    events = session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.id)
    ).all()
    linked = session.scalars(
        select(TicketAlert.alert_id)
        .where(TicketAlert.ticket_id == t.id)
        .order_by(TicketAlert.alert_id)
    ).all()
    return TicketDetail(
        **_out(t, now, _Hours(session)).model_dump(),
        description=t.description,
        alert_ids=list(linked),
        events=[TicketEventOut.model_validate(e) for e in events],
        checklist=checklists.state_of(session, t.id),
    )


def _event(session: Session, t: Ticket, at: datetime, author: str, kind: str, detail: str) -> None:
    session.add(TicketEvent(ticket_id=t.id, at=at, author=author, kind=kind, detail=detail))


# ---- opening --------------------------------------------------------------------------------


def open_ticket(
    session: Session,
    now: datetime,
    *,
    org_id: int,
    title: str,
    description: str,
    priority: Priority,
    origin: Origin,
    reporter: str,
    alert_ids: list[int] | None = None,
) -> Ticket:
    t = Ticket(
        org_id=org_id,
        title=title[:300],
        description=description,
        status=TicketStatus.NEW.value,
        priority=priority.value,
        origin=origin.value,
        reporter=reporter,
        created_at=now,
        updated_at=now,
    )
    session.add(t)
    session.flush()
    _event(session, t, now, reporter, "created", f"{origin.value}, {priority.value} priority")
    for alert_id in alert_ids or []:
        session.add(TicketAlert(ticket_id=t.id, alert_id=alert_id, linked_at=now))
        _event(session, t, now, reporter, "linked_alert", str(alert_id))
    return t


def from_alert_by_rule(session: Session, alert: AlertRow, now: datetime) -> Ticket | None:
    """A route's rule opens a ticket for an alert that opened: once per alert; never for an
    SLA alert (it is about a ticket already)."""
    if about_a_ticket(alert.labels or {}):
        return None
    if session.scalar(select(TicketAlert.ticket_id).where(TicketAlert.alert_id == alert.id)):
        return None
    return open_ticket(
        session,
        now,
        org_id=alert.org_id,
        title=alert.summary[:300] or "Alert",
        description=f"Opened by a routing rule from alert {alert.id} ({alert.severity}).",
        priority=rules.priority_of_severity(alert.severity),
        origin=Origin(_origin_of(alert)),
        reporter="forewarn",
        alert_ids=[alert.id],
    )


def _origin_of(alert: AlertRow) -> str:
    kind = (alert.labels or {}).get("kind", "check")
    return {"predictive": "predictive", "security": "security"}.get(kind, "monitoring")


def create(ctx: Context, actor: Actor, data: TicketCreate) -> TicketDetail:
    """Reported by a person: a client's staff (viewers) too. Linking alerts needs the
    technician role; a ticket reported about an alert the platform had raised still counts
    as caught first (domain.tickets.proactive)."""
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        get_org_in_scope(session, actor, data.org_id, Role.VIEWER)
        if data.alert_ids:
            require(actor, data.org_id, Role.TECHNICIAN)
            _check_alerts(session, data.org_id, data.alert_ids)
        t = open_ticket(
            session,
            now,
            org_id=data.org_id,
            title=data.title,
            description=data.description,
            priority=data.priority,
            origin=Origin.USER,
            reporter=actor.username,
            alert_ids=data.alert_ids,
        )
        audit.record(
            session,
            ctx.clock,
            actor,
            "ticket.create",
            entity="ticket",
            entity_id=t.id,
            org_id=t.org_id,
            after={"title": t.title, "priority": t.priority},
        )
        return _detail(session, t, now)


def _check_alerts(session: Session, org_id: int, alert_ids: list[int]) -> None:
    found = set(
        session.scalars(
            select(AlertRow.id).where(AlertRow.id.in_(alert_ids), AlertRow.org_id == org_id)
        )
    )
    missing = sorted(set(alert_ids) - found)
    if missing:
        raise invalid(
            f"no such alert in this organization: {', '.join(map(str, missing))}",
            [{"loc": ["body", "alert_ids"], "msg": "no such alert in this organization"}],
        )


def of_alert(ctx: Context, actor: Actor, alert_id: int) -> int | None:
    """The id of the ticket an alert is linked to (the earliest), if any."""
    with ctx.db.read() as session:
        get_in_scope(session, actor, AlertRow, alert_id)
        found: int | None = session.scalar(
            select(func.min(TicketAlert.ticket_id)).where(TicketAlert.alert_id == alert_id)
        )
        return found


def from_alert(ctx: Context, actor: Actor, alert_id: int) -> TicketDetail:
    """Open a ticket for an alert by hand (origin: what raised the alert)."""
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        alert = get_in_scope(session, actor, AlertRow, alert_id, Role.TECHNICIAN)
        if about_a_ticket(alert.labels or {}):
            raise invalid(
                f"this alert is about ticket #{alert.labels.get('ticket')}: work on that ticket"
            )
        existing = session.scalar(
            select(TicketAlert.ticket_id).where(TicketAlert.alert_id == alert.id)
        )
        if existing is not None:
            return _detail(session, session.get(Ticket, existing), now)  # type: ignore[arg-type]
        t = open_ticket(
            session,
            now,
            org_id=alert.org_id,
            title=alert.summary[:300] or "Alert",
            description=f"Opened from alert {alert.id} by {actor.username}.",
            priority=rules.priority_of_severity(alert.severity),
            origin=Origin(_origin_of(alert)),
            reporter=actor.username,
            alert_ids=[alert.id],
        )
        return _detail(session, t, now)


# ---- working them -------------------------------------------------------------------------------


def list_(
    ctx: Context,
    actor: Actor,
    *,
    org_id: int | None = None,
    status: str | None = None,
    assignee_id: int | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[TicketOut]:
    """Newest first; `status` "active" keeps those not resolved or closed."""
    stmt = scoped(select(Ticket), actor, Ticket.org_id)
    if org_id is not None:
        stmt = stmt.where(Ticket.org_id == org_id)
    if status == "active":
        stmt = stmt.where(Ticket.status.in_(["new", "open", "waiting"]))
    elif status is not None:
        stmt = stmt.where(Ticket.status == status)
    if assignee_id is not None:
        stmt = stmt.where(Ticket.assignee_id == assignee_id)
    now = ctx.clock.now()
    with ctx.db.read() as session:
        page = paginate_desc(session, stmt, Ticket.id, limit, cursor)
        hours = _Hours(session)
        return Page([_out(t, now, hours) for t in page.items], page.next_cursor)


def get(ctx: Context, actor: Actor, ticket_id: int) -> TicketDetail:
    with ctx.db.read() as session:
        t = get_in_scope(session, actor, Ticket, ticket_id)
        return _detail(session, t, ctx.clock.now())


def _responded(t: Ticket, actor: Actor, now: datetime) -> None:
    """The first word of the provider's side stops the response timer."""
    if t.first_response_at is None and actor.can(t.org_id, Role.TECHNICIAN):
        t.first_response_at = now


def update(ctx: Context, actor: Actor, ticket_id: int, data: TicketUpdate) -> TicketDetail:
    now = ctx.clock.now()
    who = actor.username
    with ctx.db.transaction() as session:
        t = get_in_scope(session, actor, Ticket, ticket_id, Role.TECHNICIAN)
        if data.title is not None and data.title != t.title:
            _event(session, t, now, who, "title", f"{t.title} -> {data.title}")
            t.title = data.title
        if data.priority is not None and data.priority.value != t.priority:
            _event(session, t, now, who, "priority", f"{t.priority} -> {data.priority.value}")
            t.priority = data.priority.value
        if data.assignee_id is not None:
            _assign(session, t, data.assignee_id, now, who)
        if data.status is not None and data.status.value != t.status:
            try:
                rules.check_move(TicketStatus(t.status), data.status)
            except ValueError as exc:
                raise invalid(str(exc), [{"loc": ["body", "status"], "msg": str(exc)}]) from None
            _event(session, t, now, who, "status", f"{t.status} -> {data.status.value}")
            t.status = data.status.value
            if data.status is TicketStatus.RESOLVED:
                t.resolved_at = now
            elif data.status is TicketStatus.CLOSED:
                t.closed_at = now
            elif data.status is TicketStatus.OPEN and t.resolved_at is not None:
                t.resolved_at = None  # reopened: the resolution clock runs again
        _responded(t, actor, now)
        t.updated_at = now
        audit.record(
            session,
            ctx.clock,
            actor,
            "ticket.update",
            entity="ticket",
            entity_id=t.id,
            org_id=t.org_id,
            after=data.model_dump(exclude_none=True, mode="json"),
        )
        return _detail(session, t, now)


def _assign(session: Session, t: Ticket, user_id: int, now: datetime, who: str) -> None:
    if user_id == 0:
        if t.assignee_id is not None:
            _event(session, t, now, who, "assigned", "nobody")
        t.assignee_id = None
        return
    user = users.assignable(session, user_id, t.org_id)
    if t.assignee_id != user_id:
        _event(session, t, now, who, "assigned", user.username)
    t.assignee_id = user_id


class AlertLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert_id: Id


def link_alert(ctx: Context, actor: Actor, ticket_id: int, data: AlertLink) -> TicketDetail:
    """Link one more alert of the organization to a ticket (technicians); linking twice is
    a no-op."""
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        t = get_in_scope(session, actor, Ticket, ticket_id, Role.TECHNICIAN)
        _check_alerts(session, t.org_id, [data.alert_id])
        if session.get(TicketAlert, (t.id, data.alert_id)) is None:
            session.add(TicketAlert(ticket_id=t.id, alert_id=data.alert_id, linked_at=now))
            _event(session, t, now, actor.username, "linked_alert", str(data.alert_id))
            _responded(t, actor, now)
            t.updated_at = now
        return _detail(session, t, now)


def comment(ctx: Context, actor: Actor, ticket_id: int, data: CommentCreate) -> TicketDetail:
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        t = get_in_scope(session, actor, Ticket, ticket_id, Role.VIEWER)
        if t.status == TicketStatus.CLOSED.value:
            raise invalid("this ticket is closed: open a new one")
        _event(session, t, now, actor.username, "comment", data.body)
        _responded(t, actor, now)
        t.updated_at = now
        return _detail(session, t, now)


def note_alert_resolved(session: Session, alert: AlertRow, now: datetime) -> None:
    """Tell the tickets of an alert that it resolved (they stay for a person to close)."""
    for ticket_id in session.scalars(
        select(TicketAlert.ticket_id).where(TicketAlert.alert_id == alert.id)
    ):
        t = session.get(Ticket, ticket_id)
        if t is not None and t.status != TicketStatus.CLOSED.value:
            _event(session, t, now, "forewarn", "alert_resolved", f"alert {alert.id} resolved")
            t.updated_at = now


# ---- SLA watch ----------------------------------------------------------------------------------

ACTIVE = ("new", "open", "waiting")


def sla_watch(ctx: Context) -> int:
    """The job: an alert for each active ticket whose SLA is at risk (warning) or breached
    (critical), resolved when the ticket is answered or resolved; how many are raised.

    The alerts are routed like any other (labels kind=ticket, sla=respond|resolve), so a
    breach can page someone; their summary names the ticket."""
    from forewarn.services import alerts  # alerts opens tickets: imported at use

    now = ctx.clock.now()
    raised = 0
    with ctx.db.transaction() as session:
        hours = _Hours(session)
        for t in session.scalars(select(Ticket).where(Ticket.status.in_(ACTIVE)).limit(5000)):
            state = _sla(t, now, hours.of(t.org_id))
            for which, due, breached, at_risk, done in (
                (
                    "respond",
                    state.respond_due,
                    state.respond_breached,
                    state.respond_at_risk,
                    t.first_response_at is not None,
                ),
                (
                    "resolve",
                    state.resolve_due,
                    state.resolve_breached,
                    state.resolve_at_risk,
                    False,
                ),
            ):
                labels = {
                    "org": str(t.org_id),
                    "kind": AlertKind.TICKET.value,
                    "ticket": str(t.id),
                    "sla": which,
                }
                word = "answer" if which == "respond" else "resolution"
                if not done and (breached or at_risk):
                    severity = Severity.CRITICAL if breached else Severity.WARNING
                    when = "was due" if breached else "is due"
                    tz = hours.zone(t.org_id)
                    local = due.astimezone(ZoneInfo(tz))
                    summary = (
                        f"Ticket #{t.id} ({t.priority}): {word} {when} "
                        f"{local:%Y-%m-%d %H:%M} {tz}: {t.title}"
                    )
                    alerts.raise_(session, ctx, t.org_id, labels, severity, now, summary)
                    raised += 1
                elif done:
                    alerts.clear(session, ctx, labels, now, f"Ticket #{t.id} answered")
        # Tickets no longer active (resolved, closed, deleted): their SLA alerts end.
        for row in session.scalars(select(AlertRow).where(AlertRow.state != "resolved")):
            labels = row.labels or {}
            if not about_a_ticket(labels) or not labels.get("ticket", "").isdigit():
                continue
            ticket = session.get(Ticket, int(labels["ticket"]))
            if ticket is None or ticket.status not in ACTIVE:
                said = f"Ticket #{labels['ticket']} {ticket.status if ticket else 'deleted'}"
                alerts.clear(session, ctx, dict(labels), now, said)
    return raised


# ---- the month's figures ------------------------------------------------------------------------


def _month(month: str, tz: str = "UTC") -> tuple[datetime, datetime]:
    """The month's bounds in UTC, the month being counted on the clocks of `tz`."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=ZoneInfo(tz))
    except ValueError:
        raise invalid(f"month {month!r} is not YYYY-MM") from None
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start.astimezone(UTC), end.astimezone(UTC)


def service_report(ctx: Context, actor: Actor, org_id: int, month: str) -> ServiceReport:
    """An organization's month: alerts opened in it (but SLA alerts, which are about our
    own service), tickets created in it. The month is the organization's local calendar
    month (its time zone), on the page, in the API and in the monthly report alike."""
    with ctx.db.read() as session:
        org = get_org_in_scope(session, actor, org_id, Role.VIEWER)
        start, end = _month(month, org.timezone or "UTC")
        alert_rows = session.scalars(
            select(AlertRow).where(
                AlertRow.org_id == org_id, AlertRow.opened_at >= start, AlertRow.opened_at < end
            )
        ).all()
        alert_rows = [a for a in alert_rows if not about_a_ticket(a.labels or {})]
        acks = _first_acks(session, [a.id for a in alert_rows])
        ticket_rows = session.scalars(
            select(Ticket).where(
                Ticket.org_id == org_id, Ticket.created_at >= start, Ticket.created_at < end
            )
        ).all()
        earlier_rows = _earlier_reports(session, org_id, start, [t.id for t in ticket_rows])
        times = _ticket_times(session, [*ticket_rows, *earlier_rows])
    f = rules.figures(
        [rules.AlertTimes(a.opened_at, acks.get(a.id), a.resolved_at) for a in alert_rows],
        [times[t.id] for t in ticket_rows],
        [times[t.id] for t in earlier_rows],
    )

    def seconds(x: object) -> float | None:
        return x.total_seconds() if x is not None else None  # type: ignore[attr-defined]

    return ServiceReport(
        org_id=org_id,
        month=month,
        alerts=f.alerts,
        mtta_s=seconds(f.mtta),
        mttr_s=seconds(f.mttr),
        tickets=f.tickets,
        time_to_respond_s=seconds(f.time_to_respond),
        time_to_resolve_s=seconds(f.time_to_resolve),
        proactive=f.proactive,
        proactive_share=f.proactive_share,
        problems=f.problems,
    )


def _earlier_reports(
    session: Session, org_id: int, start: datetime, ticket_ids: list[int]
) -> list[Ticket]:
    """People's tickets from before the month that may have reported one of its problems
    first: those of the last day before it, and those linked to the month's tickets' alerts."""
    month_alerts = select(TicketAlert.alert_id).where(TicketAlert.ticket_id.in_(ticket_ids))
    linked = select(TicketAlert.ticket_id).where(TicketAlert.alert_id.in_(month_alerts))
    return list(
        session.scalars(
            select(Ticket).where(
                Ticket.org_id == org_id,
                Ticket.origin == Origin.USER.value,
                Ticket.created_at < start,
                (Ticket.created_at >= start - rules.SAME_ASSET_WINDOW) | Ticket.id.in_(linked),
            )
        )
    )


def _ticket_times(session: Session, rows: list[Ticket]) -> dict[int, rules.TicketTimes]:
    """What the figures need of each ticket, with its linked alerts and their assets."""
    linked: dict[int, list[tuple[int, int | None, datetime]]] = {}
    for ticket_id, alert_id, asset_id, opened_at in session.execute(
        select(TicketAlert.ticket_id, AlertRow.id, AlertRow.asset_id, AlertRow.opened_at)
        .join(AlertRow, AlertRow.id == TicketAlert.alert_id)
        .where(TicketAlert.ticket_id.in_([t.id for t in rows]))
    ):
        linked.setdefault(ticket_id, []).append((alert_id, asset_id, opened_at))
    out = {}
    for t in rows:
        alerts = linked.get(t.id, [])
        out[t.id] = rules.TicketTimes(
            t.created_at,
            Origin(t.origin),
            t.first_response_at,
            t.resolved_at,
            min((at for _, _, at in alerts), default=None),
            alert_ids=frozenset(a for a, _, _ in alerts),
            asset_ids=frozenset(s for _, s, _ in alerts if s is not None),
        )
    return out


def _first_acks(session: Session, alert_ids: list[int]) -> dict[int, datetime]:
    """When each alert was first acknowledged (its timeline keeps every acknowledgement)."""
    if not alert_ids:
        return {}
    rows = session.execute(
        select(AlertEvent.alert_id, func.min(AlertEvent.at))
        .where(AlertEvent.alert_id.in_(alert_ids), AlertEvent.kind == "acknowledged")
        .group_by(AlertEvent.alert_id)
    ).all()
    return {alert_id: _aware(at) for alert_id, at in rows if at is not None}  # type: ignore[misc]


def _aware(at: datetime | None) -> datetime | None:
    """Aggregates bypass the column type: SQLite answers text, PostgreSQL naive or aware."""
    if at is None:
        return None
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


# ---- linking from the pages ---------------------------------------------------------------------

LINK_CHOICES = 200  # newest first; an older one is still linked by id through the API


class LinkableAlert(BaseModel):
    """An alert a ticket could take: enough to choose it by."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    severity: str
    state: str
    summary: str


def tickets_for_alert(ctx: Context, actor: Actor, alert_id: int) -> list[TicketOut]:
    """The alert's organization's active tickets not linked to it yet, newest first."""
    now = ctx.clock.now()
    with ctx.db.read() as session:
        alert = get_in_scope(session, actor, AlertRow, alert_id)
        linked = select(TicketAlert.ticket_id).where(TicketAlert.alert_id == alert.id)
        rows = session.scalars(
            select(Ticket)
            .where(
                Ticket.org_id == alert.org_id,
                Ticket.status.in_(ACTIVE),
                Ticket.id.not_in(linked),
            )
            .order_by(Ticket.id.desc())
            .limit(LINK_CHOICES)
        )
        hours = _Hours(session)
        return [_out(t, now, hours) for t in rows]


def alerts_for_ticket(ctx: Context, actor: Actor, ticket_id: int) -> list[LinkableAlert]:
    """The ticket's organization's alerts that are not resolved and not linked to it yet,
    newest first."""
    with ctx.db.read() as session:
        t = get_in_scope(session, actor, Ticket, ticket_id)
        linked = select(TicketAlert.alert_id).where(TicketAlert.ticket_id == t.id)
        rows = session.scalars(
            select(AlertRow)
            .where(
                AlertRow.org_id == t.org_id,
                AlertRow.state != "resolved",
                AlertRow.id.not_in(linked),
            )
            .order_by(AlertRow.id.desc())
            .limit(LINK_CHOICES)
        )
        return [LinkableAlert.model_validate(a) for a in rows]

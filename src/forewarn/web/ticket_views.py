"""What the ticket pages show: the status filter, status and priority in the one palette, the
SLA timers in words, the timeline's words, who is assigned, the alert behind a ticket, and the
month of the service report with its durations in words."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from forewarn.domain.inventory import Role
from forewarn.domain.tickets import TicketStatus, check_move
from forewarn.services import dashboard, tickets, users
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError
from forewarn.services.pagination import Page
from forewarn.services.scope import Actor
from forewarn.services.tickets import LinkableAlert, TicketDetail, TicketOut
from forewarn.web import humanize

PAGE_SIZE = 50
# The status filter as it stands in the URL; "active" (new, open, waiting) needs someone.
STATUSES = [
    ("active", "Active"),
    ("new", "New"),
    ("open", "Open"),
    ("waiting", "Waiting"),
    ("resolved", "Resolved"),
    ("closed", "Closed"),
    ("all", "All"),
]
_STATUS_KEYS = {key for key, _ in STATUSES}
PRIORITIES = [("urgent", "Urgent"), ("high", "High"), ("normal", "Normal"), ("low", "Low")]

# Status -> (palette state, word). New needs someone; open is being worked; waiting is on
# the client or a vendor; closed is done for good.
_STATUS: dict[str, tuple[str, str]] = {
    "new": ("warning", "New"),
    "open": ("maintenance", "Open"),
    "waiting": ("pending", "Waiting"),
    "resolved": ("ok", "Resolved"),
    "closed": ("disabled", "Closed"),
}
# Urgent and high get the palette's colours; normal and low are plain words.
_PRIORITY: dict[str, tuple[str, str]] = {
    "urgent": ("critical", "Urgent"),
    "high": ("warning", "High"),
    "normal": ("", "Normal"),
    "low": ("", "Low"),
}
_ORIGINS = {"monitoring": "monitoring", "predictive": "a forecast", "security": "security"}
_EVENTS = {
    "created": "Created",
    "linked_alert": "Alert linked",
    "title": "Title changed",
    "priority": "Priority changed",
    "assigned": "Assigned",
    "status": "Status changed",
    "comment": "Comment",
    "alert_resolved": "Alert resolved",
    "checklist": "Checklist started",
    "step_done": "Step done",
    "step_undone": "Step undone",
}


def read_status(value: str | None) -> str:
    return value if value in _STATUS_KEYS else "active"


def list_url(org_id: int | None, status: str, cursor: str | None = None) -> str:
    """The list's address: every organization's (org_id None) or one's, with its filter."""
    base = f"/orgs/{org_id}/tickets" if org_id is not None else "/tickets"
    params = {"status": status}
    if cursor:
        params["cursor"] = cursor
    return f"{base}?{urlencode(params)}"


def page_of(
    ctx: Context, actor: Actor, org_id: int | None, status: str, cursor: str | None
) -> tuple[Page[TicketOut], str | None]:
    """A page of the list and the cursor it really used (a made-up one starts anew)."""
    chosen = None if status == "all" else status
    try:
        found = tickets.list_(
            ctx, actor, org_id=org_id, status=chosen, limit=PAGE_SIZE, cursor=cursor
        )
    except ServiceError as exc:
        if exc.status != 422 or cursor is None:
            raise
        cursor = None
        found = tickets.list_(ctx, actor, org_id=org_id, status=chosen, limit=PAGE_SIZE)
    return found, cursor


def status_badge(status: str) -> tuple[str, str]:
    return _STATUS.get(status, ("unknown", status.capitalize()))


def priority_badge(priority: str) -> tuple[str, str]:
    """(palette state or "" for a plain word, word)."""
    return _PRIORITY.get(priority, ("", priority.capitalize()))


def origin_text(t: TicketOut) -> str:
    """'monitoring', 'a forecast', 'reported by clara'."""
    if t.origin == "user":
        return f"reported by {t.reporter}"
    if t.origin == "checklist":
        return f"a checklist started by {t.reporter}"
    return _ORIGINS.get(t.origin, t.origin)


def event_label(kind: str) -> str:
    return _EVENTS.get(kind, kind.replace("_", " ").capitalize())


def moves(current: str) -> list[tuple[str, str]]:
    """The statuses a ticket may go to from `current` (itself first), by domain.tickets' rule."""
    old = TicketStatus(current)
    out = [(old.value, f"{old.value.capitalize()} (as now)")]
    for new in TicketStatus:
        if new is old:
            continue
        try:
            check_move(old, new)
        except ValueError:
            continue
        out.append((new.value, new.value.capitalize()))
    return out


# ---- the SLA in words ----------------------------------------------------------------------


def clock_time(moment: datetime, now: datetime, tz: str) -> str:
    """'10:15' today (in the organization's zone), '3 Nov 10:15' on another day."""
    zone = humanize.zone(tz)
    here, today = moment.astimezone(zone), now.astimezone(zone).date()
    if here.date() == today:
        return f"{here:%H:%M}"
    return f"{here.day} {here:%b} {here:%H:%M}"


def sla_timer(t: TicketOut, which: str, now: datetime, tz: str) -> tuple[str, str, str]:
    """One SLA timer as (palette state or "", word, text): "respond by 10:15", "overdue".

    The state is critical when breached, warning when at risk, ok when met, "" while it runs
    with time to spare. The word says the same for those who cannot tell the colours apart.
    """
    sla = t.sla
    if which == "respond":
        due, done = sla.respond_due, t.first_response_at
        breached, at_risk = sla.respond_breached, sla.respond_at_risk
        verb = "respond"
    else:
        due, done = sla.resolve_due, t.resolved_at
        breached, at_risk = sla.resolve_breached, sla.resolve_at_risk
        verb = "resolve"
    by = clock_time(due, now, tz)
    if done is not None:
        past = "responded" if which == "respond" else "resolved"
        if breached:
            return "critical", "Late", f"{past} {clock_time(done, now, tz)}, due {by}"
        return "ok", "In time", f"{past} {clock_time(done, now, tz)}, due {by}"
    if breached:
        return "critical", "Overdue", f"{verb} by {by}"
    if at_risk:
        return "warning", "At risk", f"{verb} by {by}"
    return "", "", f"{verb} by {by}"


def sla_now(t: TicketOut, now: datetime, tz: str) -> tuple[str, str, str]:
    """The timer that matters now, for a list row: the response until someone answered,
    then the resolution."""
    if t.first_response_at is None and t.resolved_at is None:
        return sla_timer(t, "respond", now, tz)
    return sla_timer(t, "resolve", now, tz)


# ---- who is assigned ------------------------------------------------------------------------


def _shown(display_name: str, username: str) -> str:
    return f"{display_name} ({username})" if display_name and display_name != username else username


def _owners(ctx: Context, actor: Actor) -> dict[int, str]:
    """The provider's owners, whom any ticket may be assigned to; only owners list them."""
    if not actor.is_owner:
        return {}
    return {
        p.user_id: _shown(p.display_name, p.username)
        for p in dashboard.people(ctx, actor)
        if p.is_owner and p.is_active
    }


def people_of(
    ctx: Context, actor: Actor, org_id: int, owners: dict[int, str] | None = None
) -> list[tuple[int, str]]:
    """Whom a ticket of the organization may be assigned to, as far as this person may know:
    the members (admins and owners list them), the provider's owners (owners list them) and
    the person themselves. services have no member list a technician may read.
    """
    found: dict[int, str] = {}
    if actor.can(org_id, Role.ADMIN):
        for m in dashboard.members(ctx, actor, org_id):
            if m.is_active:
                found[m.user_id] = _shown(m.display_name, m.username)
    found.update(_owners(ctx, actor) if owners is None else owners)
    if actor.user_id not in found and actor.user_id > 0:
        me = users.get_user(ctx, actor, actor.user_id)
        found[me.id] = _shown(me.display_name, me.username)
    return sorted(found.items(), key=lambda item: item[1].lower())


def assignee_from_timeline(detail: TicketDetail) -> str | None:
    """The current assignee's user name, as the last "assigned" event of the timeline says
    (anyone who sees the ticket sees its timeline; not everyone may list the members)."""
    if detail.assignee_id is None:
        return None
    for e in reversed(detail.events):
        if e.kind == "assigned":
            return e.detail
    return None


def assignee_names(ctx: Context, actor: Actor, rows: Iterable[TicketOut]) -> dict[int, str]:
    """A name for each assignee of these rows: from the member lists this person may read,
    else from the timeline of one ticket each unknown assignee holds (one read per person,
    not per row)."""
    rows = list(rows)
    names: dict[int, str] = {}
    assigned = sorted({t.org_id for t in rows if t.assignee_id is not None})
    owners = _owners(ctx, actor) if assigned else {}
    for org_id in assigned:
        names.update(people_of(ctx, actor, org_id, owners))
    for t in rows:
        if t.assignee_id is not None and t.assignee_id not in names:
            name = assignee_from_timeline(tickets.get(ctx, actor, t.id))
            names[t.assignee_id] = name or f"user {t.assignee_id}"
    return names


# ---- the ticket of an alert -----------------------------------------------------------------


def ticket_of(ctx: Context, actor: Actor, alert_id: int) -> int | None:
    """The ticket an alert is linked to, if it has one."""
    return tickets.of_alert(ctx, actor, alert_id)


# ---- the month of the service report --------------------------------------------------------


def this_month(now: datetime, tz: str) -> str:
    """The current month on the organization's clock, 'YYYY-MM'."""
    return f"{now.astimezone(humanize.zone(tz)):%Y-%m}"


def read_month(value: str | None, default: str) -> str:
    """A 'YYYY-MM' from the URL, or the default when it is anything else."""
    if not value or len(value) != 7:
        return default
    try:
        day = datetime.strptime(value, "%Y-%m")
    except ValueError:
        return default
    return value if 2000 <= day.year <= 9998 else default


def shift_month(month: str, by: int) -> str:
    year, number = int(month[:4]), int(month[5:7])
    index = year * 12 + (number - 1) + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_name(month: str) -> str:
    """'November 2026'."""
    return f"{datetime.strptime(month, '%Y-%m').replace(tzinfo=UTC):%B %Y}"


def duration_text(seconds: float) -> str:
    """'40 s', '6 min', '2 h 10 min', '3 days 4 h'."""
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        h, m = divmod(minutes, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    hours = round(seconds / 3600)
    d, h = divmod(hours, 24)
    days = f"{d} day" if d == 1 else f"{d} days"
    return f"{days} {h} h" if h else days


def percent(share: float) -> int:
    return round(share * 100)


def helpers() -> dict[str, Any]:
    return {
        "status_badge": status_badge,
        "priority_badge": priority_badge,
        "origin_text": origin_text,
        "event_label": event_label,
        "sla_timer": sla_timer,
        "sla_now": sla_now,
        "statuses": STATUSES,
        "priorities": PRIORITIES,
        "list_url": list_url,
    }


def alert_choices(found: Iterable[LinkableAlert]) -> list[tuple[str, str]]:
    """The "Link an alert" select: newest first, each by its severity and summary."""
    return [("", "Choose an alert")] + [
        (str(a.id), f"Alert {a.id} · {a.severity} · {a.summary[:120] or 'no summary'}")
        for a in found
    ]

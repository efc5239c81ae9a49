"""Tickets: statuses, priorities, SLA targets, and the service figures of a month.

Pure rules; services.tickets stores and loads. Times are aware UTC datetimes, given.

- Statuses: new -> open -> waiting (on the client or a vendor) -> resolved -> closed; a
  resolved ticket may be reopened; a closed one is final.
- SLA: each priority has a time to first response and a time to resolution from the ticket's
  creation, counted in the organization's business hours (the clock stops outside them) or,
  for urgent tickets, around the clock. An organization without business hours is open
  around the clock.
- Figures (per organization and month): mean time to acknowledge and to resolve alerts,
  time to first response and to resolution of tickets, and the *proactive share*.

The proactive share is the headline of the monthly report. Definition: of the tickets of
the month, the share the platform opened — from monitoring, a forecast or a security finding
— before any person reported the same problem, plus those a person reported about something
the platform had already raised (the ticket is linked to an alert that opened before the
ticket was created). A ticket a person reported about something the platform had not seen
counts against it. Planned work (a checklist started for a new hire or a leaver) is no
problem at all: it is left out of the share, neither for nor against.

"The same problem" (`reported_first`): a person's ticket created before the platform's ticket
that is linked to one of the platform ticket's alerts (whenever it was reported), or that is
linked to an alert about the same asset, was created at most 24 hours before the platform's
ticket and was not resolved by then. A ticket's assets are those of the alerts linked to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from forewarn.domain.routing import BusinessHours


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    WAITING = "waiting"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class Origin(StrEnum):
    MONITORING = "monitoring"
    PREDICTIVE = "predictive"
    SECURITY = "security"
    USER = "user"
    CHECKLIST = "checklist"  # planned work: a checklist started (a new hire, a leaver, ...)


PLATFORM = frozenset({Origin.MONITORING, Origin.PREDICTIVE, Origin.SECURITY})
# Work someone planned rather than a problem: neither caught first nor missed, so it stays out
# of the proactive share (it is still counted among the month's tickets and timed).
PLANNED = frozenset({Origin.CHECKLIST})

_NEXT: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.NEW: frozenset({TicketStatus.OPEN, TicketStatus.WAITING, TicketStatus.RESOLVED}),
    TicketStatus.OPEN: frozenset({TicketStatus.WAITING, TicketStatus.RESOLVED}),
    TicketStatus.WAITING: frozenset({TicketStatus.OPEN, TicketStatus.RESOLVED}),
    TicketStatus.RESOLVED: frozenset({TicketStatus.OPEN, TicketStatus.CLOSED}),
    TicketStatus.CLOSED: frozenset(),
}


def check_move(old: TicketStatus, new: TicketStatus) -> None:
    """ValueError when a ticket may not go from `old` to `new`."""
    if new == old:
        return
    if new not in _NEXT[old]:
        allowed = ", ".join(sorted(s.value for s in _NEXT[old])) or "nothing: it is final"
        raise ValueError(
            f"a {old.value} ticket cannot become {new.value} (it may become {allowed})"
        )


@dataclass(frozen=True, slots=True)
class Sla:
    respond: timedelta
    resolve: timedelta
    # Counted in the organization's business hours (the clock stops outside them), or, when
    # False, around the clock.
    business: bool = True


# Urgent is around the clock: someone is woken for it. The rest wait for the client's open
# hours, as an answer at 3 a.m. to a printer ticket would reach no one.
DEFAULT_SLA: dict[Priority, Sla] = {
    Priority.URGENT: Sla(timedelta(minutes=15), timedelta(hours=4), business=False),
    Priority.HIGH: Sla(timedelta(hours=1), timedelta(hours=8)),
    Priority.NORMAL: Sla(timedelta(hours=4), timedelta(days=1)),
    Priority.LOW: Sla(timedelta(hours=8), timedelta(days=3)),
}


def priority_of_severity(severity: str) -> Priority:
    """The priority of a ticket opened from an alert of this severity."""
    return {"critical": Priority.HIGH, "warning": Priority.NORMAL}.get(severity, Priority.LOW)


@dataclass(frozen=True, slots=True)
class SlaState:
    respond_due: datetime
    resolve_due: datetime
    respond_breached: bool
    resolve_breached: bool
    # Not yet breached but within a fifth of its time of the deadline: worth a warning.
    respond_at_risk: bool
    resolve_at_risk: bool


def sla_state(
    priority: Priority,
    created_at: datetime,
    first_response_at: datetime | None,
    resolved_at: datetime | None,
    now: datetime,
    sla: dict[Priority, Sla] = DEFAULT_SLA,
    hours: BusinessHours | None = None,
) -> SlaState:
    """The deadlines of a ticket and where it stands; `hours` are its organization's business
    hours (None: open around the clock). "At risk": in the last fifth of its time, on the
    SLA's own clock."""
    s = sla[priority]
    clock = hours if s.business else None
    respond_due, respond_clock = _due(created_at, s.respond, clock)
    resolve_due, resolve_clock = _due(created_at, s.resolve, clock)
    responded = first_response_at or now
    finished = resolved_at or now
    return SlaState(
        respond_due=respond_due,
        resolve_due=resolve_due,
        respond_breached=responded > respond_due,
        resolve_breached=finished > resolve_due,
        respond_at_risk=first_response_at is None
        and now <= respond_due
        and _left(now, respond_due, respond_clock) <= s.respond / 5,
        resolve_at_risk=resolved_at is None
        and now <= resolve_due
        and _left(now, resolve_due, resolve_clock) <= s.resolve / 5,
    )


def _due(
    start: datetime, span: timedelta, hours: BusinessHours | None
) -> tuple[datetime, BusinessHours | None]:
    """When `span` from `start` runs out, and the clock it was counted on: business hours,
    or None (around the clock) when there are none or they are too short to hold it within
    years (a minute a week)."""
    if hours is not None:
        try:
            return hours.after(start, span), hours
        except ValueError:
            pass
    return start + span, None


def _left(now: datetime, due: datetime, hours: BusinessHours | None) -> timedelta:
    """The time on a clock (`_due`'s) from `now` until `due`."""
    return hours.open_between(now, due) if hours is not None else due - now


# ---- the month's figures ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertTimes:
    opened_at: datetime
    acked_at: datetime | None  # the first acknowledgement
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class TicketTimes:
    created_at: datetime
    origin: Origin
    first_response_at: datetime | None
    resolved_at: datetime | None
    # When the earliest alert linked to it opened (None: no linked alert)
    first_alert_at: datetime | None = None
    alert_ids: frozenset[int] = frozenset()  # the alerts linked to it
    asset_ids: frozenset[int] = frozenset()  # the assets those alerts are about


@dataclass(frozen=True, slots=True)
class Figures:
    alerts: int
    mtta: timedelta | None  # mean time to acknowledge, over the alerts acknowledged
    mttr: timedelta | None  # mean time to resolve, over the alerts resolved
    tickets: int
    time_to_respond: timedelta | None
    time_to_resolve: timedelta | None
    proactive: int  # tickets the platform raised first
    proactive_share: float | None  # proactive / problems; None without any
    problems: int = 0  # the tickets about a problem: all but planned work (checklists)


def _mean(spans: Iterable[timedelta]) -> timedelta | None:
    items = list(spans)
    return sum(items, timedelta()) / len(items) if items else None


# How long before the platform's ticket a person's open ticket on the same asset is taken to
# be about the same problem.
SAME_ASSET_WINDOW = timedelta(hours=24)


def reported_first(report: TicketTimes, platform: TicketTimes) -> bool:
    """A person reported the problem of the platform's ticket before it was opened (the
    module's definition of "the same problem")."""
    if report.origin is not Origin.USER or report.created_at >= platform.created_at:
        return False
    if report.alert_ids & platform.alert_ids:
        return True
    return (
        bool(report.asset_ids & platform.asset_ids)
        and platform.created_at - report.created_at <= SAME_ASSET_WINDOW
        and (report.resolved_at is None or report.resolved_at > platform.created_at)
    )


def proactive(t: TicketTimes, reports: Iterable[TicketTimes] = ()) -> bool:
    """The platform raised it before anyone reported it (see the module's definition);
    `reports`: the people's tickets that may have come first."""
    if t.origin in PLATFORM:
        return not any(reported_first(r, t) for r in reports)
    if t.origin in PLANNED:
        return False
    return t.first_alert_at is not None and t.first_alert_at <= t.created_at


def figures(
    alerts: Sequence[AlertTimes],
    tickets: Sequence[TicketTimes],
    earlier: Sequence[TicketTimes] = (),
) -> Figures:
    """The month's figures; `earlier`: people's tickets from before the month that may have
    reported a problem first (they are not counted themselves)."""
    reports = [t for t in (*tickets, *earlier) if t.origin is Origin.USER]
    caught = sum(1 for t in tickets if proactive(t, reports))
    problems = sum(1 for t in tickets if t.origin not in PLANNED)
    return Figures(
        alerts=len(alerts),
        mtta=_mean(a.acked_at - a.opened_at for a in alerts if a.acked_at),
        mttr=_mean(a.resolved_at - a.opened_at for a in alerts if a.resolved_at),
        tickets=len(tickets),
        time_to_respond=_mean(
            t.first_response_at - t.created_at for t in tickets if t.first_response_at
        ),
        time_to_resolve=_mean(t.resolved_at - t.created_at for t in tickets if t.resolved_at),
        proactive=caught,
        proactive_share=caught / problems if problems else None,
        problems=problems,
    )

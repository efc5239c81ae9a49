"""Who hears about an alert, when, and again: routes, business hours and escalation.

A `Route` picks alerts by their labels and by the time of day (business hours or not) and
names an escalation chain: `Step`s of channels, each reached a number of seconds after the
alert opened, repeated every `repeat_s` while nobody has taken the alert.

Everything here is decided from the alert and the list of what was already `Sent` for it on a
route; the service keeps that list (its outbox) and asks `due` what to send now and
`next_wakeup` when to ask again. Nothing is sent while an alert is acknowledged or resolved;
an acknowledgement past its `until` counts as gone even before the service records it.

Messages waiting in the outbox are batched per group (`alerting.group_key`): a burst waits
`Batching.group_wait_s` so it leaves as one message (`groups_to_flush`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from forewarn.domain.alerting import Alert, AlertState, Matcher, matches_all, require_aware

RESOLVED_STEP = -1  # `Sent.step_index` of a "resolved" notice


# ---------------------------------------------------------------------------------------------
# Business hours

# How far ahead open time is looked for (an SLA of a few business days needs a few weeks).
MAX_DAYS_AHEAD = 3660


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Opening hours on wall-clock time in the organization's zone.

    `end <= start` is a span across midnight (22:00-06:00); it belongs to the day it starts
    on, so Friday 22:00-06:00 covers early Saturday but not early Friday. `end == start` is a
    whole day from `start`.
    """

    days: frozenset[int]  # ISO weekdays, 1 = Monday .. 7 = Sunday
    start: time
    end: time
    tz: str = "UTC"

    def __post_init__(self) -> None:
        object.__setattr__(self, "days", frozenset(self.days))
        if not self.days:
            raise ValueError("business hours need at least one day")
        if any(not 1 <= d <= 7 for d in self.days):
            raise ValueError("business days are 1 (Monday) to 7 (Sunday)")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("business hours are wall-clock times; the zone goes in tz")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.tz!r}") from None

    def within(self, now: datetime) -> bool:
        """Whether `now` falls in business hours, judged on the local wall clock."""
        local = require_aware(now, "now").astimezone(ZoneInfo(self.tz))
        t, day = local.time().replace(tzinfo=None), local.isoweekday()
        if self.start < self.end:
            return day in self.days and self.start <= t < self.end
        yesterday = 7 if day == 1 else day - 1
        return (day in self.days and t >= self.start) or (yesterday in self.days and t < self.end)

    def spans(self, since: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The open spans, in UTC and in order, that end after `since`; the first starts no
        earlier than `since`. Each is its day's wall-clock span, so a change of daylight
        saving time in it makes it an hour shorter or longer."""
        zone = ZoneInfo(self.tz)
        day = require_aware(since, "since").astimezone(zone).date() - timedelta(days=1)
        overnight = self.end <= self.start  # ends the next day (a whole day when equal)
        for _ in range(MAX_DAYS_AHEAD):
            if day.isoweekday() in self.days:
                end_day = day + timedelta(days=1) if overnight else day
                start = datetime.combine(day, self.start, zone).astimezone(UTC)
                end = datetime.combine(end_day, self.end, zone).astimezone(UTC)
                if end > since and end > start:
                    yield max(start, since), end
            day += timedelta(days=1)

    def after(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of open time has passed since `start` (a deadline counted in
        business hours: the clock stops outside them)."""
        left = duration
        if left <= timedelta(0):
            return start
        for a, b in self.spans(start):
            if b - a >= left:
                return a + left
            left -= b - a
        raise ValueError(f"{duration} of business hours do not fit in {MAX_DAYS_AHEAD} days")

    def open_between(self, a: datetime, b: datetime) -> timedelta:
        """How much open time lies between `a` and `b` (none when b is not after a)."""
        total = timedelta(0)
        if b <= a:
            return total
        for start, end in self.spans(a):
            if start >= b:
                break
            total += min(end, b) - start
        return total


# ---------------------------------------------------------------------------------------------
# Routes


class When(StrEnum):
    ANY = "any"
    BUSINESS = "business"
    AFTER_HOURS = "after_hours"


class Reason(StrEnum):
    FIRST = "first"  # the first step of the chain
    ESCALATION = "escalation"  # a later step, reached because nobody took the alert
    REPEAT = "repeat"  # a reminder on a step already reached


@dataclass(frozen=True, slots=True)
class Step:
    """Tell these channels once the alert has been open for `after_s` seconds."""

    after_s: int
    channels: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        if self.after_s < 0:
            raise ValueError("an escalation step cannot start before the alert opens")
        if not self.channels:
            raise ValueError("an escalation step needs a channel")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError(f"a channel is listed twice in one step: {self.channels}")


@dataclass(frozen=True, slots=True)
class Route:
    """Alerts matching all `matchers` at the time `when` go through `steps`.

    `continue_` lets the alerts it matched also reach later routes. Steps are kept in order
    of `after_s`; `Sent.step_index` indexes that order.
    """

    matchers: tuple[Matcher, ...]
    when: When
    steps: tuple[Step, ...]
    repeat_s: int | None = None  # reminders while open; None: each step once
    continue_: bool = False
    id: int | None = None  # the service's row id, carried along

    def __post_init__(self) -> None:
        object.__setattr__(self, "matchers", tuple(self.matchers))
        object.__setattr__(self, "when", When(self.when))
        if not self.steps:
            raise ValueError("a route needs at least one escalation step")
        object.__setattr__(self, "steps", tuple(sorted(self.steps, key=lambda s: s.after_s)))
        if self.repeat_s is not None and self.repeat_s <= 0:
            raise ValueError("repeat_s must be positive (or None for no reminders)")


def _in_time(when: When, now: datetime, hours: BusinessHours | None) -> bool:
    # An organization without business hours is treated as always open: `business` routes
    # apply and `after_hours` ones never do, so nothing is dropped for lack of a schedule.
    inside = hours is None or hours.within(now)
    match when:
        case When.ANY:
            return True
        case When.BUSINESS:
            return inside
        case When.AFTER_HOURS:
            return not inside
    return False  # pragma: no cover


def routes_for(
    labels: Mapping[str, str],
    routes: Iterable[Route],
    now: datetime,
    hours: BusinessHours | None,
) -> list[Route]:
    """The routes an alert goes through, in order: the first that matches, and after it
    more only while the matched ones say `continue_`. Empty: no route wants it (the service
    decides whether a default applies)."""
    require_aware(now, "now")
    chosen: list[Route] = []
    for route in routes:
        if _in_time(route.when, now, hours) and matches_all(route.matchers, labels):
            chosen.append(route)
            if not route.continue_:
                break
    return chosen


# ---------------------------------------------------------------------------------------------
# Escalation


@dataclass(frozen=True, slots=True)
class Sent:
    """One message that went out for an alert on a route (RESOLVED_STEP: the resolved notice)."""

    step_index: int
    channel: int
    at: datetime

    def __post_init__(self) -> None:
        if self.step_index < RESOLVED_STEP:
            raise ValueError(f"not a step index: {self.step_index}")
        require_aware(self.at, "at")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message to send now."""

    step_index: int
    channel: int
    reason: Reason


def _notifying(alert: Alert, now: datetime) -> bool:
    """Open, or acknowledged with an acknowledgement that has run out by `now`."""
    if alert.state is AlertState.OPEN:
        return True
    return (
        alert.state is AlertState.ACKNOWLEDGED
        and alert.ack_until is not None
        and now >= alert.ack_until
    )


def _last_sent(sent: Iterable[Sent]) -> dict[tuple[int, int], datetime]:
    last: dict[tuple[int, int], datetime] = {}
    for s in sent:
        key = (s.step_index, s.channel)
        if key not in last or s.at > last[key]:
            last[key] = s.at
    return last


def _schedule(
    alert: Alert, route: Route, sent: Sequence[Sent]
) -> Iterator[tuple[datetime, Delivery]]:
    """Each (step, channel) of the chain with the time it next becomes due, if ever.

    Never sent: when its step is reached. Sent before: `repeat_s` after its last send, if the
    route repeats. This one schedule answers both `due` and `next_wakeup`, so they agree.
    """
    last = _last_sent(sent)
    for i, step in enumerate(route.steps):
        for channel in step.channels:
            previous = last.get((i, channel))
            if previous is None:
                reason = Reason.FIRST if i == 0 else Reason.ESCALATION
                reached = alert.opened_at + timedelta(seconds=step.after_s)
                yield reached, Delivery(i, channel, reason)
            elif route.repeat_s is not None:
                again = previous + timedelta(seconds=route.repeat_s)
                yield again, Delivery(i, channel, Reason.REPEAT)


def due(alert: Alert, route: Route, sent: Sequence[Sent], now: datetime) -> list[Delivery]:
    """What to send now for this alert on this route, given what was already sent on it.

    Only while the alert is open; a step reached during an acknowledgement that has since
    run out is sent once it runs out (the problem outlived the acknowledgement).
    """
    require_aware(now, "now")
    if not _notifying(alert, now):
        return []
    return [d for at, d in _schedule(alert, route, sent) if at <= now]


def next_wakeup(alert: Alert, route: Route, sent: Sequence[Sent], now: datetime) -> datetime | None:
    """The earliest moment, not before `now`, at which `due` returns something; None if it
    never will unless something changes (a new send, an acknowledgement, a resolution)."""
    require_aware(now, "now")
    if alert.state is AlertState.RESOLVED:
        return None
    floor = now
    if alert.state is AlertState.ACKNOWLEDGED:
        if alert.ack_until is None:
            return None
        floor = max(now, alert.ack_until)
    first = min((at for at, _ in _schedule(alert, route, sent)), default=None)
    return None if first is None else max(first, floor)


def resolved_notice(alert: Alert, sent: Sequence[Sent]) -> list[int]:
    """The channels owed a "resolved" message: every channel told about the alert, once.

    Record each as Sent(RESOLVED_STEP, channel, at) so it is not sent twice.
    """
    if alert.state is not AlertState.RESOLVED:
        return []
    told = {s.channel for s in sent if s.step_index >= 0}
    done = {s.channel for s in sent if s.step_index == RESOLVED_STEP}
    return sorted(told - done)


# ---------------------------------------------------------------------------------------------
# Batching: when a group of waiting messages leaves (groups are made with alerting.group_key)


@dataclass(frozen=True, slots=True)
class Batching:
    """How long a group waits before its first message and between later ones."""

    group_wait_s: int = 30
    group_interval_s: int = 300

    def __post_init__(self) -> None:
        if self.group_wait_s < 0:
            raise ValueError("group_wait_s cannot be negative")
        if self.group_interval_s <= 0:
            raise ValueError("group_interval_s must be positive")


@dataclass(frozen=True, slots=True)
class PendingGroup:
    """A group with something waiting to be sent."""

    first_pending_at: datetime  # when the oldest waiting item was queued
    last_sent_at: datetime | None = None  # the group's last message, None if never


def flush_at(batching: Batching, group: PendingGroup) -> datetime:
    """When a group's waiting items leave.

    Every burst waits `group_wait_s` after its first item, so the rest of it can join; a group
    that sent lately also waits until `group_interval_s` after that send, so a long outage
    produces a message every few minutes at most, not one per alert.
    """
    ready = group.first_pending_at + timedelta(seconds=batching.group_wait_s)
    if group.last_sent_at is not None:
        ready = max(ready, group.last_sent_at + timedelta(seconds=batching.group_interval_s))
    return ready


K = TypeVar("K", bound=Hashable)


def groups_to_flush(batching: Batching, groups: Mapping[K, PendingGroup], now: datetime) -> list[K]:
    """The keys of the groups to send now, oldest ready first."""
    require_aware(now, "now")
    ready = [(flush_at(batching, g), k) for k, g in groups.items()]
    return [k for at, k in sorted(ready, key=lambda r: r[0]) if at <= now]


def next_flush(batching: Batching, groups: Mapping[K, PendingGroup]) -> datetime | None:
    """When the next group becomes ready, for a scheduler to sleep until; None if none wait."""
    return min((flush_at(batching, g) for g in groups.values()), default=None)

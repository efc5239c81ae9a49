"""Maintenance windows: one-off or recurring, in the organization's own time zone.

A window is a wall-clock start and a duration that repeats never, daily, on chosen weekdays or
on a day of the month. Wall-clock means "every Sunday 02:00 in Europe/Berlin" stays at 02:00
across daylight-saving changes; a start that does not exist on a spring-forward day is moved
forward by the gap, as zoneinfo does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Repeat(StrEnum):
    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime  # naive local wall-clock time of the first occurrence
    duration: timedelta
    tz: str = "UTC"
    repeat: Repeat = Repeat.NONE
    weekdays: frozenset[int] = field(default_factory=frozenset)  # ISO 1=Mon..7=Sun, weekly
    until: date | None = None  # last local date an occurrence may start on

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None:
            raise ValueError("a window's start is a local wall-clock time (no time zone)")
        if not timedelta(minutes=1) <= self.duration <= timedelta(days=31):
            raise ValueError("a maintenance window lasts from one minute to 31 days")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.tz!r}") from None
        if self.repeat is Repeat.WEEKLY and not self.weekdays:
            object.__setattr__(self, "weekdays", frozenset({self.start.isoweekday()}))
        if any(not 1 <= d <= 7 for d in self.weekdays):
            raise ValueError("weekdays are 1 (Monday) to 7 (Sunday)")
        if self.until is not None and self.until < self.start.date():
            raise ValueError("a window cannot end before it starts")

    def _starts_on(self, d: date) -> bool:
        if d < self.start.date() or (self.until is not None and d > self.until):
            return False
        match self.repeat:
            case Repeat.NONE:
                return d == self.start.date()
            case Repeat.DAILY:
                return True
            case Repeat.WEEKLY:
                return d.isoweekday() in self.weekdays
            case Repeat.MONTHLY:
                return d.day == self.start.day
        return False  # pragma: no cover

    def _utc_start(self, d: date) -> datetime:
        local = datetime.combine(d, self.start.time()).replace(tzinfo=ZoneInfo(self.tz))
        # Round-trip through UTC normalizes a non-existent local time (spring forward).
        return local.astimezone(UTC)

    def occurrences(self, frm: datetime, to: datetime) -> Iterator[tuple[datetime, datetime]]:
        """(start, end) in UTC of every occurrence overlapping [frm, to), in order."""
        zone = ZoneInfo(self.tz)
        d = (frm - self.duration).astimezone(zone).date() - timedelta(days=1)
        last = to.astimezone(zone).date() + timedelta(days=1)
        while d <= last:
            if self._starts_on(d):
                s = self._utc_start(d)
                e = s + self.duration
                if s < to and e > frm:
                    yield s, e
            d += timedelta(days=1)

    def active(self, at: datetime) -> bool:
        return any(True for _ in self.occurrences(at, at + timedelta(microseconds=1)))


def covers(
    window_site_id: int | None, window_asset_id: int | None, site_id: int | None, asset_id: int
) -> bool:
    """Whether a window of an organization covers an asset of it: one asset, one site, or all."""
    if window_asset_id is not None:
        return window_asset_id == asset_id
    if window_site_id is not None:
        return window_site_id == site_id
    return True


def merge(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Sorted, non-overlapping union of intervals."""
    out: list[tuple[datetime, datetime]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out

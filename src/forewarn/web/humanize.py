"""Times, dates and amounts as people read them. Pure: "now" is always an argument."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from forewarn.services.schemas import BusinessHours

# Ranges use an en dash, as in print; spelled out so linters see it is meant.
DASH = "\N{EN DASH}"
_DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def _span(seconds: float) -> str:
    """A rough length of time: the largest unit that still reads naturally."""
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{max(minutes, 1)} min"
    hours = round(seconds / 3600)
    if hours < 36:
        return f"{hours} h"
    days = round(seconds / 86400)
    return _days(days)


def _days(days: int) -> str:
    if days < 60:
        return _plural(days, "day")
    if days < 730:
        return _plural(round(days / 30.44), "month")
    return _plural(round(days / 365.25), "year")


def relative_time(then: datetime, now: datetime) -> str:
    """'just now', '12 min ago', 'in 3 h', '4 months ago'."""
    seconds = (now - then).total_seconds()
    if abs(seconds) < 45:
        return "just now"
    text = _span(abs(seconds))
    return f"{text} ago" if seconds > 0 else f"in {text}"


def relative_date(day: date, today: date) -> str:
    """'today', 'tomorrow', 'in 40 days', '3 months ago'."""
    days = (day - today).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days == -1:
        return "yesterday"
    text = _days(abs(days))
    return f"in {text}" if days > 0 else f"{text} ago"


def zone(name: str) -> ZoneInfo:
    """The named zone, or UTC when the name is unknown (a page must still render)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(moment: datetime, tz: str) -> str:
    """The exact time in the organization's zone, e.g. '2 Nov 2026, 10:00 CET'."""
    here = moment.astimezone(zone(tz))
    return f"{here.day} {here:%b %Y, %H:%M %Z}"


def long_date(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def warranty_state(end: date | None, today: date, warn_days: int = 90) -> str:
    """The state word for a warranty: ended is critical, ending soon is a warning."""
    if end is None:
        return "unknown"
    if end < today:
        return "critical"
    if (end - today).days <= warn_days:
        return "warning"
    return "ok"


def warranty_text(end: date | None, today: date) -> str:
    if end is None:
        return "not recorded"
    if end < today:
        return f"ended {relative_date(end, today)}"
    if end == today:
        return "ends today"
    return f"ends {relative_date(end, today)}"


def days_text(days: list[int]) -> str:
    """ISO weekdays as a short phrase: [1,2,3,4,5] -> 'Mon-Fri', [1,3] -> 'Mon, Wed'."""
    if not days:
        return "no days"
    runs: list[list[int]] = []
    for d in sorted(days):
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts = []
    for run in runs:
        names = [_DAY_NAMES[d - 1] for d in run]
        # Three or more days in a row read better as a range; two stay a list.
        parts.append(f"{names[0]}{DASH}{names[-1]}" if len(names) > 2 else ", ".join(names))
    return ", ".join(parts)


def hours_text(hours: BusinessHours) -> str:
    """'Mon-Fri 08:00-18:00 (50 h a week)', with en dashes."""
    per_week = hours.hours_per_week()
    amount = f"{per_week:g}"
    return f"{days_text(hours.days)} {hours.start}{DASH}{hours.end} ({amount} h a week)"


def money(amount: Decimal | None, currency: str) -> str:
    """'48.50 EUR', with thousands separated; a dash when unknown."""
    if amount is None:
        return "—"
    return f"{amount:,.2f} {currency}"


def size_text(size: int) -> str:
    """A size limit as people read it: '1 MB', '16 MB', '1.5 MB', '512 KB' (units of 1024)."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            amount = size / factor
            # Round down: a limit must not read larger than it is.
            shown = int(amount * 10) / 10
            return f"{shown:g} {unit}"
    return _plural(size, "byte")

"""When a scheduled script runs next: the recurrence of maintenance windows, reused.

A schedule is a wall-clock start in the organization's time zone that repeats never, daily,
on chosen weekdays or monthly (domain.maintenance.Window, whose occurrences already handle
daylight-saving changes); a run is an occurrence's start.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from forewarn.domain.maintenance import Repeat, Window

_SPAN = timedelta(days=32)  # a monthly schedule has an occurrence within any 32 days
_LOOKS = 13  # bounded: a schedule whose occurrences all lie behind it is over


def window(start_local: datetime, repeat: str, weekdays: frozenset[int], tz: str) -> Window:
    """The schedule as a window of one minute; ValueError when it is not a valid one."""
    return Window(
        start=start_local,
        duration=timedelta(minutes=1),
        tz=tz,
        repeat=Repeat(repeat),
        weekdays=weekdays,
    )


def next_run(w: Window, after: datetime) -> datetime | None:
    """The first occurrence starting strictly after `after` (UTC); None when there is none."""
    frm = after
    for _ in range(_LOOKS):
        for start, _end in w.occurrences(frm, frm + _SPAN):
            if start > after:
                return start
        frm += _SPAN
    return None

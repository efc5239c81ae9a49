"""Recent logins, from the login records `last` reads (wtmp, or wtmpdb on newer systems)."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

from forewarn.agent.collectors._run import run_tool

Login = dict[str, Any]
LIMIT = 50
# ISO times carry their offset; the -F form is local time, which is the fallback.
LAST_ISO = ["last", "--time-format", "iso", "-w", "-n", str(LIMIT)]
LAST_FULL = ["last", "-F", "-w", "-n", str(LIMIT)]
# Pseudo-users wtmp uses for system events, not people.
NOT_USERS = frozenset({"reboot", "shutdown", "runlevel", "wtmp", "wtmpdb"})
MIN_EPOCH = 978_307_200.0
MAX_EPOCH = 4_102_444_800.0

_ISO = re.compile(r"\b(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)")
_CTIME = re.compile(
    r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r" +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})\b"
)
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}


def _iso_epoch(text: str) -> float | None:
    try:
        when = datetime.fromisoformat(text.replace(",", "."))
    except ValueError:
        return None
    # Without an offset the time is local, which is what timestamp() assumes.
    return when.timestamp()


def _ctime_epoch(match: re.Match[str]) -> float | None:
    month, day, hh, mm, ss, year = match.groups()
    try:
        return time.mktime(
            (int(year), _MONTHS[month], int(day), int(hh), int(mm), int(ss), 0, 0, -1)
        )
    except (OverflowError, ValueError):
        return None


def _login_time(line: str) -> tuple[int, float | None] | None:
    """Where the login time starts in a line of `last` output, and its epoch seconds."""
    iso = _ISO.search(line)
    if iso:
        return iso.start(), _iso_epoch(iso.group(1))
    full = _CTIME.search(line)
    if full:
        return full.start(), _ctime_epoch(full)
    return None


def parse_last(text: str) -> list[Login]:
    """Logins from `last -w` output with ISO (--time-format iso) or full (-F) times.

    A line is "user terminal [host] login-time ...": the host is missing for local logins,
    so the fields are read from the left of the login time. Reboots, shutdowns, the
    trailing "wtmp begins" line and times outside 2001..2100 (an unset clock) are skipped.
    """
    out = []
    for line in text.splitlines():
        found = _login_time(line)
        if found is None:
            continue
        start, at = found
        fields = line[:start].split()
        if len(fields) < 2 or fields[0] in NOT_USERS or at is None:
            continue
        if not MIN_EPOCH <= at <= MAX_EPOCH:
            continue
        out.append(
            {
                "user": fields[0][:255],
                "terminal": fields[1][:255],
                "host": (fields[2] if len(fields) > 2 else "")[:255],
                "at": float(at),
            }
        )
    out.sort(key=lambda i: (i["at"], i["user"], i["terminal"]))
    return out


def collect() -> list[Login]:
    """The Logins section: the latest logins, [] when `last` or its records are missing."""
    text = run_tool(LAST_ISO)
    if text is None:
        # Older util-linux has no --time-format; busybox has neither form.
        text = run_tool(LAST_FULL)
    return parse_last(text) if text is not None else []

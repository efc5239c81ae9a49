"""Dates that matter: how many days are left, how serious that is, and how to say it.

The severity of an expiry depends only on the days left until its date (docs/expiries.md):

    days left < 0  (the date has passed)   high
    0 .. 29                                medium
    30 .. 89                               low
    90 or more                             none: listed among the upcoming dates, no finding

Days are counted between calendar dates in UTC: a certificate that ends this afternoon has
0 days left ("expires today"), one that ended yesterday -1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

HIGH_BELOW = 0
MEDIUM_BELOW = 30
LOW_BELOW = 90


class Kind(StrEnum):
    CERTIFICATE = "certificate"
    WARRANTY = "warranty"
    OS_EOL = "os_eol"
    SOFTWARE_EOL = "software_eol"
    BACKUP = "backup"
    AGENT = "agent"


# The finding rule of each kind: one rule, resolved as a whole, per kind.
RULES: dict[Kind, str] = {
    Kind.CERTIFICATE: "expiry.certificate",
    Kind.WARRANTY: "expiry.warranty",
    Kind.OS_EOL: "lifecycle.os_eol",
    Kind.SOFTWARE_EOL: "lifecycle.software_eol",
    Kind.BACKUP: "backup.not_reported",
    Kind.AGENT: "agent.outdated",
}


def days_left(due: datetime | date, now: datetime) -> int:
    """Whole calendar days from today (UTC) to the due date; negative once it has passed."""
    day = due.date() if isinstance(due, datetime) else due
    return (day - now.date()).days


def severity(days: int) -> str | None:
    """The finding's severity for this many days left; None when it is not a finding yet."""
    if days < HIGH_BELOW:
        return "high"
    if days < MEDIUM_BELOW:
        return "medium"
    if days < LOW_BELOW:
        return "low"
    return None


def when_words(days: int, verb: str = "expires", past: str = "expired") -> str:
    """ "expires in 12 days", "expires tomorrow", "expires today", "expired 3 days ago"."""
    if days > 1:
        return f"{verb} in {days} days"
    if days == 1:
        return f"{verb} tomorrow"
    if days == 0:
        return f"{verb} today"
    if days == -1:
        return f"{past} yesterday"
    return f"{past} {-days} days ago"


@dataclass(frozen=True)
class Expiry:
    """One date that matters for an organization, and what to call it."""

    kind: Kind
    key: str  # unique within the kind's rule and the organization
    title: str
    due: datetime | None  # None: no date to count down to (an outdated agent)
    days: int | None
    severity: str | None  # None: upcoming only
    asset_id: int | None = None
    detail: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def rule(self) -> str:
        return RULES[self.kind]


def dated(
    kind: Kind,
    key: str,
    due: datetime,
    now: datetime,
    subject: str,
    *,
    asset_id: int | None = None,
    detail: str = "",
    evidence: dict[str, Any] | None = None,
    verb: str = "expires",
    past: str = "expired",
) -> Expiry:
    """An expiry whose severity follows the days left; title "<subject> <when>"."""
    days = days_left(due, now)
    return Expiry(
        kind=kind,
        key=key,
        title=f"{subject} {when_words(days, verb, past)}"[:300],
        due=due,
        days=days,
        severity=severity(days),
        asset_id=asset_id,
        detail=detail,
        evidence={**(evidence or {}), "due": due.date().isoformat(), "days_left": days},
    )


def version_tuple(version: str) -> tuple[int, ...] | None:
    """The leading dotted numbers of a version ("0.1.0", "1.2.3rc1" -> (1, 2, 3)); None if none."""
    head = version.strip().split("+", 1)[0]
    numbers: list[int] = []
    for part in head.split("."):
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        numbers.append(int(digits))
        if len(digits) != len(part):
            break
    return tuple(numbers) if numbers else None


def is_older(version: str, than: str) -> bool:
    """True when `version` is an older release than `than`; False when either is unreadable."""
    mine, theirs = version_tuple(version), version_tuple(than)
    if mine is None or theirs is None:
        return False
    width = max(len(mine), len(theirs))
    return mine + (0,) * (width - len(mine)) < theirs + (0,) * (width - len(theirs))

"""Recurring problems: the checks and machines that fail again and again.

A failure is the onset of a hard problem: a check's hard state changing from OK to anything
else (WARNING, CRITICAL, UNKNOWN). A warning that turns critical is the same failure going on,
and is not counted again. A check that fails THRESHOLD or more times within WINDOW is a
recurring problem.

An asset fails when any of its checks does; failures of its checks that start within
INCIDENT_GAP of the previous one are one incident (a machine that goes down takes its ping,
web and disk checks down together). An asset with THRESHOLD or more incidents in the window,
from at least two of its checks, is a recurring problem of its own; with only one check
failing, that check's finding says it all.

Pure: events and the time of judgement come in as arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

THRESHOLD = 3
WINDOW = timedelta(days=30)
INCIDENT_GAP = timedelta(hours=1)
OK = 0


@dataclass(frozen=True)
class HardChange:
    """A hard transition of a check (CheckEvent kind "hard")."""

    check_id: int
    at: datetime
    old: int
    new: int
    message: str = ""


def failures(
    changes: Iterable[HardChange], now: datetime, window: timedelta = WINDOW
) -> list[HardChange]:
    """The onsets (OK -> not OK) within the window that ends now, oldest first."""
    start = now - window
    return sorted(
        (c for c in changes if c.old == OK and c.new != OK and start < c.at <= now),
        key=lambda c: (c.at, c.check_id),
    )


def incidents(
    onsets: Sequence[HardChange], gap: timedelta = INCIDENT_GAP
) -> list[list[HardChange]]:
    """Onsets grouped: each starts a new incident unless it follows the previous by < gap."""
    groups: list[list[HardChange]] = []
    for onset in sorted(onsets, key=lambda c: (c.at, c.check_id)):
        if groups and onset.at - groups[-1][-1].at < gap:
            groups[-1].append(onset)
        else:
            groups.append([onset])
    return groups


def recurring_checks(
    changes: Iterable[HardChange], now: datetime, threshold: int = THRESHOLD
) -> dict[int, list[HardChange]]:
    """check id -> its failures in the window, for the checks that failed threshold+ times."""
    by_check: dict[int, list[HardChange]] = {}
    for onset in failures(changes, now):
        by_check.setdefault(onset.check_id, []).append(onset)
    return {cid: fs for cid, fs in by_check.items() if len(fs) >= threshold}


def recurring_asset(
    changes: Iterable[HardChange], now: datetime, threshold: int = THRESHOLD
) -> list[list[HardChange]] | None:
    """The asset's incidents in the window when it is a recurring problem of its own, else None.

    `changes` are the hard changes of one asset's checks."""
    groups = incidents(failures(changes, now))
    checks = {c.check_id for group in groups for c in group}
    if len(groups) >= threshold and len(checks) >= 2:
        return groups
    return None


def severity(count: int, threshold: int = THRESHOLD) -> str:
    """Medium at the threshold; high at twice it (a failure every five days or more often)."""
    return "high" if count >= 2 * threshold else "medium"

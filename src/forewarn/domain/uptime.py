"""Uptime of a check over a period, from its status timeline, excluding maintenance.

Up is OK or WARNING (the thing answered); down is CRITICAL. Time spent UNKNOWN, before the first
result, or inside a maintenance window counts neither way: uptime is what the business saw
while someone was entitled to expect the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from forewarn.domain.maintenance import merge
from forewarn.domain.observation import Status


@dataclass(frozen=True, slots=True)
class Uptime:
    up: float  # seconds
    down: float
    unknown: float
    maintenance: float

    @property
    def ratio(self) -> float | None:
        """Share of up time among up + down; None when there was nothing to judge."""
        judged = self.up + self.down
        return self.up / judged if judged > 0 else None


def _overlap(s: datetime, e: datetime, holes: list[tuple[datetime, datetime]]) -> float:
    total = 0.0
    for hs, he in holes:
        if he <= s:
            continue
        if hs >= e:
            break
        total += (min(e, he) - max(s, hs)).total_seconds()
    return total


def uptime(
    changes: list[tuple[datetime, Status]],
    frm: datetime,
    to: datetime,
    maintenance: Sequence[tuple[datetime, datetime]] = (),
) -> Uptime:
    """`changes`: (when, new status) in time order; the status before the first is unknown.

    A change before `frm` sets the status the period starts with.
    """
    holes = merge([(max(s, frm), min(e, to)) for s, e in maintenance if e > frm and s < to])
    up = down = unknown = 0.0
    status: Status | None = None
    cursor = frm
    points = [(at, st) for at, st in changes if at < to]
    for i, (at, st) in enumerate([*points, (to, Status.UNKNOWN)]):
        at = max(at, frm)
        if at > cursor:
            span = (at - cursor).total_seconds() - _overlap(cursor, at, holes)
            if status in (Status.OK, Status.WARNING):
                up += span
            elif status is Status.CRITICAL:
                down += span
            else:
                unknown += span
            cursor = at
        if i < len(points):
            status = st
    maint = sum((e - s).total_seconds() for s, e in holes)
    return Uptime(up, down, unknown, maint)

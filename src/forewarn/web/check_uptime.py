"""A check's uptime for the check page: the last 24 h, 7 d and 30 d, and one bar per day.

Days are the organization's calendar days; services.checks.uptime_report computes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from forewarn.services import checks
from forewarn.services.context import Context
from forewarn.services.schemas import CheckOut
from forewarn.services.scope import Actor
from forewarn.web.humanize import long_date

DAYS = 90
# A day at or above this share up is green; below LOW it is red; amber in between.
GOOD = 0.999
LOW = 0.95


def percent_text(ratio: float | None) -> str:
    """'100 %', '99.95 %', '87.5 %'; rounded down, so a day with any downtime never reads 100."""
    if ratio is None:
        return "no data"
    shown = math.floor(ratio * 10_000) / 100
    return f"{shown:.2f}".rstrip("0").rstrip(".") + " %"


@dataclass(frozen=True)
class DayBar:
    day: date
    ratio: float | None
    maintenance_s: float = 0.0

    @property
    def state(self) -> str:
        """The palette class: ok / warning / critical, maintenance, or nodata."""
        if self.ratio is None:
            return "maintenance" if self.maintenance_s > 0 else "nodata"
        if self.ratio >= GOOD:
            return "ok"
        return "warning" if self.ratio >= LOW else "critical"

    @property
    def title(self) -> str:
        when = f"{self.day:%a} {long_date(self.day)}"
        if self.ratio is None:
            return f"{when}: {'maintenance only' if self.maintenance_s > 0 else 'no data'}"
        return f"{when}: {percent_text(self.ratio)} up"


@dataclass(frozen=True)
class UptimeView:
    day: float | None
    week: float | None
    month: float | None
    bars: list[DayBar]

    @property
    def has_data(self) -> bool:
        return any(b.ratio is not None for b in self.bars)

    @property
    def summary(self) -> str:
        """The strip in words, for screen readers (the bars' colours say it to the eye)."""
        judged = [b for b in self.bars if b.ratio is not None]
        if not judged:
            return f"No uptime data in the last {len(self.bars)} days."
        short = [b for b in judged if b.state != "ok"]
        text = f"Uptime per day over the last {len(self.bars)} days: {len(judged)} with data"
        if not short:
            return text + ", all at least 99.9 % up."
        low = min(short, key=lambda b: b.ratio or 0.0)
        return (
            f"{text}, {len(short)} with downtime; the lowest {percent_text(low.ratio)} "
            f"on {long_date(low.day)}."
        )


def uptime_view(ctx: Context, actor: Actor, check: CheckOut) -> UptimeView:
    report = checks.uptime_report(ctx, actor, check.id, DAYS)
    return UptimeView(
        day=report.last_24h.ratio,
        week=report.last_7d.ratio,
        month=report.last_30d.ratio,
        bars=[DayBar(day, u.ratio, u.maintenance) for day, u in report.days],
    )

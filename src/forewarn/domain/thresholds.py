"""Nagios threshold ranges: `10`, `10:`, `~:10`, `10:20`, `@10:20`.

A range says when to alert: `10` alerts outside 0..10, `10:` below 10, `~:10` above 10,
`10:20` outside 10..20 and `@10:20` inside 10..20 (ends included in the range).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from forewarn.domain.observation import Status


@dataclass(frozen=True, slots=True)
class Range:
    low: float
    high: float
    inside: bool = False  # `@`: alert when the value is inside low..high
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> Range:
        """Parse a range; ValueError with the reason when it is not one."""
        raw = text
        t = text.strip()
        if not t:
            raise ValueError("empty threshold range")
        inside = t.startswith("@")
        if inside:
            t = t[1:]
        if ":" in t:
            lo_s, _, hi_s = t.partition(":")
            low = -math.inf if lo_s.strip() == "~" else _number(lo_s or "0", raw)
            high = math.inf if hi_s.strip() == "" else _number(hi_s, raw)
        else:
            low, high = 0.0, _number(t, raw)
        if low > high:
            raise ValueError(f"threshold range {raw!r}: start {low:g} is above end {high:g}")
        return cls(low, high, inside, raw.strip())

    def alerts(self, value: float) -> bool:
        """True when `value` is one to alert on."""
        within = self.low <= value <= self.high
        return within if self.inside else not within

    def __str__(self) -> str:
        return self.text


def _number(s: str, raw: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise ValueError(f"threshold range {raw!r}: {s.strip()!r} is not a number") from None
    if math.isnan(v):
        raise ValueError(f"threshold range {raw!r}: not a number")
    return v


@dataclass(frozen=True, slots=True)
class Thresholds:
    """A warning and a critical range for one value; either may be absent."""

    warn: Range | None = None
    crit: Range | None = None

    @classmethod
    def parse(cls, warn: str | None, crit: str | None) -> Thresholds:
        return cls(
            Range.parse(warn) if warn not in (None, "") else None,
            Range.parse(crit) if crit not in (None, "") else None,
        )

    def status(self, value: float) -> Status:
        if self.crit is not None and self.crit.alerts(value):
            return Status.CRITICAL
        if self.warn is not None and self.warn.alerts(value):
            return Status.WARNING
        return Status.OK

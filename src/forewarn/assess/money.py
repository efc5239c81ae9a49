"""Money: what an outage costs, and the annual loss exposure of a risk (reference/assessment.md).

Downtime cost, per outage:
- idle labour  = people * scope * loaded hourly cost * share of their work blocked * hours
- lost revenue = annual revenue / business hours per year * scope * share of revenue affected
                 * hours
- recovery     = IT hours * IT rate + emergency fees + penalties

`scope` is the share of the business the outage touches (1.0: all of it; one laptop of 35
people: 1/35). The worked example of the reference (35 people, 6 M revenue, 8 hours, 80 % of
work blocked, 50 % of revenue affected, 12 IT hours at 150) gives labour 10,226 + revenue
11,538 + recovery 1,800 = 23,564. Every figure that rests on a default rather than the
organization's own number names it (`CostInputs.defaults`, carried into the result).

Annual loss exposure (Open FAIR): loss event frequency * loss magnitude, each given as
minimum / most likely / maximum, sampled with a seeded Monte Carlo (triangular distributions
drawn by their inverse CDF from the standard library's `random`), reported as p10 / p50 / p90.
The same seed draws the same uniforms, so the figures are reproducible, and raising any
input never lowers any percentile (the triangular quantile grows with each of its points).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from operator import mul
from random import Random
from typing import Any

from forewarn.assess.facts import CostInputs

DRAWS = 5_000
MAX_DRAWS = 100_000
SEED = 80030  # fixed: the same inputs always give the same range (SP 800-30, for memory)
PERCENTILES = (0.10, 0.50, 0.90)

# Which CostInputs fields each part of the downtime cost reads.
LABOUR_FIELDS = ("people", "hourly_cost", "share_work_blocked")
REVENUE_FIELDS = ("annual_revenue", "business_hours_per_year", "share_revenue_affected")
RECOVERY_FIELDS = ("it_rate",)


def whole(amount: float) -> int:
    """Money in whole currency units, half up (10,225.6 -> 10,226; 0.5 -> 1)."""
    return int(Decimal(repr(float(amount))).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def check_cost(cost: CostInputs) -> None:
    """Refuse cost inputs no outage can be priced with, naming every problem at once."""
    problems = []
    if cost.people < 0:
        problems.append("people must be 0 or more")
    if not (math.isfinite(cost.hourly_cost) and cost.hourly_cost >= 0):
        problems.append("hourly_cost must be 0 or more")
    if cost.annual_revenue is not None and not (
        math.isfinite(cost.annual_revenue) and cost.annual_revenue >= 0
    ):
        problems.append("annual_revenue must be 0 or more")
    if not (math.isfinite(cost.business_hours_per_year) and cost.business_hours_per_year > 0):
        problems.append("business_hours_per_year must be more than 0")
    for name in ("share_work_blocked", "share_revenue_affected"):
        if not 0.0 <= getattr(cost, name) <= 1.0:
            problems.append(f"{name} must be between 0 and 1")
    if not (math.isfinite(cost.it_rate) and cost.it_rate >= 0):
        problems.append("it_rate must be 0 or more")
    if problems:
        raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class DowntimeCost:
    """What one outage costs, in parts, with the defaults each part rests on."""

    hours: float
    scope: float
    labour: float
    revenue: float
    recovery: float
    currency: str
    labour_defaults: frozenset[str]
    revenue_defaults: frozenset[str]
    recovery_defaults: frozenset[str]
    missing: frozenset[str] = frozenset()  # inputs nobody gave and that have no default

    @property
    def total(self) -> float:
        return self.labour + self.revenue + self.recovery

    @property
    def defaults(self) -> frozenset[str]:
        return self.labour_defaults | self.revenue_defaults | self.recovery_defaults

    def to_json(self) -> dict[str, Any]:
        return {
            "hours": self.hours,
            "scope": self.scope,
            "currency": self.currency,
            "labour": {"amount": whole(self.labour), "defaults": sorted(self.labour_defaults)},
            "revenue": {"amount": whole(self.revenue), "defaults": sorted(self.revenue_defaults)},
            "recovery": {
                "amount": whole(self.recovery),
                "defaults": sorted(self.recovery_defaults),
            },
            "total": whole(self.total),
            "defaults": sorted(self.defaults),
            "missing": sorted(self.missing),
        }


def downtime_cost(
    cost: CostInputs,
    hours: float,
    *,
    it_hours: float = 0.0,
    scope: float = 1.0,
    emergency_fees: float = 0.0,
    penalties: float = 0.0,
) -> DowntimeCost:
    """Price one outage of `hours` business hours touching `scope` of the business."""
    check_cost(cost)
    problems = [
        f"{name} must be 0 or more"
        for name, value in (
            ("hours", hours),
            ("it_hours", it_hours),
            ("emergency_fees", emergency_fees),
            ("penalties", penalties),
        )
        if not (math.isfinite(value) and value >= 0)
    ]
    if not 0.0 <= scope <= 1.0:
        problems.append("scope must be between 0 and 1")
    if problems:
        raise ValueError("; ".join(problems))
    labour = cost.people * scope * cost.hourly_cost * cost.share_work_blocked * hours
    missing: frozenset[str] = frozenset()
    if cost.annual_revenue is None:
        revenue, missing = 0.0, frozenset({"annual_revenue"})
    else:
        per_hour = cost.annual_revenue / cost.business_hours_per_year
        revenue = per_hour * scope * cost.share_revenue_affected * hours
    recovery = it_hours * cost.it_rate + emergency_fees + penalties
    used = cost.defaults
    return DowntimeCost(
        hours=hours,
        scope=scope,
        labour=labour,
        revenue=revenue,
        recovery=recovery,
        currency=cost.currency,
        labour_defaults=used & frozenset(LABOUR_FIELDS),
        revenue_defaults=frozenset() if missing else used & frozenset(REVENUE_FIELDS),
        recovery_defaults=used & frozenset(RECOVERY_FIELDS) if it_hours else frozenset(),
        missing=missing,
    )


def annual_reference(cost: CostInputs) -> float:
    """The yardstick an impact is measured against: the annual revenue, or when unknown
    what a year of everyone's work costs."""
    if cost.annual_revenue:
        return cost.annual_revenue
    return cost.people * cost.hourly_cost * cost.business_hours_per_year


# ---------------------------------------------------------------------------------------------
# Open FAIR annual loss exposure


@dataclass(frozen=True)
class Estimate:
    """A quantity known as minimum / most likely / maximum (Open FAIR's calibrated range)."""

    low: float
    likely: float
    high: float

    def __post_init__(self) -> None:
        values = (self.low, self.likely, self.high)
        if not all(math.isfinite(v) and v >= 0 for v in values):
            raise ValueError(f"an estimate must be finite and 0 or more, got {values}")
        if not self.low <= self.likely <= self.high:
            raise ValueError(f"an estimate needs low <= likely <= high, got {values}")

    def scaled(self, factor: float) -> Estimate:
        return Estimate(self.low * factor, self.likely * factor, self.high * factor)

    def to_json(self, *, money: bool = False) -> dict[str, Any]:
        if money:
            return {"low": whole(self.low), "likely": whole(self.likely), "high": whole(self.high)}
        return {
            "low": round(self.low, 4),
            "likely": round(self.likely, 4),
            "high": round(self.high, 4),
        }


@dataclass(frozen=True)
class LossRange:
    """Annual loss exposure as a range: 10th, 50th and 90th percentile of the draws."""

    p10: float
    p50: float
    p90: float
    mean: float
    draws: int
    seed: str

    def to_json(self) -> dict[str, Any]:
        return {
            "p10": whole(self.p10),
            "p50": whole(self.p50),
            "p90": whole(self.p90),
            "mean": whole(self.mean),
            "draws": self.draws,
            "seed": self.seed,
        }


@lru_cache(maxsize=64)
def _uniforms(seed: str, draws: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    rng = Random(seed)  # a str seed is hashed with SHA-512: the same on every run
    first = tuple(rng.random() for _ in range(draws))
    second = tuple(rng.random() for _ in range(draws))
    return first, second


def triangular_quantiles(estimate: Estimate, uniforms: Sequence[float]) -> list[float]:
    """The triangular distribution's inverse CDF at each uniform in [0, 1)."""
    a, c, b = estimate.low, estimate.likely, estimate.high
    if b == a:
        return [a] * len(uniforms)
    span = b - a
    cut = (c - a) / span
    rise, fall = span * (c - a), span * (b - c)
    return [a + math.sqrt(u * rise) if u < cut else b - math.sqrt((1 - u) * fall) for u in uniforms]


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ordered, non-empty sequence."""
    index = max(0, math.ceil(p * len(ordered)) - 1)
    return ordered[min(index, len(ordered) - 1)]


def annual_loss_exposure(
    frequency: Estimate,
    magnitude: Estimate,
    *,
    draws: int = DRAWS,
    seed: int | str = SEED,
) -> LossRange:
    """Loss events per year * money per event, sampled `draws` times (at most MAX_DRAWS)."""
    if not 1 <= draws <= MAX_DRAWS:
        raise ValueError(f"draws must be between 1 and {MAX_DRAWS}, got {draws}")
    key = str(seed)
    u_frequency, u_magnitude = _uniforms(key, draws)
    losses = sorted(
        map(
            mul,
            triangular_quantiles(frequency, u_frequency),
            triangular_quantiles(magnitude, u_magnitude),
        )
    )
    p10, p50, p90 = (percentile(losses, p) for p in PERCENTILES)
    return LossRange(p10, p50, p90, math.fsum(losses) / draws, draws, key)

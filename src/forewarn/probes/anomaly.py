"""Anomaly checks: is a metric unusual for this hour of this weekday?

A passive check, like a forecast: nothing is probed. The server reads the asset's stored
series of one metric (`cpu.percent`, say), learns its hour-of-week baseline from the 1-hour
roll-ups of the last `horizon_weeks` in the organization's time zone (Checkmk's predictive
levels; reference/forecasting.md) and judges the mean of the last `window_s` seconds against
its hour's band. Unusual is a warning by default: a baseline is a hint, lower than a hard
threshold. Until an hour of the week has been seen on `min_weeks` days the check says it is
learning and never alerts.

Why the band is wider than k·sigma of the hourly means: the baseline holds whole-hour means, but
the check judges a shorter window, whose mean strays from its hour's mean by the sampling
noise and by how far the series moves within the hour. Each hour's min/max give that spread
(range / d₂, the control-chart estimate of a sample's sigma), and the window's mean carries it
divided by √(samples in the window). sd_weeks, from only a few weeks, is itself uncertain: it
is never taken below the median of the week's hours, and grows by √(1 + 1/weeks) as a
prediction interval does. The band is expectation ± k·√(sd_weeks²·(1 + 1/n_weeks) +
sd_within²/n_window), never narrower than `min_width`; `floor` keeps tiny values quiet.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from forewarn.domain import forecast as fc
from forewarn.domain.observation import Metric, Result, Status, worst

HOUR = 3600.0
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str = Field(
        "cpu.percent", min_length=1, max_length=100, description="the series to watch"
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="only the series with these labels, e.g. {'mount': '/srv'}; none: all",
    )
    direction: Literal["above", "below", "both"] = Field(
        "above", description="which unusual values alert: above the band, below it, or both"
    )
    k: float = Field(3.0, gt=0, le=10, description="the band is expected ± k·sigma")
    horizon_weeks: int = Field(12, ge=1, le=104, description="weeks of history the baseline reads")
    min_weeks: int = Field(
        2, ge=1, le=104, description="an hour of the week is judged once seen this many weeks"
    )
    min_width: float = Field(
        0.0, ge=0, description="the band is never narrower than ± this (in the metric's unit)"
    )
    floor: float | None = Field(
        None, description="values up to this never count as unusually high (e.g. 20 for CPU)"
    )
    window_s: int = Field(
        1800, ge=60, le=6 * 3600, description="judge the mean of this many recent seconds"
    )
    severity: Literal["warning", "critical"] = Field(
        "warning", description="the status of an unusual value (anomalies are hints: warning)"
    )

    @model_validator(mode="after")
    def _complete(self) -> Params:
        if self.min_weeks > self.horizon_weeks:
            raise ValueError("min_weeks must not be more than horizon_weeks")
        if self.floor is not None and not math.isfinite(self.floor):
            raise ValueError("floor must be a finite number")
        if not math.isfinite(self.min_width):
            raise ValueError("min_width must be a finite number")
        return self

    def rule(self) -> fc.BaselineRule:
        # One hourly roll-up per week lands in each slot, so the sample minimum is the week
        # minimum (at least two, for a sigma).
        return fc.BaselineRule(
            horizon_weeks=self.horizon_weeks,
            min_weeks=self.min_weeks,
            min_samples=max(2, self.min_weeks),
            k=self.k,
            min_width=self.min_width,
            floor=self.floor,
        )

    @property
    def status(self) -> Status:
        return Status.CRITICAL if self.severity == "critical" else Status.WARNING


def validate(target: str, params: Mapping[str, Any]) -> Params:
    if target:
        raise ValueError("an anomaly check has no target: it reads its asset's own metrics")
    return Params.model_validate(dict(params))


@dataclass(frozen=True, slots=True)
class Hour:
    """One 1-hour roll-up: bucket start (epoch seconds), mean, min, max, sample count."""

    ts: float
    avg: float
    min: float
    max: float
    count: int


@dataclass(frozen=True, slots=True)
class Learned:
    """A series' baseline and, per hour of the week, the typical sigma of a sample within it."""

    baseline: fc.Baseline
    within: tuple[float, ...]
    typical_stdev: float  # the median sigma of the hours of the week seen at least twice


def learn(hours: Sequence[Hour], tz: str, until: float, params: Params) -> Learned:
    """The baseline from the hourly roll-ups before `until` (an hour's start: the hour in
    progress is never part of what it is judged against)."""
    rule = params.rule()
    mids = [(h.ts + HOUR / 2, h) for h in hours if h.ts + HOUR <= until]
    baseline = fc.build_baseline(((t, h.avg) for t, h in mids), tz, until, rule)
    oldest = until - rule.horizon_weeks * fc.WEEK
    squares: list[list[float]] = [[] for _ in range(fc.HOURS_PER_WEEK)]
    zone = ZoneInfo(tz)
    for t, h in mids:
        if t <= oldest or h.count < 2 or not math.isfinite(h.max - h.min):
            continue
        local = datetime.fromtimestamp(t, zone)
        squares[local.weekday() * 24 + local.hour].append(((h.max - h.min) / d2(h.count)) ** 2)
    within = tuple(math.sqrt(statistics.fmean(s)) if s else 0.0 for s in squares)
    seen = [s.stdev for s in baseline.slots if s.count >= 2]
    return Learned(baseline, within, statistics.median(seen) if seen else 0.0)


def d2(n: int) -> float:
    """The expected range of n normal samples in sigma (Blom's approximation of the maximum;
    within 5 % of the tabled d₂ from n = 2)."""
    p = (n - 0.375) / (n + 0.25)
    return 2 * statistics.NormalDist().inv_cdf(p)


@dataclass(frozen=True, slots=True)
class Window:
    """The recent samples judged: their mean and how many there were."""

    mean: float
    count: int


@dataclass(frozen=True, slots=True)
class Series:
    """One series of the metric: its labels, what was learned and the recent window."""

    labels: Mapping[str, str]
    learned: Learned
    window: Window | None


def series_key(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def band_rule(params: Params, learned: Learned, slot: int, samples: int) -> fc.BaselineRule:
    """The rule for one judgement: the within-hour spread of the window's mean enters as the
    band's minimum half-width (never below the configured one)."""
    rule = params.rule()
    stats = learned.baseline.slots[slot]
    # A sigma from a few weeks is itself uncertain: an hour whose weeks happened to agree would
    # get a razor-thin band. The typical sigma of the week's hours is the least it may be.
    between = max(stats.stdev, learned.typical_stdev)
    # A new week strays from the mean of n past ones by sigma·√(1 + 1/n), not sigma.
    spread = between**2 * (1 + 1 / max(1, stats.count))
    sigma = math.sqrt(spread + learned.within[slot] ** 2 / max(1, samples))
    return replace(rule, min_width=max(rule.min_width, rule.k * sigma))


@dataclass(frozen=True, slots=True)
class Judged:
    key: str
    name: str
    state: Status
    verdict: fc.Verdict | None  # None: no recent data
    slot: int
    value: float | None
    samples: int
    expected: float | None
    low: float | None
    high: float | None
    seen: int  # weeks this hour of the week was seen (the learning count)


def judge_one(params: Params, s: Series, now: float) -> Judged:
    key, name = series_key(s.labels), series_name(params, s.labels)
    # The slot of the window's middle: at 03:10 a 30-minute window is mostly 02:xx.
    mid = now - params.window_s / 2
    slot = fc.hour_of_week(mid, s.learned.baseline.tz)
    seen = s.learned.baseline.slots[slot].days
    if s.window is None or s.window.count == 0:
        return Judged(key, name, Status.UNKNOWN, None, slot, None, 0, None, None, None, seen)
    w = s.window
    rule = band_rule(params, s.learned, slot, w.count)
    j = fc.judge(s.learned.baseline, mid, w.mean, rule)
    alarming = (j.verdict is fc.Verdict.HIGH and params.direction in ("above", "both")) or (
        j.verdict is fc.Verdict.LOW and params.direction in ("below", "both")
    )
    state = params.status if alarming else Status.OK
    return Judged(
        key, name, state, j.verdict, slot, w.mean, w.count, j.expected, j.low, j.high, seen
    )


def evaluate(params: Params, series: Sequence[Series], now: float) -> Result:
    """The check's result over all series: worst first, each one's band in the details."""
    if not series:
        return Result(Status.UNKNOWN, f"no {params.metric} data on this asset yet")
    judged = [judge_one(params, s, now) for s in series]
    judged.sort(key=lambda j: (-_rank(j.state), j.name))
    status = worst(*(j.state for j in judged))
    first = judged[0]
    metrics: tuple[Metric, ...] = ()
    if first.value is not None:
        metrics = (Metric("value", round(first.value, 4)),)
        if first.expected is not None:
            metrics += (Metric("expected", round(first.expected, 4)),)
    details = json.dumps({"series": [_figures(params, j) for j in judged]}, sort_keys=True)
    return Result(status, _message(params, judged), metrics, details)


def _rank(s: Status) -> int:
    return {Status.CRITICAL: 3, Status.WARNING: 2, Status.UNKNOWN: 1}.get(s, 0)


def series_name(params: Params, labels: Mapping[str, str]) -> str:
    return f"{params.metric}{{{series_key(labels)}}}" if labels else params.metric


def slot_label(slot: int) -> str:
    """'Sun 03:00' for slot 147."""
    return f"{_DAYS[slot // 24]} {slot % 24:02d}:00"


def number(v: float) -> str:
    """A value as a person reads it: 87, 4.2, 1.23e+09."""
    if abs(v) >= 1e6:
        return f"{v:.3g}"
    if abs(v) >= 10:
        return f"{v:.0f}"
    text = f"{v:.1f}"
    return "0" if text in ("0.0", "-0.0") else text.removesuffix(".0")


def sentence(params: Params, j: Judged) -> str:
    """'cpu.percent is 87 at Sun 03:00; usual for this hour 4 to 12 (expected 8)'."""
    if j.value is None:
        return f"{j.name}: no data in the last {_span(params.window_s)}"
    if j.verdict is fc.Verdict.NOT_ENOUGH_HISTORY or j.expected is None:
        return (
            f"{j.name} is {number(j.value)} at {slot_label(j.slot)}; learning: "
            f"{j.seen} of {params.min_weeks} weeks of history for this hour"
        )
    assert j.low is not None and j.high is not None
    return (
        f"{j.name} is {number(j.value)} at {slot_label(j.slot)}; usual for this hour "
        f"{number(j.low)} to {number(j.high)} (expected {number(j.expected)})"
    )


def _message(params: Params, judged: Sequence[Judged]) -> str:
    head = sentence(params, judged[0])
    rest = judged[1:]
    if not rest:
        return head
    alarming = [j for j in rest if j.state not in (Status.OK,)][:2]
    extra = "".join(f"; {sentence(params, j)}" for j in alarming)
    others = len(rest) - len(alarming)
    tail = f"; {others} other{'s' if others != 1 else ''} usual" if others else ""
    return f"{head}{extra}{tail}"


def _span(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds < 3 * 3600 else f"{seconds // 3600} h"


def _figures(params: Params, j: Judged) -> dict[str, Any]:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 6)

    return {
        "key": j.key,
        "name": j.name,
        "state": j.state.label,
        "verdict": j.verdict.value if j.verdict else None,
        "slot": j.slot,
        "slot_label": slot_label(j.slot),
        "value": r(j.value),
        "samples": j.samples,
        "expected": r(j.expected),
        "low": r(j.low),
        "high": r(j.high),
        "weeks_seen": j.seen,
        "min_weeks": params.min_weeks,
        "sentence": sentence(params, j),
    }

"""Forecast checks: when will a metric of this asset reach its limit?

A passive check: nothing is probed. The server reads the asset's stored series of one metric
(every volume's `disk.free_bytes`, say) and `evaluate` judges each with the two estimators of
`domain.forecast` side by side. The check's status is the worst series' predictive state:
warning when the limit is `warn_days` away or nearer, critical at `crit_days`, with hysteresis
(an alert clears only once the forecast recedes past twice its lead time).

Which estimate decides: least squares over the window, the better-understood one (its fit
quality is an R² a person can read). When its fit is poor, least squares over 24-hour
moving means decides if it gives a date: a daily cycle that hides a fill from a straight
line cancels out in a day's mean. When least squares declines for a gap (or the daily means
say nothing either), the smoothed rate decides if it gives a date: it tolerates gaps by
design, and its own guards keep a cycle alone silent. All three are reported.

Known metrics bring their own direction and limit (`disk.free_bytes` falls to 0,
`disk.inodes_used_percent` rises to 100, ...); any other metric names both.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from forewarn.domain import forecast as fc
from forewarn.domain.observation import Metric, Result, Status, worst

DAY = fc.DAY


@dataclass(frozen=True, slots=True)
class Known:
    """What a well-known metric's limit is and how to speak of it."""

    direction: fc.Direction
    threshold: float
    unit: str  # "B" or "%"
    noun: str  # "the {mount} volume", with the series' labels filled in
    reaching: str  # "full", "out of inodes"
    monotonic: bool = True


KNOWN: dict[str, Known] = {
    "disk.free_bytes": Known(fc.Direction.FALLING, 0.0, "B", "the {mount} volume", "full"),
    "disk.used_percent": Known(fc.Direction.RISING, 100.0, "%", "the {mount} volume", "full"),
    "disk.inodes_used_percent": Known(fc.Direction.RISING, 100.0, "%", "{mount}", "out of inodes"),
    # Memory swings both ways; a restart of the leaking process is the "drop" that restarts
    # the trend, and the R² guard keeps ordinary swings from forecasting anything.
    "mem.available_bytes": Known(fc.Direction.FALLING, 0.0, "B", "memory", "exhausted"),
    "mem.used_percent": Known(fc.Direction.RISING, 100.0, "%", "memory", "exhausted"),
}


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str = Field(
        "disk.free_bytes", min_length=1, max_length=100, description="the series to forecast"
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="only the series with these labels, e.g. {'mount': '/srv'}; none: all",
    )
    direction: Literal["rising", "falling"] | None = Field(
        None, description="which way the metric moves towards its limit (known metrics: set)"
    )
    threshold: float | None = Field(None, description="the limit (known metrics: set)")
    warn_days: float = Field(14.0, gt=0, le=365, description="warn this many days ahead")
    crit_days: float = Field(3.0, gt=0, le=365, description="critical this many days ahead")
    window_days: float = Field(7.0, ge=1, le=28, description="history the estimators read")
    monotonic: bool | None = Field(
        None,
        description="a large fall is a deletion or restart that restarts the trend "
        "(known metrics: set; others: on)",
    )

    @model_validator(mode="after")
    def _complete(self) -> Params:
        if self.metric not in KNOWN and (self.direction is None or self.threshold is None):
            known = ", ".join(KNOWN)
            raise ValueError(
                f"a forecast of {self.metric!r} needs a direction and a threshold "
                f"(they are known for: {known})"
            )
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise ValueError("threshold must be a finite number")
        if self.crit_days > self.warn_days:
            raise ValueError("crit_days must not be more than warn_days")
        return self

    @property
    def known(self) -> Known | None:
        return KNOWN.get(self.metric)

    def rule(self) -> fc.ForecastRule:
        k = self.known
        direction = fc.Direction(self.direction) if self.direction else k.direction  # type: ignore[union-attr]
        monotonic = self.monotonic if self.monotonic is not None else (k.monotonic if k else True)
        return fc.ForecastRule(
            direction=direction, window=self.window_days * DAY, monotonic=monotonic
        )

    def limit(self) -> float:
        if self.threshold is not None:
            return self.threshold
        assert self.known is not None  # the validator makes sure
        return self.known.threshold

    def leads(self) -> fc.LeadTimes:
        return fc.LeadTimes(warning=self.warn_days * DAY, critical=self.crit_days * DAY)


def validate(target: str, params: Mapping[str, Any]) -> Params:
    if target:
        raise ValueError("a forecast check has no target: it reads its asset's own metrics")
    return Params.model_validate(dict(params))


@dataclass(frozen=True, slots=True)
class Series:
    """One stored series of the metric: its labels and its (epoch seconds, value) points."""

    labels: Mapping[str, str]
    points: Sequence[fc.Sample]


def series_key(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def previous_states(details: str) -> dict[str, Status]:
    """Each series' predictive state from the check's last details (for hysteresis)."""
    try:
        data = json.loads(details) if details else {}
        rows = data.get("series", []) if isinstance(data, dict) else []
        return {str(r["key"]): Status.parse(str(r["state"])) for r in rows}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}


@dataclass(frozen=True, slots=True)
class Judged:
    key: str
    name: str
    state: Status
    chosen: fc.Forecast
    both: tuple[fc.Forecast, ...]  # every estimate, the deciding one among them


def judge_one(params: Params, s: Series, now: float, previous: Status) -> Judged:
    rule, limit = params.rule(), params.limit()
    ls = fc.least_squares(s.points, now, limit, rule)
    sr = fc.smoothed_rate(s.points, now, limit, rule)
    dm = fc.daily_means(s.points, now, limit, rule)
    chosen = ls
    if ls.declined is fc.Decline.NOISY and dm.time_until is not None:
        chosen = dm
    elif ls.declined in (fc.Decline.GAP, fc.Decline.NOISY) and sr.time_until is not None:
        chosen = sr
    state = fc.predictive_state(chosen, previous, params.leads())
    return Judged(series_key(s.labels), _name(params, s.labels), state, chosen, (ls, sr, dm))


def evaluate(
    params: Params, series: Sequence[Series], now: float, previous: Mapping[str, Status]
) -> Result:
    """The check's result over all series: worst state first, the figures in the details."""
    if not series:
        return Result(Status.UNKNOWN, f"no {params.metric} data on this asset yet")
    judged = [
        judge_one(params, s, now, previous.get(series_key(s.labels), Status.OK)) for s in series
    ]
    judged.sort(key=lambda j: (-_rank(j.state), _eta_order(j.chosen), j.name))
    status = worst(*(j.state for j in judged))
    metrics = tuple(
        Metric("days_left", round(j.chosen.time_until / DAY, 2), "d")
        for j in judged[:1]
        if j.chosen.time_until is not None
    )
    details = json.dumps({"series": [_figures(params, j) for j in judged]}, sort_keys=True)
    return Result(status, _message(params, judged), metrics, details)


def _rank(s: Status) -> int:
    return {Status.CRITICAL: 3, Status.WARNING: 2, Status.UNKNOWN: 1}.get(s, 0)


def _eta_order(f: fc.Forecast) -> float:
    return f.time_until if f.time_until is not None else math.inf


def _name(params: Params, labels: Mapping[str, str]) -> str:
    k = params.known
    if k is not None:
        try:
            return k.noun.format_map(dict(labels))
        except KeyError:
            pass
    return f"{params.metric}{{{series_key(labels)}}}" if labels else params.metric


def _message(params: Params, judged: Sequence[Judged]) -> str:
    first = judged[0]
    head = sentence(params, first.name, first.chosen)
    rest = len(judged) - 1
    if rest == 0:
        return head
    alarming = [j for j in judged[1:] if j.state is not Status.OK]
    extra = "; ".join(sentence(params, j.name, j.chosen) for j in alarming[:2])
    others = rest - len(alarming[:2])
    tail = f"; {others} other{'s' if others != 1 else ''} fine" if others else ""
    return f"{head}{'; ' + extra if extra else ''}{tail}"


def sentence(params: Params, name: str, f: fc.Forecast) -> str:
    """What a technician reads: 'the /srv volume will be full in about 5 days (growing
    3.1 GB/day; range 4 to 6 days)', or why there is no date."""
    k = params.known
    reaching = k.reaching if k else f"at {params.limit():g}"
    if f.time_until is None:
        why = f.declined.value if f.declined else "no estimate"
        if f.declined is fc.Decline.ALREADY_PAST:
            return f"{name}: {reaching} now"
        return f"{name}: {why}"
    when = _span(f.time_until)
    spread = ""
    if f.low is not None:
        hi = _span(f.high) if f.high is not None else "never"
        lo = _span(f.low, bare=f.high is not None and f.low >= DAY)
        same = f.high is not None and lo == _span(f.high, bare=f.low >= DAY)
        spread = "" if same else f"; range {lo} to {hi}"
    return f"{name} will be {reaching} in about {when} ({_growth(params, f)}{spread})"


def _growth(params: Params, f: fc.Forecast) -> str:
    rate = f.rate_per_day or 0.0
    toward = rate if params.rule().direction is fc.Direction.RISING else -rate
    unit = params.known.unit if params.known else ""
    verb = "growing" if params.metric.startswith(("disk.", "mem.")) else "moving"
    return f"{verb} {amount(toward, unit)}/day"


def amount(v: float, unit: str) -> str:
    """A quantity in the metric's unit: bytes in decimal multiples ('3.1 GB'), percent as
    points."""
    if unit == "B":
        for size, name in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
            if abs(v) >= size:
                return f"{v / size:.1f} {name}"
        return f"{v:.0f} B"
    if unit == "%":
        return f"{v:.2g} points"
    return f"{v:.3g}"


def _span(seconds: float, *, bare: bool = False) -> str:
    """Whole days from 3 days on, tenths of a day from 1, hours below (never '48 h')."""
    days = seconds / DAY
    if days >= 1:
        n = f"{days:.0f}" if days >= 3 else f"{days:.1f}".removesuffix(".0")
        return n if bare else f"{n} day{'' if n == '1' else 's'}"
    hours = seconds / 3600
    if hours >= 1:
        return f"{hours:.0f} h"
    return "under an hour"


def _figures(params: Params, j: Judged) -> dict[str, Any]:
    def one(f: fc.Forecast) -> dict[str, Any]:
        return {
            "method": f.method.value,
            "days": _days(f.time_until),
            "low_days": _days(f.low),
            "high_days": _days(f.high),
            "rate_per_day": f.rate_per_day,
            "r2": f.r2,
            "points": f.points,
            "span_h": round(f.span / 3600, 1),
            "restarted_at": f.restarted_at,
            "declined": f.declined.value if f.declined else None,
        }

    return {
        "key": j.key,
        "name": j.name,
        "state": j.state.label,
        "current": j.chosen.current,
        "threshold": params.limit(),
        "eta": j.chosen.eta,
        "chosen": j.chosen.method.value,
        "sentence": sentence(params, j.name, j.chosen),
        "estimates": [one(f) for f in j.both],
    }


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / DAY, 2)

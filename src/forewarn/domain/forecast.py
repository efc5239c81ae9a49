"""Forecasts and baselines: when a metric will reach a threshold, and what is usual for it.

Two estimators of the time until a threshold run side by side (reference/forecasting.md):

- `least_squares`: a straight line fitted over a window (Zabbix `timeleft`, Prometheus
  `predict_linear`), with R² as its fit quality and a range from the standard errors.
- `smoothed_rate`: an exponential moving average of the rate whose half-life is the trend range
  (Checkmk's disk trend), with a range from how far that average moved over the last range.

Either may decline, and says why (`Decline`): a technician must be able to tell "not enough
data" from "no trend". `predictive_state` turns a forecast into ok / warning / critical with
hysteresis so a forecast hovering near a lead time does not flap.

`build_baseline` and `judge` give the seasonal expectation of a metric for each hour of the
week in the organization's zone (Checkmk's predictive levels) and say whether a new sample is
unusual for its hour.

The trace generators at the end (`steady_fill`, `seasonal_fill`, ...) are seeded and pure; the
tests and the time-travel simulator share them so both judge the same shapes.

Time is always epoch seconds (floats), as the metric store keeps it; `now` is an argument.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from forewarn.domain.observation import Status

Sample = tuple[float, float]  # (epoch seconds, value)

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY
YEAR = 365.25 * DAY
HOURS_PER_WEEK = 168


# ---------------------------------------------------------------------------------------------
# Time until a threshold


class Method(StrEnum):
    LEAST_SQUARES = "least_squares"
    SMOOTHED_RATE = "smoothed_rate"
    DAILY_MEANS = "daily_means"  # least squares over 24-hour moving means


class Direction(StrEnum):
    """Which way the metric travels towards its threshold.

    RISING: used space reaching the volume size; FALLING: free space reaching zero.
    """

    RISING = "rising"
    FALLING = "falling"


class Decline(StrEnum):
    """Why a forecast gives no time; each reads as the sentence a technician would see."""

    TOO_FEW_POINTS = "not enough data: too few points"
    TOO_SHORT_SPAN = "not enough data: the samples cover too short a time"
    GAP = "not enough data: a gap covers much of the window"
    STALE = "no recent data"
    AFTER_DROP = "a large drop (a deletion or restart) reset the trend; not enough data since"
    NOISY = "no clear trend: the data is too noisy to fit"
    FLAT = "not growing towards the threshold"
    ALREADY_PAST = "already past the threshold"
    BEYOND_HORIZON = "further away than the forecast horizon"


@dataclass(frozen=True, slots=True)
class ForecastRule:
    """The windows and guards of both estimators; defaults suit disks and memory growth.

    - `window`: the data both estimators read. A week lets a 14-day lead time rest on a week of
      behaviour while a fill that speeds up still shows within days.
    - `trend_range`: the smoothed rate's half-life; it also stays silent until a whole range of
      data exists (Checkmk's rule; 24 h is its default).
    - `min_points`, `min_span`: below these the answer is "not enough data". A day at least,
      because a daily cycle seen over less than a day looks like a trend.
    - `min_r2`: a pure daily cycle fitted over a day or more never reaches R² 0.61, and a single
      level step never reaches 0.75; 0.8 rejects both while a fill that rises by about seven
      times its noise over the window passes.
    - `z`: width of the range in standard errors (about 95 % each for slope and level).
    - `monotonic`: the metric only grows except by deliberate removals (disk, inodes, a leaking
      process's memory), so a large fall is a deletion or a restart and the fit starts after
      it instead of reading it as a falling trend. Off for metrics that swing both ways.
    - `step_sigmas`, `step_fraction`: a fall counts as such a drop when it is larger than both
      `step_sigmas` times the typical move between samples (so noise never qualifies) and
      `step_fraction` of the window's value range (so a small cleanup does not reset a trend).
      Large rises are kept: a volume filled by a nightly backup grows in steps, and those
      steps are its trend.
    - `max_gap_fraction`: least squares declines when one gap covers more than this share of
      the fitted span, since the line would rest on two clumps of points.
    - `max_age`: newest sample older than this and the forecast would describe the past.
    - `max_horizon`: estimates further away are dropped (ten years, as in the reference).
    """

    direction: Direction = Direction.RISING
    window: float = 7 * DAY
    trend_range: float = DAY
    min_points: int = 12
    min_span: float = DAY
    min_r2: float = 0.8
    z: float = 2.0
    monotonic: bool = True
    step_sigmas: float = 8.0
    step_fraction: float = 0.2
    max_gap_fraction: float = 0.5
    max_age: float = 6 * HOUR
    max_horizon: float = 10 * YEAR

    def __post_init__(self) -> None:
        if self.window <= 0 or self.trend_range <= 0 or self.min_span < 0:
            raise ValueError("window and trend range must be positive")
        if self.min_points < 3:
            raise ValueError("a fit with a spread needs at least 3 points")
        if not 0 <= self.min_r2 <= 1:
            raise ValueError("min_r2 is between 0 and 1")


@dataclass(frozen=True, slots=True)
class Forecast:
    """One estimate of the time until a threshold, with the inputs a person needs to judge it.

    Times are seconds from `now`. `low`..`high` is the plausible range of `time_until`;
    `high` is None when the slow end of the range never reaches the threshold. Rate and
    current value are in the metric's own units (rate per day, signed as the data moves).
    When `declined` is set, `time_until` is None and the other figures are what was known.
    """

    method: Method
    now: float
    threshold: float
    time_until: float | None
    low: float | None
    high: float | None
    rate_per_day: float | None
    r2: float | None
    current: float | None
    points: int
    span: float
    restarted_at: float | None
    declined: Decline | None

    @property
    def eta(self) -> float | None:
        """Epoch seconds when the threshold is expected to be reached."""
        return None if self.time_until is None else self.now + self.time_until


def least_squares(
    samples: Iterable[Sample], now: float, threshold: float, rule: ForecastRule = ForecastRule()
) -> Forecast:
    """Time until `threshold` from a straight line fitted over the window.

    With x = t - now the intercept is the fitted value now, so the time until the threshold is
    (threshold - a)/b. Sums are taken about the means, which is the reference's formula
    rearranged so epoch-sized numbers do not cancel each other out.
    """
    m = Method.LEAST_SQUARES
    prep = _prepare(m, samples, now, threshold, rule, rule.min_span, check_gaps=True)
    if isinstance(prep, Forecast):
        return prep
    points, restarted = prep
    sign = _sign(rule)
    line = _Line.fit([(t - now, sign * v) for t, v in points])
    b, a = line.slope, line.level
    seen = _Seen(m, now, threshold, line.n, points[-1][0] - points[0][0], restarted)
    rate, current = sign * b * DAY, sign * a
    if line.syy == 0:  # constant: no trend, and R² has no meaning
        return seen.decline(Decline.FLAT, rate=rate, r2=None, current=current)
    r2 = line.r2
    if r2 < rule.min_r2:
        return seen.decline(Decline.NOISY, rate=rate, r2=r2, current=current)
    if b <= 0:
        return seen.decline(Decline.FLAT, rate=rate, r2=r2, current=current)
    target = sign * threshold
    time_until = max(0.0, (target - a) / b)
    if time_until > rule.max_horizon:
        return seen.decline(Decline.BEYOND_HORIZON, rate=rate, r2=r2, current=current)
    se_a, se_b = line.standard_errors()
    # Both ends move the level and the slope together (a box around the two estimates): wider
    # than the joint interval, which is the side to err on for a date someone plans around.
    low = max(0.0, target - a - rule.z * se_a) / (b + rule.z * se_b)
    slow = b - rule.z * se_b
    high = (target - a + rule.z * se_a) / slow if slow > 0 else None
    if high is not None and high > rule.max_horizon:
        high = None
    return seen.forecast(time_until, low, high, rate=rate, r2=r2, current=current)


def smoothed_rate(
    samples: Iterable[Sample], now: float, threshold: float, rule: ForecastRule = ForecastRule()
) -> Forecast:
    """Time until `threshold` from an exponentially smoothed rate (half-life = trend range).

    Per step: rate = Δu/Δt, n = min(R, t - t_start)/Δt, w = 0.5^(1/n), avg = (1-w)·rate +
    w·avg. Weighting by elapsed time rather than by sample count is what makes it indifferent
    to gaps; it only declines (GAP) when one of its last two ranges holds no samples to
    compare, and has no share-of-the-window gap guard.

    The range is the lowest and highest smoothed rate over the last range. Two guards of our
    own, because the formula alone turns every upswing of a daily cycle or of noise into a
    forecast: the estimator declines as noisy when the smoothed rate changed sign within the
    last range (the series swings rather than grows), or when the mean level of the last range
    is not clearly (by `z` standard errors) above the mean of the range before: over whole
    ranges a daily cycle cancels out and a real fill does not. So it is silent until two
    ranges of data exist, where Checkmk waits for one.
    """
    m = Method.SMOOTHED_RATE
    span_needed = max(rule.min_span, 2 * rule.trend_range)
    prep = _prepare(m, samples, now, threshold, rule, span_needed, check_gaps=False)
    if isinstance(prep, Forecast):
        return prep
    points, restarted = prep
    sign = _sign(rule)
    avgs = _smoothed(points, rule.trend_range, sign)
    last_t, last_v = points[-1]
    recent = [avg for t, avg in avgs if t >= last_t - rule.trend_range]
    avg, lo, hi = avgs[-1][1], min(recent), max(recent)
    seen = _Seen(m, now, threshold, len(points), last_t - points[0][0], restarted)
    rate, current = sign * avg * DAY, last_v
    if lo <= 0 < hi:
        return seen.decline(Decline.NOISY, rate=rate, r2=None, current=current)
    if hi <= 0:
        return seen.decline(Decline.FLAT, rate=rate, r2=None, current=current)
    rise = _range_over_range(points, rule.trend_range, sign)
    if rise is None:
        return seen.decline(Decline.GAP, rate=rate, r2=None, current=current)
    if rise[0] - rule.z * rise[1] <= 0:
        return seen.decline(Decline.NOISY, rate=rate, r2=None, current=current)
    headroom, age = sign * (threshold - last_v), now - last_t
    time_until = max(0.0, headroom / avg - age)
    if time_until > rule.max_horizon:
        return seen.decline(Decline.BEYOND_HORIZON, rate=rate, r2=None, current=current)
    low = max(0.0, headroom / hi - age)
    high: float | None = max(0.0, headroom / lo - age)
    if high is not None and high > rule.max_horizon:
        high = None
    return seen.forecast(time_until, low, high, rate=rate, r2=None, current=current)


def daily_means(
    samples: Iterable[Sample], now: float, threshold: float, rule: ForecastRule = ForecastRule()
) -> Forecast:
    """Least squares over 24-hour moving means, for a series with a daily cycle.

    A straight line through a fill that swings every day fits badly (R² under `min_r2`) even
    when the fill is plain to see from one day to the next. A mean over a whole day holds
    every hour of the cycle once, so the cycle cancels and the trend remains. Each mean sits
    at the mean time of its samples, which is where a linear trend has that value, so the
    line is not half a day late. It needs a day of data before the first mean, so it speaks
    from two days on; it is the fallback when least squares finds the data too noisy, never
    the first word. A large drop is looked for in the samples themselves (a moving mean turns
    a deletion into a day-long ramp) and the means start after it.
    """
    points = clean(samples, now - rule.window, now)
    restarted = None
    if rule.monotonic:
        points, restarted = after_last_drop(
            points, rule.step_sigmas, rule.step_fraction, _sign(rule)
        )
    means = moving_means(points, DAY)
    # The newest mean is half a day behind the newest sample: staleness was judged on those.
    derived = replace(rule, monotonic=False, max_age=rule.max_age + DAY / 2)
    f = least_squares(means, now, threshold, derived)
    return replace(f, method=Method.DAILY_MEANS, restarted_at=restarted)


def moving_means(points: Sequence[Sample], period: float, min_points: int = 12) -> list[Sample]:
    """For each sample at least `period` after the first: the mean time and mean value of the
    samples within the `period` up to it. A window with under `min_points` samples (a gap)
    gives nothing. `points` in time order, as `clean` leaves them."""
    out: list[Sample] = []
    if not points:
        return out
    first, lo, sum_t, sum_v = points[0][0], 0, 0.0, 0.0
    for i, (t, v) in enumerate(points):
        sum_t, sum_v = sum_t + t, sum_v + v
        while points[lo][0] <= t - period:
            sum_t, sum_v = sum_t - points[lo][0], sum_v - points[lo][1]
            lo += 1
        count = i - lo + 1
        if t - first >= period and count >= min_points:
            out.append((sum_t / count, sum_v / count))
    return out


def _range_over_range(
    points: Sequence[Sample], trend_range: float, sign: float
) -> tuple[float, float] | None:
    """Rate between the mean levels of the last two ranges, and its standard error.

    None when either range holds fewer than two samples. The spread within each range counts
    any growth inside it as noise, which only makes the test stricter.
    """
    end = points[-1][0]
    last = [(t, sign * v) for t, v in points if t > end - trend_range]
    before = [(t, sign * v) for t, v in points if end - 2 * trend_range < t <= end - trend_range]
    if len(last) < 2 or len(before) < 2:
        return None
    dt = statistics.fmean(t for t, _ in last) - statistics.fmean(t for t, _ in before)
    v1, v0 = [v for _, v in last], [v for _, v in before]
    se = math.sqrt(statistics.variance(v1) / len(v1) + statistics.variance(v0) / len(v0))
    return (statistics.fmean(v1) - statistics.fmean(v0)) / dt, se / dt


def _smoothed(points: Sequence[Sample], trend_range: float, sign: float) -> list[Sample]:
    """(t, smoothed rate towards the threshold, units per second) from the first range on.

    The reference does not say where the average starts. Starting it at the first two-point
    rate would carry that rate for many ranges (through the warm-up its weight only decays as
    k^-0.69 of the sample count), and with noisy samples a few minutes apart it is huge. So
    the average starts as the least-squares slope of the first range, and the formula runs
    from there (past the first range n = R/dt, a plain half-life of R).
    """
    t_start = points[0][0]
    k = next(i for i, (t, _) in enumerate(points) if t - t_start >= trend_range)
    avg = _Line.fit([(t - t_start, sign * v) for t, v in points[: k + 1]]).slope
    out: list[Sample] = [(points[k][0], avg)]
    for (t0, v0), (t1, v1) in pairwise(points[k:]):
        dt = t1 - t0
        rate = sign * (v1 - v0) / dt
        n = min(trend_range, t1 - t_start) / dt
        w = 0.5 ** (1.0 / n)
        avg = (1.0 - w) * rate + w * avg
        out.append((t1, avg))
    return out


@dataclass(frozen=True, slots=True)
class _Line:
    """An ordinary least-squares line through (x, y), summed about the means."""

    n: int
    slope: float
    level: float  # the fitted y at x = 0
    mean_x: float
    sxx: float
    syy: float
    ssr: float  # sum of squared residuals

    @classmethod
    def fit(cls, xy: Sequence[Sample]) -> _Line:
        """Needs at least two distinct x."""
        n = len(xy)
        mx = math.fsum(x for x, _ in xy) / n
        my = math.fsum(y for _, y in xy) / n
        sxx = math.fsum((x - mx) ** 2 for x, _ in xy)
        sxy = math.fsum((x - mx) * (y - my) for x, y in xy)
        syy = math.fsum((y - my) ** 2 for _, y in xy)
        b = sxy / sxx
        return cls(n, b, my - b * mx, mx, sxx, syy, max(0.0, syy - b * sxy))

    @property
    def r2(self) -> float:
        return 1.0 - self.ssr / self.syy if self.syy > 0 else 0.0

    def standard_errors(self) -> tuple[float, float]:
        """Standard errors of the level at x = 0 and of the slope."""
        s2 = self.ssr / (self.n - 2) if self.n > 2 else 0.0
        se_level = math.sqrt(s2 * (1.0 / self.n + self.mean_x**2 / self.sxx))
        return se_level, math.sqrt(s2 / self.sxx)


@dataclass(frozen=True, slots=True)
class _Seen:
    """What both estimators report whatever they conclude."""

    method: Method
    now: float
    threshold: float
    points: int
    span: float
    restarted_at: float | None

    def decline(
        self, why: Decline, *, rate: float | None, r2: float | None, current: float | None
    ) -> Forecast:
        return Forecast(
            self.method,
            self.now,
            self.threshold,
            None,
            None,
            None,
            rate,
            r2,
            current,
            self.points,
            self.span,
            self.restarted_at,
            why,
        )

    def forecast(
        self,
        time_until: float,
        low: float,
        high: float | None,
        *,
        rate: float,
        r2: float | None,
        current: float,
    ) -> Forecast:
        return Forecast(
            self.method,
            self.now,
            self.threshold,
            time_until,
            low,
            high,
            rate,
            r2,
            current,
            self.points,
            self.span,
            self.restarted_at,
            None,
        )


def _sign(rule: ForecastRule) -> float:
    """Both estimators work as if the metric rose; a falling one is mirrored."""
    return 1.0 if rule.direction is Direction.RISING else -1.0


def _prepare(
    method: Method,
    samples: Iterable[Sample],
    now: float,
    threshold: float,
    rule: ForecastRule,
    min_span: float,
    *,
    check_gaps: bool,
) -> tuple[list[Sample], float | None] | Forecast:
    """The samples an estimator may use, or the reason there are none worth fitting.

    Samples from the future (a clock that jumped), outside the window, or not finite are
    left out; duplicates of one instant keep the last value given.
    """
    points = clean(samples, now - rule.window, now)
    seen = _Seen(method, now, threshold, len(points), _span(points), None)
    if not points:
        return seen.decline(Decline.TOO_FEW_POINTS, rate=None, r2=None, current=None)
    last_t, last_v = points[-1]
    if now - last_t > rule.max_age:
        return seen.decline(Decline.STALE, rate=None, r2=None, current=last_v)
    sign = _sign(rule)
    if sign * last_v >= sign * threshold:
        return seen.decline(Decline.ALREADY_PAST, rate=None, r2=None, current=last_v)
    restarted = None
    if rule.monotonic:
        points, restarted = after_last_drop(points, rule.step_sigmas, rule.step_fraction, sign)
    seen = _Seen(method, now, threshold, len(points), _span(points), restarted)
    short = len(points) < rule.min_points or _span(points) < min_span
    if short:
        if restarted is not None:
            why = Decline.AFTER_DROP
        elif len(points) < rule.min_points:
            why = Decline.TOO_FEW_POINTS
        else:
            why = Decline.TOO_SHORT_SPAN
        return seen.decline(why, rate=None, r2=None, current=last_v)
    if check_gaps:
        widest = max(b[0] - a[0] for a, b in pairwise(points))
        if widest > rule.max_gap_fraction * _span(points):
            return seen.decline(Decline.GAP, rate=None, r2=None, current=last_v)
    return points, restarted


def _span(points: Sequence[Sample]) -> float:
    return points[-1][0] - points[0][0] if points else 0.0


def clean(samples: Iterable[Sample], start: float, end: float) -> list[Sample]:
    """Finite samples with start < t ≤ end, in time order, one per instant (the last given).

    Open at the start so that a window of whole weeks never holds the same hour twice.
    """
    by_t: dict[float, float] = {}
    for t, v in samples:
        if math.isfinite(t) and math.isfinite(v) and start < t <= end:
            by_t[t] = v
    return sorted(by_t.items())


def after_last_drop(
    points: Sequence[Sample], step_sigmas: float, step_fraction: float, sign: float = 1.0
) -> tuple[list[Sample], float | None]:
    """The samples after the last large fall, and when that fall landed (None if there was none).

    A fall is large when it beats `step_sigmas` times the median move between samples and
    `step_fraction` of the value range. The median is robust: the fall itself and a few
    outliers do not raise the bar they are measured against.
    """
    if len(points) < 3:
        return list(points), None
    moves = [sign * (b[1] - a[1]) for a, b in pairwise(points)]
    typical = statistics.median(abs(d) for d in moves)
    values = [sign * v for _, v in points]
    bar = max(step_sigmas * typical, step_fraction * (max(values) - min(values)))
    for i in range(len(moves) - 1, -1, -1):
        if -moves[i] > bar:
            return list(points[i + 1 :]), points[i + 1][0]
    return list(points), None


# ---------------------------------------------------------------------------------------------
# Predictive state with hysteresis


@dataclass(frozen=True, slots=True)
class LeadTimes:
    """How far ahead to warn, and how far the forecast must recede before the alert clears.

    An alert opens when the time until the threshold falls to a lead time and clears only once
    it is back above lead times `clear_factor`. Netdata's two-point rate clears at 6-12 times its
    lead because that rate is raw; a fitted forecast moves less, so twice the lead is enough to
    stop a forecast hovering around 14 days from flapping while still clearing within a day or
    two of someone freeing space.
    """

    warning: float = 14 * DAY
    critical: float = 3 * DAY
    clear_factor: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.critical <= self.warning:
            raise ValueError("lead times: 0 < critical <= warning")
        if self.clear_factor < 1:
            raise ValueError("clear_factor must be at least 1")


DISK_LEADS = LeadTimes()

# The data says the threshold is not coming: an open alert clears.
_CLEARS = frozenset({Decline.FLAT, Decline.BEYOND_HORIZON, Decline.AFTER_DROP})


def predictive_state(forecast: Forecast, previous: Status, leads: LeadTimes = DISK_LEADS) -> Status:
    """OK, WARNING or CRITICAL for a predictive alert, given the state it was in.

    Without an estimate: past the threshold is CRITICAL (Zabbix's advice: alert on
    `current ≥ threshold OR timeleft < H`, because past a crossing the fit looks for the next
    one); no growth, a distant estimate or a fresh drop clear the alert; a noisy fit keeps an
    open alert only while its slope still points at the threshold and never opens one; and
    lack of data (too few points, gaps, stale) keeps whatever state there was, since an alert
    closed for want of data would reopen as soon as the data came back.
    """
    held = Status.OK if previous is Status.UNKNOWN else previous
    if forecast.time_until is not None:
        return _with_hysteresis(forecast.time_until, held, leads)
    why = forecast.declined
    if why is Decline.ALREADY_PAST:
        return Status.CRITICAL
    if why in _CLEARS:
        return Status.OK
    if why is Decline.NOISY:
        return held if _towards(forecast) else Status.OK
    return held


def _towards(forecast: Forecast) -> bool:
    """Whether the (untrusted) rate still moves the metric towards its threshold."""
    rate, current = forecast.rate_per_day, forecast.current
    if rate is None or current is None:
        return False
    return (forecast.threshold - current) * rate > 0


def _with_hysteresis(time_until: float, previous: Status, leads: LeadTimes) -> Status:
    f = leads.clear_factor
    if time_until <= leads.critical or (
        previous is Status.CRITICAL and time_until <= leads.critical * f
    ):
        return Status.CRITICAL
    if time_until <= leads.warning or (
        previous in (Status.WARNING, Status.CRITICAL) and time_until <= leads.warning * f
    ):
        return Status.WARNING
    return Status.OK


# ---------------------------------------------------------------------------------------------
# Seasonal baseline


@dataclass(frozen=True, slots=True)
class BaselineRule:
    """How a baseline is built and how far a sample may stray from it.

    - `horizon_weeks`: history read (Checkmk's predictive levels use about 12 weeks).
    - `min_weeks`: each hour of the week must have been seen on this many distinct local days;
      a single week cannot tell a habit from an accident.
    - `min_samples`: and hold this many samples, so sigma means something. Four is met by two
      weeks of 5-minute data, or four weeks of hourly roll-ups.
    - `k`: the band is expectation ± k·sigma; 3 keeps a busy but ordinary hour quiet.
    - `min_width`: the band is never narrower than this, so a slot whose history happened to
      be constant does not alert on the smallest change.
    - `floor`: the upper bound is never below it, so tiny values (CPU at 3 % against a usual 1 %)
      do not alert; None for no floor.
    """

    horizon_weeks: int = 12
    min_weeks: int = 2
    min_samples: int = 4
    k: float = 3.0
    min_width: float = 0.0
    floor: float | None = None

    def __post_init__(self) -> None:
        if self.horizon_weeks < 1 or self.min_weeks < 1 or self.min_samples < 2:
            raise ValueError("baseline: horizon ≥ 1 week, min_weeks ≥ 1, min_samples ≥ 2")
        if self.k <= 0 or self.min_width < 0:
            raise ValueError("baseline: k > 0 and min_width ≥ 0")


@dataclass(frozen=True, slots=True)
class SlotStats:
    """One hour of the week: how many samples, on how many distinct days, mean and sigma."""

    count: int
    days: int
    mean: float
    stdev: float


@dataclass(frozen=True, slots=True)
class Baseline:
    """Hour-of-week statistics; slot 0 is Monday 00:00-01:00 on the zone's wall clock."""

    tz: str
    built_at: float
    slots: tuple[SlotStats, ...]


class Verdict(StrEnum):
    NORMAL = "normal"
    HIGH = "unusually high"
    LOW = "unusually low"
    NOT_ENOUGH_HISTORY = "not enough history for this hour of the week"


@dataclass(frozen=True, slots=True)
class Judgement:
    """What `judge` concluded about one sample, with the band it was judged against."""

    verdict: Verdict
    slot: int
    expected: float | None
    low: float | None
    high: float | None

    @property
    def status(self) -> Status:
        """Unusual is WARNING: a baseline is a hint, lower than a hard threshold."""
        return Status.WARNING if self.verdict in (Verdict.HIGH, Verdict.LOW) else Status.OK


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}") from None


def hour_of_week(t: float, tz: str) -> int:
    """0..167 from Monday 00:00 on the local wall clock: 3 a.m. stays 3 a.m. across DST."""
    local = datetime.fromtimestamp(t, _zone(tz))
    return local.weekday() * 24 + local.hour


def build_baseline(
    samples: Iterable[Sample], tz: str, now: float, rule: BaselineRule = BaselineRule()
) -> Baseline:
    """Mean and sigma of each hour of the week over the horizon before `now`.

    Each slot also counts the distinct local days it was seen on: that, not the sample count
    alone, is what tells a weekly habit from one busy afternoon.
    """
    zone = _zone(tz)
    values: list[list[float]] = [[] for _ in range(HOURS_PER_WEEK)]
    days: list[set[int]] = [set() for _ in range(HOURS_PER_WEEK)]
    # Start at the end of the hour the horizon falls in: a window cut mid-hour would put two
    # occurrences of that hour (its tail a horizon ago and its head now) in one slot, and one
    # week of history would then pass for two.
    oldest = datetime.fromtimestamp(now - rule.horizon_weeks * WEEK, zone)
    start = oldest.replace(minute=0, second=0, microsecond=0).timestamp() + HOUR
    for t, v in clean(samples, start, now):
        local = datetime.fromtimestamp(t, zone)
        slot = local.weekday() * 24 + local.hour
        values[slot].append(v)
        days[slot].add(local.toordinal())
    slots = tuple(
        SlotStats(
            len(vs),
            len(ds),
            statistics.fmean(vs) if vs else 0.0,
            statistics.stdev(vs) if len(vs) > 1 else 0.0,
        )
        for vs, ds in zip(values, days, strict=True)
    )
    return Baseline(tz, now, slots)


def judge(
    baseline: Baseline, t: float, value: float, rule: BaselineRule = BaselineRule()
) -> Judgement:
    """Whether `value` at `t` is usual for its hour of the week."""
    slot = hour_of_week(t, baseline.tz)
    stats = baseline.slots[slot]
    if stats.days < rule.min_weeks or stats.count < rule.min_samples:
        return Judgement(Verdict.NOT_ENOUGH_HISTORY, slot, None, None, None)
    half = max(rule.k * stats.stdev, rule.min_width)
    low, high = stats.mean - half, stats.mean + half
    if rule.floor is not None:
        high = max(high, rule.floor)
    if value > high:
        verdict = Verdict.HIGH
    elif value < low:
        verdict = Verdict.LOW
    else:
        verdict = Verdict.NORMAL
    return Judgement(verdict, slot, stats.mean, low, high)


# ---------------------------------------------------------------------------------------------
# Synthetic traces


@dataclass(frozen=True, slots=True)
class TraceSpec:
    """The shape of a synthetic series; `generate` turns it into samples.

    value(t) = level + rate·days + acceleration·days² + a daily cycle peaking at `peak_hour`
    local time + the sum of the `steps` already passed + Gaussian noise. `steps` and `gaps`
    are (seconds after start, amount) and (from, to) seconds after start; a negative step is
    a deletion.
    """

    start: float
    days: float
    step: float = 300.0
    level: float = 0.0
    rate_per_day: float = 0.0
    daily_amplitude: float = 0.0
    peak_hour: float = 14.0
    tz: str = "UTC"
    noise: float = 0.0
    steps: tuple[tuple[float, float], ...] = ()
    gaps: tuple[tuple[float, float], ...] = ()
    acceleration_per_day2: float = 0.0


def generate(spec: TraceSpec, seed: int) -> list[Sample]:
    """The samples of `spec`; the same seed always gives the same list."""
    rng = random.Random(seed)
    zone = _zone(spec.tz)
    out: list[Sample] = []
    count = int(spec.days * DAY // spec.step) + 1
    for i in range(count):
        offset = i * spec.step
        noise = rng.gauss(0.0, spec.noise) if spec.noise else 0.0
        if any(lo <= offset < hi for lo, hi in spec.gaps):
            continue
        t = spec.start + offset
        days = offset / DAY
        v = spec.level + spec.rate_per_day * days + spec.acceleration_per_day2 * days**2 + noise
        v += sum(amount for at, amount in spec.steps if offset >= at)
        if spec.daily_amplitude:
            local = datetime.fromtimestamp(t, zone)
            hour = local.hour + local.minute / 60 + local.second / 3600
            v += spec.daily_amplitude * math.cos(2 * math.pi * (hour - spec.peak_hour) / 24)
        out.append((t, v))
    return out


def steady_fill(
    start: float,
    days: float,
    *,
    level: float,
    rate_per_day: float,
    noise: float = 0.0,
    seed: int = 0,
    step: float = 300.0,
) -> list[Sample]:
    """A disk filling at a constant rate."""
    spec = TraceSpec(start, days, step, level, rate_per_day, noise=noise)
    return generate(spec, seed)


def seasonal_fill(
    start: float,
    days: float,
    *,
    level: float,
    rate_per_day: float,
    amplitude: float,
    noise: float = 0.0,
    tz: str = "UTC",
    seed: int = 0,
    step: float = 300.0,
) -> list[Sample]:
    """A fill that goes faster in working hours and gives some back at night."""
    spec = TraceSpec(start, days, step, level, rate_per_day, amplitude, tz=tz, noise=noise)
    return generate(spec, seed)


def deletion(
    start: float,
    days: float,
    *,
    level: float,
    rate_per_day: float,
    at_day: float,
    amount: float,
    noise: float = 0.0,
    seed: int = 0,
    step: float = 300.0,
) -> list[Sample]:
    """A steady fill and, `at_day` days in, `amount` removed at once."""
    spec = TraceSpec(
        start, days, step, level, rate_per_day, noise=noise, steps=((at_day * DAY, -amount),)
    )
    return generate(spec, seed)


def noise_only(
    start: float,
    days: float,
    *,
    level: float,
    noise: float,
    seed: int = 0,
    step: float = 300.0,
) -> list[Sample]:
    """A level that does not move, seen through noise."""
    return generate(TraceSpec(start, days, step, level, noise=noise), seed)


def seasonal_only(
    start: float,
    days: float,
    *,
    level: float,
    amplitude: float,
    peak_hour: float = 14.0,
    noise: float = 0.0,
    tz: str = "UTC",
    seed: int = 0,
    step: float = 300.0,
) -> list[Sample]:
    """A daily cycle with no growth: busy afternoons, quiet nights."""
    spec = TraceSpec(start, days, step, level, 0.0, amplitude, peak_hour, tz=tz, noise=noise)
    return generate(spec, seed)


def step_change(
    start: float,
    days: float,
    *,
    level: float,
    at_day: float,
    amount: float,
    noise: float = 0.0,
    seed: int = 0,
    step: float = 300.0,
) -> list[Sample]:
    """A level that jumps once (new data copied in, a volume resized) and then holds."""
    spec = TraceSpec(start, days, step, level, noise=noise, steps=((at_day * DAY, amount),))
    return generate(spec, seed)


def accelerating_fill(
    start: float,
    days: float,
    *,
    level: float,
    rate_per_day: float,
    acceleration_per_day2: float,
    noise: float = 0.0,
    seed: int = 0,
    step: float = 300.0,
) -> list[Sample]:
    """A slow fill that speeds up (a log that grows with the business, a runaway job)."""
    spec = TraceSpec(
        start,
        days,
        step,
        level,
        rate_per_day,
        noise=noise,
        acceleration_per_day2=acceleration_per_day2,
    )
    return generate(spec, seed)


def memory_leak(
    start: float,
    days: float,
    *,
    level: float,
    leak_per_day: float,
    restarts_at_days: Sequence[float] = (),
    noise: float = 0.0,
    seed: int = 0,
    step: float = 300.0,
) -> list[Sample]:
    """Available memory falling by `leak_per_day`; each restart gives back what leaked since
    the one before."""
    steps, last = [], 0.0
    for day in sorted(restarts_at_days):
        steps.append((day * DAY, leak_per_day * (day - last)))
        last = day
    spec = TraceSpec(start, days, step, level, -leak_per_day, noise=noise, steps=tuple(steps))
    return generate(spec, seed)

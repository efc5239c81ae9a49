"""Forecasts, predictive hysteresis, seasonal baselines and the synthetic traces."""

import math
import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forewarn.domain.forecast import (
    DAY,
    HOUR,
    YEAR,
    BaselineRule,
    Decline,
    Direction,
    Forecast,
    ForecastRule,
    LeadTimes,
    Method,
    TraceSpec,
    Verdict,
    build_baseline,
    deletion,
    generate,
    hour_of_week,
    judge,
    least_squares,
    noise_only,
    predictive_state,
    seasonal_fill,
    seasonal_only,
    smoothed_rate,
    steady_fill,
    step_change,
)
from forewarn.domain.observation import Status

START = datetime(2026, 1, 5, tzinfo=UTC).timestamp()  # a Monday, 00:00 UTC
ESTIMATORS = [least_squares, smoothed_rate]
fast = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def days_until(level: float, rate: float, threshold: float, elapsed_days: float) -> float:
    return (threshold - level - rate * elapsed_days) / rate


# --------------------------------------------------------------------------------------------
# A clean fill


@fast
@given(
    level_days=st.floats(0, 1e4),  # the level in days of growth: bytes or percent alike
    rate=st.floats(1e-3, 1e9),
    headroom_days=st.floats(3, 300),
    days=st.floats(2.5, 7),
    step=st.sampled_from([300.0, 900.0, 3600.0]),
    estimator=st.sampled_from(ESTIMATORS),
)
def test_a_perfectly_linear_fill_fits_exactly(
    level_days, rate, headroom_days, days, step, estimator
):
    level = level_days * rate
    threshold = level + rate * (days + headroom_days)
    trace = steady_fill(START, days, level=level, rate_per_day=rate, step=step)
    now = trace[-1][0]
    elapsed = (now - START) / DAY
    f = estimator(trace, now, threshold)
    assert f.declined is None
    assert f.time_until == pytest.approx(days_until(level, rate, threshold, elapsed) * DAY, 1e-6)
    assert f.rate_per_day == pytest.approx(rate, 1e-6)
    # Only float rounding is left to widen the range.
    assert f.low == pytest.approx(f.time_until, 1e-4)
    assert f.high == pytest.approx(f.time_until, 1e-4)
    assert f.eta == pytest.approx(now + f.time_until)
    if estimator is least_squares:
        assert f.r2 == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_free_space_falling_to_zero_is_the_mirror_of_used_space_rising(estimator):
    free = steady_fill(START, 3, level=500, rate_per_day=-10)
    now = free[-1][0]
    rule = ForecastRule(direction=Direction.FALLING)
    f = estimator(free, now, 0.0, rule)
    assert f.time_until == pytest.approx(47 * DAY)
    assert f.rate_per_day == pytest.approx(-10)
    # Read as rising, the same free-space series is moving away from any ceiling.
    assert estimator(free, now, 1000.0).declined is Decline.FLAT


def test_the_forecast_extrapolates_to_now_when_the_last_sample_is_older():
    trace = steady_fill(START, 3, level=0, rate_per_day=10)
    f = least_squares(trace, trace[-1][0] + 2 * HOUR, 100.0)
    assert f.time_until == pytest.approx(7 * DAY - 2 * HOUR)


# --------------------------------------------------------------------------------------------
# Noise widens the range and the truth stays inside it


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_noise_widens_the_range_and_keeps_the_true_time_inside(estimator):
    def run(noise: float, seed: int) -> Forecast:
        trace = steady_fill(START, 4, level=100, rate_per_day=3, noise=noise, seed=seed)
        return estimator(trace, trace[-1][0], 200.0)

    truth = days_until(100, 3, 200, 4) * DAY
    exact = run(0.0, 0)
    assert exact.high is not None and exact.high - exact.low == pytest.approx(0, abs=1e-3)
    inside = 0
    for seed in range(20):
        f = run(0.5, seed)
        assert f.declined is None, seed
        assert f.high is not None and f.high - f.low > HOUR  # visibly wider than the exact fit
        inside += f.low <= truth <= f.high
    assert inside >= 17


def test_more_noise_gives_a_wider_least_squares_range():
    for seed in range(10):
        widths = []
        for noise in (0.25, 0.5, 1.0):
            trace = steady_fill(START, 5, level=100, rate_per_day=3, noise=noise, seed=seed)
            f = least_squares(trace, trace[-1][0], 200.0)
            assert f.high is not None
            widths.append(f.high - f.low)
        assert widths == sorted(widths) and widths[0] < widths[-1]


# --------------------------------------------------------------------------------------------
# Deletions, steps, noise and cycles


def test_a_deletion_restarts_the_fit_after_the_drop():
    trace = deletion(START, 7, level=100, rate_per_day=3, at_day=3, amount=60, noise=0.3)
    drop_at = START + 3 * DAY
    soon = [p for p in trace if p[0] <= drop_at + 12 * HOUR]
    for estimator in ESTIMATORS:
        f = estimator(soon, soon[-1][0], 200.0)
        assert f.declined is Decline.AFTER_DROP and f.restarted_at == drop_at
    f = least_squares(trace, trace[-1][0], 200.0)
    truth = (200 - (100 + 3 * 7 - 60)) / 3 * DAY
    assert f.restarted_at == drop_at
    assert f.time_until == pytest.approx(truth, rel=0.05)
    assert f.rate_per_day == pytest.approx(3, rel=0.05)
    # Without the rule the drop reads as a falling trend: the guard is what makes the forecast.
    raw = least_squares(trace, trace[-1][0], 200.0, ForecastRule(monotonic=False))
    assert raw.time_until is None and raw.rate_per_day is not None and raw.rate_per_day < 0


@fast
@given(
    at_day=st.floats(0.2, 6.5),
    amount=st.floats(5, 90),
    seed=st.integers(0, 10_000),
    estimator=st.sampled_from(ESTIMATORS),
)
def test_a_deletion_anywhere_never_gives_a_negative_or_absurd_forecast(
    at_day, amount, seed, estimator
):
    trace = deletion(
        START, 7, level=100, rate_per_day=3, at_day=at_day, amount=amount, noise=0.3, seed=seed,
        step=900.0,
    )  # fmt: skip
    now = trace[-1][0]
    f = estimator(trace, now, 200.0)
    truth = (200 - (100 + 21 - amount)) / 3 * DAY
    if f.time_until is not None:
        assert 0 <= f.low <= f.time_until
        assert f.rate_per_day is not None and f.rate_per_day > 0
        if estimator is least_squares:
            assert f.time_until == pytest.approx(truth, rel=0.15)
        else:
            # The smoothed rate follows the latest rates: with only one to three days left
            # after the deletion its point estimate strays up to ~30 % (measured over 2,000
            # draws); the range it states must hold the truth, and the point stays near it.
            assert f.low <= truth <= (f.high if f.high is not None else math.inf)
            assert f.time_until == pytest.approx(truth, rel=0.4)
    else:
        assert f.declined in (Decline.AFTER_DROP, Decline.NOISY)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("at_day", [1.5, 2, 3, 4.5, 7])
def test_noise_only_gives_no_forecast(seed, at_day):
    trace = noise_only(START, 7, level=50, noise=2, seed=seed)
    now = START + at_day * DAY
    f = least_squares(trace, now, 100.0)
    assert f.time_until is None and f.declined is Decline.NOISY
    g = smoothed_rate(trace, now, 100.0)
    assert g.time_until is None
    assert g.declined is (Decline.TOO_SHORT_SPAN if at_day < 2 else Decline.NOISY)


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin"])
@pytest.mark.parametrize("at_day", [1, 1.25, 1.5, 2, 2.5, 3, 5, 7])
def test_a_daily_cycle_alone_gives_no_forecast(tz, at_day):
    trace = seasonal_only(START, 7, level=50, amplitude=20, noise=1, tz=tz, seed=3)
    now = START + at_day * DAY
    for estimator in ESTIMATORS:
        f = estimator(trace, now, 100.0)
        assert f.time_until is None, (estimator, f)
        assert f.declined in (Decline.NOISY, Decline.TOO_SHORT_SPAN)
    assert least_squares(trace, now, 100.0).declined is Decline.NOISY


def test_a_fill_with_a_daily_cycle_is_found_once_the_window_spans_days():
    trace = seasonal_fill(START, 7, level=100, rate_per_day=3, amplitude=2, noise=0.3)
    f = least_squares(trace, trace[-1][0], 200.0)
    assert f.time_until == pytest.approx(days_until(100, 3, 200, 7) * DAY, rel=0.05)
    g = smoothed_rate(trace, trace[-1][0], 200.0)
    assert g.time_until is not None and g.high is not None
    assert g.low <= f.time_until <= g.high


def test_a_level_step_is_not_a_trend_for_least_squares():
    trace = step_change(START, 9, level=50, at_day=2, amount=20, noise=0.5)
    for day in (2.5, 3, 4, 6, 8, 9):
        assert least_squares(trace, START + day * DAY, 100.0).declined is Decline.NOISY
    # The smoothed rate reads the jump as growth for a while; it lets go once the step is
    # older than two ranges, because the level no longer rises from one range to the next.
    for day in (4.1, 6, 8):
        assert smoothed_rate(trace, START + day * DAY, 100.0).declined is Decline.NOISY


def test_the_smoothed_rate_declines_a_fill_that_turned_around_within_the_range():
    rising = steady_fill(START, 3.5, level=50, rate_per_day=3)
    top = rising[-1]
    falling = [(top[0] + i * 300.0, top[1] - 10 * i * 300.0 / DAY) for i in range(1, 145)]
    trace = rising + falling  # the level still rose from one day to the next on average
    f = smoothed_rate(trace, trace[-1][0], 100.0)
    assert f.declined is Decline.NOISY and f.rate_per_day is not None and f.rate_per_day < 0


# --------------------------------------------------------------------------------------------
# Guards


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_too_little_data_says_not_enough_data(estimator):
    one = [(START, 10.0)]
    assert estimator(one, START, 100.0).declined is Decline.TOO_FEW_POINTS
    assert estimator([], START, 100.0).declined is Decline.TOO_FEW_POINTS
    hours = steady_fill(START, 0.5, level=0, rate_per_day=10)
    assert estimator(hours, hours[-1][0], 100.0).declined is Decline.TOO_SHORT_SPAN
    sparse = steady_fill(START, 3, level=0, rate_per_day=10, step=12 * HOUR)  # 7 points
    assert estimator(sparse, sparse[-1][0], 100.0).declined is Decline.TOO_FEW_POINTS


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_stale_past_flat_receding_and_far_away(estimator):
    trace = steady_fill(START, 3, level=0, rate_per_day=10)
    now = trace[-1][0]
    assert estimator(trace, now + 7 * HOUR, 100.0).declined is Decline.STALE
    assert estimator(trace, now, 25.0).declined is Decline.ALREADY_PAST
    flat = steady_fill(START, 3, level=40, rate_per_day=0)
    assert estimator(flat, now, 100.0).declined is Decline.FLAT
    receding = steady_fill(START, 3, level=90, rate_per_day=-5)
    assert estimator(receding, now, 100.0).declined is Decline.FLAT
    crawl = steady_fill(START, 3, level=0, rate_per_day=1e-4)
    far = estimator(crawl, now, 100.0)
    assert far.declined is Decline.BEYOND_HORIZON and far.time_until is None
    assert far.rate_per_day == pytest.approx(1e-4)
    near = estimator(crawl, now, 1e-4 * (3 + 9 * 365))
    assert near.time_until is not None and near.time_until < 10 * YEAR


def test_least_squares_declines_when_a_gap_covers_most_of_the_window():
    spec = TraceSpec(START, 3, level=0, rate_per_day=10, gaps=((2 * HOUR, 2.5 * DAY),))
    trace = generate(spec, 0)
    now = trace[-1][0]
    assert least_squares(trace, now, 100.0).declined is Decline.GAP
    # A few hours missing is fine.
    short = generate(
        TraceSpec(START, 3, level=0, rate_per_day=10, gaps=((DAY, DAY + 6 * HOUR),)), 0
    )
    assert least_squares(short, now, 100.0).time_until == pytest.approx(7 * DAY)
    # The smoothed rate takes gaps in its stride but needs samples in each of its two ranges.
    assert smoothed_rate(short, now, 100.0).time_until == pytest.approx(7 * DAY)
    assert smoothed_rate(trace, now, 100.0).declined is Decline.GAP


@fast
@given(seed=st.integers(0, 10_000), estimator=st.sampled_from(ESTIMATORS))
def test_disorder_duplicates_junk_and_future_samples_change_nothing(seed, estimator):
    trace = steady_fill(START, 3, level=10, rate_per_day=5, noise=0.2, seed=seed, step=1800.0)
    now = trace[-1][0]
    rng = random.Random(seed)
    messy = [*trace, *rng.sample(trace, 10), (START + DAY, math.nan), (now + DAY, 1e9)]
    messy.append((math.inf, 5.0))
    rng.shuffle(messy)
    assert estimator(messy, now, 100.0) == estimator(trace, now, 100.0)


def test_rules_refuse_nonsense():
    with pytest.raises(ValueError):
        ForecastRule(min_points=2)
    with pytest.raises(ValueError):
        ForecastRule(min_r2=1.5)
    with pytest.raises(ValueError):
        LeadTimes(warning=DAY, critical=2 * DAY)
    with pytest.raises(ValueError):
        LeadTimes(clear_factor=0.5)
    with pytest.raises(ValueError):
        BaselineRule(min_samples=1)


# --------------------------------------------------------------------------------------------
# Predictive state with hysteresis


def fc(days: float | None, declined: Decline | None = None, rate: float = 1.0) -> Forecast:
    t = None if days is None else days * DAY
    return Forecast(
        Method.LEAST_SQUARES, START, 100.0, t, t, t, rate, 0.99, 50.0, 100, DAY, None, declined
    )


LEADS = LeadTimes()  # warning 14 d, critical 3 d, clear at twice each


@pytest.mark.parametrize(
    ("previous", "days", "expected"),
    [
        (Status.OK, 14.1, Status.OK),
        (Status.OK, 14.0, Status.WARNING),
        (Status.OK, 20.0, Status.OK),
        (Status.WARNING, 20.0, Status.WARNING),  # inside the band: hold
        (Status.WARNING, 28.0, Status.WARNING),
        (Status.WARNING, 28.1, Status.OK),
        (Status.WARNING, 3.0, Status.CRITICAL),
        (Status.WARNING, 3.1, Status.WARNING),
        (Status.CRITICAL, 5.9, Status.CRITICAL),
        (Status.CRITICAL, 6.1, Status.WARNING),
        (Status.CRITICAL, 30.0, Status.OK),
        (Status.OK, 1.0, Status.CRITICAL),
        (Status.UNKNOWN, 20.0, Status.OK),
    ],
)
def test_alerts_open_at_the_lead_time_and_clear_only_well_past_it(previous, days, expected):
    assert predictive_state(fc(days), previous, LEADS) is expected


@given(st.lists(st.floats(0, 60), min_size=1, max_size=60), st.sampled_from(list(Status)))
def test_hysteresis_changes_state_only_across_the_whole_band(times, start):
    """Each change needs the forecast on the far side of the band, so it cannot flap."""
    state = start
    for days in times:
        new = predictive_state(fc(days), state, LEADS)
        t = days * DAY
        rank = {Status.OK: 0, Status.UNKNOWN: 0, Status.WARNING: 1, Status.CRITICAL: 2}
        if rank[new] > rank[state]:  # raised: only at or under the lead time
            assert t <= (LEADS.critical if new is Status.CRITICAL else LEADS.warning)
        if rank[new] < rank[state]:  # lowered: only beyond lead * factor
            left = LEADS.critical if state is Status.CRITICAL else LEADS.warning
            assert t > left * LEADS.clear_factor
        state = new


@given(
    st.lists(st.floats(14.01, 28), min_size=2, max_size=50),
    st.lists(st.floats(3.01, 6), min_size=2, max_size=50),
)
def test_a_forecast_oscillating_inside_the_band_never_flaps(warn_band, crit_band):
    for state in (Status.OK, Status.WARNING):
        s = state
        for days in warn_band:
            s = predictive_state(fc(days), s, LEADS)
            assert s is state
    s = Status.CRITICAL
    for days in crit_band:
        s = predictive_state(fc(days), s, LEADS)
        assert s is Status.CRITICAL
    s = Status.WARNING
    for days in crit_band:
        s = predictive_state(fc(days), s, LEADS)
        assert s is Status.WARNING


@pytest.mark.parametrize("previous", [Status.OK, Status.WARNING, Status.CRITICAL])
def test_what_a_declined_forecast_does_to_the_alert(previous):
    state = predictive_state
    assert state(fc(None, Decline.ALREADY_PAST), previous) is Status.CRITICAL
    for why in (Decline.FLAT, Decline.BEYOND_HORIZON, Decline.AFTER_DROP):
        assert state(fc(None, why), previous) is Status.OK
    for why in (Decline.TOO_FEW_POINTS, Decline.TOO_SHORT_SPAN, Decline.GAP, Decline.STALE):
        assert state(fc(None, why), previous) is previous
    assert state(fc(None, Decline.NOISY, rate=+1.0), previous) is previous
    assert state(fc(None, Decline.NOISY, rate=-1.0), previous) is Status.OK


def replay(trace, size: float, days: int) -> dict[Status, float]:
    """The day each state was first entered, evaluating every 6 hours."""
    state, entered = Status.OK, {}
    for hour in range(6, days * 24 + 1, 6):
        new = predictive_state(least_squares(trace, START + hour * HOUR, size), state)
        if new is not state:
            entered.setdefault(new, hour / 24)
        state = new
    return entered


def test_a_steady_fill_warns_at_14_days_and_turns_critical_at_3():
    trace = steady_fill(START, 30, level=0, rate_per_day=4, noise=0.5, step=1800.0)
    entered = replay(trace, 120.0, 30)  # full at day 30
    assert set(entered) == {Status.WARNING, Status.CRITICAL}
    assert entered[Status.WARNING] == pytest.approx(16, abs=0.3)
    assert entered[Status.CRITICAL] == pytest.approx(27, abs=0.3)


def test_a_predictive_alert_closes_by_itself_when_space_is_freed():
    trace = deletion(START, 30, level=0, rate_per_day=4, at_day=25, amount=90, step=1800.0)
    entered = replay(trace, 120.0, 30)
    assert entered == {Status.WARNING: pytest.approx(16, abs=0.3), Status.OK: 25.0}


# --------------------------------------------------------------------------------------------
# Seasonal baseline


def busy_afternoons(weeks: float, tz: str = "Europe/Berlin", step: float = 300.0):
    """CPU %: about 5 at night, about 65 at 14:00 local, a little noise."""
    return seasonal_only(
        START, weeks * 7, level=35, amplitude=30, peak_hour=14, noise=3, tz=tz, step=step
    )


def local(tz: str, *args: int) -> float:
    return datetime(*args, tzinfo=ZoneInfo(tz)).timestamp()


def test_a_spike_at_3am_is_unusual_but_the_same_value_at_the_busy_hour_is_not():
    history = busy_afternoons(4)
    now = history[-1][0]
    base = build_baseline(history, "Europe/Berlin", now)
    night = judge(base, local("Europe/Berlin", 2026, 2, 3, 3, 20), 60.0)
    assert night.verdict is Verdict.HIGH and night.status is Status.WARNING
    assert night.expected is not None and night.expected < 15
    day = judge(base, local("Europe/Berlin", 2026, 2, 3, 14, 20), 60.0)
    assert day.verdict is Verdict.NORMAL and day.status is Status.OK
    # The same wall-clock hours read in the wrong zone would swap the answer around.
    idle_afternoon = judge(base, local("Europe/Berlin", 2026, 2, 3, 14, 20), 2.0)
    assert idle_afternoon.verdict is Verdict.LOW


def test_below_the_minimum_history_the_baseline_declines():
    one_week = busy_afternoons(1)
    base = build_baseline(one_week, "Europe/Berlin", one_week[-1][0])
    j = judge(base, local("Europe/Berlin", 2026, 1, 13, 3, 20), 60.0)
    assert j.verdict is Verdict.NOT_ENOUGH_HISTORY and j.expected is None
    assert j.status is Status.OK
    two_weeks = busy_afternoons(2)
    base = build_baseline(two_weeks, "Europe/Berlin", two_weeks[-1][0])
    assert judge(base, local("Europe/Berlin", 2026, 1, 20, 3, 20), 60.0).verdict is Verdict.HIGH
    # Hourly roll-ups: two weeks give two samples per slot, fewer than min_samples.
    hourly = busy_afternoons(2, step=HOUR)
    base = build_baseline(hourly, "Europe/Berlin", hourly[-1][0])
    assert (
        judge(base, local("Europe/Berlin", 2026, 1, 20, 3, 20), 60.0).verdict
        is Verdict.NOT_ENOUGH_HISTORY
    )


def test_history_outside_the_horizon_or_after_now_is_ignored():
    history = busy_afternoons(4)
    early = START + 14 * DAY
    base = build_baseline(history, "Europe/Berlin", early, BaselineRule(horizon_weeks=1))
    assert max(s.days for s in base.slots) == 1
    assert judge(base, early, 60.0).verdict is Verdict.NOT_ENOUGH_HISTORY


def test_floor_and_minimum_width():
    quiet = [(START + i * 3600.0, 1.0) for i in range(24 * 7 * 4)]  # constant: sigma 0
    base = build_baseline(quiet, "UTC", quiet[-1][0] + 1)
    t = quiet[-1][0] + 1800
    assert judge(base, t, 1.5).verdict is Verdict.HIGH
    assert judge(base, t, 1.5, BaselineRule(min_samples=2, min_width=1.0)).verdict is (
        Verdict.NORMAL
    )
    assert judge(base, t, 4.0, BaselineRule(floor=5.0)).verdict is Verdict.NORMAL
    assert judge(base, t, 6.0, BaselineRule(floor=5.0)).verdict is Verdict.HIGH


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 1000), hour=st.integers(0, 167))
def test_the_expected_value_is_always_normal(seed, hour):
    history = seasonal_only(
        START, 21, level=35, amplitude=30, noise=3, seed=seed, step=900.0, tz="America/New_York"
    )
    base = build_baseline(history, "America/New_York", history[-1][0])
    t = START + 21 * DAY + hour * HOUR
    stats = base.slots[hour_of_week(t, "America/New_York")]
    j = judge(base, t, stats.mean)
    assert j.verdict is Verdict.NORMAL
    assert j.low is not None and j.high is not None and j.low < stats.mean < j.high


def test_hour_of_week_follows_the_local_wall_clock():
    winter = datetime(2026, 1, 5, 2, 0, tzinfo=UTC).timestamp()  # Monday
    assert hour_of_week(winter, "UTC") == 2
    assert hour_of_week(winter, "Europe/Berlin") == 3
    summer = datetime(2026, 7, 6, 1, 0, tzinfo=UTC).timestamp()  # Monday, CEST
    assert hour_of_week(summer, "Europe/Berlin") == 3
    sunday_night = datetime(2026, 1, 11, 23, 30, tzinfo=UTC).timestamp()
    assert hour_of_week(sunday_night, "UTC") == 167
    assert hour_of_week(sunday_night, "Europe/Berlin") == 0  # already Monday there
    with pytest.raises(ValueError, match="time zone"):
        hour_of_week(winter, "Mars/Olympus")


# --------------------------------------------------------------------------------------------
# Trace generator


def test_traces_are_deterministic_per_seed_and_follow_their_shape():
    a = noise_only(START, 2, level=5, noise=1, seed=7)
    assert a == noise_only(START, 2, level=5, noise=1, seed=7)
    assert a != noise_only(START, 2, level=5, noise=1, seed=8)
    assert len(a) == 2 * 24 * 12 + 1 and a[0][0] == START and a[-1][0] == START + 2 * DAY
    d = deletion(START, 2, level=10, rate_per_day=1, at_day=1, amount=5)
    values = dict(d)
    assert values[START + DAY - 300] == pytest.approx(11 - 300 / DAY)
    assert values[START + DAY] == pytest.approx(6)
    s = step_change(START, 2, level=10, at_day=1, amount=5)
    assert {v for t, v in s if t < START + DAY} == {10} and {
        v for t, v in s if t >= START + DAY
    } == {15}
    cycle = dict(seasonal_only(START, 1, level=0, amplitude=10, peak_hour=14))
    assert cycle[START + 14 * HOUR] == pytest.approx(10) and cycle[
        START + 2 * HOUR
    ] == pytest.approx(-10)
    gappy = generate(TraceSpec(START, 1, gaps=((HOUR, 3 * HOUR),)), 0)
    assert not any(START + HOUR <= t < START + 3 * HOUR for t, _ in gappy)
    # A gap does not shift the noise of the samples after it.
    noisy = TraceSpec(START, 1, noise=1.0)
    with_gap = TraceSpec(START, 1, noise=1.0, gaps=((HOUR, 3 * HOUR),))
    assert (
        dict(generate(noisy, 3))[START + 5 * HOUR] == dict(generate(with_gap, 3))[START + 5 * HOUR]
    )

"""The anomaly check type: parameters, the baseline from hourly roll-ups, the judgement."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from forewarn.domain import forecast as fc
from forewarn.domain.observation import Status
from forewarn.probes import anomaly as check

TZ = "Europe/Berlin"
# Monday 2 November 2026, 00:00 in Berlin: week boundaries fall on local midnights.
START = datetime(2026, 11, 2, tzinfo=ZoneInfo(TZ)).timestamp()
HOUR = 3600.0


def params(**kw: object) -> check.Params:
    return check.validate("", kw)


def cpu(days: float, seed: int = 1) -> list[fc.Sample]:
    """5-minute CPU: quiet nights around 8 %, busy afternoons around 32 %."""
    return fc.seasonal_only(START, days, level=20, amplitude=12, noise=3, tz=TZ, seed=seed)


def hours(samples: Sequence[fc.Sample], until: float) -> list[check.Hour]:
    """The 1-hour roll-ups of `samples` before `until`, as the rollup job makes them."""
    buckets: dict[int, list[float]] = {}
    for t, v in samples:
        if t < until:
            buckets.setdefault(int(t // HOUR) * int(HOUR), []).append(v)
    return [
        check.Hour(float(h), statistics.fmean(vs), min(vs), max(vs), len(vs))
        for h, vs in sorted(buckets.items())
    ]


def window(samples: Sequence[fc.Sample], now: float, seconds: float = 1800) -> check.Window:
    vs = [v for t, v in samples if now - seconds < t <= now]
    return check.Window(statistics.fmean(vs), len(vs))


def judge(p: check.Params, samples: Sequence[fc.Sample], now: float) -> tuple[Status, str]:
    hour = now - now % HOUR
    learned = check.learn(hours(samples, hour), TZ, hour, p)
    r = check.evaluate(p, [check.Series({}, learned, window(samples, now))], now)
    return r.status, r.message


def test_defaults_watch_cpu_above_its_usual_band_as_a_warning() -> None:
    p = params()
    assert (p.metric, p.direction, p.k, p.severity) == ("cpu.percent", "above", 3, "warning")
    assert (p.horizon_weeks, p.min_weeks, p.window_s) == (12, 2, 1800)
    assert p.status is Status.WARNING
    assert params(severity="critical").status is Status.CRITICAL
    rule = p.rule()
    assert (rule.horizon_weeks, rule.min_weeks, rule.min_samples, rule.k) == (12, 2, 2, 3)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"min_weeks": 5, "horizon_weeks": 4}, "min_weeks must not be more than horizon_weeks"),
        ({"k": 0}, "greater than 0"),
        ({"direction": "sideways"}, "above"),
        ({"severity": "info"}, "warning"),
        ({"window_s": 10}, "greater than or equal to 60"),
        ({"floor": float("nan")}, "finite"),
        ({"min_width": -1}, "greater than or equal to 0"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_definitions_say_what_is_wrong(raw: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        check.validate("", raw)


def test_a_target_is_refused() -> None:
    with pytest.raises(ValueError, match="no target"):
        check.validate("fs01", {})


def test_three_weeks_of_an_ordinary_cycle_stay_quiet_every_hour_of_the_fourth() -> None:
    samples, p = cpu(28), params()
    # What the fourth week is judged against is the first three, whenever it is built.
    week4 = START + 21 * fc.DAY
    learned = check.learn(hours(samples, week4), TZ, week4, p)
    statuses = set()
    for h in range(168):
        now = week4 + h * HOUR + 1500  # a window that straddles two hours
        series = check.Series({}, learned, window(samples[(21 * 24 + h - 1) * 12 :], now))
        statuses.add(check.evaluate(p, [series], now).status)
    assert statuses == {Status.OK}


def test_a_3_am_spike_is_unusual_and_says_what_is_usual_for_the_hour() -> None:
    sunday_3am = START + 27 * fc.DAY + 3 * HOUR  # Sunday 29 November, 03:00 Berlin
    samples = [(t, 87.0 if sunday_3am <= t < sunday_3am + HOUR else v) for t, v in cpu(28)]
    status, message = judge(params(), samples, sunday_3am + 1800)
    assert status is Status.WARNING
    assert message.startswith("cpu.percent is 87 at Sun 03:00; usual for this hour ")
    low, high, expected = _figures(message)
    assert low < expected < high < 20
    assert expected == pytest.approx(8, abs=2)
    # Just before the spike the same hour is ordinary.
    assert judge(params(), samples, sunday_3am - 300)[0] is Status.OK


def _figures(message: str) -> tuple[float, float, float]:
    band = message.split("usual for this hour ")[1]
    low, rest = band.split(" to ")
    high, expected = rest.split(" (expected ")
    return float(low), float(high), float(expected.rstrip(")"))


def test_direction_decides_which_side_alerts() -> None:
    sunday_3am = START + 27 * fc.DAY + 3 * HOUR
    low = [(t, 0.0 if sunday_3am <= t < sunday_3am + HOUR else v) for t, v in cpu(28)]
    at = sunday_3am + 1800
    assert judge(params(), low, at)[0] is Status.OK  # above only, by default
    assert judge(params(direction="below"), low, at)[0] is Status.WARNING
    assert judge(params(direction="both"), low, at)[0] is Status.WARNING
    status, message = judge(params(direction="below", severity="critical"), low, at)
    assert status is Status.CRITICAL and "is 0 at Sun 03:00" in message


def test_the_floor_keeps_small_values_quiet() -> None:
    sunday_3am = START + 27 * fc.DAY + 3 * HOUR
    bump = [(t, 25.0 if sunday_3am <= t < sunday_3am + HOUR else v) for t, v in cpu(28)]
    at = sunday_3am + 1800
    assert judge(params(), bump, at)[0] is Status.WARNING
    assert judge(params(floor=30), bump, at)[0] is Status.OK
    assert judge(params(min_width=20), bump, at)[0] is Status.OK


def test_one_week_of_history_is_learning_and_never_alerts() -> None:
    monday_3am = START + 7 * fc.DAY + 3 * HOUR
    samples = [(t, 95.0 if t >= monday_3am else v) for t, v in cpu(8)]
    status, message = judge(params(), samples, monday_3am + 1800)
    assert status is Status.OK
    assert message == (
        "cpu.percent is 95 at Mon 03:00; learning: 1 of 2 weeks of history for this hour"
    )


def test_no_recent_samples_is_unknown_and_no_series_says_so() -> None:
    p = params()
    learned = check.learn(hours(cpu(21), START + 21 * fc.DAY), TZ, START + 21 * fc.DAY, p)
    r = check.evaluate(p, [check.Series({}, learned, None)], START + 21 * fc.DAY)
    assert r.status is Status.UNKNOWN
    assert r.message == "cpu.percent: no data in the last 30 min"
    r = check.evaluate(p, [], START)
    assert r.status is Status.UNKNOWN and r.message == "no cpu.percent data on this asset yet"


def test_the_hours_follow_the_organizations_wall_clock_across_dst() -> None:
    """Berlin leaves summer time on 25 October 2026: 03:00 local is 01:00 UTC before and
    02:00 UTC after; the baseline's Sunday 03:00 is the wall clock's."""
    start = datetime(2026, 10, 5, tzinfo=ZoneInfo(TZ)).timestamp()
    samples = fc.seasonal_only(start, 35, level=20, amplitude=12, noise=1, tz=TZ, seed=3)
    now = datetime(2026, 11, 8, 3, 30, tzinfo=ZoneInfo(TZ)).timestamp()
    hour = now - now % HOUR
    learned = check.learn(hours(samples, hour), TZ, hour, params())
    stats = learned.baseline.slots[6 * 24 + 3]
    assert stats.count == 4 and stats.days == 4
    assert stats.mean == pytest.approx(20 + 12 * -0.866, abs=1.5)  # 11 hours from the peak


def test_details_carry_the_slot_figures_and_several_series_put_the_unusual_first() -> None:
    sunday_3am = START + 27 * fc.DAY + 3 * HOUR
    spiky = [(t, 87.0 if sunday_3am <= t < sunday_3am + HOUR else v) for t, v in cpu(28)]
    calm = cpu(28, seed=2)
    now = sunday_3am + 1800
    p = params()
    series = [
        check.Series({"core": "0"}, check.learn(hours(calm, sunday_3am), TZ, sunday_3am, p),
                     window(calm, now)),
        check.Series({"core": "1"}, check.learn(hours(spiky, sunday_3am), TZ, sunday_3am, p),
                     window(spiky, now)),
    ]  # fmt: skip
    r = check.evaluate(p, series, now)
    assert r.status is Status.WARNING
    assert r.message.startswith("cpu.percent{core=1} is 87 at Sun 03:00")
    assert r.message.endswith("; 1 other usual")
    first, second = json.loads(r.details)["series"]
    assert first["state"] == "warning" and first["verdict"] == "unusually high"
    assert first["slot"] == 6 * 24 + 3 and first["slot_label"] == "Sun 03:00"
    assert first["samples"] == 6 and first["weeks_seen"] == 3 and first["min_weeks"] == 2
    assert first["low"] < first["expected"] < first["high"] < first["value"] == 87
    assert second["state"] == "ok"
    assert [m.name for m in r.metrics] == ["value", "expected"]


def test_d2_is_close_to_the_control_chart_table() -> None:
    for n, tabled in ((2, 1.128), (5, 2.326), (12, 3.258), (25, 3.931)):
        assert check.d2(n) == pytest.approx(tabled, rel=0.05)

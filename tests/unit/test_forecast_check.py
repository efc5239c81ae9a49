"""The forecast check type: parameters, and the judgement over an asset's series."""

from __future__ import annotations

import json

import pytest

from forewarn.domain import forecast as fc
from forewarn.domain.observation import Status
from forewarn.probes import forecast as check

NOW = 1_800_000_000.0
GB = 1e9
DAY = fc.DAY


def params(**kw: object) -> check.Params:
    return check.validate("", kw)


def free_space(days_left: float, history_days: float = 4, noise: float = 0.05 * GB):
    """Free bytes of a volume that fills 3 GB a day and is `days_left` from full at NOW."""
    rate = 3 * GB
    start = NOW - history_days * DAY
    level = rate * (days_left + history_days)
    return [
        (t, v)
        for t, v in fc.steady_fill(
            start, history_days, level=level, rate_per_day=-rate, noise=noise, seed=7, step=1800
        )
    ]


def test_defaults_forecast_every_volume_free_space() -> None:
    p = params()
    assert p.metric == "disk.free_bytes"
    assert p.limit() == 0
    assert p.rule().direction is fc.Direction.FALLING
    assert (p.warn_days, p.crit_days) == (14, 3)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"metric": "app.queue"}, "needs a direction and a threshold"),
        ({"metric": "app.queue", "direction": "rising"}, "needs a direction and a threshold"),
        ({"warn_days": 2, "crit_days": 5}, "crit_days must not be more than warn_days"),
        ({"warn_days": 0}, "greater than 0"),
        ({"window_days": 90}, "less than or equal to 28"),
        ({"direction": "sideways"}, "rising"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_definitions_say_what_is_wrong(raw: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        check.validate("", raw)


def test_a_target_is_refused() -> None:
    with pytest.raises(ValueError, match="no target"):
        check.validate("fs01", {})


def test_a_volume_five_days_from_full_warns_in_words_a_technician_reads() -> None:
    s = check.Series({"mount": "/srv"}, free_space(5))
    r = check.evaluate(params(), [s], NOW, {})
    assert r.status is Status.WARNING
    # The range is left out when both its ends read as the estimate does.
    assert r.message == "the /srv volume will be full in about 5 days (growing 3.0 GB/day)"
    assert r.metrics[0].name == "days_left"
    assert r.metrics[0].value == pytest.approx(5, rel=0.05)
    fig = json.loads(r.details)["series"][0]
    assert fig["state"] == "warning"
    assert fig["chosen"] == "least_squares"
    methods = [e["method"] for e in fig["estimates"]]
    assert methods == ["least_squares", "smoothed_rate", "daily_means"]
    assert fig["estimates"][0]["r2"] > 0.99


def test_a_noisier_fill_gives_its_range() -> None:
    s = check.Series({"mount": "/srv"}, free_space(2, noise=0.6 * GB))
    r = check.evaluate(params(), [s], NOW, {})
    assert r.message == (
        "the /srv volume will be full in about 2.1 days (growing 3.0 GB/day; range 2 to 2.2 days)"
    )


def test_two_days_from_full_is_critical_and_the_worst_volume_comes_first() -> None:
    series = [
        check.Series({"mount": "/"}, free_space(40)),
        check.Series({"mount": "/var"}, free_space(2)),
    ]
    r = check.evaluate(params(), series, NOW, {})
    assert r.status is Status.CRITICAL
    assert r.message.startswith("the /var volume will be full in about 2 days")
    assert r.message.endswith("; 1 other fine")


def test_hysteresis_keeps_a_warning_until_the_forecast_recedes_past_twice_the_lead() -> None:
    s = check.Series({"mount": "/srv"}, free_space(20))
    assert check.evaluate(params(), [s], NOW, {}).status is Status.OK
    before = check.evaluate(params(), [check.Series({"mount": "/srv"}, free_space(10))], NOW, {})
    held = check.previous_states(before.details)
    assert held == {"mount=/srv": Status.WARNING}
    assert check.evaluate(params(), [s], NOW, held).status is Status.WARNING
    far = check.Series({"mount": "/srv"}, free_space(40))
    assert check.evaluate(params(), [far], NOW, held).status is Status.OK


def test_lead_times_come_from_the_check() -> None:
    s = check.Series({"mount": "/srv"}, free_space(5))
    assert check.evaluate(params(warn_days=4, crit_days=1), [s], NOW, {}).status is Status.OK


def test_no_data_and_too_little_data_are_said_so() -> None:
    r = check.evaluate(params(), [], NOW, {})
    assert r.status is Status.UNKNOWN
    assert r.message == "no disk.free_bytes data on this asset yet"
    one = check.Series({"mount": "/"}, [(NOW - 60, 5 * GB)])
    r = check.evaluate(params(), [one], NOW, {})
    assert r.status is Status.OK
    assert r.message == "the / volume: not enough data: too few points"
    assert r.metrics == ()


def test_noise_alone_raises_nothing() -> None:
    flat = fc.noise_only(NOW - 6 * DAY, 6, level=50 * GB, noise=2 * GB, seed=3, step=1800)
    r = check.evaluate(params(), [check.Series({"mount": "/"}, flat)], NOW, {})
    assert r.status is Status.OK


def test_a_full_volume_is_critical_now() -> None:
    s = check.Series({"mount": "/"}, free_space(-0.5))
    r = check.evaluate(params(), [s], NOW, {})
    assert r.status is Status.CRITICAL
    assert r.message == "the / volume: full now"


def test_unknown_metrics_name_their_limit() -> None:
    p = params(metric="app.queue_depth", direction="rising", threshold=1000)
    pts = fc.steady_fill(NOW - 3 * DAY, 3, level=100, rate_per_day=100, noise=2, step=1800)
    r = check.evaluate(p, [check.Series({}, pts)], NOW, {})
    assert r.status is Status.WARNING
    assert r.message.startswith("app.queue_depth will be at 1000 in about 6 days (moving 100/day")


def test_broken_previous_details_are_ignored() -> None:
    assert check.previous_states("not json") == {}
    assert check.previous_states('{"series": [{"key": "a"}]}') == {}
    assert check.previous_states("") == {}


def seasonal_fill(days_left: float, history_days: float) -> list[fc.Sample]:
    """Free space falling 3 GB a day while swinging 8 GB between afternoon and night."""
    start = NOW - history_days * DAY
    level = 3 * GB * (days_left + history_days)
    return fc.seasonal_fill(
        start, history_days, level=level, rate_per_day=-3 * GB, amplitude=4 * GB,
        noise=0.2 * GB, seed=5, step=1800,
    )  # fmt: skip


def test_a_fill_hidden_by_a_daily_cycle_is_found_through_daily_means() -> None:
    s = check.Series({"mount": "/srv"}, seasonal_fill(7, history_days=3))
    r = check.evaluate(params(), [s], NOW, {})
    fig = json.loads(r.details)["series"][0]
    ls = next(e for e in fig["estimates"] if e["method"] == "least_squares")
    assert ls["declined"] == fc.Decline.NOISY.value  # a straight line fits the swing badly
    assert fig["chosen"] == "daily_means"
    assert r.status is Status.WARNING
    assert r.metrics[0].value == pytest.approx(7, rel=0.15)


def test_a_daily_cycle_alone_gives_no_date_through_daily_means_either() -> None:
    for seed in range(5):
        cycle = fc.seasonal_only(
            NOW - 7 * DAY, 7, level=30 * GB, amplitude=10 * GB, noise=GB, seed=seed, step=1800
        )
        r = check.evaluate(params(), [check.Series({"mount": "/"}, cycle)], NOW, {})
        assert r.status is Status.OK, r.message
        fig = json.loads(r.details)["series"][0]
        assert fig["chosen"] == "least_squares"


def test_daily_means_start_after_a_deletion() -> None:
    samples = fc.deletion(
        NOW - 6 * DAY, 6, level=40 * GB, rate_per_day=-3 * GB, at_day=2, amount=-20 * GB,
        seed=6, step=1800,
    )  # fmt: skip
    f = fc.daily_means(samples, NOW, 0.0, params().rule())
    assert f.restarted_at == pytest.approx(NOW - 4 * DAY, abs=1800)
    assert f.rate_per_day == pytest.approx(-3 * GB, rel=0.05)


def test_moving_means_of_a_line_sit_on_the_line() -> None:
    line = [(NOW + i * 1800.0, 5.0 + i) for i in range(200)]
    means = fc.moving_means(line, DAY)
    assert len(means) == 200 - 48
    for t, v in means:
        assert v == pytest.approx(5.0 + (t - NOW) / 1800.0)
    # Across a gap, a window needs 12 samples again before it gives a mean.
    gappy = line[:60] + line[150:]
    assert len(fc.moving_means(gappy, DAY)) == (60 - 48) + (200 - 161)

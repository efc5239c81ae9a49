"""Forecast checks end to end: agent batches through ingest, rollups, the poller, alerts.

The time-travel simulator plays days of synthetic series with a moved clock; each test reads
what the check said and when its predictive alert opened and closed.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from forewarn.domain import forecast as fc
from forewarn.domain.clock import ManualClock
from forewarn.services import checks, policies, simulator
from forewarn.services.context import Context
from forewarn.services.forecasts import DEFAULT_CHECKS
from forewarn.services.schemas import PolicyCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import AlertRow
from tests.conftest import make_org, make_person
from tests.integration.test_ingest import enroll
from tests.integration.test_web import signed_in

GB = 1e9
DAY = fc.DAY
START = simulator.at("2026-11-02T09:00:00")


def fill(name: str, days: float, *, full_after: float, rate: float = 3 * GB) -> simulator.Trace:
    """A volume filling at `rate` a day that is full `full_after` days after START."""
    samples = fc.steady_fill(
        START, days, level=rate * full_after, rate_per_day=-rate, noise=0.2 * GB, seed=1
    )
    return simulator.Trace(name, samples, fails_at=START + full_after * DAY)


def test_enrolled_machines_get_the_default_forecasts(client: TestClient, ctx: Context) -> None:
    joined = enroll(client, ctx, make_org(ctx, "Forecast Ltd"))
    got = checks.list_(ctx, SYSTEM, asset_id=joined["asset_id"]).items
    assert sorted((c.name, c.type, c.interval_s) for c in got) == sorted(
        (name, "forecast", 3600) for name, _ in DEFAULT_CHECKS
    )


def test_a_filling_volume_warns_then_turns_critical_and_the_alert_is_predictive(
    ctx: Context, clock: ManualClock
) -> None:
    trace = fill("srv", 9, full_after=8)
    (out,) = simulator.simulate(ctx, clock, [trace], start=START, end=START + 6.5 * DAY)

    first = out.first_alert()
    assert first is not None
    # Warned as soon as a day of data existed (the estimators' minimum), 7 days ahead.
    assert START + DAY <= first <= START + 1.5 * DAY
    said = out.estimate_at(START + 2 * DAY)
    assert said is not None and said.days_left is not None
    true_left = (trace.fails_at - said.at) / DAY  # type: ignore[operator]
    assert said.days_left == pytest.approx(true_left, rel=0.2)
    assert said.message.startswith("the /sim/srv volume will be full in about 6 days")
    last = out.said[-1]
    assert last.status == "critical", last
    assert [a.severity for a in out.alerts] == ["critical"]  # one alert, grown worse
    with ctx.db.read() as session:
        alert = session.scalars(select(AlertRow).where(AlertRow.check_id == out.check_id)).one()
        assert alert.labels["kind"] == "predictive"
        assert alert.summary.startswith("simulated · forecast srv: the /sim/srv volume will be")


def test_space_freed_closes_the_alert_by_itself(ctx: Context, clock: ManualClock) -> None:
    samples = fc.deletion(
        START, 6, level=21 * GB, rate_per_day=-3 * GB, at_day=3.5, amount=-60 * GB, seed=2
    )
    trace = simulator.Trace("freed", samples)
    (out,) = simulator.simulate(ctx, clock, [trace], start=START, end=START + 6 * DAY)
    assert len(out.alerts) == 1
    span = out.alerts[0]
    assert span.opened < START + 3.5 * DAY
    assert span.closed is not None
    assert START + 3.5 * DAY <= span.closed <= START + 4 * DAY


def test_noise_and_daily_cycles_raise_nothing(ctx: Context, clock: ManualClock) -> None:
    noise = fc.noise_only(START, 5, level=40 * GB, noise=3 * GB, seed=3)
    cycle = fc.seasonal_only(START, 5, level=40 * GB, amplitude=8 * GB, noise=0.5 * GB, seed=4)
    outs = simulator.simulate(
        ctx,
        clock,
        [simulator.Trace("noise", noise), simulator.Trace("cycle", cycle)],
        start=START,
        end=START + 5 * DAY,
    )
    for out in outs:
        assert out.alerts == [], out.trace.name
        assert {s.status for s in out.said} == {"ok"}, out.said[-1]


def test_scattered_points_say_not_enough_data_and_then_no_recent_data(
    ctx: Context, clock: ManualClock
) -> None:
    points: list[Any] = [(START + h * 3600, 50 * GB - h * GB) for h in (0, 1, 30)]
    trace = simulator.Trace("sparse", points)
    (out,) = simulator.simulate(ctx, clock, [trace], start=START, end=START + 2 * DAY)
    assert out.alerts == []
    by_hour = {round((s.at - START) / 3600): s.message for s in out.said}
    assert by_hour[31] == "the /sim/sparse volume: not enough data: too few points"
    assert by_hour[48] == "the /sim/sparse volume: no recent data"


def test_the_check_page_shows_the_forecast_with_both_estimates(
    client: TestClient, ctx: Context, clock: ManualClock
) -> None:
    trace = fill("srv", 4, full_after=8)
    (out,) = simulator.simulate(ctx, clock, [trace], start=START, end=START + 3 * DAY)
    org_id = checks.get(ctx, SYSTEM, out.check_id).org_id
    make_person(ctx, "tech", roles={org_id: "technician"})
    signed_in(client, "tech")
    page = client.get(f"/checks/{out.check_id}")
    assert page.status_code == 200
    html = page.text
    assert 'id="forecast"' in html
    assert "the /sim/srv volume will be full in about 5 days" in html
    assert "Least squares" in html and "Smoothed rate" in html
    assert "chart-forecast" in html  # the dashed line towards the limit
    assert '"estimates"' not in html  # the raw figures are not dumped as JSON

    make_person(ctx, "other", roles={make_org(ctx, "Other Ltd"): "admin"})
    signed_in(client, "other")
    assert client.get(f"/checks/{out.check_id}").status_code == 404


def test_a_policy_sets_the_lead_times_of_the_default_forecast(
    client: TestClient, ctx: Context
) -> None:
    org_id = make_org(ctx, "Policy Ltd")
    joined = enroll(client, ctx, org_id)
    policies.create(
        ctx,
        SYSTEM,
        PolicyCreate(
            org_id=org_id,
            name="servers keep a month",
            checks=[
                {
                    "name": "Disk space forecast",
                    "type": "forecast",
                    "params": {"warn_days": 30, "crit_days": 7},
                }
            ],
        ),
    )
    got = {c.name: c for c in checks.list_(ctx, SYSTEM, asset_id=joined["asset_id"]).items}
    disk = got["Disk space forecast"]
    assert disk.params["warn_days"] == 30 and disk.params["crit_days"] == 7
    assert disk.source.startswith("policy:")
    assert got["Inode forecast"].source == "default"

"""Anomaly checks end to end: agent batches through ingest, rollups, the poller, alerts.

The time-travel simulator plays weeks of a CPU series with a moved clock in an organization
on Berlin time; each test reads what the check said and when its alert opened and closed.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select

from forewarn.domain import forecast as fc
from forewarn.domain.clock import ManualClock
from forewarn.services import checks, simulator
from forewarn.services.context import Context
from forewarn.services.scope import SYSTEM
from forewarn.store.models import AlertRow
from tests.conftest import make_org, make_person
from tests.integration.test_web import signed_in

TZ = "Europe/Berlin"
START = datetime(2026, 11, 9, tzinfo=ZoneInfo(TZ)).timestamp()  # a Monday, 00:00 in Berlin
HOUR = 3600.0
SUNDAY_3AM = START + 20 * fc.DAY + 3 * HOUR  # the third Sunday
# Hourly roll-ups need no 5-minute samples: 15-minute ones keep the runs short.
STEP = 900.0


def cpu(days: float, *, spike_at: float | None = None) -> simulator.Trace:
    """Quiet nights around 8 %, busy afternoons around 32 %; 87 % in the hour after
    `spike_at` (its samples at :15, :30, :45 and :00)."""
    samples = fc.seasonal_only(
        START, days, level=20, amplitude=12, noise=3, tz=TZ, seed=5, step=STEP
    )
    if spike_at is not None:
        samples = [(t, 87.0 if spike_at < t <= spike_at + HOUR else v) for t, v in samples]
    return simulator.Trace("cpu", samples, metric="cpu.percent", check_type="anomaly")


def play(
    ctx: Context, clock: ManualClock, trace: simulator.Trace, days: float, every: float = 2 * HOUR
) -> simulator.Outcome:
    """Run the simulation; the checks run at each send, every 2 hours from local midnight
    (fewer turns keep the test quick; the spikes fall in the hour before a turn)."""
    end = START + days * fc.DAY
    (out,) = simulator.simulate(ctx, clock, [trace], start=START, end=end, send_every=every, tz=TZ)
    return out


def test_a_3_am_spike_after_weeks_of_an_ordinary_cycle_warns_and_then_closes(
    ctx: Context, clock: ManualClock
) -> None:
    out = play(ctx, clock, cpu(20.5, spike_at=SUNDAY_3AM), 20.3)

    before = [s for s in out.said if s.at < SUNDAY_3AM + 1]
    assert {s.status for s in before} == {"ok"}, [s for s in before if s.status != "ok"][:3]
    # The first two weeks learn; from the third the hours are judged.
    assert "learning: 1 of 2 weeks of history" in before[12 * 7 + 2].message
    assert "usual for this hour" in before[-1].message

    assert len(out.alerts) == 1, out.alerts
    (span,) = out.alerts
    assert span.severity == "warning"
    assert span.opened == SUNDAY_3AM + HOUR  # the run at 04:00 judged 03:30-04:00
    assert span.closed == SUNDAY_3AM + 3 * HOUR  # back to normal at the next one, 06:00
    said = out.estimate_at(SUNDAY_3AM + HOUR)
    assert said is not None and said.status == "warning"
    assert said.message.startswith("cpu.percent{mount=/sim/cpu} is 87 at Sun 03:00; usual")
    with ctx.db.read() as session:
        alert = session.scalars(select(AlertRow).where(AlertRow.check_id == out.check_id)).one()
        assert alert.labels["kind"] == "check" and alert.labels["type"] == "anomaly"
        assert alert.severity == "warning"


def test_one_week_of_history_says_learning_and_raises_nothing(
    ctx: Context, clock: ManualClock
) -> None:
    monday_3am = START + 7 * fc.DAY + 3 * HOUR
    trace = cpu(8.5, spike_at=monday_3am)
    out = play(ctx, clock, trace, 8.3)
    assert out.alerts == []
    assert {s.status for s in out.said} == {"ok"}
    said = out.estimate_at(monday_3am + HOUR)
    assert said is not None
    assert said.message == (
        "cpu.percent{mount=/sim/cpu} is 87 at Mon 03:00; "
        "learning: 1 of 2 weeks of history for this hour"
    )


def test_the_check_page_shows_the_week_against_the_usual_band(
    client: TestClient, ctx: Context, clock: ManualClock
) -> None:
    out = play(ctx, clock, cpu(15), 15, every=6 * HOUR)
    org_id = checks.get(ctx, SYSTEM, out.check_id).org_id
    make_person(ctx, "tech", roles={org_id: "technician"})
    signed_in(client, "tech")
    page = client.get(f"/checks/{out.check_id}")
    assert page.status_code == 200
    html = page.text
    assert 'id="anomaly"' in html
    assert "usual for this hour" in html
    assert "Usual for the hour" in html  # the band's legend
    assert "of 2 needed" in html
    assert '"slot_label"' not in html  # the raw figures are not dumped as JSON

    make_person(ctx, "other", roles={make_org(ctx, "Other Ltd"): "admin"})
    signed_in(client, "other")
    assert client.get(f"/checks/{out.check_id}").status_code == 404

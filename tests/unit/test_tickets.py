"""Ticket rules: status moves, SLA deadlines and breaches, and a month's figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forewarn.domain.tickets import (
    AlertTimes,
    Origin,
    Priority,
    TicketStatus,
    TicketTimes,
    check_move,
    figures,
    priority_of_severity,
    proactive,
    sla_state,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("new", "open"),
        ("open", "waiting"),
        ("waiting", "open"),
        ("open", "resolved"),
        ("resolved", "open"),
        ("resolved", "closed"),
        ("closed", "closed"),
    ],
)
def test_allowed_moves(old, new):
    check_move(TicketStatus(old), TicketStatus(new))


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        ("closed", "open", "it is final"),
        ("new", "closed", "may become open, resolved, waiting"),
        ("waiting", "closed", "may become open, resolved"),
    ],
)
def test_refused_moves_say_what_is_allowed(old, new, why):
    with pytest.raises(ValueError, match=why):
        check_move(TicketStatus(old), TicketStatus(new))


def test_sla_deadlines_breaches_and_risk():
    s = sla_state(Priority.URGENT, T0, None, None, T0 + 5 * MIN)
    assert s.respond_due == T0 + 15 * MIN and s.resolve_due == T0 + timedelta(hours=4)
    assert not s.respond_breached and not s.respond_at_risk
    risky = sla_state(Priority.URGENT, T0, None, None, T0 + 13 * MIN)
    assert risky.respond_at_risk and not risky.respond_breached
    late = sla_state(Priority.URGENT, T0, None, None, T0 + 16 * MIN)
    assert late.respond_breached and not late.respond_at_risk
    # Answered in time: never breached afterwards, whatever the clock says.
    answered = sla_state(Priority.URGENT, T0, T0 + 10 * MIN, None, T0 + timedelta(days=2))
    assert not answered.respond_breached and answered.resolve_breached
    done = sla_state(Priority.LOW, T0, T0 + MIN, T0 + timedelta(days=1), T0 + timedelta(days=9))
    assert not done.resolve_breached and not done.resolve_at_risk


def test_priority_follows_the_alert_severity():
    assert priority_of_severity("critical") is Priority.HIGH
    assert priority_of_severity("warning") is Priority.NORMAL
    assert priority_of_severity("info") is Priority.LOW


def test_proactive_share_counts_what_the_platform_raised_first():
    platform = TicketTimes(T0, Origin.MONITORING, None, None)
    reported_after_alert = TicketTimes(T0, Origin.USER, None, None, first_alert_at=T0 - MIN)
    reported_first = TicketTimes(T0, Origin.USER, None, None, first_alert_at=T0 + MIN)
    reported_unseen = TicketTimes(T0, Origin.USER, None, None)
    assert [proactive(t) for t in (platform, reported_after_alert, reported_first)] == [
        True,
        True,
        False,
    ]
    f = figures([], [platform, reported_after_alert, reported_first, reported_unseen])
    assert (f.tickets, f.proactive, f.proactive_share) == (4, 2, 0.5)


def test_means_over_what_happened():
    alerts = [
        AlertTimes(T0, T0 + 4 * MIN, T0 + 30 * MIN),
        AlertTimes(T0, T0 + 8 * MIN, None),
        AlertTimes(T0, None, T0 + 10 * MIN),
    ]
    tickets = [TicketTimes(T0, Origin.USER, T0 + 20 * MIN, T0 + 60 * MIN)]
    f = figures(alerts, tickets)
    assert f.alerts == 3 and f.mtta == 6 * MIN and f.mttr == 20 * MIN
    assert f.time_to_respond == 20 * MIN and f.time_to_resolve == 60 * MIN
    empty = figures([], [])
    assert empty.mtta is None and empty.proactive_share is None


@given(st.lists(st.sampled_from(list(Origin)), max_size=30))
def test_the_share_is_a_fraction_of_the_tickets(origins):
    tickets = [TicketTimes(T0, o, None, None) for o in origins]
    f = figures([], tickets)
    problems = [o for o in origins if o is not Origin.CHECKLIST]  # planned work stays out
    assert f.tickets == len(origins)
    if not problems:
        assert f.proactive_share is None
    else:
        assert f.proactive_share == sum(o is not Origin.USER for o in problems) / len(problems)


def test_a_checklist_is_neither_caught_first_nor_missed():
    """Planned work (a leaver's checklist) is counted and timed but left out of the share,
    even with an alert linked to it later."""
    leaver = TicketTimes(T0, Origin.CHECKLIST, T0 + MIN, None, first_alert_at=T0 - MIN)
    reported = TicketTimes(T0, Origin.USER, None, None)
    f = figures([], [leaver, reported])
    assert not proactive(leaver)
    assert (f.tickets, f.problems, f.proactive, f.proactive_share) == (2, 1, 0, 0.0)
    assert f.time_to_respond == MIN
    assert figures([], [leaver]).proactive_share is None


# ---- the same problem, reported first -----------------------------------------------------------

HOUR = timedelta(hours=1)


def _platform(at: datetime = T0, alert: int = 1, asset: int = 10) -> TicketTimes:
    return TicketTimes(
        at,
        Origin.MONITORING,
        None,
        None,
        first_alert_at=at,
        alert_ids=frozenset({alert}),
        asset_ids=frozenset({asset}),
    )


def _report(
    at: datetime,
    *,
    alerts: set[int] = frozenset(),
    assets: set[int] = frozenset(),
    resolved_at: datetime | None = None,
) -> TicketTimes:
    return TicketTimes(
        at,
        Origin.USER,
        None,
        resolved_at,
        alert_ids=frozenset(alerts),
        asset_ids=frozenset(assets),
    )


@pytest.mark.parametrize(
    ("report", "caught_first"),
    [
        (_report(T0 + MIN, assets={10}), True),  # the platform was first
        (_report(T0 - HOUR, assets={10}), False),  # a person, earlier, on the same asset
        (_report(T0 - HOUR, assets={11}), True),  # another asset: another problem
        (_report(T0 - HOUR), True),  # about nothing the platform knows of
        (_report(T0 - 25 * HOUR, assets={10}), True),  # too long before to be the same
        (_report(T0 - HOUR, assets={10}, resolved_at=T0 - MIN), True),  # over before
        (_report(T0 - 72 * HOUR, alerts={1}), False),  # linked to the platform's alert
        (_report(T0 - 72 * HOUR, alerts={1}, resolved_at=T0 - HOUR), False),
    ],
)
def test_a_platform_ticket_is_caught_first_unless_a_person_reported_the_problem_before(
    report, caught_first
):
    platform = _platform()
    assert proactive(platform, [report]) is caught_first
    f = figures([], [platform, report])
    assert f.proactive == int(caught_first) + int(proactive(report))


def test_a_report_from_before_the_month_still_counts_as_first():
    """The person's ticket of 23:00 on the last day of the month before is not one of this
    month's tickets, but it still came first."""
    platform = _platform()
    earlier = _report(T0 - 10 * HOUR, assets={10})
    assert figures([], [platform]).proactive == 1
    f = figures([], [platform], earlier=[earlier])
    assert (f.tickets, f.proactive, f.proactive_share) == (1, 0, 0.0)


@given(
    st.lists(
        st.tuples(
            st.integers(-100, 100),  # minutes from the platform's ticket
            st.sets(st.integers(1, 3), max_size=2),  # linked alerts
            st.sets(st.integers(10, 12), max_size=2),  # their assets
        ),
        max_size=8,
    )
)
def test_only_earlier_reports_of_the_same_problem_take_the_credit(reports):
    platform = _platform()
    made = [_report(T0 + m * MIN, alerts=a, assets=s) for m, a, s in reports]
    same = [
        r
        for r in made
        if r.created_at < T0 and (1 in r.alert_ids or 10 in r.asset_ids)  # within 100 min
    ]
    assert proactive(platform, made) is (not same)
    # Reports after it, or about other alerts and assets, never matter.
    assert proactive(platform, [r for r in made if r not in same])

"""The next run of a script schedule (domain.schedules, the maintenance windows' recurrence)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from forewarn.domain.schedules import next_run, window


@given(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2030, 1, 1)),
    st.sampled_from(["daily", "weekly", "monthly"]),
    st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]),
    st.integers(min_value=0, max_value=400),
)
def test_the_next_run_is_a_later_occurrence_and_never_far(start, repeat, tz, days) -> None:
    w = window(start.replace(second=0, microsecond=0), repeat, frozenset(), tz)
    after = start.replace(tzinfo=UTC) + timedelta(days=days)
    nxt = next_run(w, after)
    assert nxt is not None and nxt > after
    assert w.active(nxt)
    # Within one period (a monthly one on the 31st skips the shorter months).
    limit = {"daily": 2, "weekly": 8, "monthly": 63}[repeat]
    assert nxt - after <= timedelta(days=limit)


def test_a_weekly_schedule_keeps_its_wall_clock_time_across_daylight_saving() -> None:
    w = window(datetime(2026, 10, 18, 2, 30), "weekly", frozenset({7}), "Europe/Berlin")
    summer = next_run(w, datetime(2026, 10, 12, tzinfo=UTC))
    winter = next_run(w, datetime(2026, 10, 26, tzinfo=UTC))
    assert summer == datetime(2026, 10, 18, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert winter == datetime(2026, 11, 1, 1, 30, tzinfo=UTC)  # 02:30 CET


def test_a_one_off_runs_once() -> None:
    w = window(datetime(2026, 11, 1, 2, 0), "none", frozenset(), "UTC")
    first = next_run(w, datetime(2026, 10, 1, tzinfo=UTC))
    assert first == datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    assert next_run(w, first) is None

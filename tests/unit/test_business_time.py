"""Time counted in business hours: deadlines that stop outside them (SLAs)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from forewarn.domain.routing import BusinessHours
from forewarn.domain.tickets import Priority, sla_state

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = BusinessHours(frozenset({1, 2, 3, 4, 5}), time(9), time(17), "Europe/Berlin")


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


def test_the_clock_stops_at_closing_time_and_over_the_weekend():
    friday_4pm = berlin(2026, 11, 27, 16, 0)
    assert OFFICE.after(friday_4pm, timedelta(hours=4)) == berlin(2026, 11, 30, 12, 0)
    saturday = berlin(2026, 11, 28, 10, 0)
    assert OFFICE.after(saturday, timedelta(hours=1)) == berlin(2026, 11, 30, 10, 0)
    before_opening = berlin(2026, 12, 2, 7, 30)
    assert OFFICE.after(before_opening, timedelta(hours=1)) == berlin(2026, 12, 2, 10, 0)
    # A whole business day is 8 hours of it: Friday 16:00 + 24 h = Wednesday 16:00.
    assert OFFICE.after(friday_4pm, timedelta(days=1)) == berlin(2026, 12, 2, 16, 0)
    assert OFFICE.open_between(friday_4pm, berlin(2026, 11, 30, 12, 0)) == timedelta(hours=4)
    assert OFFICE.after(saturday, timedelta(0)) == saturday


def test_a_change_of_daylight_saving_time_over_the_weekend_keeps_the_wall_clock():
    ny = ZoneInfo("America/New_York")
    hours = BusinessHours(frozenset({1, 2, 3, 4, 5}), time(9), time(17), "America/New_York")
    friday = datetime(2026, 3, 6, 16, 0, tzinfo=ny)  # EST; clocks go forward on Sunday 8 March
    due = hours.after(friday.astimezone(UTC), timedelta(hours=2))
    assert due == datetime(2026, 3, 9, 10, 0, tzinfo=ny).astimezone(UTC)  # 10:00 EDT
    assert due.astimezone(ny).utcoffset() == timedelta(hours=-4)


def test_overnight_and_whole_day_hours():
    nights = BusinessHours(frozenset(range(1, 8)), time(22), time(6), "UTC")
    at_5 = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
    # One hour left of the night, then the next night from 22:00.
    assert nights.after(at_5, timedelta(hours=2)) == datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    always = BusinessHours(frozenset(range(1, 8)), time(0), time(0), "UTC")
    assert always.after(at_5, timedelta(days=3)) == at_5 + timedelta(days=3)


ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"])
# Whole minutes, as the organization form takes them: at least a minute open a week, so
# eight hours of open time fit within the ten years `after` looks ahead.
MINUTES = st.builds(time, st.integers(0, 23), st.integers(0, 59))
DAYS = st.frozensets(st.integers(1, 7), min_size=1)
HOURS = st.builds(BusinessHours, DAYS, MINUTES, MINUTES, ZONES)
MOMENTS = st.datetimes(datetime(2025, 1, 1), datetime(2028, 1, 1), timezones=st.just(UTC))
SPANS = st.timedeltas(timedelta(0), timedelta(hours=8))


@given(HOURS, MOMENTS, SPANS, SPANS)
def test_a_deadline_lies_exactly_that_much_open_time_ahead(hours, start, a, b):
    due = hours.after(start, a)
    assert due >= start
    assert hours.open_between(start, due) == a
    if a <= b:
        assert due <= hours.after(start, b)


@given(
    # No daylight saving in these zones: no wall-clock times that do not exist.
    st.builds(BusinessHours, DAYS, MINUTES, MINUTES, st.sampled_from(["UTC", "Asia/Tokyo"])),
    MOMENTS,
    st.timedeltas(timedelta(microseconds=1), timedelta(hours=8)),
)
def test_a_deadline_falls_in_business_hours(hours, start, span):
    due = hours.after(start, span)
    assert hours.within(due - timedelta(microseconds=1))


def test_sla_deadlines_count_business_hours_except_for_urgent_tickets():
    created = berlin(2026, 11, 27, 17, 30)  # Friday, after closing
    normal = sla_state(Priority.NORMAL, created, None, None, created, hours=OFFICE)
    assert normal.respond_due == berlin(2026, 11, 30, 13, 0)  # 4 h from Monday's opening
    assert normal.resolve_due == berlin(2026, 12, 2, 17, 0)  # 1 day = 3 business days of 8 h
    saturday = sla_state(
        Priority.NORMAL, created, None, None, berlin(2026, 11, 28, 12, 0), hours=OFFICE
    )
    assert not saturday.respond_breached and not saturday.respond_at_risk
    monday = sla_state(
        Priority.NORMAL, created, None, None, berlin(2026, 11, 30, 12, 15), hours=OFFICE
    )
    assert monday.respond_at_risk and not monday.respond_breached  # 45 min of 4 h left
    late = sla_state(
        Priority.NORMAL, created, None, None, berlin(2026, 11, 30, 13, 1), hours=OFFICE
    )
    assert late.respond_breached
    urgent = sla_state(Priority.URGENT, created, None, None, created, hours=OFFICE)
    assert urgent.respond_due == created + timedelta(minutes=15)  # around the clock
    assert sla_state(Priority.NORMAL, created, None, None, created).respond_due == (
        created + timedelta(hours=4)  # no business hours: around the clock
    )


def test_hours_that_end_at_24_00_run_to_midnight():
    from forewarn.services.orgs import business_hours
    from forewarn.store.models import Organization

    org = Organization(
        business_hours={"days": [6], "start": "10:00", "end": "24:00"}, timezone="UTC"
    )
    hours = business_hours(org)
    assert hours is not None  # was None ("24:00" is no time of day): open around the clock
    assert hours.within(datetime(2026, 11, 28, 23, 59, tzinfo=UTC))  # a Saturday
    assert not hours.within(datetime(2026, 11, 29, 0, 0, tzinfo=UTC))
    assert not hours.within(datetime(2026, 11, 28, 9, 59, tzinfo=UTC))


def test_hours_too_short_to_hold_an_sla_count_as_none():
    minute_a_week = BusinessHours(frozenset({1}), time(9, 0), time(9, 1), "UTC")
    created = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    state = sla_state(Priority.LOW, created, None, None, created, hours=minute_a_week)
    assert state.resolve_due == created + timedelta(days=3)  # 4,320 weeks: around the clock
    assert not state.resolve_at_risk  # judged on the same clock: 3 days left of 3
    assert state.respond_due == minute_a_week.after(created, timedelta(hours=8))
    then = created + timedelta(days=2, hours=12)
    late = sla_state(Priority.LOW, created, None, None, then, hours=minute_a_week)
    assert late.resolve_at_risk

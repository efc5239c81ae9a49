from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forewarn.domain.maintenance import Repeat, Window
from forewarn.domain.observation import Status
from forewarn.domain.uptime import uptime

H = timedelta(hours=1)


def utc(*a):
    return datetime(*a, tzinfo=UTC)


def test_weekly_window_stays_on_local_wall_clock_across_dst():
    # Sundays 02:30-03:30 Berlin; DST ends 2026-10-25 (CEST->CET).
    w = Window(datetime(2026, 10, 18, 2, 30), H, "Europe/Berlin", Repeat.WEEKLY)
    occ = list(w.occurrences(utc(2026, 10, 17), utc(2026, 11, 2)))
    # 02:30 on the 25th happens twice; the first (summer time) is the one taken.
    assert [s for s, _ in occ] == [
        utc(2026, 10, 18, 0, 30),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 11, 1, 1, 30),
    ]
    assert len(occ) == 3
    assert w.active(utc(2026, 11, 1, 1, 45))
    assert not w.active(utc(2026, 11, 1, 2, 45))


def test_one_off_monthly_daily_and_until():
    once = Window(datetime(2026, 5, 1, 22, 0), 2 * H)
    assert once.active(utc(2026, 5, 1, 23, 59)) and not once.active(utc(2026, 5, 2, 0, 0))
    monthly = Window(datetime(2026, 1, 15, 1, 0), H, repeat=Repeat.MONTHLY)
    assert monthly.active(utc(2026, 7, 15, 1, 30)) and not monthly.active(utc(2026, 7, 16, 1, 30))
    daily = Window(datetime(2026, 1, 1, 23, 30), H, repeat=Repeat.DAILY, until=date(2026, 1, 3))
    assert daily.active(utc(2026, 1, 4, 0, 15))  # the 3rd's occurrence runs past midnight
    assert not daily.active(utc(2026, 1, 4, 23, 45))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"duration": timedelta(0)},
        {"tz": "Mars/Olympus"},
        {"weekdays": frozenset({8}), "repeat": Repeat.WEEKLY},
        {"until": date(2025, 1, 1)},
    ],
)
def test_bad_windows_are_refused(kwargs):
    base = {"start": datetime(2026, 1, 1, 1, 0), "duration": H}
    with pytest.raises(ValueError):
        Window(**(base | kwargs))


def test_uptime_excludes_maintenance_and_unknown():
    day = utc(2026, 3, 1)
    changes = [
        (day - H, Status.OK),  # the day starts up
        (day + 10 * H, Status.CRITICAL),  # 2 h down, 1 h of it in maintenance
        (day + 12 * H, Status.OK),
        (day + 20 * H, Status.UNKNOWN),  # 1 h no data
        (day + 21 * H, Status.OK),
    ]
    u = uptime(changes, day, day + 24 * H, [(day + 11 * H, day + 13 * H)])
    assert u.maintenance == 2 * 3600
    assert u.down == 3600
    assert u.unknown == 3600
    assert u.up == 20 * 3600
    assert u.ratio == pytest.approx(20 / 21)
    assert uptime([], day, day + H).ratio is None


@given(
    st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(list(Status))), max_size=20).map(
        sorted
    ),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 3000)), max_size=5),
)
def test_uptime_accounts_for_every_second(points, holes):
    t0 = utc(2026, 1, 1)
    at = lambda s: t0 + timedelta(seconds=s)  # noqa: E731
    u = uptime(
        [(at(s), st_) for s, st_ in points],
        at(0),
        at(10_000),
        [(at(s), at(s + d)) for s, d in holes],
    )
    assert u.up + u.down + u.unknown + u.maintenance == pytest.approx(10_000)
    assert all(v >= 0 for v in (u.up, u.down, u.unknown, u.maintenance))

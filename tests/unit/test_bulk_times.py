"""Datetimes as the SQLite driver stores them: the recorder's fast text form is the same text
as a naive UTC copy formatted, and reads back as the same instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forewarn.store.bulk import driver_time, time_from_driver

offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
instants = st.datetimes(
    min_value=datetime(1971, 1, 2), max_value=datetime(9998, 12, 30), timezones=offsets
)


@given(instants)
def test_sqlite_text_is_naive_utc_and_reads_back(d: datetime) -> None:
    text = driver_time("sqlite")(d)
    assert text == d.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    assert time_from_driver("sqlite")(text) == d


def test_naive_and_missing_times() -> None:
    with pytest.raises(ValueError, match="naive"):
        driver_time("sqlite")(datetime(2026, 1, 1))
    assert driver_time("sqlite")(None) is None

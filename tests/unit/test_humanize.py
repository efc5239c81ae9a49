"""How times, dates and return paths read on the pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from forewarn.services.schemas import BusinessHours
from forewarn.web.humanize import (
    days_text,
    hours_text,
    local_time,
    relative_date,
    relative_time,
    size_text,
    warranty_state,
    warranty_text,
)
from forewarn.web.session import safe_next

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TODAY = date(2026, 11, 2)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=-20), "just now"),
        (timedelta(minutes=-12), "12 min ago"),
        (timedelta(hours=-3), "3 h ago"),
        (timedelta(days=-3), "3 days ago"),
        (timedelta(days=-100), "3 months ago"),
        (timedelta(days=-800), "2 years ago"),
        (timedelta(minutes=5), "in 5 min"),
        (timedelta(days=40), "in 40 days"),
    ],
)
def test_relative_time(delta: timedelta, text: str) -> None:
    assert relative_time(NOW + delta, NOW) == text


@pytest.mark.parametrize(
    ("day", "text"),
    [
        (TODAY, "today"),
        (date(2026, 11, 3), "tomorrow"),
        (date(2026, 11, 1), "yesterday"),
        (date(2026, 12, 12), "in 40 days"),
        (date(2026, 8, 1), "3 months ago"),
        (date(2026, 10, 31), "2 days ago"),
    ],
)
def test_relative_date(day: date, text: str) -> None:
    assert relative_date(day, TODAY) == text


def test_warranty_reads_as_state_and_words() -> None:
    assert (warranty_state(None, TODAY), warranty_text(None, TODAY)) == ("unknown", "not recorded")
    ended = date(2026, 8, 1)
    assert (warranty_state(ended, TODAY), warranty_text(ended, TODAY)) == (
        "critical",
        "ended 3 months ago",
    )
    soon = date(2026, 12, 12)
    assert (warranty_state(soon, TODAY), warranty_text(soon, TODAY)) == (
        "warning",
        "ends in 40 days",
    )
    assert warranty_state(date(2028, 1, 1), TODAY) == "ok"


def test_local_time_uses_the_zone_and_its_abbreviation() -> None:
    assert local_time(NOW, "Europe/Berlin") == "2 Nov 2026, 10:00 CET"
    assert local_time(NOW, "America/New_York") == "2 Nov 2026, 04:00 EST"
    assert local_time(NOW, "Not/AZone") == "2 Nov 2026, 09:00 UTC"


def test_days_and_hours() -> None:
    assert days_text([1, 2, 3, 4, 5]) == "Mon\N{EN DASH}Fri"
    assert days_text([1, 3]) == "Mon, Wed"
    assert days_text([1, 2, 6, 7]) == "Mon, Tue, Sat, Sun"
    assert days_text([]) == "no days"
    hours = BusinessHours(days=[1, 2, 3, 4, 5], start="08:00", end="17:30")
    assert hours_text(hours).endswith("(47.5 h a week)")


@pytest.mark.parametrize(
    ("wanted", "safe"),
    [
        ("/orgs/3?kind=server", "/orgs/3?kind=server"),
        ("", "/"),
        ("orgs/3", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/orgs/3\r\nSet-Cookie: x", "/"),
    ],
)
def test_only_local_paths_are_returned_to(wanted: str, safe: str) -> None:
    assert safe_next(wanted) == safe


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (1, "1 byte"),
        (100, "100 bytes"),
        (2048, "2 KB"),
        (1024 * 1024, "1 MB"),
        (1024 * 1024 - 1, "1023.9 KB"),  # rounded down: a limit never reads larger than it is
        (1536 * 1024, "1.5 MB"),
        (16 * 1024 * 1024, "16 MB"),
    ],
)
def test_sizes_read_in_binary_units_rounded_down(size: int, text: str) -> None:
    assert size_text(size) == text

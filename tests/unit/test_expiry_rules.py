"""Severity by days left, the words of a title, agent versions, and recurring counting."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from forewarn.domain import recurring
from forewarn.domain.expiry import Kind, dated, days_left, is_older, severity, when_words
from forewarn.domain.recurring import HardChange

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (-400, "high"),
        (-1, "high"),
        (0, "medium"),
        (29, "medium"),
        (30, "low"),
        (89, "low"),
        (90, None),
        (1000, None),
    ],
)
def test_severity_by_days_left(days: int, expected: str | None) -> None:
    assert severity(days) == expected


def test_days_are_calendar_days_in_utc() -> None:
    assert days_left(datetime(2026, 11, 2, 23, 0, tzinfo=UTC), NOW) == 0
    assert days_left(date(2026, 11, 1), NOW) == -1
    assert days_left(date(2026, 11, 14), NOW) == 12


def test_titles_say_when() -> None:
    due = NOW + timedelta(days=12)
    item = dated(Kind.CERTIFICATE, "check:1", due, NOW, "Certificate for shop.example.com")
    assert item.title == "Certificate for shop.example.com expires in 12 days"
    assert item.severity == "medium" and item.days == 12 and item.rule == "expiry.certificate"
    assert item.evidence == {"due": "2026-11-14", "days_left": 12}
    assert when_words(1) == "expires tomorrow" and when_words(0) == "expires today"
    assert when_words(-1) == "expired yesterday" and when_words(-3) == "expired 3 days ago"
    assert when_words(5, "ends", "ended") == "ends in 5 days"


@pytest.mark.parametrize(
    ("mine", "server", "older"),
    [
        ("0.0.9", "0.1.0", True),
        ("0.1", "0.1.0", False),
        ("0.1.0", "0.1.0", False),
        ("0.2.0", "0.1.0", False),
        ("0.10.0", "0.9.0", False),
        ("1.2.3rc1", "1.2.4", True),
        ("", "0.1.0", False),  # not reported: not judged
        ("dev", "0.1.0", False),
    ],
)
def test_agent_versions(mine: str, server: str, older: bool) -> None:
    assert is_older(mine, server) is older


def _fail(check: int, at: datetime, old: int = 0, new: int = 2) -> HardChange:
    return HardChange(check, at, old, new)


def test_three_onsets_in_thirty_days_recur_and_age_out_as_the_clock_moves() -> None:
    day = timedelta(days=1)
    changes = [
        _fail(7, NOW - 20 * day),
        HardChange(7, NOW - 20 * day + timedelta(minutes=5), 2, 0),  # recovery: not counted
        _fail(7, NOW - 10 * day),
        _fail(7, NOW - 10 * day + timedelta(hours=1), old=1, new=2),  # same outage, worse
        _fail(7, NOW - 1 * day),
        _fail(8, NOW - 2 * day),
    ]
    found = recurring.recurring_checks(changes, NOW)
    assert list(found) == [7] and len(found[7]) == 3
    # Eleven days later the first failure is more than 30 days old: no longer recurring.
    assert recurring.recurring_checks(changes, NOW + 11 * day) == {}
    # A failure in the future of the judgement (a clock moved back) is not counted.
    assert recurring.recurring_checks(changes, NOW - 5 * day) == {}


def test_an_asset_incident_groups_its_checks_failing_together() -> None:
    day = timedelta(days=1)
    together = [_fail(c, NOW - 3 * day + timedelta(minutes=c)) for c in (1, 2, 3)]
    assert recurring.recurring_asset(together, NOW) is None  # one incident, three checks
    spread = [_fail(1, NOW - 9 * day), _fail(2, NOW - 6 * day), *together]
    incidents = recurring.recurring_asset(spread, NOW)
    assert incidents is not None and [len(i) for i in incidents] == [1, 1, 3]
    one_check = [_fail(1, NOW - d * day) for d in (1, 2, 3)]
    assert recurring.recurring_asset(one_check, NOW) is None  # the check's own finding says it


def test_recurring_severity() -> None:
    assert recurring.severity(3) == "medium" and recurring.severity(6) == "high"

"""Recent logins from `last` output, in its ISO and its full-date forms."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from forewarn.agent.collectors.logins import parse_last

LAST_ISO = """\
alice    pts/1        192.168.1.50     2025-06-02T09:20:11+00:00   still logged in
alice    pts/0        192.168.1.50     2025-06-02T09:14:03+00:00 - 2025-06-02T17:01:44+00:00 (07:47)
reboot   system boot  6.1.0-21-amd64   2025-06-02T09:10:00+00:00   still running
bob      tty1                          2025-06-01T08:00:00+02:00 - down                     (02:00)
root     pts/2        vpn.example.com  2025-06-01T07:00:00+00:00 - crash                    (01:00)
shutdown system down  6.1.0-21-amd64   2025-06-01T06:59:00+00:00 - 2025-06-01T07:00:00+00:00 (00:00)
carol    pts/3        10.0.0.7         1970-01-01T00:00:05+00:00 - 1970-01-01T01:00:00+00:00 (01:00)
this line has no time at all

wtmp begins 2025-05-20T00:00:00+00:00
"""

LAST_FULL = """\
alice    pts/0        192.168.1.50     Mon Jun  2 09:14:03 2025 - Mon Jun  2 17:01:44 2025  (07:47)
reboot   system boot  6.1.0-21-amd64   Mon Jun  2 09:10:00 2025   still running
bob      tty1                          Sun Jun  1 08:00:00 2025 - down                      (02:00)
dave     pts/4        10.1.1.1         Xyz Jun  1 08:00:00 2025 - down                      (02:00)

wtmp begins Tue May 20 00:00:00 2025
"""


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_iso_form() -> None:
    logins = parse_last(LAST_ISO)
    assert [(i["user"], i["terminal"], i["host"], i["at"]) for i in logins] == [
        ("bob", "tty1", "", _epoch("2025-06-01T08:00:00+02:00")),
        ("root", "pts/2", "vpn.example.com", _epoch("2025-06-01T07:00:00+00:00")),
        ("alice", "pts/0", "192.168.1.50", _epoch("2025-06-02T09:14:03+00:00")),
        ("alice", "pts/1", "192.168.1.50", _epoch("2025-06-02T09:20:11+00:00")),
    ]
    assert set(logins[0]) == {"user", "terminal", "host", "at"}


@pytest.fixture
def utc_local_time() -> Iterator[None]:
    """The -F form is local time: pin the zone so the expected epochs are known."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.usefixtures("utc_local_time")
def test_full_date_form_is_local_time() -> None:
    logins = parse_last(LAST_FULL)
    assert [(i["user"], i["terminal"], i["host"]) for i in logins] == [
        ("bob", "tty1", ""),
        ("alice", "pts/0", "192.168.1.50"),
    ]
    assert logins[0]["at"] == datetime(2025, 6, 1, 8, 0, 0, tzinfo=UTC).timestamp()
    assert logins[1]["at"] == datetime(2025, 6, 2, 9, 14, 3, tzinfo=UTC).timestamp()


def test_empty_records() -> None:
    assert parse_last("") == []
    assert parse_last("\nwtmp begins Tue May 20 00:00:00 2025\n") == []

"""The suspicious-activity rules, pure: bursts, a login after failures, logins out of hours
(across a daylight-saving change), inventory signals."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from forewarn.domain import activity
from forewarn.domain.activity import Event
from forewarn.domain.alerting import Severity
from forewarn.domain.changes import diff_section
from forewarn.domain.routing import BusinessHours

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
HOURS = BusinessHours(frozenset({1, 2, 3, 4, 5}), time(8, 0), time(18, 0), "Europe/Berlin")


def fail(seconds: float, source: str = "203.0.113.9", user: str = "root", new: bool = True):
    line = f"Failed password for {user} from {source} port 1 ssh2"
    return Event(
        T0 + timedelta(seconds=seconds),
        "login",
        "failure",
        "sshd",
        user,
        source,
        "password",
        line=line,
        new=new,
    )


def ok(at: datetime, user: str = "alice", source: str = "198.51.100.4", new: bool = True):
    return Event(
        at, "login", "success", "sshd", user, source, "publickey", line="Accepted", new=new
    )


def test_ten_failures_from_one_source_within_five_minutes_are_a_burst():
    nine = [fail(i * 20) for i in range(9)]
    assert activity.failed_login_bursts(nine) == []
    ten = [*nine, fail(200)]
    (d,) = activity.failed_login_bursts(ten)
    assert d.rule == "failed-logins" and d.key == {"source": "203.0.113.9"}
    assert d.severity is Severity.WARNING
    assert d.summary.startswith("10 failed logins from 203.0.113.9")
    assert "(accounts root)" in d.summary
    assert len(d.evidence) == activity.EVIDENCE_LINES
    assert d.evidence[-1] == "Failed password for root from 203.0.113.9 port 1 ssh2"


def test_failures_spread_over_more_than_five_minutes_are_not_a_burst():
    spread = [fail(i * 40) for i in range(10)]  # 6 minutes from the first to the last
    assert activity.failed_login_bursts(spread) == []


def test_a_counted_summary_weighs_as_its_count():
    summary = Event(T0, "login", "failure", "sshd", "root", "203.0.113.9", count=40, line="40 more")
    (d,) = activity.failed_login_bursts([summary])
    assert d.count == 40


def test_an_old_burst_is_not_told_again():
    old = [fail(i, new=False) for i in range(12)]
    assert activity.failed_login_bursts(old) == []
    (d,) = activity.failed_login_bursts([*old, fail(30)])  # it goes on: refreshed
    assert d.count == 1 and d.summary.startswith("13 failed logins")


def test_a_spread_attack_on_one_account_is_a_burst_of_the_account():
    events = [fail(i * 10, source=f"192.0.2.{i}", user="admin") for i in range(12)]
    (d,) = activity.failed_login_bursts(events)
    assert d.key == {"account": "admin"}
    assert "sources 192.0.2.0" in d.summary


def test_a_login_after_many_failures_is_critical():
    failures = [fail(i, source="198.51.100.4", user="alice", new=False) for i in range(5)]
    (d,) = activity.logins_after_failures([*failures, ok(T0 + timedelta(minutes=10))])
    assert d.rule == "login-after-failures" and d.severity is Severity.CRITICAL
    assert d.key == {"account": "alice", "source": "198.51.100.4"}
    assert "after 5 failed logins" in d.summary
    assert d.evidence[-1] == "Accepted"
    # Four failures is a person mistyping; failures two hours before do not count.
    assert activity.logins_after_failures([*failures[:4], ok(T0 + timedelta(minutes=10))]) == []
    assert activity.logins_after_failures([*failures, ok(T0 + timedelta(hours=2))]) == []


def test_logins_outside_business_hours_across_a_daylight_saving_change():
    # Europe/Berlin went from CET (+1) to CEST (+2) on Sunday 29 March 2026.
    friday_before = datetime(2026, 3, 27, 6, 30, tzinfo=UTC)  # 07:30 CET: before opening
    monday_after = datetime(2026, 3, 30, 6, 30, tzinfo=UTC)  # 08:30 CEST: open
    sunday = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
    got = activity.off_hours_logins(
        [ok(friday_before), ok(monday_after), ok(sunday, user="bob")], HOURS, ()
    )
    assert [(d.key["account"], d.at) for d in got] == [("alice", friday_before), ("bob", sunday)]
    assert "Fri 2026-03-27 07:30 Europe/Berlin" in got[0].summary
    # Same in autumn: on Monday 26 October 2026, 07:30 UTC is 08:30 CET (open), while on the
    # Friday before, 06:30 UTC was 08:30 CEST (open) and 05:30 UTC 07:30 CEST (closed).
    autumn = [
        ok(datetime(2026, 10, 26, 7, 30, tzinfo=UTC)),
        ok(datetime(2026, 10, 23, 6, 30, tzinfo=UTC)),
        ok(datetime(2026, 10, 23, 5, 30, tzinfo=UTC)),
    ]
    assert [d.at.hour for d in activity.off_hours_logins(autumn, HOURS, ())] == [5]


def test_no_alert_for_a_service_account_or_without_business_hours():
    night = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    assert activity.off_hours_logins([ok(night, user="backup")], HOURS, {"backup"}) == []
    assert activity.off_hours_logins([ok(night)], None, ()) == []
    failed = Event(night, "login", "failure", "sshd", "alice", "1.2.3.4")
    assert activity.off_hours_logins([failed, ok(night, new=False)], HOURS, ()) == []


def test_inventory_changes_that_are_security_events():
    before_accounts = [
        {"name": "alice", "uid": 1000, "admin": False},
        {"name": "bob", "uid": 1001, "admin": True},
    ]
    after_accounts = [
        {"name": "alice", "uid": 1000, "admin": True},
        {"name": "bob", "uid": 1001, "admin": True},
        {"name": "eve", "uid": 1002, "admin": True},
        {"name": "carl", "uid": 1003, "admin": False},
    ]
    listeners_before = [{"proto": "tcp", "address": "0.0.0.0", "port": 22, "process": "sshd"}]
    listeners_after = [
        *listeners_before,
        {"proto": "tcp", "address": "127.0.0.1", "port": 5432, "process": "postgres"},
        {"proto": "tcp6", "address": "::1", "port": 6379, "process": "redis"},
        {"proto": "tcp6", "address": "::", "port": 8080, "process": "python3"},
        {"proto": "tcp", "address": "192.168.1.5", "port": 3306, "process": "mysqld"},
    ]
    changes = [
        *diff_section("accounts", before_accounts, after_accounts),
        *diff_section("listeners", listeners_before, listeners_after),
        *diff_section(
            "firewall", {"active": True, "tool": "ufw"}, {"active": False, "tool": "ufw"}
        ),
    ]
    signals = activity.signals_from_changes(changes)
    assert [(s.kind, s.user or s.source) for s in signals] == [
        ("admin_added", "eve"),
        ("admin_added", "alice"),
        ("listener_public", "tcp 192.168.1.5:3306"),
        ("listener_public", "tcp6 :::8080"),
        ("firewall_off", ""),
    ]
    on = diff_section("firewall", {"active": False}, {"active": True})
    assert [s.kind for s in activity.signals_from_changes(on)] == ["firewall_on"]
    # The first inventory of a machine is its baseline: nothing to tell.
    assert activity.signals_from_changes(diff_section("accounts", None, after_accounts)) == []

    events = [
        Event(T0, s.kind, user=s.user, source=s.source, method=s.method, line=s.line)
        for s in signals
    ]
    got = activity.inventory_detections(events)
    assert [(d.rule, d.key) for d in got] == [
        ("new-admin", {"account": "eve"}),
        ("new-admin", {"account": "alice"}),
        ("public-listener", {"port": "tcp/3306"}),
        ("public-listener", {"port": "tcp/8080"}),
        ("firewall-off", {}),
    ]
    assert got[-1].severity is Severity.CRITICAL
    assert got[0].evidence == ("account eve (administrator) added, with administrator rights",)


def test_public_addresses():
    for addr in ("0.0.0.0", "::", "*", "192.168.1.5", "[::]", "fe80::1%eth0", "::ffff:10.0.0.1"):
        assert activity.is_public_address(addr), addr
    for addr in ("127.0.0.1", "127.0.0.53", "::1", "[::1]", "::ffff:127.0.0.1", "localhost"):
        assert not activity.is_public_address(addr), addr


def test_a_burst_clears_after_the_quiet_period():
    assert not activity.burst_is_quiet(T0, T0 + timedelta(minutes=29))
    assert activity.burst_is_quiet(T0, T0 + timedelta(minutes=30))

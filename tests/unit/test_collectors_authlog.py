# ruff: noqa: E501  (real log lines are long)
"""Authentication events parsed from real log lines: sshd, sudo, su and login, as journald,
rsyslog (both timestamp formats) and sshd -E write them; and the reader's bookkeeping:
start at the end, rotation, truncation, bounds."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from forewarn import wire
from forewarn.agent.collectors import authlog
from forewarn.agent.collectors.authlog import (
    AuthReader,
    bound,
    pair_invalid_users,
    parse_journal_entry,
    parse_line,
)

NOW = 1_790_000_000.0  # 2026-09-21

# Lines as Debian 12's rsyslog writes them (RFC 3339 times) and as older syslogs do.
AUTH_LOG = """\
2026-09-21T13:50:01.123456+00:00 web1 sshd[8121]: Failed password for root from 203.0.113.9 port 50122 ssh2
2026-09-21T13:50:03.000000+00:00 web1 sshd[8121]: Failed password for invalid user admin from 203.0.113.9 port 50124 ssh2
2026-09-21T13:50:04.000000+00:00 web1 sshd[8121]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root
2026-09-21T13:50:05.000000+00:00 web1 sshd[8125]: Accepted publickey for alice from 2001:db8::7 port 50130 ssh2: ED25519 SHA256:Zr1l0ZtG3vGn0dXM4c
2026-09-21T13:50:05.500000+00:00 web1 sshd[8125]: pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)
2026-09-21T13:51:00.000000+00:00 web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update
2026-09-21T13:51:10.000000+00:00 web1 sudo:      bob : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/home/bob ; USER=root ; COMMAND=/usr/bin/id
2026-09-21T13:51:20.000000+00:00 web1 sudo:     mallory : user NOT in sudoers ; TTY=pts/2 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh
Sep 21 13:52:00 web1 su[912]: (to root) alice on pts/0
Sep 21 13:52:30 web1 su[913]: FAILED SU (to root) bob on pts/1
Sep 21 13:53:00 web1 login[700]: FAILED LOGIN (1) on '/dev/tty1' FOR 'carol', Authentication failure
Sep 21 13:53:30 web1 login[700]: pam_unix(login:session): session opened for user carol(uid=1001) by LOGIN(uid=0)
Sep 21 13:54:00 web1 CRON[999]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)
Sep 21 13:54:10 web1 systemd-logind[400]: New session 12 of user alice.
"""


def parsed(text: str) -> list[dict]:
    events = [e for e in (parse_line(line, NOW) for line in text.splitlines()) if e]
    return pair_invalid_users(events)


def test_auth_log_lines_become_events():
    got = parsed(AUTH_LOG)
    brief = [
        (e["service"], e["action"], e["outcome"], e.get("user"), e.get("source", "")) for e in got
    ]
    assert brief == [
        ("sshd", "login", "failure", "root", "203.0.113.9"),
        ("sshd", "login", "failure", "admin", "203.0.113.9"),
        ("sshd", "login", "success", "alice", "2001:db8::7"),
        ("sudo", "sudo", "success", "alice", ""),
        ("sudo", "sudo", "failure", "bob", ""),
        ("sudo", "sudo", "failure", "mallory", ""),
        ("su", "su", "success", "alice", ""),
        ("su", "su", "failure", "bob", ""),
        ("login", "login", "failure", "carol", ""),
        ("login", "login", "success", "carol", ""),
    ]
    assert got[0]["at"] == 1_789_998_601.123456  # the line's own time, with its offset
    assert got[0]["method"] == "password"
    assert got[1]["invalid_user"] is True
    assert got[2]["method"] == "publickey"
    assert got[4]["count"] == 3 and got[4]["target"] == "root"
    assert got[6]["target"] == "root"
    assert got[0]["line"].endswith("Failed password for root from 203.0.113.9 port 50122 ssh2")
    # A yearless line takes the year that puts it before now, in local time.
    assert time.localtime(got[6]["at"]).tm_year == 2026
    for e in got:
        wire.AuthEvent.model_validate(e)


def test_sshd_E_lines_have_no_header_and_are_timed_when_read():
    # What `sshd -E file` wrote in the integration test: no time, no tag, CRLF.
    text = (
        "Server listening on 127.0.0.1 port 45873.\r\n"
        "Failed password for root from 127.0.0.1 port 51374 ssh2\r\n"
        "Invalid user nobodyhere from 127.0.0.1 port 51378\r\n"
        "Could not get shadow information for NOUSER\r\n"
        "Failed password for invalid user nobodyhere from 127.0.0.1 port 51378 ssh2\r\n"
        "Connection closed by authenticating user root 127.0.0.1 port 51374 [preauth]\r\n"
        "Invalid user probe from 127.0.0.1 port 51390\r\n"
    )
    got = parsed(text)
    # The "Invalid user" note of a connection that then failed a password counts once; one
    # that never got as far (a key-only server) counts on its own.
    assert [(e["user"], e.get("method", "")) for e in got] == [
        ("root", "password"),
        ("nobodyhere", "password"),
        ("probe", ""),
    ]
    assert all(e["at"] == NOW and e["service"] == "sshd" for e in got)
    assert "port" not in got[0]


def test_a_journal_entry_becomes_an_event():
    entry = {
        "__CURSOR": "s=abc;i=1",
        "__REALTIME_TIMESTAMP": "1789998601123456",
        "SYSLOG_IDENTIFIER": "sshd",
        "_PID": "8121",
        "MESSAGE": "Failed password for root from 203.0.113.9 port 50122 ssh2",
    }
    e = parse_journal_entry(entry)
    assert e is not None
    assert e["at"] == 1_789_998_601.123456
    assert e["line"] == "sshd[8121]: Failed password for root from 203.0.113.9 port 50122 ssh2"
    # journald hands messages that are not UTF-8 over as byte arrays
    raw = {**entry, "MESSAGE": list(b"Accepted password for bob from 10.0.0.2 port 1 ssh2")}
    assert parse_journal_entry(raw)["outcome"] == "success"  # type: ignore[index]
    assert parse_journal_entry({**entry, "SYSLOG_IDENTIFIER": "cron"}) is None


def test_other_programs_cannot_pass_for_sshd():
    line = (
        "2026-09-21T13:50:01+00:00 web1 myapp[1]: Failed password for root from 1.2.3.4 port 1 ssh2"
    )
    assert parse_line(line, NOW) is None


def test_a_batch_carries_at_most_the_bound_and_counts_the_rest():
    fail = {"service": "sshd", "action": "login", "outcome": "failure", "line": "x"}
    events = [{**fail, "at": NOW + i, "user": "root", "source": "203.0.113.9"} for i in range(300)]
    events.insert(
        150,
        {
            "service": "sshd",
            "action": "login",
            "outcome": "success",
            "at": NOW + 150,
            "user": "alice",
            "line": "ok",
        },
    )
    kept, more = bound(events, limit=100)
    assert len(kept) == 100
    assert any(e["outcome"] == "success" for e in kept)  # the rare kinds go first
    assert more == [
        {
            "service": "sshd",
            "action": "login",
            "outcome": "failure",
            "user": "root",
            "source": "203.0.113.9",
            "count": 201,
            "first": NOW + 99,
            "last": NOW + 299,
        }
    ]
    report = {"events": kept, "more": more, "origin": "/var/log/auth.log", "error": ""}
    wire.AuthReport.model_validate(report)


def _take(reader: AuthReader, now: float = NOW) -> list[dict]:
    taken = reader.take(now)
    reader.commit(taken)
    return taken.report["events"] if taken.report else []


def test_the_file_reader_starts_at_the_end_and_follows_rotation_and_truncation(tmp_path: Path):
    log = tmp_path / "auth.log"
    failed = "Sep 21 13:50:01 web1 sshd[1]: Failed password for root from 192.0.2.{n} port 1 ssh2\n"
    log.write_text(failed.format(n=1))
    reader = AuthReader(str(log))
    assert _take(reader) == []  # old lines are history
    with log.open("a") as f:
        f.write(failed.format(n=2))
        f.write("Sep 21 13:50:02 web1 sshd[1]: Failed password for ro")  # half a line
    assert [e["source"] for e in _take(reader)] == ["192.0.2.2"]
    with log.open("a") as f:
        f.write("ot from 192.0.2.3 port 1 ssh2\n")
    assert [e["source"] for e in _take(reader)] == ["192.0.2.3"]

    # Rotated: the rest of the old file is read under its new name, then the new one.
    with log.open("a") as f:
        f.write(failed.format(n=4))
    os.rename(log, tmp_path / "auth.log.1")
    log.write_text(failed.format(n=5))
    assert [e["source"] for e in _take(reader)] == ["192.0.2.4", "192.0.2.5"]

    # Truncated (copytruncate): read again from the start.
    log.write_text(failed.format(n=6))
    assert [e["source"] for e in _take(reader)] == ["192.0.2.6"]

    # A restarted agent goes on from the kept position.
    kept = json.dumps(reader.state)
    with log.open("a") as f:
        f.write(failed.format(n=7))
    again = AuthReader(str(log))
    again.restore(kept)
    assert [e["source"] for e in _take(again)] == ["192.0.2.7"]


def test_a_missing_file_is_reported_once(tmp_path: Path):
    reader = AuthReader(str(tmp_path / "secure"))
    first = reader.take(NOW)
    reader.commit(first)
    assert first.report is not None and first.report["error"] == "no such file"
    second = reader.take(NOW)
    assert second.report is None


def test_the_source_follows_the_override_then_the_journal_then_the_files(monkeypatch):
    assert authlog.choose_source({authlog.AUTH_LOG_ENV: "/tmp/x.log"}) == "/tmp/x.log"
    monkeypatch.setattr(authlog, "journal_available", lambda: True)
    assert authlog.choose_source({}) == "journal"

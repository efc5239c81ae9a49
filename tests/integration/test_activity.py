"""Suspicious activity end to end: a real sshd on loopback logs real failed logins, the
agent's collector reads its log, the batch goes through the API and ingest, and the security
job raises the brute-force alert with its evidence; and the other rules through the same path
(a login after failures, out of hours, a new administrator, the firewall, the agent stopped)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from forewarn.agent.collectors.authlog import AuthReader
from forewarn.agent.runner import build_batch
from forewarn.services import activity, agents, alerts
from forewarn.services.context import Context
from forewarn.services.scope import SYSTEM
from forewarn.store.models import AlertEvent, Organization
from tests.conftest import Person, make_org
from tests.integration.test_ingest import enroll, send

pytestmark = pytest.mark.timeout(120)

SSHD = "/usr/sbin/sshd"
ATTEMPTS = 12  # above the burst threshold of 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def sshd_report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Real failed password logins against a real sshd, as the agent's collector reports them."""
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        pytest.skip(
            "openssh-server is not installed (apt-get install openssh-server; .ci/run does)"
        )
    if os.geteuid() != 0:
        pytest.skip("sshd's privilege separation needs root to start a test sshd")
    paramiko = pytest.importorskip("paramiko", reason="paramiko (a dev dependency) makes logins")
    d = tmp_path_factory.mktemp("sshd")
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key")], check=True
    )
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\n"
        f"PidFile {d / 'sshd.pid'}\nUsePAM no\nPasswordAuthentication yes\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin no\nStrictModes no\nLogLevel INFO\n"
    )
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # its privilege separation directory
    log = d / "sshd.log"
    log.touch()
    reader = AuthReader(str(log))
    reader.commit(reader.take(time.time()))  # the agent was there before the attack
    proc = subprocess.Popen(
        [SSHD, "-D", "-f", str(d / "sshd_config"), "-E", str(log)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(lambda: "Server listening" in log.read_text(), "sshd to listen", proc)
        for i in range(ATTEMPTS):
            user = "root" if i % 2 == 0 else f"nosuchuser{i}"
            client = paramiko.SSHClient()
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            try:
                client.connect(
                    "127.0.0.1",
                    port=port,
                    username=user,
                    password="guess-" + str(i),
                    look_for_keys=False,
                    allow_agent=False,
                    timeout=10,
                    banner_timeout=10,
                    auth_timeout=10,
                )
                raise AssertionError("a guessed password was accepted")
            except paramiko.AuthenticationException:
                pass
            finally:
                client.close()
        _wait_for(
            lambda: log.read_text().count("Failed password") >= ATTEMPTS, "the failures", proc
        )
        taken = reader.take(time.time())
        assert taken.report is not None
        yield {"report": taken.report, "log": log.read_text()}
    finally:
        proc.terminate()
        proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()


def _wait_for(ok: Any, what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if ok():
            return
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise AssertionError(f"sshd exited ({proc.returncode}) waiting for {what}: {err}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def agent(client: TestClient, ctx: Context) -> dict[str, Any]:
    return enroll(client, ctx, make_org(ctx, "Guarded Ltd"))


def checkin(client: TestClient, agent: dict[str, Any], **parts: Any) -> None:
    now = time.time()
    body = build_batch(now, [], parts.pop("inventory", None), **parts)
    body |= {"batch_id": uuid.uuid4().hex, "seq": 1}
    r = send(client, agent["agent_token"], body)
    assert r.status_code == 200, r.text


def security_alerts(ctx: Context, asset_id: int) -> list[Any]:
    items = alerts.list_(ctx, SYSTEM, limit=100).items
    return [a for a in items if a.labels.get("kind") == "security" and a.asset_id == asset_id]


def evidence(ctx: Context, alert_id: int) -> list[str]:
    with ctx.db.read() as s:
        return list(
            s.scalars(
                select(AlertEvent.detail).where(
                    AlertEvent.alert_id == alert_id, AlertEvent.kind == "evidence"
                )
            )
        )


def test_real_failed_ssh_logins_raise_the_brute_force_alert(
    client: TestClient, ctx: Context, agent: dict[str, Any], owner: Person, sshd_report
) -> None:
    report = sshd_report["report"]
    failures = [e for e in report["events"] if e["outcome"] == "failure"]
    assert len(failures) == ATTEMPTS, sshd_report["log"]
    assert {e["source"] for e in failures} == {"127.0.0.1"}
    assert {e["user"] for e in failures} >= {"root", "nosuchuser1"}

    checkin(client, agent, auth=report)
    assert activity.evaluate(ctx) >= 1
    (alert,) = security_alerts(ctx, agent["asset_id"])
    assert alert.labels["rule"] == "failed-logins"
    assert alert.labels["source"] == "127.0.0.1"
    assert alert.severity == "warning" and alert.state == "open"
    assert alert.summary.startswith(f"{ATTEMPTS} failed logins from 127.0.0.1")
    (lines,) = evidence(ctx, alert.id)
    assert "Failed password for root from 127.0.0.1" in lines
    assert "Failed password for invalid user nosuchuser" in lines

    # The machine's recent security events, over the API.
    r = client.get(f"/api/v1/assets/{agent['asset_id']}/security-events", headers=owner.headers)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == ATTEMPTS
    assert items[0]["source"] == "127.0.0.1" and items[0]["service"] == "sshd"

    # Judged once: the next turn raises nothing new. Quiet for 30 minutes: it clears.
    assert activity.evaluate(ctx) == 0
    ctx.clock.advance(minutes=31)  # type: ignore[attr-defined]
    activity.evaluate(ctx)
    assert security_alerts(ctx, agent["asset_id"])[0].state == "resolved"


def _ev(at: float, outcome: str, user: str, source: str = "198.51.100.4") -> dict[str, Any]:
    word = "Accepted" if outcome == "success" else "Failed"
    return {
        "at": at,
        "service": "sshd",
        "action": "login",
        "outcome": outcome,
        "user": user,
        "source": source,
        "method": "password",
        "line": f"{word} password for {user} from {source} port 2222 ssh2",
    }


def test_a_login_after_failures_and_at_night_by_a_person_not_a_service(
    client: TestClient, ctx: Context, agent: dict[str, Any]
) -> None:
    with ctx.db.transaction() as s:
        org = s.get(Organization, agent["org_id"])
        assert org is not None
        org.business_hours = {"days": [1, 2, 3, 4, 5], "start": "08:00", "end": "18:00"}
        org.timezone = "Europe/Berlin"
    accounts = [
        {"name": "alice", "uid": 1000, "admin": False},
        {"name": "backup", "uid": 34, "system": True},
    ]
    checkin(client, agent, inventory={"full": True, "accounts": accounts})
    night = 1_793_656_800.0  # Mon 2026-11-02 23:00 in Berlin (22:00 UTC)
    events = [_ev(night - 60 + i, "failure", "alice") for i in range(6)]
    events += [_ev(night, "success", "alice"), _ev(night, "success", "backup", "10.0.0.9")]
    checkin(client, agent, auth={"events": events, "more": [], "origin": "journal", "error": ""})
    activity.evaluate(ctx)
    got = {a.labels["rule"]: a for a in security_alerts(ctx, agent["asset_id"])}
    assert set(got) == {"login-after-failures", "off-hours-login"}
    assert got["login-after-failures"].severity == "critical"
    assert "alice logged in from 198.51.100.4" in got["login-after-failures"].summary
    assert got["off-hours-login"].labels["account"] == "alice"  # not backup, a service account
    assert "Mon 2026-11-02 23:00 Europe/Berlin" in got["off-hours-login"].summary


def test_new_admin_public_listener_and_firewall_off_then_on(
    client: TestClient, ctx: Context, agent: dict[str, Any]
) -> None:
    base = {
        "full": True,
        "accounts": [{"name": "alice", "uid": 1000, "admin": False}],
        "listeners": [{"proto": "tcp", "address": "127.0.0.1", "port": 5432}],
        "firewall": {"active": True, "tool": "nftables", "rules": 4, "input_policy": "drop"},
    }
    checkin(client, agent, inventory=base)
    activity.evaluate(ctx)
    assert security_alerts(ctx, agent["asset_id"]) == []  # a baseline, not news
    changed = {
        "full": False,
        "accounts": [{"name": "alice", "uid": 1000, "admin": True}],
        "listeners": [
            *base["listeners"],
            {"proto": "tcp", "address": "0.0.0.0", "port": 8080, "process": "python3"},
        ],
        "firewall": {"active": False, "tool": "nftables", "rules": 0, "input_policy": "accept"},
    }
    checkin(client, agent, inventory=changed)
    activity.evaluate(ctx)
    got = {a.labels["rule"]: a for a in security_alerts(ctx, agent["asset_id"])}
    assert set(got) == {"new-admin", "public-listener", "firewall-off"}
    assert got["firewall-off"].severity == "critical"
    assert got["public-listener"].summary.endswith("tcp 0.0.0.0:8080 (python3)")
    assert evidence(ctx, got["new-admin"].id) == ["alice became an administrator"]

    checkin(client, agent, inventory={"full": False, "firewall": base["firewall"]})
    activity.evaluate(ctx)
    states = {a.labels["rule"]: a.state for a in security_alerts(ctx, agent["asset_id"])}
    assert states["firewall-off"] == "resolved"
    assert states["new-admin"] == "open"  # waits for a person


def test_a_deliberate_stop_alerts_but_a_restart_does_not(
    client: TestClient, ctx: Context, agent: dict[str, Any]
) -> None:
    clock = ctx.clock
    # A restart: the farewell, then a check-in within the grace period.
    checkin(client, agent, stopping=True)
    clock.advance(seconds=20)  # type: ignore[attr-defined]
    checkin(client, agent)
    clock.advance(minutes=3)  # type: ignore[attr-defined]
    activity.evaluate(ctx)
    assert security_alerts(ctx, agent["asset_id"]) == []

    # A stop: the farewell and then silence.
    checkin(client, agent, stopping=True)
    activity.evaluate(ctx)
    assert security_alerts(ctx, agent["asset_id"]) == []  # within the grace period
    clock.advance(minutes=3)  # type: ignore[attr-defined]
    activity.evaluate(ctx)
    (alert,) = security_alerts(ctx, agent["asset_id"])
    assert alert.labels["rule"] == "agent-stopped" and alert.state == "open"
    clock.advance(minutes=1)  # type: ignore[attr-defined]
    assert agents.mark_offline(ctx) == [agent["asset_id"]]
    offline = agents.changes(ctx, SYSTEM, agent["asset_id"], section="agent").items[0]
    assert offline["summary"].startswith("agent offline: stopped on purpose at")

    # Back again: the alert clears.
    clock.advance(minutes=10)  # type: ignore[attr-defined]
    checkin(client, agent)
    activity.evaluate(ctx)
    assert security_alerts(ctx, agent["asset_id"])[0].state == "resolved"


def test_the_alert_page_shows_the_evidence_and_the_asset_its_security_events(
    client: TestClient, ctx: Context, agent: dict[str, Any], owner: Person
) -> None:
    from tests.integration.test_web import signed_in

    now = time.time()
    events = [_ev(now + i, "failure", "root", "203.0.113.9") for i in range(10)]
    checkin(client, agent, auth={"events": events, "more": [], "origin": "journal", "error": ""})
    activity.evaluate(ctx)
    (alert,) = security_alerts(ctx, agent["asset_id"])
    signed_in(client, owner.username)
    page = client.get(f"/alerts/{alert.id}")
    assert page.status_code == 200
    assert 'id="evidence"' in page.text
    assert "Failed password for root from 203.0.113.9 port 2222 ssh2" in page.text
    tab = client.get(f"/assets/{agent['asset_id']}", params={"tab": "security"})
    assert tab.status_code == 200
    assert "Recent security events" in tab.text
    assert "Failed login (sshd, password)" in tab.text
    assert "203.0.113.9" in tab.text

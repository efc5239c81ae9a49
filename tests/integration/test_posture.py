"""Posture end to end: the real agent code evaluates the shipped pack on this machine, the
server stores the results, failed checks become findings, only changes alert, and a risk
can be accepted until a date. Policies are uploaded through the API and refused with their
line when wrong. Both engines."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from forewarn.agent.posture import Assessor, RealIo
from forewarn.services import findings, posture
from forewarn.services.context import Context
from forewarn.services.ingest import AgentCache
from forewarn.services.scope import SYSTEM
from forewarn.store.models import AlertRow, Finding, PostureResultRow
from tests.conftest import Person, make_org
from tests.integration.test_ingest import enroll

CUSTOM = """\
policy:
  id: acme_extra
  name: Acme extra checks
checks:
  - id: acme.hosts_file
    title: /etc/hosts exists
    severity: low
    cis: ["4.1"]
    condition: all
    rules: ['f:/etc/hosts']
"""


def send(client: TestClient, agent: dict[str, Any], rev: str, **extra: Any) -> dict[str, Any]:
    body = {
        "v": 1,
        "batch_id": uuid.uuid4().hex,
        "seq": 1,
        "sent_at": 1_790_000_000.0,
        "config_rev": rev,
        **extra,
    }
    r = client.post(
        "/api/v1/agent/checkin",
        content=gzip.compress(json.dumps(body).encode()),
        headers={
            "Authorization": f"Bearer {agent['agent_token']}",
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
        },
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.fixture
def agent(client: TestClient, ctx: Context) -> dict[str, Any]:
    client.app.state.agent_cache = AgentCache(ttl=0)  # type: ignore[attr-defined]
    return enroll(client, ctx, make_org(ctx, "Posture Ltd"))


def results(report: dict[str, Any]) -> dict[str, str]:
    return {r["check"]: r["status"] for r in report["results"]}


def test_the_agent_evaluates_the_shipped_pack_here_and_the_server_keeps_it(
    client: TestClient, ctx: Context, agent: dict[str, Any], owner: Person
) -> None:
    config = send(client, agent, "")["config"]
    (policy,) = config["posture"]
    assert policy["id"] == "forewarn_linux" and len(policy["checks"]) >= 30

    # The agent's own code on this very machine, as `forewarn agent run` does it hourly.
    now = ctx.clock.now().timestamp()
    started = time.monotonic()
    (report,) = Assessor(RealIo()).take(config["posture"], now)
    assert time.monotonic() - started < 120  # the run's budget
    statuses = results(report)
    assert len(statuses) == len(policy["checks"])
    assert set(statuses.values()) <= {"pass", "fail", "na", "error"}
    assert "error" not in statuses.values(), report
    assert statuses["linux.kernel.aslr"] in ("pass", "fail")  # sysctl is everywhere

    send(client, agent, config["rev"], posture=[report])
    asset_id = agent["asset_id"]
    view = client.get(f"/api/v1/assets/{asset_id}/posture", headers=owner.headers).json()
    failed = {c["check_id"] for c in view["failed_checks"]}
    passed = {c["check_id"] for c in view["passed_checks"]}
    assert failed == {k for k, v in statuses.items() if v == "fail"}
    assert passed == {k for k, v in statuses.items() if v == "pass"}
    assert view["score"] == round(100 * len(passed) / (len(passed) + len(failed)))
    for item in view["failed_checks"]:
        assert item["remediation"] and item["evidence"] and item["finding_status"] == "open"

    with ctx.db.read() as session:
        found = session.scalars(
            select(Finding).where(Finding.asset_id == asset_id, Finding.status == "open")
        ).all()
        assert {f.rule for f in found} == {f"posture.{c}" for c in failed}
        one = found[0]
        assert one.key == str(asset_id) and one.evidence["seen"] and one.detail
        # The first results of a new machine open findings, not alerts.
        assert session.scalars(select(AlertRow)).all() == []

    org = client.get(f"/api/v1/orgs/{view and agent['org_id']}/posture", headers=owner.headers)
    assert org.json()["assets"][0]["score"] == view["score"]


def test_only_changes_alert_and_a_fixed_check_resolves(
    client: TestClient, ctx: Context, clock: Any, agent: dict[str, Any]
) -> None:
    config = send(client, agent, "")["config"]
    rev = config["rev"]

    def report(status: str) -> dict[str, Any]:
        item = {"check": "linux.ssh.root_login", "status": status, "evidence": [f"seen {status}"]}
        return {"policy": "forewarn_linux", "ts": clock.now().timestamp(), "results": [item]}

    def state() -> tuple[str | None, list[str]]:
        with ctx.db.read() as session:
            f = session.scalar(
                select(Finding).where(Finding.rule == "posture.linux.ssh.root_login")
            )
            alerts = [a.state for a in session.scalars(select(AlertRow))]
            return (f.status if f else None), alerts

    send(client, agent, rev, posture=[report("pass")])
    assert state() == (None, [])
    clock.advance(hours=1)
    failing = report("fail")
    send(client, agent, rev, posture=[failing])
    assert state() == ("open", ["open"])
    with ctx.db.read() as session:
        alert = session.scalars(select(AlertRow)).one()
        assert alert.labels["kind"] == "security" and alert.severity == "critical"
    send(client, agent, rev, posture=[failing])  # the same batch again: nothing new
    clock.advance(hours=1)
    send(client, agent, rev, posture=[report("fail")])  # still failing: no second alert
    assert state() == ("open", ["open"])
    clock.advance(hours=1)
    send(client, agent, rev, posture=[report("pass")])
    assert state() == ("resolved", ["resolved"])
    with ctx.db.read() as session:
        row = session.scalars(select(PostureResultRow)).one()
        assert (row.status, row.evidence) == ("pass", ["seen pass"])


def test_a_risk_is_accepted_until_a_date_then_reopens(
    client: TestClient, ctx: Context, clock: Any, agent: dict[str, Any], owner: Person
) -> None:
    rev = send(client, agent, "")["config"]["rev"]
    item = {"check": "linux.su.restricted", "status": "fail", "evidence": ["no pam_wheel"]}
    send(
        client,
        agent,
        rev,
        posture=[{"policy": "forewarn_linux", "ts": 1_790_000_000.0, "results": [item]}],
    )
    with ctx.db.read() as session:
        finding_id = session.scalars(select(Finding.id)).one()
    until = clock.now().date().toordinal() + 30
    day = type(clock.now().date()).fromordinal(until).isoformat()
    bad = client.post(
        f"/api/v1/findings/{finding_id}/accept",
        json={"reason": "x", "until": day},
        headers=owner.headers,
    )
    assert bad.status_code == 422
    past = client.post(
        f"/api/v1/findings/{finding_id}/accept",
        json={"reason": "the vendor needs it", "until": "2001-01-01"},
        headers=owner.headers,
    )
    assert past.status_code == 422 and "after today" in past.json()["detail"]
    ok = client.post(
        f"/api/v1/findings/{finding_id}/accept",
        json={"reason": "the vendor's installer needs su", "until": day},
        headers=owner.headers,
    )
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["status"] == "accepted" and body["accepted_by"] == owner.username
    assert body["accepted_reason"] == "the vendor's installer needs su"
    assert findings.reopen_expired(ctx) == 0
    clock.advance(days=31)
    assert findings.reopen_expired(ctx) == 1
    with ctx.db.read() as session:
        f = session.get(Finding, finding_id)
        assert f is not None and f.status == "open" and f.accepted_until is None
    again = client.post(
        f"/api/v1/findings/{finding_id}/accept",
        json={
            "reason": "until the migration",
            "until": type(clock.now().date())
            .fromordinal(clock.now().date().toordinal() + 5)
            .isoformat(),
        },
        headers=owner.headers,
    )
    assert again.status_code == 200
    back = client.post(f"/api/v1/findings/{finding_id}/unaccept", headers=owner.headers)
    assert back.status_code == 200 and back.json()["status"] == "open"


def test_policies_are_uploaded_checked_and_sent_to_the_agents(
    client: TestClient, ctx: Context, agent: dict[str, Any], owner: Person
) -> None:
    org_id = agent["org_id"]
    before = client.get("/api/v1/posture/policies", headers=owner.headers).json()["items"]
    assert [p["policy_id"] for p in before] == ["forewarn_linux"]
    headers = {**owner.headers, "Content-Type": "application/yaml"}

    broken = CUSTOM.replace("'f:/etc/hosts'", "'f:/etc/hosts -> r:[unclosed'")
    r = client.post(f"/api/v1/posture/policies?org_id={org_id}", content=broken, headers=headers)
    assert r.status_code == 422
    assert r.json()["detail"].startswith("policy refused: line 10: the regular expression")
    assert r.json()["errors"][0]["line"] == 10
    after = client.get("/api/v1/posture/policies", headers=owner.headers).json()["items"]
    assert after == before  # the policies in force stay as they were

    r = client.post(
        f"/api/v1/posture/policies?org_id={org_id}", content=CUSTOM, headers=owner.headers
    )
    assert r.status_code == 415
    r = client.post(f"/api/v1/posture/policies?org_id={org_id}", content=CUSTOM, headers=headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["policy_id"], created["level"], created["checks"]) == (
        "acme_extra",
        "organization",
        1,
    )

    config = send(client, agent, "")["config"]
    assert [p["id"] for p in config["posture"]] == ["forewarn_linux", "acme_extra"]
    (report,) = [
        r
        for r in Assessor(RealIo()).take(config["posture"], 1_790_000_000.0)
        if r["policy"] == "acme_extra"
    ]
    assert results(report) == {"acme.hosts_file": "pass"}

    r = client.delete(f"/api/v1/posture/policies/{created['id']}", headers=owner.headers)
    assert r.status_code == 204
    config = send(client, agent, config["rev"])["config"]
    assert [p["id"] for p in config["posture"]] == ["forewarn_linux"]


def test_the_cli_imports_a_policy(ctx: Context, tmp_path: Any, monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    from forewarn.cli import app

    monkeypatch.setenv("FOREWARN_DATABASE_URL", ctx.db.url)
    good, bad = tmp_path / "good.yml", tmp_path / "bad.yml"
    good.write_text(CUSTOM)
    bad.write_text(CUSTOM.replace("condition: all", "condition: whenever"))
    org = make_org(ctx, "Cli Co")
    runner = CliRunner()
    refused = runner.invoke(app, ["posture", "import", str(bad), "--org", str(org)])
    assert refused.exit_code == 2 and "line 9: condition must be" in refused.output
    done = runner.invoke(app, ["posture", "import", str(good), "--org", str(org)])
    assert done.exit_code == 0, done.output
    assert "acme_extra (1 checks)" in done.output
    assert [p.policy_id for p in posture.list_policies(ctx, SYSTEM, org)] == [
        "forewarn_linux",
        "acme_extra",
    ]


def test_the_asset_page_has_a_posture_tab(
    client: TestClient, ctx: Context, agent: dict[str, Any]
) -> None:
    from tests.conftest import make_org, make_person
    from tests.integration.test_web import signed_in

    rev = send(client, agent, "")["config"]["rev"]
    items = [
        {"check": "linux.su.restricted", "status": "fail", "evidence": ["no pam_wheel line"]},
        {"check": "linux.kernel.aslr", "status": "pass", "evidence": ["= 2"]},
        {"check": "linux.at.restricted", "status": "na", "evidence": ["no at"]},
    ]
    report = {"policy": "forewarn_linux", "ts": 1_790_000_000.0, "results": items}
    send(client, agent, rev, posture=[report])
    make_person(ctx, "viewer", roles={agent["org_id"]: "viewer"})
    signed_in(client, "viewer")
    html = client.get(f"/assets/{agent['asset_id']}?tab=posture").text
    assert "Score 50 %" in html and "1 passed, 1 failed, 1 not applicable" in html
    assert "su is restricted to the admin group" in html and "no pam_wheel line" in html
    assert "pam_wheel.so" in html  # the remediation

    # The organization's page lists the machine with its score, linking to that tab.
    html = client.get(f"/orgs/{agent['org_id']}/posture").text
    assert "50 / 100" in html and f"/assets/{agent['asset_id']}?tab=posture" in html
    make_person(ctx, "outsider", roles={make_org(ctx, "Outside Ltd"): "admin"})
    signed_in(client, "outsider")
    assert client.get(f"/orgs/{agent['org_id']}/posture").status_code == 404

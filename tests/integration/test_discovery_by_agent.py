"""Discovery made by an agent on the client's network: the run reaches the agent in its
check-in answer, the agent's report comes back in a batch and is recorded like a sweep of
the server's own. No traffic here: the agent side is tests/unit/test_agent_sweeps.py and
the real agent's sweep is in test_agent_e2e.py."""

from __future__ import annotations

import gzip
import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from forewarn.probes.discover import PORTS
from forewarn.services import discovery
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError
from forewarn.services.ingest import AgentCache
from forewarn.services.scope import SYSTEM
from tests.conftest import make_org
from tests.integration.test_agent_watch import checkin
from tests.integration.test_ingest import enroll

NET = "192.0.2.0/28"  # TEST-NET-1: never swept here, the "agent" is this test
PRINTER = {
    "address": "192.0.2.5",
    "answered_ping": True,
    "mac": "3c:d9:2b:00:00:05",
    "open_ports": [80, 515, 631, 9100],
    "sys_name": "printer-2f",
    "sys_descr": "HP LaserJet Pro M404",
}


@pytest.fixture
def world(client: TestClient, ctx: Context) -> dict[str, Any]:
    client.app.state.agent_cache = AgentCache(ttl=0)  # type: ignore[attr-defined]
    org = make_org(ctx, "Branch Office")
    agent = enroll(client, ctx, org)
    network = discovery.create_network(
        ctx,
        SYSTEM,
        discovery.NetworkCreate(
            org_id=org, cidr=NET, agent_id=agent["agent_id"], snmp_communities=["public"]
        ),
    )
    return {"org": org, "agent": agent, "network": network}


def test_the_agent_is_asked_to_sweep_and_its_report_is_recorded(client, ctx, world):
    agent, network = world["agent"], world["network"]
    assert network.agent_id == agent["agent_id"]
    run = discovery.run(ctx, SYSTEM, network.id)
    assert run.status == "running"  # the server did not sweep it: the agent will

    config = checkin(client, agent)["config"]
    assert config["sweeps"] == [
        {"run": run.id, "network": NET, "ports": list(PORTS), "communities": ["public"]}
    ]
    report = {"run": run.id, "addresses": 14, "seconds": 3.2, "hosts": [PRINTER]}
    answer = checkin(client, agent, config["rev"], at=ctx.clock.now().timestamp())
    assert answer["config"] is None
    answer = send_report(client, agent, config["rev"], report)
    assert answer["config"]["sweeps"] == []  # done: no longer asked for

    runs = discovery.list_runs(ctx, SYSTEM, network_id=network.id).items
    assert (runs[0].status, runs[0].addresses, runs[0].found, runs[0].new) == ("done", 14, 1, 1)
    device = discovery.list_devices(ctx, SYSTEM, org_id=world["org"]).items[0]
    assert (device.address, device.kind_guess, device.sys_name) == (
        "192.0.2.5",
        "printer",
        "printer-2f",
    )

    # The same report again (a batch resent with a new id) changes nothing.
    send_report(client, agent, answer["config"]["rev"], report)
    assert len(discovery.list_runs(ctx, SYSTEM, network_id=network.id).items) == 1
    assert len(discovery.list_devices(ctx, SYSTEM, org_id=world["org"]).items) == 1


def send_report(client, agent, rev, report):
    return checkin_with(client, agent, rev, sweeps=[report])


def checkin_with(client, agent, rev, **extra):
    body = {
        "v": 1,
        "batch_id": uuid.uuid4().hex,
        "seq": 2,
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
    return r.json()


def test_a_failed_sweep_and_another_agent_s_report(client, ctx, world):
    run = discovery.run(ctx, SYSTEM, world["network"].id)
    stranger = enroll(client, ctx, make_org(ctx, "Elsewhere"))
    checkin_with(client, stranger, "", sweeps=[{"run": run.id, "hosts": [PRINTER]}])
    assert discovery.list_runs(ctx, SYSTEM, network_id=world["network"].id).items[0].status == (
        "running"
    )

    checkin_with(client, world["agent"], "", sweeps=[{"run": run.id, "error": "no route"}])
    failed = discovery.list_runs(ctx, SYSTEM, network_id=world["network"].id).items[0]
    assert failed.status == "failed" and failed.error == "the agent's sweep failed: no route"


def test_a_run_the_agent_never_reports_fails_after_an_hour(client, ctx, clock, world):
    run = discovery.run(ctx, SYSTEM, world["network"].id)
    with pytest.raises(ServiceError, match="already running"):
        discovery.run(ctx, SYSTEM, world["network"].id)
    clock.advance(hours=1, seconds=1)
    assert discovery.expire_agent_runs(ctx) == 1
    row = discovery.list_runs(ctx, SYSTEM, network_id=world["network"].id).items[0]
    assert row.id == run.id and row.status == "failed" and "within an hour" in row.error
    config = checkin(client, world["agent"])["config"]  # posture policies may be there
    assert config is None or config["sweeps"] == []  # no sweep left to ask for


def test_the_agent_must_belong_to_the_organization(client, ctx, world):
    stranger = enroll(client, ctx, make_org(ctx, "Elsewhere"))
    with pytest.raises(ServiceError, match="no agent of this organization"):
        discovery.create_network(
            ctx,
            SYSTEM,
            discovery.NetworkCreate(
                org_id=world["org"], cidr="198.51.100.0/28", agent_id=stranger["agent_id"]
            ),
        )

"""Process and log checks: the server hands their definitions to the agent in check-in
answers, the agent's counts come back as metric series, and the poller judges them."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from forewarn.services import assets, checks, policies
from forewarn.services.context import Context
from forewarn.services.ingest import AgentCache
from forewarn.services.poller import Poller
from forewarn.services.schemas import AssetCreate, CheckCreate, CheckUpdate, PolicyCreate
from forewarn.services.scope import SYSTEM
from tests.conftest import make_org
from tests.integration.test_ingest import enroll, send

PROCESS = {"kind": "process", "process": "nginx", "min_count": 2}
LOG = {"kind": "log", "path": "/var/log/app.log", "pattern": "ERROR"}


@pytest.fixture
def agent(client: TestClient, ctx: Context) -> dict[str, Any]:
    # No credential cache: each check-in sees the agent's current config rev.
    client.app.state.agent_cache = AgentCache(ttl=0)  # type: ignore[attr-defined]
    return enroll(client, ctx, make_org(ctx, "Watched Ltd"))


def add(ctx: Context, asset_id: int, name: str, params: dict[str, Any]) -> int:
    data = CheckCreate(asset_id=asset_id, name=name, type="agent", params=params, interval_s=60)
    return checks.create(ctx, SYSTEM, data).id


def checkin(client, agent, rev: str = "", points=(), watch=(), at: float | None = None):
    ts = at or 1_790_000_000.0
    body = {
        "v": 1,
        "batch_id": uuid.uuid4().hex,
        "seq": 1,
        "sent_at": ts,
        "samples": [{"ts": ts, "points": list(points)}] if points else [],
        "config_rev": rev,
        "watch": list(watch),
    }
    r = send(client, agent["agent_token"], body)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_agent_gets_its_watches_only_when_they_changed(client, ctx, agent):
    asset = agent["asset_id"]
    first = checkin(client, agent)["config"]  # the posture policies, nothing to watch
    assert first is None or (first["processes"], first["logs"]) == ([], [])
    first_rev = first["rev"] if first else ""

    proc = add(ctx, asset, "nginx", PROCESS)
    log = add(ctx, asset, "app errors", LOG)
    config = checkin(client, agent)["config"]
    assert config["processes"] == [{"check": proc, "name": "nginx", "cmdline": False}]
    assert config["logs"] == [
        {"check": log, "path": "/var/log/app.log", "pattern": "ERROR", "ignore_case": False}
    ]
    rev = config["rev"]
    assert checkin(client, agent, rev)["config"] is None

    checks.update(ctx, SYSTEM, proc, CheckUpdate(enabled=False))
    changed = checkin(client, agent, rev)["config"]
    assert changed["processes"] == [] and changed["rev"] != rev
    checks.delete(ctx, SYSTEM, log)
    emptied = checkin(client, agent, changed["rev"])["config"]
    assert (emptied["processes"], emptied["logs"], emptied["sweeps"]) == ([], [], [])
    assert emptied["rev"] == first_rev  # back to what it was: the posture policies alone

    # A policy's process check reaches the agent too.
    policies.create(
        ctx,
        SYSTEM,
        PolicyCreate(
            name="web",
            checks=[
                {"name": "cron", "type": "agent", "params": {"kind": "process", "process": "cron"}}
            ],
        ),
    )
    via_policy = checkin(client, agent, "")["config"]
    assert [p["name"] for p in via_policy["processes"]] == ["cron"]


def test_counts_and_lines_become_check_states(client, ctx, agent):
    asset = agent["asset_id"]
    proc = add(ctx, asset, "nginx", PROCESS)
    log = add(ctx, asset, "app errors", LOG)
    now = ctx.clock.now().timestamp()
    checkin(
        client,
        agent,
        points=[
            {"name": "watch.process_count", "labels": {"check": str(proc)}, "value": 1},
            {"name": "watch.log_matches", "labels": {"check": str(log)}, "value": 3},
        ],
        watch=[{"check": log, "ts": now, "line": "ERROR database connection lost"}],
        at=now,
    )
    asyncio.run(Poller(ctx, owner="t").tick())

    got = {c.id: c.state for c in checks.list_(ctx, SYSTEM, asset_id=asset).items}
    assert got[proc].status == "critical"
    assert "1 process named 'nginx'; at least 2 expected" in got[proc].message
    assert got[log].status == "critical"
    assert got[log].message.endswith("last: ERROR database connection lost")
    assert "3 lines matching 'ERROR'" in got[log].message


def test_an_agent_cannot_speak_for_another_machine(client, ctx, agent):
    other_org = make_org(ctx, "Elsewhere")
    other = assets.create(ctx, SYSTEM, AssetCreate(org_id=other_org, name="x", kind="server")).id
    foreign = add(ctx, other, "their log", LOG)
    now = ctx.clock.now().timestamp()
    checkin(
        client,
        agent,
        points=[{"name": "watch.log_matches", "labels": {"check": str(foreign)}, "value": 9}],
        watch=[{"check": foreign, "ts": now, "line": "forged", "error": ""}],
        at=now,
    )
    asyncio.run(Poller(ctx, owner="t").tick())
    state = checks.get(ctx, SYSTEM, foreign).state
    # Judged from the other asset's own data: it has no agent at all.
    assert state.status == "unknown" and "no agent" in state.message

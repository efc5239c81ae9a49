"""Enrolment and check-in on the server: a batch is stored once and whole, or not at all."""

from __future__ import annotations

import gzip
import json
import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from forewarn.services import agents, enrollment, ingest, metrics
from forewarn.services.context import Context
from forewarn.services.ingest import AgentRef, SeriesCache, checkin_of
from forewarn.services.schemas import EnrollTokenCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import AgentBatch, InventoryChange, MetricRaw
from forewarn.wire import Batch
from tests.conftest import Person, make_org

PACKAGES = [
    {"name": "bash", "version": "5.2.15-2", "arch": "amd64", "source": "dpkg"},
    {"name": "openssl", "version": "3.0.11-1", "arch": "amd64", "source": "dpkg"},
]
ACCOUNTS = [{"name": "root", "uid": 0, "shell": "/bin/bash", "home": "/root", "admin": True}]
LISTENERS = [{"proto": "tcp", "address": "0.0.0.0", "port": 22, "process": "sshd"}]
SERVICES = [{"name": "ssh.service", "state": "active", "sub": "running", "enabled": "enabled"}]


def enroll(client: TestClient, ctx: Context, org_id: int, **token: Any) -> dict[str, Any]:
    secret = enrollment.create_token(ctx, SYSTEM, EnrollTokenCreate(org_id=org_id, **token)).token
    r = client.post(
        "/api/v1/agent/enroll",
        json={"token": secret, "hostname": "fs01", "machine_id": "abc123", "os": "Debian 12"},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def sample(ts: float, cpu: float, used: float = 40.0) -> dict[str, Any]:
    return {
        "ts": ts,
        "points": [
            {"name": "cpu.percent", "value": cpu},
            {"name": "disk.used_percent", "labels": {"mount": "/"}, "value": used},
        ],
        "top": [{"pid": 1, "name": "init", "user": "root", "cpu_percent": 0.1, "rss_bytes": 1}],
    }


def batch(seq: int, samples: list[dict[str, Any]], inventory: dict[str, Any] | None = None):
    return {
        "v": 1,
        "batch_id": uuid.uuid4().hex,
        "seq": seq,
        "agent_version": "0.1.0",
        "sent_at": samples[-1]["ts"] if samples else 1_790_000_000,
        "samples": samples,
        "inventory": inventory,
    }


def send(client: TestClient, token: str, body: dict[str, Any], **headers: str):
    data = gzip.compress(json.dumps(body).encode())
    return client.post(
        "/api/v1/agent/checkin",
        content=data,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
            **headers,
        },
    )


@pytest.fixture
def agent(client: TestClient, ctx: Context) -> dict[str, Any]:
    return enroll(client, ctx, make_org(ctx, "Agents Ltd"))


def raw_rows(ctx: Context) -> int:
    with ctx.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(MetricRaw)) or 0)


def test_checkin_stores_metrics_and_inventory_once(
    client: TestClient, ctx: Context, agent: dict[str, Any], owner: Person
) -> None:
    t0 = ctx.clock.now().timestamp()
    inv = {
        "full": True,
        "packages": PACKAGES,
        "accounts": ACCOUNTS,
        "listeners": LISTENERS,
        "system": {"hostname": "fs01", "os_name": "Debian GNU/Linux", "os_version": "12"},
    }
    body = batch(1, [sample(t0 - 60, 5.0), sample(t0, 7.0)], inv)
    r = send(client, agent["agent_token"], body)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "stored"
    assert r.json()["interval"] == 60
    again = send(client, agent["agent_token"], body)
    assert again.json()["status"] == "duplicate"
    assert raw_rows(ctx) == 4

    h, asset = owner.headers, agent["asset_id"]
    pk = client.get(f"/api/v1/assets/{asset}/inventory/packages", headers=h).json()
    assert {p["name"] for p in pk["data"]} == {"bash", "openssl"}
    frm = (ctx.clock.now() - timedelta(minutes=5)).isoformat()
    to = (ctx.clock.now() + timedelta(minutes=1)).isoformat()
    m = client.get(
        f"/api/v1/assets/{asset}/metrics",
        params={"name": "cpu.percent", "from": frm, "to": to, "step": 60},
        headers=h,
    ).json()
    assert m["resolution"] == "raw"
    assert [p[1] for p in m["series"][0]["points"]] == [5.0, 7.0]
    series = client.get(f"/api/v1/assets/{asset}/metrics/series", headers=h).json()
    assert {"name": "disk.used_percent", "labels": {"mount": "/"}} in [
        {k: s[k] for k in ("name", "labels")} for s in series
    ]
    info = client.get(f"/api/v1/assets/{asset}/agent", headers=h).json()
    assert info["agent"]["status"] == "online"
    assert info["top"][0]["name"] == "init"


def test_second_inventory_records_what_changed(
    client: TestClient, ctx: Context, agent: dict[str, Any], owner: Person
) -> None:
    t = ctx.clock.now().timestamp()
    first = {
        "packages": PACKAGES,
        "accounts": ACCOUNTS,
        "listeners": LISTENERS,
        "services": SERVICES,
    }
    assert send(client, agent["agent_token"], batch(1, [sample(t, 1)], first)).status_code == 200
    second = {
        "packages": [
            {**PACKAGES[0], "version": "5.2.21-2"},
            PACKAGES[1],
            {"name": "nmap", "version": "7.93", "arch": "amd64", "source": "dpkg"},
        ],
        "accounts": [*ACCOUNTS, {"name": "eve", "uid": 1001, "admin": True}],
        "listeners": [
            *LISTENERS,
            {"proto": "tcp", "address": "0.0.0.0", "port": 4444, "process": "nc"},
        ],
        "services": [{**SERVICES[0], "state": "inactive", "sub": "dead"}],
    }
    ctx.clock.advance(60)
    assert (
        send(client, agent["agent_token"], batch(2, [sample(t + 60, 1)], second)).status_code == 200
    )
    items = client.get(f"/api/v1/assets/{agent['asset_id']}/changes", headers=owner.headers).json()[
        "items"
    ]
    summaries = {i["summary"] for i in items}
    assert "bash upgraded 5.2.15-2 → 5.2.21-2" in summaries
    assert "package nmap 7.93 installed" in summaries
    assert "account eve (administrator) added, with administrator rights" in summaries
    assert "listening port tcp 0.0.0.0:4444 (nc) appeared" in summaries
    assert "service ssh.service stopped (was active)" in summaries
    assert len(items) == 5  # the first inventory is the baseline, not five hundred "changes"


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda b: b["samples"][0]["points"][0].update(value="NaN"), "finite"),
        (lambda b: b["samples"][0]["points"][0].update(name="CPU Percent"), "name"),
        (lambda b: b.update(asset_id=99), "asset_id"),
        (lambda b: b.update(batch_id="not-hex"), "batch_id"),
        (lambda b: b["samples"][0].update(ts=12), "ts"),
        (lambda b: b.update(inventory={"packages": [{"name": "x"}]}), "version"),
    ],
)
def test_invalid_batch_is_refused_whole(
    client: TestClient, ctx: Context, agent: dict[str, Any], mutate: Any, fragment: str
) -> None:
    t = ctx.clock.now().timestamp()
    body = batch(1, [sample(t, 1), sample(t + 1, 2)], {"packages": PACKAGES})
    mutate(body)
    data = json.dumps(body).replace('"NaN"', "NaN")
    r = client.post(
        "/api/v1/agent/checkin",
        content=gzip.compress(data.encode()),
        headers={"Authorization": f"Bearer {agent['agent_token']}", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 422, r.text
    assert fragment in json.dumps(r.json())
    assert raw_rows(ctx) == 0
    with ctx.db.read() as s:
        assert s.scalar(select(func.count()).select_from(AgentBatch)) == 0


def test_bad_encodings_and_credentials(
    client: TestClient, ctx: Context, agent: dict[str, Any], owner: Person
) -> None:
    token = agent["agent_token"]
    bomb = gzip.compress(b" " * (ctx.settings.checkin_max_bytes + 10))
    r = client.post(
        "/api/v1/agent/checkin",
        content=bomb,
        headers={"Authorization": f"Bearer {token}", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 413
    r = client.post(
        "/api/v1/agent/checkin",
        content=b"\x1f\x8bnot gzip",
        headers={"Authorization": f"Bearer {token}", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 422
    body = batch(1, [sample(ctx.clock.now().timestamp(), 1)])
    assert send(client, owner.token, body).status_code == 401  # a user is not an agent
    assert send(client, "fwa_forged", body).status_code == 401
    assert raw_rows(ctx) == 0


def test_enrolment_tokens_expire_run_out_and_reenrol_keeps_the_asset(
    client: TestClient, ctx: Context
) -> None:
    org = make_org(ctx, "Tokens Inc")
    secret = enrollment.create_token(
        ctx, SYSTEM, EnrollTokenCreate(org_id=org, max_uses=1, expires_in_days=1)
    ).token
    req = {"token": secret, "hostname": "pc1", "machine_id": "m1"}
    first = client.post("/api/v1/agent/enroll", json=req)
    assert first.status_code == 201
    assert client.post("/api/v1/agent/enroll", json=req).status_code == 410  # used up
    second = enroll(client, ctx, org, expires_in_days=1)
    # hostname fs01 / machine abc123 is another machine: a new asset
    assert second["asset_id"] != first.json()["asset_id"]
    again = enroll(client, ctx, org)
    assert again["asset_id"] == second["asset_id"]  # same machine id: same asset
    body = batch(1, [sample(ctx.clock.now().timestamp(), 1)])
    assert send(client, second["agent_token"], body).status_code == 401  # replaced credential
    late = enrollment.create_token(ctx, SYSTEM, EnrollTokenCreate(org_id=org)).token
    ctx.clock.advance(days=8)
    r = client.post("/api/v1/agent/enroll", json={**req, "token": late})
    assert r.status_code == 410


def test_offline_after_three_missed_checkins_and_back(
    client: TestClient, ctx: Context, agent: dict[str, Any]
) -> None:
    t = ctx.clock.now().timestamp()
    send(client, agent["agent_token"], batch(1, [sample(t, 1)]))
    ctx.clock.advance(170)
    assert agents.mark_offline(ctx) == []
    ctx.clock.advance(20)
    assert agents.mark_offline(ctx) == [agent["asset_id"]]
    assert agents.agent_of_asset(ctx, SYSTEM, agent["asset_id"]).status == "offline"
    send(client, agent["agent_token"], batch(2, [sample(t + 190, 1)]))
    assert agents.agent_of_asset(ctx, SYSTEM, agent["asset_id"]).status == "online"
    with ctx.db.read() as s:
        offline = s.scalars(select(InventoryChange).where(InventoryChange.section == "agent"))
        assert [c.after for c in offline] == ["offline"]


def test_rollups_and_retention(client: TestClient, ctx: Context, agent: dict[str, Any]) -> None:
    start = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    samples = [sample(start.timestamp() + i * 60, cpu=float(i % 10)) for i in range(180)]
    assert send(client, agent["agent_token"], batch(1, samples)).status_code == 200
    ctx.clock.advance(hours=1)  # now 10:00; samples cover 06:00-09:00
    metrics.rollup(ctx)
    # a replay from an outage arrives late, behind the rollup's watermark
    late = [sample(start.timestamp() - 3600 + i * 60, cpu=50.0) for i in range(60)]
    assert send(client, agent["agent_token"], batch(2, late)).status_code == 200
    metrics.rollup(ctx)
    ctx.clock.advance(days=3)  # raw is gone after 2 days; the 5-minute rollup remains
    metrics.enforce_retention(ctx)
    assert raw_rows(ctx) == 0
    hour = int(start.timestamp())

    def points(step: int) -> tuple[str, dict[int, list[float]]]:
        r = metrics.query(
            ctx,
            SYSTEM,
            agent["asset_id"],
            "cpu.percent",
            start - timedelta(hours=1),
            start + timedelta(hours=3),
            step=step,
        )
        values = {p[0]: [round(x, 3) for x in p[1:]] for p in r["series"][0]["points"]}
        return r["resolution"], values

    resolution, five = points(300)
    assert resolution == "5m"
    assert five[hour] == [2.0, 0.0, 4.0]  # 06:00-06:05 held 0, 1, 2, 3, 4
    assert five[hour - 3600] == [50.0, 50.0, 50.0]  # the late replay was rolled up too
    resolution, hourly = points(3600)
    assert resolution == "1h"
    assert hourly[hour] == [4.5, 0.0, 9.0]
    assert hourly[hour - 3600] == [50.0, 50.0, 50.0]


def test_a_batch_twice_in_one_group_is_stored_once(
    client: TestClient, ctx: Context, agent: dict[str, Any]
) -> None:
    """Retries can land in the same transaction as the original: the second is a duplicate."""
    ref = AgentRef(agent["agent_id"], agent["asset_id"], agent["org_id"], 60)
    body = Batch.model_validate(batch(1, [sample(ctx.clock.now().timestamp(), 1.0)]))
    c = checkin_of(ref, body)
    series = SeriesCache()
    assert ingest.store(ctx.db, ctx.clock.now(), series, [c, c]) == ["stored", "duplicate"]
    assert ingest.store(ctx.db, ctx.clock.now(), series, [c]) == ["duplicate"]
    assert raw_rows(ctx) == 2


def test_a_writer_process_that_dies_loses_and_doubles_nothing(
    client: TestClient, ctx: Context, agent: dict[str, Any]
) -> None:
    t = ctx.clock.now().timestamp()
    assert send(client, agent["agent_token"], batch(1, [sample(t, 1.0)])).status_code == 200
    writer = client.app.state.ingest  # type: ignore[attr-defined]
    pid = writer.writer_pid
    assert pid is not None
    body = batch(2, [sample(t + 60, 2.0)])
    # The writer dies while it holds the group: stopped first, so the group is surely sent
    # to it before it is killed (killed idle, the server would notice and start another).
    os.kill(pid, signal.SIGSTOP)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(send, client, agent["agent_token"], body)
        deadline = time.monotonic() + 10
        while not writer._storing:
            assert time.monotonic() < deadline, "the group never reached the writer"
            time.sleep(0.01)
        os.kill(pid, signal.SIGKILL)
        answers = [first.result(timeout=10), send(client, agent["agent_token"], body)]
    # The dead writer's group is refused (whether it was stored is unknown to the server);
    # the agent sends the same batch again and a new writer stores it.
    assert answers[0].status_code == 503, answers[0].text
    assert answers[0].headers["content-type"] == "application/problem+json"
    assert answers[0].headers["retry-after"] == "1"
    assert answers[1].status_code == 200, answers[1].text
    assert answers[1].json()["status"] == "stored"
    assert writer.writer_pid not in (None, pid)
    assert raw_rows(ctx) == 4


def test_the_checkin_lane_keeps_the_size_limit_and_the_metrics(
    client: TestClient, ctx: Context, agent: dict[str, Any]
) -> None:
    """The check-in is answered beside the router, still inside the app's middleware."""
    token = agent["agent_token"]
    big = b"x" * (ctx.settings.max_body_bytes + 1)
    r = client.post(
        "/api/v1/agent/checkin", content=big, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert (
        send(client, token, batch(1, [sample(ctx.clock.now().timestamp(), 1)])).status_code == 200
    )
    exposition = client.get("/metrics").text
    assert 'route="/api/v1/agent/checkin",status="200"' in exposition
    r = send(client, "fwa_forged", batch(2, []))
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"] == "Bearer"

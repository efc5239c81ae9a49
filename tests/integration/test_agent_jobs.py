"""Signed jobs end to end through the real check-in path, on both engines: a library script
is run now, delivered in a check-in answer, verified and run by the real agent code on this
machine, and its result stored; a job altered after signing is refused and never runs."""

from __future__ import annotations

import gzip
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from forewarn.agent.buffer import Buffer
from forewarn.agent.jobs import JobRunner
from forewarn.agent.runner import Outcome, Runner, Sources
from forewarn.services import agent_jobs, keys
from forewarn.services.context import Context
from forewarn.store.models import AgentJob
from tests.conftest import Person, make_org, make_person
from tests.integration.test_ingest import enroll

pytestmark = pytest.mark.timeout(60)


class InProcessSender:
    """The agent's Sender over the app in-process: the same route, the same answer."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client, self.token = client, token

    def send(self, body_gzip: bytes) -> dict[str, Any]:
        r = self.client.post(
            "/api/v1/agent/checkin",
            content=body_gzip,
            headers={"Authorization": f"Bearer {self.token}", "Content-Encoding": "gzip"},
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    def close(self) -> None:
        pass


def quiet_sources() -> Sources:
    return Sources(
        sample=lambda now: {"ts": now, "points": [{"name": "cpu.percent", "value": 1.0}]},
        inventory=lambda: {},
        changed_sections=lambda inv, hashes: {},
        section_hashes=lambda inv: {},
    )


@pytest.fixture
def world(client: TestClient, ctx: Context, owner: Person) -> dict[str, Any]:
    org = make_org(ctx, "Jobs Ltd")
    agent = enroll(client, ctx, org)
    tech = make_person(ctx, "jobs-tech", roles={org: "technician"})
    return {"org": org, "agent": agent, "tech": tech, "owner": owner}


def agent_runner(client: TestClient, ctx: Context, agent: dict[str, Any], tmp: Path) -> Runner:
    now = lambda: ctx.clock.now().timestamp()  # noqa: E731 - the server's manual clock
    return Runner(
        Buffer(tmp / "buffer.db"),
        InProcessSender(client, agent["agent_token"]),
        quiet_sources(),
        clock=ctx.clock,
        sleep=lambda s: None,
        jobs=JobRunner(agent["agent_id"], agent["server_public_key"], clock=now),
    )


def test_a_library_script_runs_on_this_machine_and_its_output_comes_back(
    client: TestClient, ctx: Context, world: dict[str, Any], tmp_path: Path
) -> None:
    org, agent = world["org"], world["agent"]
    admin = make_person(ctx, "jobs-admin", roles={org: "admin"})
    script = {
        "org_id": org,
        "name": "greet",
        "language": "bash",
        "body": 'echo "$GREETING"; id -u',
        "parameters": [{"name": "GREETING", "default": "hi"}],
        "timeout_s": 30,
    }
    r = client.post("/api/v1/scripts", json=script, headers=world["tech"].headers)
    assert r.status_code == 403  # writing scripts is an admin's
    r = client.post("/api/v1/scripts", json=script, headers=admin.headers)
    assert r.status_code == 201, r.text
    script_id = r.json()["id"]

    run = {"org_id": org, "asset_ids": [agent["asset_id"]], "params": {"GREETING": "hello"}}
    r = client.post(f"/api/v1/scripts/{script_id}/run", json=run, headers=world["tech"].headers)
    assert r.status_code == 201, r.text
    (job_id,) = r.json()["jobs"]
    assert client.get(f"/api/v1/jobs/{job_id}", headers=admin.headers).json()["state"] == "queued"

    runner = agent_runner(client, ctx, agent, tmp_path)
    try:
        assert runner.run_once() is Outcome.SENT
    finally:
        runner.close()
        runner.buffer.close()

    job = client.get(f"/api/v1/jobs/{job_id}", headers=world["tech"].headers).json()
    assert job["state"] == "succeeded", job
    assert (job["exit_code"], job["output"]) == (0, f"hello\n{os.getuid()}\n")
    listed = client.get("/api/v1/jobs", params={"org_id": org}, headers=admin.headers).json()
    assert [j["id"] for j in listed["items"]] == [job_id]

    # A duplicate result (a retried batch) changes nothing: the first final result wins.
    from forewarn.wire import JobResult

    dup = JobResult(job=job_id, state="failed", started_at=1.8e9, finished_at=1.8e9)
    assert agent_jobs.record_results(ctx, agent["agent_id"], [dup]) == 0


def test_a_job_altered_after_signing_is_refused_reported_and_never_run(
    client: TestClient, ctx: Context, world: dict[str, Any], tmp_path: Path
) -> None:
    agent = world["agent"]
    marker = tmp_path / "ran"
    key = keys.signing_key(ctx)
    with ctx.db.transaction() as session:
        row = agent_jobs.issue(
            session,
            key,
            ctx.clock.now(),
            org_id=world["org"],
            asset_id=agent["asset_id"],
            agent_id=agent["agent_id"],
            kind="script",
            payload={"language": "bash", "body": "echo safe", "params": {}},
        )
        job_id = row.id
        # Someone with write access to the database, not the key, changes what will run.
        row.envelope = row.envelope.replace("echo safe", f"touch {marker}")
    runner = agent_runner(client, ctx, agent, tmp_path)
    try:
        assert runner.run_once() is Outcome.SENT
    finally:
        runner.close()
        runner.buffer.close()
    assert not marker.exists()
    with ctx.db.read() as session:
        stored = session.scalar(select(AgentJob).where(AgentJob.id == job_id))
        assert stored is not None
        assert stored.state == "refused" and stored.reason.startswith("bad signature"), (
            stored.state,
            stored.reason,
        )


def test_results_for_another_agents_job_change_nothing(
    client: TestClient, ctx: Context, world: dict[str, Any]
) -> None:
    other = enroll(client, ctx, make_org(ctx, "Other Ltd"))
    agent = world["agent"]
    with ctx.db.transaction() as session:
        job_id = agent_jobs.issue(
            session,
            keys.signing_key(ctx),
            ctx.clock.now(),
            org_id=world["org"],
            asset_id=agent["asset_id"],
            agent_id=agent["agent_id"],
            kind="restart_service",
            payload={"service": "cron"},
        ).id
    ts = ctx.clock.now().timestamp()
    body = {
        "v": 1,
        "batch_id": "f" * 32,
        "seq": 1,
        "sent_at": ts,
        "jobs": [{"job": job_id, "state": "succeeded", "started_at": ts, "finished_at": ts}],
    }
    r = client.post(
        "/api/v1/agent/checkin",
        content=gzip.compress(json.dumps(body).encode()),
        headers={"Authorization": f"Bearer {other['agent_token']}", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 200 and "jobs" not in r.json()
    got = client.get(f"/api/v1/jobs/{job_id}", headers=world["owner"].headers).json()
    assert got["state"] == "queued"


def test_a_lost_answer_is_made_good_and_an_undelivered_job_expires(
    client: TestClient, ctx: Context, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent_jobs, "PENDING_TTL", 0.0)  # every check-in looks afresh
    agent = world["agent"]
    key = keys.signing_key(ctx)

    def issue(ttl_s: int) -> int:
        with ctx.db.transaction() as session:
            return agent_jobs.issue(
                session,
                key,
                ctx.clock.now(),
                org_id=world["org"],
                asset_id=agent["asset_id"],
                agent_id=agent["agent_id"],
                kind="restart_service",
                payload={"service": "cron"},
                ttl=timedelta(seconds=ttl_s),
            ).id

    job = issue(3600)
    first = agent_jobs.deliver(ctx, agent["agent_id"])
    assert [o.id for o in first] == [job]
    assert agent_jobs.deliver(ctx, agent["agent_id"]) == []  # sent: not again at once
    ctx.clock.advance(agent_jobs.REDELIVER.total_seconds())
    again = agent_jobs.deliver(ctx, agent["agent_id"])  # no result yet: the answer was lost?
    assert again == first  # the same signed bytes

    late = issue(60)
    ctx.clock.advance(61)
    assert late not in [o.id for o in agent_jobs.deliver(ctx, agent["agent_id"])]
    assert agent_jobs.expire(ctx) == 1
    got = client.get(f"/api/v1/jobs/{late}", headers=world["owner"].headers).json()
    assert got["state"] == "timed_out" and "expired" in got["reason"]

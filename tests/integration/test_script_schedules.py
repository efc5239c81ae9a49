"""Script schedules on both engines: a daily script issued once per occurrence through the
signed path, run by the real agent code, counted for the month; paused schedules run nothing;
bad input changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from forewarn.agent.buffer import Buffer
from forewarn.agent.jobs import JobRunner
from forewarn.agent.runner import Outcome, Runner
from forewarn.services import schedules
from forewarn.services.context import Context
from forewarn.store.models import AgentJob, ScriptSchedule, ScriptScheduleRun
from tests.conftest import make_org, make_person
from tests.integration.test_agent_jobs import InProcessSender, quiet_sources
from tests.integration.test_ingest import enroll

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def world(client: TestClient, ctx: Context) -> dict[str, Any]:
    org = make_org(ctx, "Scheduled Ltd")
    agent = enroll(client, ctx, org)
    admin = make_person(ctx, "sched-admin", roles={org: "admin"})
    tech = make_person(ctx, "sched-tech", roles={org: "technician"})
    r = client.post(
        "/api/v1/scripts",
        json={
            "org_id": org,
            "name": "say",
            "language": "bash",
            "body": 'echo "tidy $WHAT"',
            "parameters": [{"name": "WHAT", "default": "nothing"}],
        },
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    return {"org": org, "agent": agent, "tech": tech, "script": r.json()["id"]}


def _jobs(ctx: Context) -> int:
    with ctx.db.read() as s:
        return int(s.scalar(select(func.count(AgentJob.id))) or 0)


def test_a_daily_schedule_issues_each_occurrence_once_and_counts_its_runs(
    client: TestClient, ctx: Context, world: dict[str, Any], tmp_path: Path
) -> None:
    # The clock stands at 2026-11-02 09:00 UTC; the organization's zone is UTC.
    body = {
        "org_id": world["org"],
        "script_id": world["script"],
        "name": "nightly tidy",
        "params": {"WHAT": "temp"},
        "start_local": "2026-11-01T10:00",
        "repeat": "daily",
    }
    r = client.post("/api/v1/script-schedules", json=body, headers=world["tech"].headers)
    assert r.status_code == 201, r.text
    sched = r.json()
    assert sched["next_run"].startswith("2026-11-02T10:00")

    assert schedules.run_due(ctx) == 0  # not yet
    ctx.clock.advance(3600)
    assert schedules.run_due(ctx) == 1
    assert schedules.run_due(ctx) == 0  # the occurrence is issued once
    # Even if a turn found the same occurrence due again (a crash before the next_run was
    # seen, a second process), the recorded run stops a second job.
    with ctx.db.transaction() as s:
        s.execute(
            update(ScriptSchedule)
            .where(ScriptSchedule.id == sched["id"])
            .values(next_run=ctx.clock.now())
        )
        s.execute(update(ScriptScheduleRun).values(occurrence=ctx.clock.now()))
    assert schedules.run_due(ctx) == 0 and _jobs(ctx) == 1

    runner = Runner(
        Buffer(tmp_path / "buffer.db"),
        InProcessSender(client, world["agent"]["agent_token"]),
        quiet_sources(),
        clock=ctx.clock,
        sleep=lambda s: None,
        jobs=JobRunner(
            world["agent"]["agent_id"],
            world["agent"]["server_public_key"],
            clock=lambda: ctx.clock.now().timestamp(),
        ),
    )
    try:
        assert runner.run_once() is Outcome.SENT
    finally:
        runner.close()
        runner.buffer.close()
    listed = client.get(
        "/api/v1/jobs", params={"org_id": world["org"]}, headers=world["tech"].headers
    ).json()["items"]
    assert [(j["state"], j["output"]) for j in listed] == [("succeeded", "tidy temp\n")]

    counts = client.get(
        f"/api/v1/orgs/{world['org']}/job-counts",
        params={"month": "2026-11"},
        headers=world["tech"].headers,
    ).json()
    assert (
        counts["scheduled_runs"],
        counts["scheduled_succeeded"],
        counts["scheduled_failed"],
    ) == (
        1,
        1,
        0,
    )
    assert counts["jobs"] == 1
    other = client.get(
        f"/api/v1/orgs/{world['org']}/job-counts",
        params={"month": "2026-10"},
        headers=world["tech"].headers,
    ).json()
    assert other["scheduled_runs"] == 0

    # Paused: the next day's occurrence runs nothing; resumed, the next one from now.
    r = client.patch(
        f"/api/v1/script-schedules/{sched['id']}",
        json={"enabled": False},
        headers=world["tech"].headers,
    )
    assert r.status_code == 200 and r.json()["enabled"] is False
    ctx.clock.advance(86400)
    assert schedules.run_due(ctx) == 0
    r = client.patch(
        f"/api/v1/script-schedules/{sched['id']}",
        json={"enabled": True},
        headers=world["tech"].headers,
    )
    assert r.json()["next_run"].startswith("2026-11-04T10:00")  # missed ones are not made up


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"params": {"NOPE": "x"}}, 422),
        ({"asset_ids": [1], "tag": "x"}, 422),
        ({"start_local": "2026-11-01T10:00:00+01:00"}, 422),
        ({"repeat": "none", "start_local": "2020-01-01T10:00"}, 422),
        ({"repeat": "hourly"}, 422),
        ({"weekdays": [8]}, 422),
    ],
)
def test_bad_schedules_are_refused_and_nothing_is_stored(
    client: TestClient, ctx: Context, world: dict[str, Any], change: dict[str, Any], status: int
) -> None:
    body = {
        "org_id": world["org"],
        "script_id": world["script"],
        "name": "x",
        "start_local": "2026-11-01T10:00",
        **change,
    }
    r = client.post("/api/v1/script-schedules", json=body, headers=world["tech"].headers)
    assert r.status_code == status, r.text
    with ctx.db.read() as s:
        assert s.scalar(select(func.count(ScriptSchedule.id))) == 0


def test_viewers_may_not_schedule(client: TestClient, ctx: Context, world: dict[str, Any]) -> None:
    viewer = make_person(ctx, "sched-viewer", roles={world["org"]: "viewer"})
    body = {
        "org_id": world["org"],
        "script_id": world["script"],
        "name": "x",
        "start_local": "2026-11-01T10:00",
    }
    assert (
        client.post("/api/v1/script-schedules", json=body, headers=viewer.headers).status_code
        == 403
    )

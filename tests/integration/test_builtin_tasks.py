"""The ready-made tasks in the library, on both engines: installed once as the provider's
scripts, seen by every organization, and attachable as the remedy of a disk forecast."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from forewarn.domain.observation import Status
from forewarn.services import builtin_scripts, remedies
from forewarn.services.context import Context
from forewarn.store.models import AgentJob, AlertRow, Check
from tests.conftest import make_org, make_person
from tests.integration.test_alerts import observe
from tests.integration.test_ingest import enroll


def test_built_ins_are_installed_once_and_remedy_a_disk_forecast(
    client: TestClient, ctx: Context
) -> None:
    assert builtin_scripts.install(ctx) == 5
    assert builtin_scripts.install(ctx) == 0  # up to date: nothing changes
    org = make_org(ctx, "Forecast Ltd")
    agent = enroll(client, ctx, org)
    admin = make_person(ctx, "fc-admin", roles={org: "admin"})
    tech = make_person(ctx, "fc-tech", roles={org: "technician"})
    listed = client.get("/api/v1/scripts", params={"org_id": org}, headers=tech.headers).json()
    by_name = {s["name"]: s for s in listed["items"]}
    assert {"clean-temp-files", "free-disk-space", "smart-health"} <= set(by_name)
    free = by_name["free-disk-space"]
    assert free["org_id"] is None and {"MOUNT", "DAYS"} <= {p["name"] for p in free["parameters"]}

    with ctx.db.read() as s:
        check_id = s.scalar(
            select(Check.id).where(
                Check.asset_id == agent["asset_id"], Check.name == "Disk space forecast"
            )
        )
    assert check_id is not None
    body: dict[str, Any] = {
        "check_id": check_id,
        "kind": "script",
        "script_id": free["id"],
        "params": {"MOUNT": "/srv", "DAYS": "3"},
    }
    # A provider script runs as root on the client's machines: an admin's decision.
    assert client.post("/api/v1/remedies", json=body, headers=tech.headers).status_code == 403
    bad = {**body, "params": {"NOPE": "1"}}
    assert client.post("/api/v1/remedies", json=bad, headers=admin.headers).status_code == 422
    r = client.post("/api/v1/remedies", json=body, headers=admin.headers)
    assert r.status_code == 201, r.text

    observe(ctx, check_id, Status.WARNING, "/ full in 4 days")
    assert remedies.turn(ctx) == 1
    with ctx.db.read() as s:
        job = s.scalars(select(AgentJob)).one()
        alert = s.scalars(select(AlertRow).where(AlertRow.check_id == check_id)).one()
    assert (job.kind, job.title) == ("script", "remedy: free-disk-space")
    assert '"MOUNT":"/srv"' in job.envelope and '"DAYS":"3"' in job.envelope
    assert alert.notify_at is not None and alert.notify_at > ctx.clock.now()  # held

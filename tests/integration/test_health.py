"""Health scores over a real database: checks that failed through the real pipeline, findings
and alerts as rows, read back through the API and on the pages."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from forewarn.domain.clock import ManualClock
from forewarn.domain.observation import Observation, Result, Status
from forewarn.services import assets, checks, results
from forewarn.services.context import Context
from forewarn.services.ingest import SeriesCache
from forewarn.services.schemas import AssetCreate, CheckCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import AlertRow, Finding
from tests.conftest import Person, make_org, make_person
from tests.integration.test_web import signed_in


def observe(ctx: Context, check_id: int, status: Status, message: str) -> None:
    results.record(
        ctx, [Observation(check_id, ctx.clock.now(), Result(status, message))], series=SeriesCache()
    )


def add_finding(
    ctx: Context, org: int, asset: int | None, key: str, severity: str, status: str = "open"
) -> int:
    now = ctx.clock.now()
    with ctx.db.transaction() as s:
        row = Finding(
            org_id=org,
            asset_id=asset,
            rule="test.rule",
            key=key,
            severity=severity,
            status=status,
            title=f"{key} is exposed",
            detail="",
            evidence={},
            first_seen=now,
            last_seen=now,
        )
        s.add(row)
        s.flush()
        return row.id


def add_alert(ctx: Context, org: int, asset: int, kind: str, severity: str, summary: str) -> int:
    now = ctx.clock.now()
    with ctx.db.transaction() as s:
        row = AlertRow(
            org_id=org,
            fingerprint=f"fp-{kind}-{asset}"[:16],
            labels={"org": str(org), "asset": str(asset), "kind": kind},
            severity=severity,
            state="open",
            summary=summary,
            asset_id=asset,
            opened_at=now,
            last_fired_at=now,
        )
        s.add(row)
        s.flush()
        return row.id


def add_check(ctx: Context, asset: int, name: str) -> int:
    return checks.create(
        ctx,
        SYSTEM,
        CheckCreate(
            asset_id=asset, name=name, type="http", target="http://127.0.0.1:9/", max_attempts=1
        ),
    ).id


@pytest.fixture
def acme(ctx: Context) -> dict[str, Any]:
    """fs01 (a critical server) with a failing check and a high finding; pc01 all well."""
    org = make_org(ctx, "Acme Dental")
    fs01 = assets.create(
        ctx, SYSTEM, AssetCreate(org_id=org, name="fs01", kind="server", criticality=5)
    ).id
    pc01 = assets.create(
        ctx, SYSTEM, AssetCreate(org_id=org, name="pc01", kind="laptop", criticality=2)
    ).id
    web = add_check(ctx, fs01, "intranet")
    ping = add_check(ctx, pc01, "reachable")
    observe(ctx, web, Status.CRITICAL, "connection refused")
    observe(ctx, ping, Status.OK, "200 OK")
    finding = add_finding(ctx, org, fs01, "smb1", "high")
    add_finding(ctx, org, fs01, "telnet", "critical", status="accepted")  # a decision: no cost
    add_finding(ctx, org, pc01, "old", "high", status="resolved")
    return {"org": org, "fs01": fs01, "pc01": pc01, "web": web, "ping": ping, "finding": finding}


def test_a_critical_check_and_a_high_finding_lower_the_score_and_are_named(
    client: TestClient, ctx: Context, acme: dict[str, Any]
) -> None:
    viewer = make_person(ctx, "acme-viewer", roles={acme["org"]: "viewer"})
    r = client.get(f"/api/v1/assets/{acme['fs01']}/health", headers=viewer.headers)
    assert r.status_code == 200, r.text
    fs01 = r.json()
    assert fs01["score"] == 100 - 40 - 15
    assert (fs01["band"], fs01["label"]) == ("critical", "Poor")
    assert [(i["category"], i["ref"]) for i in fs01["items"]] == [
        ("problem", {"kind": "check", "id": acme["web"]}),
        ("finding", {"kind": "finding", "id": acme["finding"]}),
    ]
    assert fs01["items"][0]["reason"] == "intranet is critical: connection refused"
    assert "smb1" in fs01["items"][1]["reason"]

    pc01 = client.get(f"/api/v1/assets/{acme['pc01']}/health", headers=viewer.headers).json()
    assert (pc01["score"], pc01["items"]) == (100, [])

    org = client.get(f"/api/v1/orgs/{acme['org']}/health", headers=viewer.headers).json()
    assert [a["name"] for a in org["assets"]] == ["fs01", "pc01"]  # worst first
    assert org["pulled_by"] == acme["fs01"]
    assert org["score"] < fs01["score"] + (100 - fs01["score"]) / 2  # fs01 is not hidden
    assert org["items"][0]["asset_name"] == "fs01"
    assert org["items"][0]["ref"] == {"kind": "check", "id": acme["web"]}


def test_recovery_predictions_staleness_and_org_wide_findings(
    client: TestClient, ctx: Context, clock: ManualClock, acme: dict[str, Any], owner: Person
) -> None:
    h = owner.headers
    observe(ctx, acme["web"], Status.OK, "200 OK")
    add_alert(ctx, acme["org"], acme["fs01"], "predictive", "warning", "/srv full in 9 days")
    add_alert(ctx, acme["org"], acme["fs01"], "check", "critical", "mirrors the check state")
    fs01 = client.get(f"/api/v1/assets/{acme['fs01']}/health", headers=h).json()
    assert [i["category"] for i in fs01["items"]] == ["finding", "predictive"]
    assert fs01["score"] == 100 - 15 - 8

    clock.advance(hours=1)  # nothing reported for an hour: both checks are stale
    pc01 = client.get(f"/api/v1/assets/{acme['pc01']}/health", headers=h).json()
    assert [(i["category"], i["ref"]["id"]) for i in pc01["items"]] == [("stale", acme["ping"])]
    assert pc01["score"] == 95

    before = client.get(f"/api/v1/orgs/{acme['org']}/health", headers=h).json()
    add_finding(ctx, acme["org"], None, "10.0.0.9", "medium")  # an unknown device: no asset
    after = client.get(f"/api/v1/orgs/{acme['org']}/health", headers=h).json()
    assert after["score"] == before["score"] - 6
    assert [i["reason"] for i in after["org_wide"]] == ["medium finding: 10.0.0.9 is exposed"]


def test_another_orgs_user_gets_404(client: TestClient, ctx: Context, acme: dict[str, Any]) -> None:
    other = make_org(ctx, "Bravo Bakery")
    stranger = make_person(ctx, "bravo-admin", roles={other: "admin"})
    for path in (f"/api/v1/orgs/{acme['org']}/health", f"/api/v1/assets/{acme['fs01']}/health"):
        r = client.get(path, headers=stranger.headers)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("application/problem+json")
    own = client.get(f"/api/v1/orgs/{other}/health", headers=stranger.headers).json()
    assert (own["score"], own["assets"]) == (None, [])  # nothing of Acme leaks in


def test_pages_show_the_score_and_what_lowers_it(
    client: TestClient, ctx: Context, acme: dict[str, Any]
) -> None:
    make_person(ctx, "acme-tech", roles={acme["org"]: "technician"})
    signed_in(client, "acme-tech")
    org_page = client.get(f"/orgs/{acme['org']}").text
    assert 'id="health-title"' in org_page
    assert f'href="/checks/{acme["web"]}">intranet is critical: connection refused' in org_page
    assert "45 Poor" in org_page  # fs01's badge in the asset table
    assert "Held down by" in org_page

    table = client.get(
        f"/orgs/{acme['org']}",
        params={"q": "pc"},
        headers={"HX-Request": "true", "HX-Target": "asset-table"},
    ).text
    assert "100 Good" in table and "fs01" not in table

    asset_page = client.get(f"/assets/{acme['fs01']}").text
    assert '<span class="health-number">45</span>' in asset_page
    assert f'href="/orgs/{acme["org"]}/findings">high finding: smb1 is exposed' in asset_page


def test_the_overview_loads_each_organizations_score(
    client: TestClient, ctx: Context, acme: dict[str, Any]
) -> None:
    make_person(ctx, "acme-viewer", roles={acme["org"]: "viewer"})
    signed_in(client, "acme-viewer")
    overview = client.get("/").text
    assert f'hx-get="/orgs/{acme["org"]}/health/badge"' in overview
    badge = client.get(f"/orgs/{acme['org']}/health/badge", headers={"HX-Request": "true"})
    assert badge.status_code == 200
    expected = client.get(f"/api/v1/orgs/{acme['org']}/health", headers=acme_headers(ctx))
    score = expected.json()["score"]
    assert f"{score} {expected.json()['label']}" in badge.text

    other = make_org(ctx, "Bravo Bakery")
    make_person(ctx, "bravo-viewer", roles={other: "viewer"})
    signed_in(client, "bravo-viewer")
    assert client.get(f"/orgs/{acme['org']}/health/badge").status_code == 404


def acme_headers(ctx: Context) -> dict[str, str]:
    return make_person(ctx, "acme-reader", owner=True).headers

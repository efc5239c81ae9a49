"""The public status page: opt-in, only labels and states, 90 days of uptime, notes."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from forewarn.domain.observation import Observation, Result, Status
from forewarn.services import assets, checks, maintenance, orgs, results
from forewarn.services.ingest import SeriesCache
from forewarn.services.schemas import (
    AssetCreate,
    CheckCreate,
    MaintenanceCreate,
    OrgUpdate,
)
from forewarn.services.scope import SYSTEM
from tests.conftest import Person, make_org


def test_status_page_lifecycle(client: TestClient, owner: Person, ctx, clock):
    org = make_org(ctx, "Acme Dental")
    orgs.update(ctx, SYSTEM, org, OrgUpdate(timezone="Europe/Berlin"))
    asset = assets.create(
        ctx, SYSTEM, AssetCreate(org_id=org, name="secret-web-01", kind="website")
    ).id
    web = checks.create(
        ctx,
        SYSTEM,
        CheckCreate(asset_id=asset, name="site", type="tcp", target="10.9.9.9:443", max_attempts=1),
    ).id
    h = owner.headers
    base = f"/api/v1/orgs/{org}/status-page"
    page = client.get(base, headers=h).json()
    assert page["published"] is False
    public = page["public_path"].replace("/status/", "/api/v1/public/status/")
    assert client.get(public).status_code == 404  # not published yet

    r = client.patch(
        base,
        json={
            "published": True,
            "title": "Acme services",
            "items": [{"check_id": web, "label": "Website"}],
        },
        headers=h,
    )
    assert r.status_code == 200, r.text
    bad = client.patch(base, json={"items": [{"check_id": 999999, "label": "x"}]}, headers=h)
    assert bad.status_code == 422

    # Two days of history: up, then 2 h down of which 1 h in planned maintenance.
    series = SeriesCache()
    start = clock.now()

    def see(status: Status, at) -> None:
        results.record(ctx, [Observation(web, at, Result(status, "detail text"))], series=series)

    see(Status.OK, start)
    down_at = start + timedelta(days=1)
    maintenance.create(
        ctx,
        SYSTEM,
        MaintenanceCreate(
            org_id=org,
            name="patching",
            # 09:00 UTC + 1 day + 1 h is 11:00 in Berlin (CET) on 2026-11-03
            start_local="2026-11-03T11:00",
            duration_min=60,
        ),
    )
    see(Status.CRITICAL, down_at)
    see(Status.OK, down_at + timedelta(hours=2))
    clock.advance(days=2)

    view = client.get(public).json()
    assert view["title"] == "Acme services" and view["overall"] == "operational"
    [item] = view["items"]
    assert item["label"] == "Website" and item["state"] == "operational"
    assert len(item["days"]) == 90
    by_day = {d["day"]: d["ratio"] for d in item["days"]}
    assert by_day["2026-10-31"] is None  # before the first result: no data
    assert by_day["2026-11-03"] < 1.0  # the hour of outage outside maintenance
    day_seconds = 24 * 3600 - 3600  # the maintenance hour is left out
    assert abs(by_day["2026-11-03"] - (day_seconds - 3600) / day_seconds) < 0.01
    assert abs(item["uptime_90d"] - 46 / 47) < 0.001  # 47 h judged (48 less maintenance)
    text = client.get(public).text
    for private in ("secret-web-01", "10.9.9.9", "detail text"):
        assert private not in text

    html = client.get(page["public_path"])
    assert html.status_code == 200
    assert "Website" in html.text and "Operational" in html.text
    assert "secret-web-01" not in html.text and "10.9.9.9" not in html.text

    note = client.post(
        f"{base}/notes", json={"title": "Website slow", "body": "Investigating"}, headers=h
    )
    assert note.status_code == 201
    assert client.get(public).json()["notes"][0]["title"] == "Website slow"
    assert "Website slow" in client.get(page["public_path"]).text
    client.patch(base, json={"published": False}, headers=h)
    assert client.get(public).status_code == 404
    assert client.get(page["public_path"]).status_code == 404

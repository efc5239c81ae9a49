"""The checks API as a technician and a cron job use it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from forewarn.services import assets
from forewarn.services.schemas import AssetCreate
from forewarn.services.scope import SYSTEM
from tests.conftest import Person, make_org


@pytest.fixture
def asset_id(ctx) -> int:
    org = make_org(ctx, "Acme")
    return assets.create(ctx, SYSTEM, AssetCreate(org_id=org, name="fs01", kind="server")).id


BAD = [
    ({"type": "tcp", "target": "db:5432", "interval_s": -1}, "interval_s"),
    ({"type": "tcp", "target": "not a host:99999"}, "tcp check"),
    ({"type": "http", "target": "ftp://example.test/"}, "http check"),
    ({"type": "snmp", "target": "10.0.0.1", "params": {"version": "4"}}, "version"),
    ({"type": "nagios", "target": "/etc/passwd"}, "nagios check"),
    ({"type": "nagios", "target": "/usr/lib/nagios/plugins/../../../bin/sh"}, "nagios check"),
    ({"type": "ping", "target": ""}, "ping check"),
    ({"type": "warp", "target": "x"}, "type"),
]


@pytest.mark.parametrize(("body", "says"), BAD)
def test_bad_check_definitions_get_a_clear_422_and_store_nothing(
    client: TestClient, owner: Person, asset_id: int, body, says
):
    r = client.post(
        "/api/v1/checks", json={"asset_id": asset_id, "name": "x", **body}, headers=owner.headers
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert says in r.text
    listed = client.get("/api/v1/checks", params={"asset_id": asset_id}, headers=owner.headers)
    assert listed.json()["items"] == []


def test_heartbeat_lifecycle_over_http(client: TestClient, owner: Person, asset_id: int, clock):
    r = client.post(
        "/api/v1/checks",
        json={
            "asset_id": asset_id,
            "name": "nightly backup",
            "type": "heartbeat",
            "params": {"period_s": 86400, "grace_s": 3600, "max_runtime_s": 600},
        },
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    check = r.json()
    path = check["push_path"]
    assert check["state"]["display"] == "pending"

    assert client.get(path + "/start").status_code == 200
    clock.advance(900)
    assert client.post(path, content=b"rsync: 1200 files\n").status_code == 200
    state = client.get(f"/api/v1/checks/{check['id']}", headers=owner.headers).json()["state"]
    assert state["display"] == "warning"
    assert "900 s" in state["message"] and "rsync" in state["details"]

    clock.advance(60)
    assert client.get(path + "/fail").status_code == 200
    state = client.get(f"/api/v1/checks/{check['id']}", headers=owner.headers).json()["state"]
    assert (state["display"], state["is_hard"]) == ("critical", True)

    problems = client.get(
        "/api/v1/checks", params={"problems": True, "asset_id": asset_id}, headers=owner.headers
    ).json()["items"]
    assert [c["id"] for c in problems] == [check["id"]]

    events = client.get(f"/api/v1/checks/{check['id']}/events", headers=owner.headers).json()
    assert [(e["old"], e["new"]) for e in events["items"]][:2] == [(1, 2), (0, 1)]

    # A wrong token is refused and changes nothing.
    bogus = "/hb/" + "x" * 32
    assert client.get(bogus).status_code == 404
    assert client.get("/hb/short").status_code in (404, 422)  # malformed: never a ping
    after = client.get(f"/api/v1/checks/{check['id']}", headers=owner.headers).json()["state"]
    assert after == state


def test_update_revalidates_and_viewer_cannot_edit(
    client: TestClient, owner: Person, asset_id: int, ctx
):
    r = client.post(
        "/api/v1/checks",
        json={"asset_id": asset_id, "name": "web", "type": "tcp", "target": "127.0.0.1:80"},
        headers=owner.headers,
    )
    cid = r.json()["id"]
    bad = client.patch(
        f"/api/v1/checks/{cid}", json={"params": {"warn": "20:10"}}, headers=owner.headers
    )
    assert bad.status_code == 422
    assert client.get(f"/api/v1/checks/{cid}", headers=owner.headers).json()["params"] == {}
    ok = client.patch(f"/api/v1/checks/{cid}", json={"interval_s": 30}, headers=owner.headers)
    assert ok.status_code == 200 and ok.json()["interval_s"] == 30
    dup = client.post(
        "/api/v1/checks",
        json={"asset_id": asset_id, "name": "web", "type": "tcp", "target": "127.0.0.1:81"},
        headers=owner.headers,
    )
    assert dup.status_code == 409


def test_secrets_in_params_are_sealed_at_rest_masked_in_answers_and_kept_on_edit(
    client: TestClient, owner: Person, asset_id: int, ctx
):
    from sqlalchemy import select

    from forewarn.services.poller import Poller, claim
    from forewarn.store.models import Check

    body = {
        "asset_id": asset_id,
        "name": "switch",
        "type": "snmp",
        "target": "10.0.0.2",
        "params": {
            "version": "3",
            "user": "monitor",
            "auth_protocol": "SHA",
            "auth_key": "auth-secret-123",
            "priv_protocol": "AES",
            "priv_key": "priv-secret-456",
        },
    }
    r = client.post("/api/v1/checks", json=body, headers=owner.headers)
    assert r.status_code == 201, r.text
    shown = r.json()["params"]
    assert shown["auth_key"] == shown["priv_key"] == "********"
    assert "secret" not in r.text
    with ctx.db.read() as s:
        stored = s.scalar(select(Check.params).where(Check.id == r.json()["id"]))
    assert stored["auth_key"].startswith("fernet:") and "auth-secret" not in str(stored)
    # An edit that sends the mask back keeps the stored secret; a new value replaces it.
    edit = {**shown, "user": "monitor2", "priv_key": "new-priv-789"}
    r2 = client.patch(
        f"/api/v1/checks/{r.json()['id']}", json={"params": edit}, headers=owner.headers
    )
    assert r2.status_code == 200, r2.text
    [claimed] = claim(ctx, "t", ctx.clock.now(), 10)
    model = Poller(ctx, owner="t")._prepare(claimed).params
    assert not isinstance(model, str), model
    assert (model.user, model.auth_key, model.priv_key) == (
        "monitor2",
        "auth-secret-123",
        "new-priv-789",
    )
    audit = client.get("/api/v1/audit-events", headers=owner.headers).text
    assert "auth-secret" not in audit and "new-priv" not in audit

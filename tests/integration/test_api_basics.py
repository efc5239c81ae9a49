"""The API as a client uses it: log in, create and list, and be told clearly what was wrong."""

from __future__ import annotations

from fastapi.testclient import TestClient

from forewarn.services.context import Context
from tests.conftest import PASSWORD, Person, make_org, make_person


def test_token_login_then_me(client: TestClient, owner: Person) -> None:
    r = client.post("/api/v1/auth/token", json={"username": "owner", "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == "owner"
    assert me.json()["is_owner"] is True


def test_create_org_site_asset_and_filter(client: TestClient, owner: Person) -> None:
    h = owner.headers
    org = client.post(
        "/api/v1/orgs",
        json={
            "name": "Acme Dental",
            "employees": 32,
            "hourly_cost": "48.50",
            "timezone": "Europe/Berlin",
        },
        headers=h,
    )
    assert org.status_code == 201, org.text
    org_id = org.json()["id"]
    assert org.json()["slug"] == "acme-dental"
    site = client.post("/api/v1/sites", json={"org_id": org_id, "name": "Main office"}, headers=h)
    assert site.status_code == 201, site.text
    for name, kind, tags in [
        ("fs01", "server", ["Server", "linux"]),
        ("reception-pc", "workstation", ["windows"]),
        ("hp-laser", "printer", []),
    ]:
        r = client.post(
            "/api/v1/assets",
            json={
                "org_id": org_id,
                "site_id": site.json()["id"],
                "name": name,
                "kind": kind,
                "tags": tags,
                "criticality": 4,
            },
            headers=h,
        )
        assert r.status_code == 201, r.text
    servers = client.get("/api/v1/assets", params={"org_id": org_id, "tag": "server"}, headers=h)
    assert [a["name"] for a in servers.json()["items"]] == ["fs01"]
    assert servers.json()["items"][0]["tags"] == ["linux", "server"]
    printers = client.get("/api/v1/assets", params={"kind": "printer"}, headers=h)
    assert [a["name"] for a in printers.json()["items"]] == ["hp-laser"]
    found = client.get("/api/v1/assets", params={"q": "RECEP"}, headers=h)
    assert [a["name"] for a in found.json()["items"]] == ["reception-pc"]


def test_pagination_walks_every_row_once(client: TestClient, ctx: Context, owner: Person) -> None:
    org_id = make_org(ctx, "Paged")
    for i in range(7):
        r = client.post(
            "/api/v1/assets",
            json={"org_id": org_id, "name": f"pc-{i}", "kind": "workstation"},
            headers=owner.headers,
        )
        assert r.status_code == 201
    seen, cursor = [], None
    for _ in range(10):
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/assets", params=params, headers=owner.headers).json()
        seen += [a["name"] for a in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"pc-{i}" for i in range(7)]


def test_bad_input_is_422_problem_and_changes_nothing(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Strict")
    bad_bodies = [
        {"org_id": org_id, "name": "x", "kind": "toaster"},
        {"org_id": org_id, "name": "x", "kind": "server", "criticality": 9},
        {"org_id": org_id, "name": "x", "kind": "server", "colour": "blue"},
        {"org_id": org_id, "name": "", "kind": "server"},
        {"org_id": org_id, "name": "x", "kind": "server", "warranty_end": "not a date"},
        {"org_id": "one", "name": "x", "kind": "server"},
        {"org_id": org_id, "name": "x\u0000y", "kind": "server"},
    ]
    for body in bad_bodies:
        r = client.post("/api/v1/assets", json=body, headers=owner.headers)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["detail"]
    assert client.get("/api/v1/assets", headers=owner.headers).json()["items"] == []


def test_unknown_org_and_malformed_json(client: TestClient, owner: Person) -> None:
    r = client.post(
        "/api/v1/assets", json={"org_id": 999, "name": "x", "kind": "server"}, headers=owner.headers
    )
    assert r.status_code == 404
    r = client.post(
        "/api/v1/orgs",
        content=b"{not json",
        headers={**owner.headers, "content-type": "application/json"},
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")


def test_oversize_body_refused(client: TestClient, owner: Person) -> None:
    r = client.post(
        "/api/v1/orgs",
        json={"name": "Big", "notes": "x" * (1024 * 1024 + 10)},
        headers=owner.headers,
    )
    assert r.status_code == 413
    assert r.json()["title"] == "Payload too large"
    assert client.get("/api/v1/orgs", headers=owner.headers).json()["items"] == []


def test_duplicate_names_conflict(client: TestClient, ctx: Context, owner: Person) -> None:
    org_id = make_org(ctx, "Dupes")
    body = {"org_id": org_id, "name": "fs01", "kind": "server"}
    assert client.post("/api/v1/assets", json=body, headers=owner.headers).status_code == 201
    r = client.post("/api/v1/assets", json=body, headers=owner.headers)
    assert r.status_code == 409
    assert "already has an asset" in r.json()["detail"]


def test_patch_refuses_null_for_required_fields(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Patchy")
    asset = client.post(
        "/api/v1/assets",
        json={"org_id": org_id, "name": "fs01", "kind": "server", "tags": ["a"]},
        headers=owner.headers,
    ).json()
    r = client.patch(f"/api/v1/assets/{asset['id']}", json={"name": None}, headers=owner.headers)
    assert r.status_code == 422
    r = client.patch(
        f"/api/v1/assets/{asset['id']}",
        json={"tags": ["b", "a"], "warranty_end": "2027-03-31"},
        headers=owner.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == ["a", "b"]
    assert r.json()["warranty_end"] == "2027-03-31"


def test_viewer_reads_but_cannot_write(client: TestClient, ctx: Context) -> None:
    org_id = make_org(ctx, "Viewed")
    viewer = make_person(ctx, "client-owner", roles={org_id: "viewer"})
    assert client.get(f"/api/v1/orgs/{org_id}", headers=viewer.headers).status_code == 200
    r = client.post(
        "/api/v1/assets",
        json={"org_id": org_id, "name": "x", "kind": "server"},
        headers=viewer.headers,
    )
    assert r.status_code == 403
    r = client.patch(f"/api/v1/orgs/{org_id}", json={"name": "Mine"}, headers=viewer.headers)
    assert r.status_code == 403


def test_login_throttled_after_five_failures(client: TestClient, owner: Person, ctx) -> None:
    bad = {"username": "owner", "password": "wrong password"}
    codes = [client.post("/api/v1/auth/token", json=bad).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    good = {"username": "owner", "password": PASSWORD}
    locked = client.post("/api/v1/auth/token", json=good)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    ctx.clock.advance(minutes=6)
    assert client.post("/api/v1/auth/token", json=good).status_code == 200
    events = client.get(
        "/api/v1/audit-events", params={"action": "auth."}, headers=owner.headers
    ).json()["items"]
    actions = {e["action"] for e in events}
    assert {"auth.failed", "auth.locked_out", "auth.throttled", "auth.login"} <= actions


def test_health_ready_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json()["status"] == "ready"
    client.get("/api/v1/orgs")
    text = client.get("/metrics").text
    assert "forewarn_http_requests_total" in text
    assert 'route="/api/v1/orgs"' in text
    assert "forewarn_http_request_duration_seconds_bucket" in text


def test_search_treats_wildcards_as_text(client: TestClient, ctx: Context, owner: Person) -> None:
    org_id = make_org(ctx, "Wild")
    for name in ("promo_50%", "promo-x", "plain"):
        body = {"org_id": org_id, "name": name, "kind": "other"}
        assert client.post("/api/v1/assets", json=body, headers=owner.headers).status_code == 201
    for q, expected in [
        ("%", ["promo_50%"]),
        ("_", ["promo_50%"]),
        ("promo", ["promo_50%", "promo-x"]),
    ]:
        r = client.get("/api/v1/assets", params={"q": q}, headers=owner.headers)
        assert [a["name"] for a in r.json()["items"]] == expected, q

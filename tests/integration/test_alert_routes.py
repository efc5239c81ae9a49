"""Editing and reordering alert routes through the API: a partial update checked as on
creation, positions kept dense per scope, and the order deciding which route takes a real
alert (delivered through the SMTP server and webhook receiver of test_alerts)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from forewarn.domain.observation import Status
from forewarn.services import alerts, notify
from forewarn.services.context import Context
from forewarn.services.scope import SYSTEM
from tests.conftest import Person, make_org, make_person
from tests.integration.test_alerts import (  # noqa: F401 - fixtures
    deliver,
    hook,
    mailbox,
    observe,
    pool,
    site,
    subject,
)

ROUTES = "/api/v1/alert-routes"


def _routes(client: TestClient, who: Person, org_id: int) -> list[dict[str, Any]]:
    r = client.get(f"{ROUTES}?org_id={org_id}", headers=who.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def _create(client: TestClient, who: Person, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(ROUTES, json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_the_order_decides_which_route_takes_an_alert(
    client: TestClient,
    owner: Person,
    ctx: Context,
    site: dict[str, Any],  # noqa: F811
    mailbox: Any,  # noqa: F811
    hook: Any,  # noqa: F811
    pool: Any,  # noqa: F811
) -> None:
    """A catch-all made first takes every alert; moved below a specific route, the specific
    one takes the critical alerts it matches."""
    box, _ = mailbox
    org = site["org"]
    specific = _create(
        client,
        owner,
        {
            "org_id": org,
            "name": "critical to the webhook",
            "matchers": ["severity=critical"],
            "steps": [{"after_s": 0, "channels": [site["hook"].id]}],
        },
    )
    assert [(r["name"], r["position"]) for r in _routes(client, owner, org)] == [
        ("everything", 0),
        ("critical to the webhook", 1),
    ]

    observe(ctx, site["check"], Status.CRITICAL, "connection refused")
    assert deliver(ctx, pool) == 1
    assert len(box.messages) == 1 and hook.posts == []  # the catch-all took it
    ctx.clock.advance(60)
    observe(ctx, site["check"], Status.OK, "200 OK")
    assert deliver(ctx, pool) == 1  # the resolved notice, by mail
    assert subject(box.messages[-1]).startswith("RESOLVED")

    r = client.patch(f"{ROUTES}/{specific['id']}", json={"position": 0}, headers=owner.headers)
    assert r.status_code == 200, r.text
    assert r.json()["position"] == 0 and r.json()["name"] == "critical to the webhook"
    assert [(r["name"], r["position"]) for r in _routes(client, owner, org)] == [
        ("critical to the webhook", 0),
        ("everything", 1),
    ]

    ctx.clock.advance(60)
    observe(ctx, site["check"], Status.CRITICAL, "connection refused again")
    assert deliver(ctx, pool) == 1
    [post] = hook.posts
    assert "connection refused again" in post["message"]
    assert len(box.messages) == 2  # nothing more by mail: the catch-all was not reached
    [latest, _] = alerts.list_(ctx, SYSTEM, org_id=org).items
    assert latest.state == "open"
    kinds = [
        (d.channel_id, d.kind)
        for d in notify.list_deliveries(ctx, SYSTEM, alert_id=latest.id).items
    ]
    assert kinds == [(site["hook"].id, "alert")]


def test_patch_changes_only_what_is_given(
    client: TestClient,
    owner: Person,
    ctx: Context,
    site: dict[str, Any],  # noqa: F811
) -> None:
    org = site["org"]
    route = _create(
        client,
        owner,
        {
            "org_id": org,
            "name": "servers",
            "matchers": ["type=http"],
            "when": "business",
            "steps": [{"channels": [site["mail"].id]}],
            "repeat_s": 600,
            "group_by": ["org", "asset"],
            "group_wait_s": 30,
        },
    )
    r = client.patch(
        f"{ROUTES}/{route['id']}",
        json={"name": "web servers", "continue": True, "open_ticket": True, "repeat_s": None},
        headers=owner.headers,
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert {k: v for k, v in changed.items() if route[k] != v} == {
        "name": "web servers",
        "continue": True,
        "open_ticket": True,
        "repeat_s": None,
    }
    r = client.patch(
        f"{ROUTES}/{route['id']}",
        json={
            "matchers": ["severity=~warning|critical"],
            "when": "after_hours",
            "steps": [
                {"after_s": 0, "channels": [site["mail"].id]},
                {"after_s": 3600, "channels": [site["hook"].id]},
            ],
            "group_by": None,
            "group_wait_s": 0,
        },
        headers=owner.headers,
    )
    assert r.status_code == 200, r.text
    [stored] = [x for x in _routes(client, owner, org) if x["id"] == route["id"]]
    assert stored == r.json()
    assert (stored["matchers"], stored["when"], stored["group_by"], stored["group_wait_s"]) == (
        ["severity=~warning|critical"],
        "after_hours",
        None,
        0,
    )
    assert [s["after_s"] for s in stored["steps"]] == [0, 3600]
    assert stored["name"] == "web servers" and stored["continue"] is True


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"steps": []}, "steps"),
        ({"steps": [{"channels": []}]}, "channels"),
        ({"steps": [{"after_s": 60}]}, "channels"),
        ({"steps": [{"channels": [99999]}]}, "channel 99999 is not one this route may use"),
        ({"steps": [{"channels": ["OTHER"]}]}, "is not one this route may use"),
        ({"matchers": ["severity=~(bad"]}, "bad regular expression"),
        ({"matchers": ["severity is bad"]}, "not a matcher"),
        ({"name": None}, "name cannot be null"),
        ({"continue": None}, "continue cannot be null"),
        ({"name": " "}, "name"),
        ({"when": "weekends"}, "when"),
        ({"position": -1}, "position"),
        ({"repeat_s": 5}, "repeat_s"),
        ({"group_by": ["1bad"]}, "group_by"),
        ({"group_wait_s": 4000}, "group_wait_s"),
        ({"org_id": 1}, "org_id"),  # a route stays in its scope
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_patch_is_refused_with_the_reason_and_changes_nothing(
    client: TestClient,
    owner: Person,
    ctx: Context,
    site: dict[str, Any],  # noqa: F811
    body: dict[str, Any],
    why: str,
) -> None:
    org = site["org"]
    other = make_org(ctx, "Other Ltd")
    foreign = notify.create_channel(
        ctx, SYSTEM, notify.ChannelCreate(org_id=other, name="theirs", url="json://127.0.0.1:9/")
    )
    if body.get("steps") == [{"channels": ["OTHER"]}]:
        body = {"steps": [{"channels": [foreign.id]}]}
    second = _create(
        client, owner, {"org_id": org, "name": "second", "steps": [{"channels": [site["mail"].id]}]}
    )
    before = _routes(client, owner, org)
    r = client.patch(
        f"{ROUTES}/{second['id']}", json={"position": 0, **body}, headers=owner.headers
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert why in r.text
    assert _routes(client, owner, org) == before  # not even the position moved


def test_who_may_patch_a_route(
    client: TestClient,
    owner: Person,
    ctx: Context,
    site: dict[str, Any],  # noqa: F811
) -> None:
    org = site["org"]
    other = make_org(ctx, "Other Ltd")
    admin = make_person(ctx, "acme-admin", roles={org: "admin"})
    tech = make_person(ctx, "acme-tech", roles={org: "technician"})
    stranger = make_person(ctx, "other-admin", roles={other: "admin"})
    # A provider route may not use an organization's channel.
    r = client.post(
        ROUTES,
        json={"name": "catch-all", "steps": [{"channels": [site["hook"].id]}]},
        headers=owner.headers,
    )
    assert r.status_code == 422 and "not one this route may use" in r.text
    desk = notify.create_channel(
        ctx, SYSTEM, notify.ChannelCreate(name="desk", url="json://127.0.0.1:9/desk")
    )
    provider = _create(client, owner, {"name": "catch-all", "steps": [{"channels": [desk.id]}]})
    route = site["route"].id
    before = _routes(client, owner, org)
    for who, target, status in (
        (stranger, route, 404),
        (tech, route, 403),
        (admin, provider["id"], 403),  # the provider's routes are its owners' to change
        (stranger, 999_999, 404),
    ):
        r = client.patch(f"{ROUTES}/{target}", json={"name": "mine"}, headers=who.headers)
        assert r.status_code == status, (who.username, r.text)
    assert _routes(client, owner, org) == before
    r = client.patch(f"{ROUTES}/{provider['id']}", json={"name": "desk"}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["org_id"] is None
    r = client.patch(f"{ROUTES}/{route}", json={"name": "mine"}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["name"] == "mine"


def test_positions_stay_dense_per_scope(
    client: TestClient,
    owner: Person,
    ctx: Context,
    site: dict[str, Any],  # noqa: F811
) -> None:
    org = site["org"]
    steps = [{"channels": [site["mail"].id]}]
    for name in ("b", "c"):
        _create(client, owner, {"org_id": org, "name": name, "steps": steps})
    inserted = _create(client, owner, {"org_id": org, "name": "a", "position": 1, "steps": steps})
    assert inserted["position"] == 1
    far = _create(client, owner, {"org_id": org, "name": "z", "position": 500, "steps": steps})
    assert far["position"] == 4  # last: no gaps
    # Another organization's and the provider's orders are their own.
    other = make_org(ctx, "Other Ltd")
    theirs = notify.create_channel(
        ctx, SYSTEM, notify.ChannelCreate(org_id=other, name="theirs", url="json://127.0.0.1:9/")
    )
    notify.create_route(
        ctx,
        SYSTEM,
        notify.RouteCreate(org_id=other, name="theirs", steps=[{"channels": [theirs.id]}]),
    )
    order = [(r["name"], r["position"]) for r in _routes(client, owner, org)]
    assert order == [("everything", 0), ("a", 1), ("b", 2), ("c", 3), ("z", 4)]
    r = client.patch(f"{ROUTES}/{far['id']}", json={"position": 0}, headers=owner.headers)
    assert r.status_code == 200
    assert client.delete(f"{ROUTES}/{inserted['id']}", headers=owner.headers).status_code == 204
    order = [(r["name"], r["position"]) for r in _routes(client, owner, org)]
    assert order == [("z", 0), ("everything", 1), ("b", 2), ("c", 3)]
    assert [r.position for r in notify.list_routes(ctx, SYSTEM, other)] == [0]


def test_routes_made_and_moved_at_once_keep_unique_places(
    ctx: Context,
    site: dict[str, Any],  # noqa: F811
) -> None:
    """Admins at once, in an organization and in the provider's routes: the scope's lock makes
    each change wait for the one before, so no two routes share a place (on PostgreSQL the
    threads really overlap; without the locks this fails there)."""
    from concurrent.futures import ThreadPoolExecutor

    org = site["org"]
    desk = notify.create_channel(
        ctx, SYSTEM, notify.ChannelCreate(name="desk", url="json://127.0.0.1:9/desk")
    ).id

    def make(n: int) -> None:
        scope, channel = (org, site["mail"].id) if n % 2 else (None, desk)
        data = notify.RouteCreate(org_id=scope, name=f"r{n}", steps=[{"channels": [channel]}])
        made = notify.create_route(ctx, SYSTEM, data)
        notify.update_route(ctx, SYSTEM, made.id, notify.RouteUpdate(position=0))

    with ThreadPoolExecutor(8) as workers:
        list(workers.map(make, range(16)))
    routes = notify.list_routes(ctx, SYSTEM, org)
    assert [r.position for r in routes if r.org_id == org] == list(range(9))
    assert [r.position for r in routes if r.org_id is None] == list(range(8))

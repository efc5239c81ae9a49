"""The route form with every field of a route, editing and reordering routes on the pages,
and the provider's own notification page (owners only)."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from forewarn.services import checks, notify, sites
from forewarn.services.context import Context
from forewarn.services.schemas import CheckCreate, SiteCreate
from forewarn.services.scope import SYSTEM
from tests.conftest import make_org, make_person
from tests.integration.test_web import make_asset, signed_in
from tests.integration.test_web_notifications import CLOSED, _error, _flash


@pytest.fixture
def acme(ctx: Context) -> dict[str, Any]:
    """An organization with two sites, two assets, a check and two channels; and another
    organization whose site must not be offered."""
    org = make_org(ctx, "Acme Dental")
    other = make_org(ctx, "Other Ltd")
    hq = sites.create(ctx, SYSTEM, SiteCreate(org_id=org, name="HQ")).id
    branch = sites.create(ctx, SYSTEM, SiteCreate(org_id=org, name="Branch")).id
    foreign = sites.create(ctx, SYSTEM, SiteCreate(org_id=other, name="Elsewhere")).id
    fs01 = make_asset(ctx, org, "fs01", site_id=hq)
    pc02 = make_asset(ctx, org, "pc02", site_id=branch)
    website = checks.create(
        ctx,
        SYSTEM,
        CheckCreate(asset_id=fs01, name="website", type="http", target="http://127.0.0.1:9/"),
    ).id
    duty = notify.create_channel(
        ctx, SYSTEM, notify.ChannelCreate(org_id=org, name="On duty", url=CLOSED)
    ).id
    call = notify.create_channel(
        ctx, SYSTEM, notify.ChannelCreate(org_id=org, name="On call", url=CLOSED)
    ).id
    make_person(ctx, "admin", roles={org: "admin"})
    make_person(ctx, "tech", roles={org: "technician"})
    make_person(ctx, "stranger", roles={other: "admin"})
    make_person(ctx, "boss", owner=True)
    return {
        "org": org,
        "other": other,
        "hq": hq,
        "branch": branch,
        "foreign": foreign,
        "fs01": fs01,
        "pc02": pc02,
        "website": website,
        "duty": duty,
        "call": call,
    }


def _full_form(csrf: str, w: dict[str, Any]) -> dict[str, Any]:
    return {
        "csrf_token": csrf,
        "route_name": "Servers after hours",
        "when": "after_hours",
        "sites": [str(w["hq"]), str(w["branch"])],
        "assets": [str(w["fs01"])],
        "checks": [str(w["website"])],
        "severities": ["critical", "warning"],
        "kinds": ["check"],
        "matchers": "type=http\n",
        "step1_after": "0",
        "step1_channels": [str(w["duty"])],
        "step2_after": "15",
        "step2_channels": [str(w["call"])],
        "step3_after": "",
        "repeat": "30",
        "open_ticket": "1",
        "group_wait": "45",
        "group_by": "org, site, asset",
        "continue": "1",
    }


def _selected(page: str, field: str) -> set[str]:
    """The values picked in a multiple select or ticked among checkboxes named `field`."""
    select = re.search(rf'<select id="f-{field}" name="{field}" multiple.*?</select>', page, re.S)
    if select:
        return set(re.findall(r'<option value="([^"]*)" selected>', select.group(0)))
    return set(re.findall(rf'name="{field}" value="([^"]*)" checked', page))


def _textarea(page: str, field: str) -> str:
    found = re.search(rf'id="f-{field}"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, field
    return html.unescape(found.group(1))


def _order(page: str) -> list[str]:
    """The routes' names in the order the table shows, with the number in its first column."""
    rows = re.findall(
        r'<td data-label="Order" class="route-order">(\d+)</td>\s*<td><span class="strong">'
        r"(.*?)</span>",
        page,
    )
    assert [int(n) for n, _ in rows] == list(range(1, len(rows) + 1))
    return [html.unescape(name) for _, name in rows]


def test_the_route_form_offers_names_and_saves_every_field(
    client: TestClient, ctx: Context, acme: dict[str, Any]
) -> None:
    w, base = acme, f"/orgs/{acme['org']}/notifications"
    csrf = signed_in(client, "admin")
    page = html.unescape(client.get(base).text)
    # Sites, assets and checks are chosen by name; another organization's are not offered.
    assert f'<option value="{w["hq"]}">HQ</option>' in page
    assert f'<option value="{w["pc02"]}">pc02</option>' in page
    assert f'<option value="{w["website"]}">fs01 · website</option>' in page
    assert "Elsewhere" not in page
    for words in (
        "Open a ticket for each alert this route takes",
        "leaves as one message listing what is affected",
        "Also try the routes after this one",
        "Only alerts of these sites. None chosen: any site.",
        "Only alerts of these severities",
        "Remind the steps reached this often",
        "with nobody acknowledging it",
    ):
        assert words in page, words

    r = client.post(f"{base}/routes", data=_full_form(csrf, w))
    assert r.status_code == 200 and _flash(r.text) == "Added the route Servers after hours."
    [route] = notify.list_routes(ctx, SYSTEM, w["org"])
    ids = sorted([str(w["hq"]), str(w["branch"])], key=lambda v: (len(v), v))
    assert route.matchers == [
        f"site=~{'|'.join(ids)}",
        f"asset={w['fs01']}",
        f"check={w['website']}",
        "severity=~warning|critical",
        "kind=check",
        "type=http",
    ]
    assert route.when == "after_hours" and route.repeat_s == 1800
    assert route.steps == [
        {"after_s": 0, "channels": [w["duty"]]},
        {"after_s": 900, "channels": [w["call"]]},
    ]
    assert (route.open_ticket, route.continue_, route.group_wait_s, route.group_by) == (
        True,
        True,
        45,
        ["org", "site", "asset"],
    )
    shown = html.unescape(r.text)
    assert "site: " in shown and "HQ" in shown and "asset: fs01, check: fs01 · website" in shown
    assert "opens a ticket" in shown and "later routes too" in shown
    assert "grouped by org, site, asset, waits 45 s" in shown

    # The edit page reads the stored matchers back into the choices by name.
    edit = client.get(f"{base}/routes/{route.id}/edit")
    assert edit.status_code == 200
    assert _selected(edit.text, "sites") == {str(w["hq"]), str(w["branch"])}
    assert _selected(edit.text, "assets") == {str(w["fs01"])}
    assert _selected(edit.text, "checks") == {str(w["website"])}
    assert _selected(edit.text, "severities") == {"critical", "warning"}
    assert _selected(edit.text, "kinds") == {"check"}
    assert _textarea(edit.text, "matchers") == "type=http"
    for ticked in ("open_ticket", "continue"):
        assert f'id="f-{ticked}" name="{ticked}" value="1" checked' in edit.text
    assert 'value="org, site, asset"' in edit.text and 'value="45"' in edit.text
    assert _selected(edit.text, "step2_channels") == {str(w["call"])}

    changed = {
        **_full_form(csrf, w),
        "route_name": "Branch, any time",
        "when": "any",
        "sites": [str(w["branch"])],
        "assets": [],
        "checks": [],
        "severities": [],
        "kinds": [],
        "matchers": "",
        "step2_after": "",
        "step2_channels": [],
        "repeat": "",
        "open_ticket": "",
        "group_wait": "",
        "group_by": "",
        "continue": "",
    }
    saved = client.post(f"{base}/routes/{route.id}/edit", data=changed, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"{base}#route-{route.id}"
    [after] = notify.list_routes(ctx, SYSTEM, w["org"])
    assert (after.id, after.name, after.matchers, after.when) == (
        route.id,
        "Branch, any time",
        [f"site={w['branch']}"],
        "any",
    )
    assert after.steps == [{"after_s": 0, "channels": [w["duty"]]}]
    assert (after.repeat_s, after.open_ticket, after.continue_) == (None, False, False)
    assert (after.group_wait_s, after.group_by) == (0, None)


def test_matchers_the_form_cannot_show_as_choices_stay_lines(
    client: TestClient, ctx: Context, acme: dict[str, Any]
) -> None:
    """A route made through the API with a site that is gone, a negated severity and
    a pattern keeps every matcher when saved from the form unchanged."""
    w = acme
    written = [f"site=~{w['hq']}|999999", "severity!=info", "asset=~fs.*", "alertname=DiskFull"]
    route = notify.create_route(
        ctx,
        SYSTEM,
        notify.RouteCreate(
            org_id=w["org"],
            name="odd",
            matchers=written,
            steps=[{"channels": [w["duty"]]}, {"after_s": 60, "channels": [w["call"]]}],
        ),
    )
    csrf = signed_in(client, "admin")
    base = f"/orgs/{w['org']}/notifications"
    edit = client.get(f"{base}/routes/{route.id}/edit").text
    assert _selected(edit, "sites") == set() and _selected(edit, "severities") == set()
    assert _textarea(edit, "matchers").splitlines() == written
    form = {
        "csrf_token": csrf,
        "route_name": "odd",
        "when": "any",
        "matchers": _textarea(edit, "matchers"),
        "step1_after": "0",
        "step1_channels": [str(w["duty"])],
        "step2_after": "1",
        "step2_channels": [str(w["call"])],
    }
    r = client.post(f"{base}/routes/{route.id}/edit", data=form, follow_redirects=False)
    assert r.status_code == 303
    [after] = notify.list_routes(ctx, SYSTEM, w["org"])
    assert after.matchers == written and after.steps == route.steps


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"step2_after": "15", "step2_channels": []}, "step2", "Tick at least one channel"),
        ({"step1_channels": ["999999"]}, "step1", "Choose channels from the list."),
        ({"matchers": "type=http\nseverity is bad"}, "matchers", "Line 2: not a matcher"),
        ({"matchers": "type=~(http"}, "matchers", "bad regular expression"),
        ({"sites": ["FOREIGN"]}, "sites", "Choose sites from the list."),
        ({"checks": ["424242"]}, "checks", "Choose checks from the list."),
        ({"severities": ["urgent"]}, "severities", "Choose from the listed severities."),
        ({"group_wait": "4000"}, "group_wait", "Enter whole seconds, from 0 to 3600"),
        ({"group_by": "org, 1site"}, "group_by", "Label names are letters, digits and _"),
        ({"repeat": "0"}, "repeat", "Enter whole minutes"),
        ({"when": "weekends"}, "when", "Choose one of the listed options."),
    ],
)
def test_each_refusal_names_the_problem_and_keeps_what_was_typed(
    client: TestClient, ctx: Context, acme: dict[str, Any], change: dict[str, Any], field, words
) -> None:
    w, base = acme, f"/orgs/{acme['org']}/notifications"
    csrf = signed_in(client, "admin")
    if change.get("sites") == ["FOREIGN"]:
        change = {"sites": [str(w["foreign"])]}  # another organization's site
    form = {**_full_form(csrf, w), "matchers": "type=http", **change}
    made = notify.create_route(
        ctx,
        SYSTEM,
        notify.RouteCreate(org_id=w["org"], name="Kept", steps=[{"channels": [w["duty"]]}]),
    )
    for url in (f"{base}/routes", f"{base}/routes/{made.id}/edit"):
        bad = client.post(url, data=form)
        assert bad.status_code == 422, (url, bad.text[:2000])
        assert words in _error(bad.text, field), url
        assert 'value="Servers after hours"' in bad.text  # what was typed is still there
        assert _textarea(bad.text, "matchers") == form["matchers"]
        assert 'value="org, site, asset"' in bad.text or field == "group_by"
        assert _selected(bad.text, "assets") == {str(w["fs01"])}
        assert 'id="f-open_ticket" name="open_ticket" value="1" checked' in bad.text
    # Nothing was added and nothing changed.
    assert notify.list_routes(ctx, SYSTEM, w["org"]) == [made]


def test_move_up_and_down_reorders_and_the_order_is_the_first_column(
    client: TestClient, ctx: Context, acme: dict[str, Any]
) -> None:
    w, base = acme, f"/orgs/{acme['org']}/notifications"
    csrf = signed_in(client, "admin")
    for name in ("Everything", "Servers", "Printers"):
        form = {"csrf_token": csrf, "route_name": name, "when": "any", "step1_after": "0"}
        r = client.post(f"{base}/routes", data={**form, "step1_channels": [str(w["duty"])]})
        assert r.status_code == 200, r.text
    page = client.get(base).text
    assert _order(page) == ["Everything", "Servers", "Printers"]
    assert '<th scope="col">Order</th><th scope="col">Route</th>' in page
    ids = {r.name: r.id for r in notify.list_routes(ctx, SYSTEM, w["org"])}

    def move(name: str, direction: str) -> Any:
        return client.post(
            f"{base}/routes/{ids[name]}/move", data={"csrf_token": csrf, "direction": direction}
        )

    r = move("Everything", "down")
    assert _flash(r.text) == (
        "Moved the route Everything to place 2: it is tried after Servers now."
    )
    r = move("Everything", "down")
    assert _order(r.text) == ["Servers", "Printers", "Everything"]
    r = move("Printers", "up")
    assert _order(r.text) == ["Printers", "Servers", "Everything"]
    assert _flash(move("Printers", "up").text) == "The route Printers is already at that end."
    positions = [(r.name, r.position) for r in notify.list_routes(ctx, SYSTEM, w["org"])]
    assert positions == [("Printers", 0), ("Servers", 1), ("Everything", 2)]
    # The ends offer only the way they can go.
    page = client.get(base).text
    first = page.split(f'id="route-{ids["Printers"]}"', 1)[1].split("</tr>", 1)[0]
    last = page.split(f'id="route-{ids["Everything"]}"', 1)[1].split("</tr>", 1)[0]
    assert "Move up" not in first and "Move down" in first
    assert "Move down" not in last and "Move up" in last

    # A technician reads the order but moves and edits nothing; a stranger sees nothing.
    for who, status in (("tech", 403), ("stranger", 404)):
        csrf = signed_in(client, who)
        moved = client.post(
            f"{base}/routes/{ids['Everything']}/move",
            data={"csrf_token": csrf, "direction": "up"},
            follow_redirects=False,
        )
        assert moved.status_code == status, who
        assert client.get(f"{base}/routes/{ids['Everything']}/edit").status_code == status
        saved = client.post(
            f"{base}/routes/{ids['Everything']}/edit",
            data={"csrf_token": csrf, "route_name": "mine", "step1_channels": [str(w["duty"])]},
            follow_redirects=False,
        )
        assert saved.status_code == status, who
    assert [(r.name, r.position) for r in notify.list_routes(ctx, SYSTEM, w["org"])] == positions


def test_the_provider_page_is_for_owners_only(
    client: TestClient, ctx: Context, acme: dict[str, Any]
) -> None:
    w = acme
    csrf = signed_in(client, "boss")
    assert 'href="/notifications"' in client.get("/").text  # in the provider's navigation
    page = html.unescape(client.get("/notifications").text)
    assert "Provider notifications" in page and "No provider channels yet" in page

    r = client.post(
        "/notifications/channels",
        data={"csrf_token": csrf, "channel_name": "Provider desk", "url": CLOSED},
    )
    assert r.status_code == 200 and "Added the channel Provider desk" in _flash(r.text)
    page = html.unescape(r.text)
    assert 'name="sites"' not in page  # no organization's sites for a provider route
    assert "choose sites, assets and checks in an organization's own routes" in page
    [desk] = [c for c in notify.list_channels(ctx, SYSTEM) if c.org_id is None]
    form = {
        "csrf_token": csrf,
        "when": "any",
        "severities": ["critical"],
        "step1_after": "0",
        "step1_channels": [str(desk.id)],
    }
    # An organization's channel is not one a provider route may use.
    wrong = client.post(
        "/notifications/routes",
        data={**form, "route_name": "x", "step1_channels": [str(w["duty"])]},
    )
    assert wrong.status_code == 422
    assert "Choose channels from the list." in _error(wrong.text, "step1")
    for name in ("Critical to the desk", "Catch-all"):
        r = client.post("/notifications/routes", data={**form, "route_name": name})
        assert r.status_code == 200, r.text
    provider = [r for r in notify.list_routes(ctx, SYSTEM) if r.org_id is None]
    assert [(r.name, r.position, r.matchers) for r in provider] == [
        ("Critical to the desk", 0, ["severity=critical"]),
        ("Catch-all", 1, ["severity=critical"]),
    ]
    r = client.post(
        f"/notifications/routes/{provider[1].id}/move", data={"csrf_token": csrf, "direction": "up"}
    )
    assert _order(r.text) == ["Catch-all", "Critical to the desk"]
    edit = client.get(f"/notifications/routes/{provider[1].id}/edit")
    assert edit.status_code == 200 and _selected(edit.text, "severities") == {"critical"}
    r = client.post(
        f"/notifications/routes/{provider[1].id}/edit",
        data={**form, "route_name": "Catch-all", "severities": []},
        follow_redirects=False,
    )
    assert r.status_code == 303
    provider = [r for r in notify.list_routes(ctx, SYSTEM) if r.org_id is None]
    assert [(r.name, r.matchers) for r in provider] == [
        ("Catch-all", []),
        ("Critical to the desk", ["severity=critical"]),
    ]

    # An organization's admin sees them read-only on the organization's page, after its own.
    csrf = signed_in(client, "admin")
    assert 'href="/notifications"' not in client.get("/").text
    org_page = client.get(f"/orgs/{w['org']}/notifications").text
    assert "Provider desk" in org_page and "Catch-all" in org_page
    assert f"/notifications/routes/{provider[0].id}/edit" not in org_page
    assert "read-only here" in org_page
    refused = client.get("/notifications")
    assert refused.status_code == 403 and "only the provider's owners" in html.unescape(
        refused.text
    )
    gone = client.post(
        f"/orgs/{w['org']}/notifications/routes/{provider[0].id}/move",
        data={"csrf_token": csrf, "direction": "down"},
        follow_redirects=False,
    )
    assert gone.status_code == 404  # not one of the organization's own routes
    for path, data in (
        ("/notifications/channels", {"channel_name": "Mine", "url": CLOSED}),
        (f"/notifications/channels/{desk.id}/test", {}),
        (f"/notifications/channels/{desk.id}/enabled", {"enabled": "0"}),
        (f"/notifications/channels/{desk.id}/delete", {}),
        ("/notifications/routes", {**form, "route_name": "mine"}),
        (f"/notifications/routes/{provider[0].id}/edit", {**form, "route_name": "mine"}),
        (f"/notifications/routes/{provider[0].id}/move", {"direction": "down"}),
        (f"/notifications/routes/{provider[0].id}/delete", {}),
    ):
        r = client.post(path, data={**data, "csrf_token": csrf}, follow_redirects=False)
        assert r.status_code == 403, path
    for path in (
        f"/notifications/routes/{provider[0].id}/edit",
        f"/notifications/routes/{provider[0].id}/delete",
        f"/notifications/channels/{desk.id}/delete",
    ):
        assert client.get(path).status_code == 403, path
    after = [(r.name, r.position) for r in notify.list_routes(ctx, SYSTEM) if r.org_id is None]
    assert after == [("Catch-all", 0), ("Critical to the desk", 1)]
    assert [c.name for c in notify.list_channels(ctx, SYSTEM) if c.org_id is None] == [
        "Provider desk"
    ]

    # The owner deletes a provider route and channel; the order closes up.
    csrf = signed_in(client, "boss")
    confirm = html.unescape(client.get(f"/notifications/routes/{provider[0].id}/delete").text)
    assert "Delete the route “Catch-all”?" in confirm
    r = client.post(f"/notifications/routes/{provider[0].id}/delete", data={"csrf_token": csrf})
    assert _flash(r.text) == "Deleted the route Catch-all."
    after = [(r.name, r.position) for r in notify.list_routes(ctx, SYSTEM) if r.org_id is None]
    assert after == [("Critical to the desk", 0)]
    assert "Critical to the desk" in html.unescape(
        client.get(f"/notifications/channels/{desk.id}/delete").text
    )


def test_the_provider_page_logs_what_went_through_the_providers_channels(
    client: TestClient, ctx: Context, acme: dict[str, Any]
) -> None:
    """Its Recent deliveries: messages through the provider's own channels only, not an
    organization's (those are on the organization's page)."""
    desk = notify.create_channel(
        ctx, SYSTEM, notify.ChannelCreate(org_id=None, name="Provider desk", url=CLOSED)
    )
    sent = notify.test_channel(ctx, SYSTEM, desk.id)
    own = notify.test_channel(ctx, SYSTEM, acme["duty"])
    signed_in(client, "boss")
    page = client.get("/notifications").text
    assert f'id="delivery-{sent.id}"' in page and f'id="delivery-{own.id}"' not in page
    assert "the provider's own channels" in html.unescape(page)
    org_page = client.get(f"/orgs/{acme['org']}/notifications").text
    assert f'id="delivery-{own.id}"' in org_page

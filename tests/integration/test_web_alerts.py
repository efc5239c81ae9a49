"""The alert inbox and an alert's page, as technicians and viewers use them.

Alerts are made the real way: a check that fails once (max_attempts=1) is recorded through
services.results, which opens its alert in the same transaction.
"""

from __future__ import annotations

import html
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from forewarn.domain.observation import Observation, Result, Status
from forewarn.services import alerts, assets, checks, notify, results, silences
from forewarn.services.context import Context
from forewarn.services.ingest import SeriesCache
from forewarn.services.schemas import AssetCreate, CheckCreate
from forewarn.services.scope import SYSTEM
from forewarn.web import alert_views
from tests.conftest import make_org, make_person
from tests.integration.test_web import signed_in


def _check(ctx: Context, org_id: int, asset: str, name: str) -> int:
    asset_id = assets.create(ctx, SYSTEM, AssetCreate(org_id=org_id, name=asset, kind="server")).id
    data = CheckCreate(
        asset_id=asset_id, name=name, type="http", target="http://127.0.0.1:9/", max_attempts=1
    )
    return checks.create(ctx, SYSTEM, data).id


def _fail(ctx: Context, check_id: int, message: str) -> int:
    """Record one critical result; the check's alert opens. Its id."""
    results.record(
        ctx,
        [Observation(check_id, ctx.clock.now(), Result(Status.CRITICAL, message))],
        series=SeriesCache(),
    )
    found = [a for a in alerts.list_(ctx, SYSTEM, state="active").items if a.check_id == check_id]
    assert found, "no alert opened"
    return found[0].id


def _state(ctx: Context, alert_id: int) -> str:
    return alerts.get(ctx, SYSTEM, alert_id).state


def _error(page: str, field: str) -> str:
    found = re.search(rf'id="f-{field}-error">(.*?)</p>', page, re.S)
    assert found, f"no message at {field}"
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).removeprefix("Error: ")


def _flash(page: str) -> str:
    found = re.search(r'class="flash flash-\w+" role="status">.*?<span>(.*?)</span>', page, re.S)
    assert found, "no flash message"
    return html.unescape(found.group(1))


@pytest.fixture
def site(ctx: Context) -> dict[str, Any]:
    org = make_org(ctx, "Acme Dental", timezone="Europe/Berlin")
    other = make_org(ctx, "Other Ltd")
    make_person(ctx, "tech", roles={org: "technician"})
    make_person(ctx, "viewer", roles={org: "viewer"})
    make_person(ctx, "stranger", roles={other: "admin"})
    check = _check(ctx, org, "fs01", "website")
    return {"org": org, "other": other, "check": check}


def test_inbox_shows_an_alert_and_bulk_acknowledge_flashes(
    client: TestClient, ctx: Context, site: dict[str, Any]
) -> None:
    alert_id = _fail(ctx, site["check"], "connection refused")
    ctx.clock.advance(720)
    csrf = signed_in(client, "tech")

    # The top bar and the organization page lead to the inbox, with the active count.
    assert 'href="/alerts"' in client.get("/").text
    org_page = client.get(f"/orgs/{site['org']}").text
    assert f'href="/orgs/{site["org"]}/alerts"' in org_page
    assert f'hx-get="/orgs/{site["org"]}/alerts/count"' in org_page
    count = client.get(f"/orgs/{site['org']}/alerts/count").text
    assert "1 active alert<" in count and 'id="org-alerts"' in count

    for path in ("/alerts", f"/orgs/{site['org']}/alerts"):
        page = html.unescape(client.get(path).text)
        assert "fs01 · website: connection refused" in page
        assert f'href="/alerts/{alert_id}"' in page and f'href="/checks/{site["check"]}"' in page
        assert "12 min ago" in page  # relative, the exact local time on hover
        assert "2 Nov 2026, 10:00 CET" in page  # opened at 09:00 UTC, shown in Berlin's time
        assert "Critical" in page and ">Open<" in page
        assert f'name="ids" value="{alert_id}"' in page
        assert 'value="acknowledge"' in page and 'value="resolve"' in page
        # The phone layout: stacked rows, each value with its label.
        assert "table stack-sm alert-table" in page
        assert 'data-label="Opened"' in page and 'data-label="Acknowledged"' in page
    assert 'data-label="Organization"' in client.get("/alerts").text

    r = client.post(
        "/alerts/bulk",
        data={
            "csrf_token": csrf,
            "ids": [str(alert_id)],
            "action": "acknowledge",
            "for": "1h",
            "next": f"/orgs/{site['org']}/alerts?state=active",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/orgs/{site['org']}/alerts?state=active"
    page = client.get(r.headers["location"])
    assert _flash(page.text) == "Acknowledged 1 alert for 1 h."
    detail = alerts.get(ctx, SYSTEM, alert_id)
    assert detail.state == "acknowledged" and detail.acked_by == "tech"
    assert detail.ack_until == ctx.clock.now() + timedelta(hours=1)
    assert "by tech" in page.text and ">Acknowledged<" in page.text

    # The filter lives in the URL.
    acked = client.get(f"/orgs/{site['org']}/alerts?state=acknowledged").text
    assert f'href="/alerts/{alert_id}"' in acked
    still_open = client.get(f"/orgs/{site['org']}/alerts?state=open").text
    assert f'href="/alerts/{alert_id}"' not in still_open and "No open alerts." in still_open


def test_bulk_resolve_counts_and_skips_what_was_resolved(
    client: TestClient, ctx: Context, site: dict[str, Any]
) -> None:
    first = _fail(ctx, site["check"], "connection refused")
    second = _fail(ctx, _check(ctx, site["org"], "mail01", "smtp"), "timed out")
    csrf = signed_in(client, "tech")
    form = {"csrf_token": csrf, "ids": [str(first), str(second)], "action": "resolve"}
    page = client.post("/alerts/bulk", data={**form, "next": "/alerts"})
    assert _flash(page.text) == "Resolved 2 alerts."
    assert (_state(ctx, first), _state(ctx, second)) == ("resolved", "resolved")
    assert "No active alerts" in page.text
    resolved = client.get("/alerts?state=resolved").text
    assert f'href="/alerts/{first}"' in resolved and f'href="/alerts/{second}"' in resolved
    assert "by tech" in resolved

    again = client.post("/alerts/bulk", data={**form, "action": "acknowledge", "for": ""})
    assert _flash(again.text) == (
        "Acknowledged 0 alerts until resolved. 2 alerts were already resolved."
    )
    nothing = client.post("/alerts/bulk", data={"csrf_token": csrf, "action": "resolve"})
    assert _flash(nothing.text) == "Tick at least one alert first."
    # A forged "how long" changes nothing.
    third = _fail(ctx, _check(ctx, site["org"], "web01", "https"), "refused")
    odd = client.post(
        "/alerts/bulk", data={**form, "ids": [str(third)], "action": "acknowledge", "for": "99y"}
    )
    assert _flash(odd.text) == "Choose how long the acknowledgement lasts."
    assert _state(ctx, third) == "open"


def test_alert_page_timeline_acknowledge_and_resolve_with_comments(
    client: TestClient, ctx: Context, site: dict[str, Any]
) -> None:
    alert_id = _fail(ctx, site["check"], "connection refused")
    csrf = signed_in(client, "tech")
    page = html.unescape(client.get(f"/alerts/{alert_id}").text)
    assert "fs01 · website: connection refused" in page
    assert (
        f'href="/checks/{site["check"]}"' in page and f'href="/orgs/{site["org"]}/alerts"' in page
    )
    assert "Opened" in page and f'action="/alerts/{alert_id}/acknowledge"' in page
    assert 'data-label="What"' in page and "table table-compact timeline stack-sm" in page

    ctx.clock.advance(60)
    r = client.post(
        f"/alerts/{alert_id}/acknowledge",
        data={"csrf_token": csrf, "for": "", "ack_comment": "on my way to the server room"},
    )
    assert _flash(r.text) == "Acknowledged until it is resolved: escalation and repeats stop."
    assert "tech: on my way to the server room" in r.text and "until resolved" in r.text
    assert _state(ctx, alert_id) == "acknowledged"

    # Too long a comment: said at the field, typed text kept, nothing changed.
    long = "x" * 1001
    bad = client.post(
        f"/alerts/{alert_id}/resolve", data={"csrf_token": csrf, "resolve_comment": long}
    )
    assert bad.status_code == 422
    assert _error(bad.text, "resolve_comment")
    assert long in bad.text
    assert _state(ctx, alert_id) == "acknowledged"

    ctx.clock.advance(60)
    r = client.post(
        f"/alerts/{alert_id}/resolve", data={"csrf_token": csrf, "resolve_comment": "rebooted"}
    )
    assert _flash(r.text).startswith("Resolved.")
    kinds = [e.kind for e in alerts.get(ctx, SYSTEM, alert_id).events]
    assert kinds == ["opened", "acknowledged", "comment", "resolved", "comment"]
    assert "tech: rebooted" in r.text
    # Nothing left to take: no forms on a resolved alert.
    assert f'action="/alerts/{alert_id}/acknowledge"' not in r.text


def test_a_viewer_sees_alerts_without_buttons_and_is_refused(
    client: TestClient, ctx: Context, site: dict[str, Any]
) -> None:
    alert_id = _fail(ctx, site["check"], "connection refused")
    csrf = signed_in(client, "viewer")
    for path in ("/alerts", f"/orgs/{site['org']}/alerts", f"/alerts/{alert_id}"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "connection refused" in page.text
        assert 'name="ids"' not in page.text and "/alerts/bulk" not in page.text
        assert 'value="acknowledge"' not in page.text and "/acknowledge" not in page.text
    for path, data in (
        ("/alerts/bulk", {"ids": [str(alert_id)], "action": "acknowledge", "for": ""}),
        ("/alerts/bulk", {"action": "resolve"}),
        (f"/alerts/{alert_id}/acknowledge", {"for": ""}),
        (f"/alerts/{alert_id}/resolve", {}),
    ):
        r = client.post(path, data={"csrf_token": csrf, **data}, follow_redirects=False)
        assert r.status_code == 403, path
        assert "Not allowed" in r.text
    assert _state(ctx, alert_id) == "open"


def test_another_organizations_user_sees_nothing_of_it(
    client: TestClient, ctx: Context, site: dict[str, Any]
) -> None:
    alert_id = _fail(ctx, site["check"], "connection refused")
    csrf = signed_in(client, "stranger")
    assert client.get(f"/alerts/{alert_id}").status_code == 404
    assert client.get(f"/orgs/{site['org']}/alerts").status_code == 404
    assert client.get(f"/orgs/{site['org']}/alerts/count").status_code == 404
    inbox = client.get("/alerts?state=all")
    assert inbox.status_code == 200
    assert "connection refused" not in inbox.text and "Acme Dental" not in inbox.text
    assert "No alerts." in inbox.text
    for path, data in (
        ("/alerts/bulk", {"ids": [str(alert_id)], "action": "resolve"}),
        (f"/alerts/{alert_id}/resolve", {}),
        (f"/alerts/{alert_id}/acknowledge", {"for": ""}),
    ):
        r = client.post(path, data={"csrf_token": csrf, **data}, follow_redirects=False)
        assert r.status_code == 404, path
    assert _state(ctx, alert_id) == "open"


def test_the_inbox_pages_newest_first_and_refreshes_in_place(
    client: TestClient, ctx: Context, site: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    older = _fail(ctx, site["check"], "connection refused")
    newer = _fail(ctx, _check(ctx, site["org"], "mail01", "smtp"), "timed out")
    monkeypatch.setattr(alert_views, "PAGE_SIZE", 1)
    signed_in(client, "tech")
    first = client.get(f"/orgs/{site['org']}/alerts").text
    assert f'href="/alerts/{newer}"' in first and f'href="/alerts/{older}"' not in first
    older_url = html.unescape(re.search(r'href="([^"]*cursor=[^"]*)">Older', first).group(1))
    second = client.get(older_url).text
    assert f'href="/alerts/{older}"' in second and f'href="/alerts/{newer}"' not in second
    assert ">Newest<" in second
    # A cursor edited by hand starts from the newest again instead of failing.
    made_up = client.get(f"/orgs/{site['org']}/alerts?cursor=bogus")
    assert made_up.status_code == 200 and f'href="/alerts/{newer}"' in made_up.text

    # htmx asks for the table alone; the ticked boxes keep their state (hx-preserve).
    part = client.get(
        f"/orgs/{site['org']}/alerts?state=active",
        headers={"HX-Request": "true", "HX-Target": "alert-list"},
    )
    assert part.status_code == 200 and "<html" not in part.text
    assert part.text.lstrip().startswith('<div id="alert-list"')
    assert f'id="sel-{newer}"' in part.text and "hx-preserve" in part.text


def test_silence_alerts_in_bulk_or_from_an_alert_page(
    client: TestClient, ctx: Context, site: dict[str, Any]
) -> None:
    first = _fail(ctx, site["check"], "connection refused")
    second = _fail(ctx, _check(ctx, site["org"], "mail01", "smtp"), "timed out")
    csrf = signed_in(client, "tech")
    assert 'value="silence"' in client.get("/alerts").text
    r = client.post(
        "/alerts/bulk",
        data={"csrf_token": csrf, "ids": [str(first)], "action": "silence", "silence_for": "240"},
    )
    assert _flash(r.text) == "Silenced 1 alert for 4 h: no messages until then."
    [made] = silences.list_(ctx, SYSTEM, org_id=site["org"])
    assert made.matchers == [f"org={site['org']}", f"check={site['check']}"]
    assert made.ends_at == ctx.clock.now() + timedelta(hours=4) and made.created_by == "tech"

    page = client.get(f"/alerts/{second}").text
    assert f'action="/alerts/{second}/silence"' in page
    r = client.post(f"/alerts/{second}/silence", data={"csrf_token": csrf, "silence_for": "60"})
    assert "Silenced for 1 h" in _flash(r.text)
    assert len(silences.list_(ctx, SYSTEM, org_id=site["org"])) == 2
    bad = client.post(f"/alerts/{second}/silence", data={"csrf_token": csrf, "silence_for": "9"})
    assert "Choose how long" in _flash(bad.text)
    assert len(silences.list_(ctx, SYSTEM, org_id=site["org"])) == 2

    csrf = signed_in(client, "viewer")
    refused = client.post(
        f"/alerts/{second}/silence", data={"csrf_token": csrf, "silence_for": "60"}
    )
    assert refused.status_code == 403


def test_an_alert_page_lists_the_messages_sent_about_it(
    client: TestClient, ctx: Context, site: dict[str, Any]
) -> None:
    channel = notify.create_channel(
        ctx,
        SYSTEM,
        notify.ChannelCreate(org_id=site["org"], name="On duty", url="json://127.0.0.1:9/x"),
    )
    notify.create_route(
        ctx,
        SYSTEM,
        notify.RouteCreate(org_id=site["org"], name="all", steps=[{"channels": [channel.id]}]),
    )
    alert_id = _fail(ctx, site["check"], "connection refused")
    with ThreadPoolExecutor(2) as pool:
        assert notify.deliver_due(ctx, "test", pool) == 1  # a closed port: it fails, is kept
    signed_in(client, "tech")
    page = html.unescape(client.get(f"/alerts/{alert_id}").text)
    messages = page.split('id="messages"', 1)[1]
    assert "On duty" in messages and "pending" in messages and "Connection error" in messages

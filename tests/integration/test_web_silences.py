"""An organization's silences page: the list in words, making one by matcher, ending one early,
and who may do what. Alerts are made the real way (a failed check result recorded)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from forewarn.domain import alerting
from forewarn.domain.inventory import Role
from forewarn.domain.observation import Status
from forewarn.services import alerts, silences, sites
from forewarn.services.context import Context
from forewarn.services.schemas import SiteCreate
from forewarn.services.scope import SYSTEM, Actor
from forewarn.services.silences import SilenceCreate, SilenceFromAlert
from tests.conftest import make_org, make_person
from tests.integration.test_alert_filters import _check, _fail
from tests.integration.test_web import make_asset, signed_in
from tests.integration.test_web_alerts import _error, _flash


@pytest.fixture
def world(ctx: Context) -> dict[str, Any]:
    org = make_org(ctx, "Acme Dental", timezone="Europe/Berlin")
    other = make_org(ctx, "Other Ltd")
    hq = sites.create(ctx, SYSTEM, SiteCreate(org_id=org, name="Head office")).id
    other_site = sites.create(ctx, SYSTEM, SiteCreate(org_id=other, name="Other HQ")).id
    fs01 = make_asset(ctx, org, "fs01", site_id=hq)
    mail01 = make_asset(ctx, org, "mail01", site_id=hq)
    tech = make_person(ctx, "tech", roles={org: "technician"}).id
    make_person(ctx, "viewer", roles={org: "viewer"})
    make_person(ctx, "stranger", roles={other: "admin"})
    website = _check(ctx, fs01, "website")
    return {
        "org": org,
        "other": other,
        "tech": tech,
        "hq": hq,
        "other_site": other_site,
        "fs01": fs01,
        "mail01": mail01,
        "website": website,
        "web_alert": _fail(ctx, website, Status.CRITICAL, "connection refused"),
        "smtp_alert": _fail(ctx, _check(ctx, mail01, "smtp"), Status.WARNING, "slow"),
    }


def _tech(w: dict[str, Any]) -> Actor:
    return Actor(w["tech"], "tech", False, {w["org"]: Role.TECHNICIAN})


def _active(ctx: Context, org_id: int) -> list[silences.SilenceOut]:
    return [s for s in silences.list_(ctx, SYSTEM, org_id=org_id) if s.org_id == org_id]


def _row(page: str, silence_id: int) -> str:
    found = re.search(rf'<tr id="silence-{silence_id}">(.*?)</tr>', page, re.S)
    assert found, f"no row for silence {silence_id}"
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))))


def test_the_list_says_what_is_silenced_by_whom_why_and_what_it_holds(
    client: TestClient, ctx: Context, world: dict[str, Any]
) -> None:
    w = world
    tech = _tech(w)
    by_check = silences.silence_alert(
        ctx, tech, w["web_alert"], SilenceFromAlert(duration_min=60, comment="router swap")
    )
    by_site = silences.create(
        ctx,
        tech,
        SilenceCreate(
            org_id=w["org"],
            matchers=[f"org={w['org']}", f"site={w['hq']}", "severity=warning"],
            duration_min=240,
        ),
    )
    over = silences.create(
        ctx,
        tech,
        SilenceCreate(org_id=w["org"], matchers=["kind=security"], duration_min=5, comment="test"),
    )
    ctx.clock.advance(600)

    signed_in(client, "tech")
    # Linked from the organization's page and its alert inbox.
    assert f'href="/orgs/{w["org"]}/silences"' in client.get(f"/orgs/{w['org']}").text
    assert f'href="/orgs/{w["org"]}/silences"' in client.get(f"/orgs/{w['org']}/alerts").text
    page = client.get(f"/orgs/{w['org']}/silences").text
    row = _row(page, by_check.id)
    assert "check fs01 · website" in row and "tech" in row and "router swap" in row
    assert "1 open alert" in row and "2 Nov 2026, 11:00 CET" in row  # 09:00 UTC + 1 h
    row = _row(page, by_site.id)
    assert "site Head office, warning severity" in row and "1 open alert" in row
    assert f"site={w['hq']}" not in page  # names, not ids
    ended = html.unescape(page.split('id="ended"', 1)[1])
    assert "security alerts" in ended and "test" in ended
    assert f'id="silence-{over.id}"' not in page
    assert page.count(">End now<") == 2


def test_make_one_for_an_asset_and_a_severity_or_until_a_local_time(
    client: TestClient, ctx: Context, world: dict[str, Any]
) -> None:
    w = world
    csrf = signed_in(client, "tech")
    page = html.unescape(client.get(f"/orgs/{w['org']}/silences").text)
    # The organization's own sites, assets and checks, by name; no one else's.
    assert f'<option value="asset:{w["fs01"]}">fs01</option>' in page
    assert f'<option value="site:{w["hq"]}">Head office</option>' in page
    assert f'<option value="check:{w["website"]}">fs01 · website</option>' in page
    assert "Other HQ" not in page

    form = {
        "csrf_token": csrf,
        "target": f"asset:{w['fs01']}",
        "severity": "critical",
        "kind": "",
        "duration": "2",
        "unit": "h",
        "until": "",
        "comment": "disk swap",
    }
    r = client.post(f"/orgs/{w['org']}/silences", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/orgs/{w['org']}/silences"
    [made] = _active(ctx, w["org"])
    assert made.matchers == [f"org={w['org']}", f"asset={w['fs01']}", "severity=critical"]
    assert made.ends_at == ctx.clock.now() + timedelta(hours=2)
    assert made.created_by == "tech" and made.comment == "disk swap"
    flash = _flash(client.get(r.headers["location"]).text)
    assert flash == (
        "Silenced asset fs01, critical severity until 2 Nov 2026, 12:00 CET: "
        "no messages about it until then."
    )
    # It mutes the asset's critical alert, not the other asset's warning.
    now = ctx.clock.now()
    with ctx.db.read() as session:
        active = silences.active_for(session, w["org"], now)
    web = alerts.get(ctx, SYSTEM, w["web_alert"]).labels
    smtp = alerts.get(ctx, SYSTEM, w["smtp_alert"]).labels
    assert alerting.silenced_by(web, active, now) is not None
    assert alerting.silenced_by(smtp, active, now) is None
    assert silences.held_now(ctx, SYSTEM, w["org"]) == {made.id: 1}

    # Until a date and time in the organization's zone (Berlin: UTC+1 in November).
    until = {**form, "target": "org", "severity": "", "kind": "security", "duration": ""}
    until["until"] = "2026-11-02T18:30"
    r = client.post(f"/orgs/{w['org']}/silences", data=until, follow_redirects=False)
    assert r.status_code == 303
    latest = max(_active(ctx, w["org"]), key=lambda s: s.id)
    assert latest.matchers == [f"org={w['org']}", "kind=security"]
    assert latest.ends_at == datetime(2026, 11, 2, 17, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"duration": "", "until": ""}, "end", "A silence needs an end"),
        ({"duration": "1", "until": "2026-11-02T18:30"}, "end", "one of them"),
        ({"duration": "", "until": "2026-11-01T08:00"}, "end", "would already be over"),
        ({"duration": "40", "unit": "d"}, "end", "at most 31 days"),
        ({"duration": "soon"}, "end", "Enter how long as a number"),
        ({"duration": "", "until": "tomorrow"}, "end", "date and time"),
        ({"target": "site:OTHER"}, "target", "Choose what the silence covers"),
        ({"severity": "urgent"}, "severity", "Choose one of the listed options"),
    ],
)
def test_a_refused_silence_says_why_and_keeps_what_was_typed(
    client: TestClient,
    ctx: Context,
    world: dict[str, Any],
    change: dict[str, str],
    field: str,
    words: str,
) -> None:
    w = world
    csrf = signed_in(client, "tech")
    form = {
        "csrf_token": csrf,
        "target": f"site:{w['hq']}",
        "severity": "",
        "kind": "check",
        "duration": "1",
        "unit": "h",
        "until": "",
        "comment": "moving the rack",
    }
    form.update({k: v.replace("OTHER", str(w["other_site"])) for k, v in change.items()})
    r = client.post(f"/orgs/{w['org']}/silences", data=form, follow_redirects=False)
    assert r.status_code == 422
    assert words in _error(r.text, field)
    page = html.unescape(r.text)
    assert "moving the rack</textarea>" in page
    assert '<option value="check" selected>' in page
    if field != "target":
        assert f'<option value="site:{w["hq"]}" selected>' in page
    assert _active(ctx, w["org"]) == []


def test_end_one_now(client: TestClient, ctx: Context, world: dict[str, Any]) -> None:
    w = world
    made = silences.silence_alert(ctx, _tech(w), w["web_alert"], SilenceFromAlert(duration_min=240))
    csrf = signed_in(client, "tech")
    ctx.clock.advance(60)
    r = client.post(
        f"/orgs/{w['org']}/silences/{made.id}/expire",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert _active(ctx, w["org"]) == []
    page = client.get(r.headers["location"]).text
    assert _flash(page).startswith("Ended the silence of check fs01 · website")
    assert "Nothing is silenced." in page
    assert "check fs01 · website" in html.unescape(page.split('id="ended"', 1)[1])
    # Another organization's silence is not found through this organization's page.
    theirs = silences.create(
        ctx, SYSTEM, SilenceCreate(org_id=w["other"], matchers=["kind=check"], duration_min=60)
    )
    r = client.post(
        f"/orgs/{w['org']}/silences/{theirs.id}/expire",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 404
    assert [s.id for s in _active(ctx, w["other"])] == [theirs.id]


def test_viewers_read_and_may_not_change_strangers_see_nothing(
    client: TestClient, ctx: Context, world: dict[str, Any]
) -> None:
    w = world
    made = silences.silence_alert(
        ctx, _tech(w), w["web_alert"], SilenceFromAlert(duration_min=240, comment="swap")
    )
    csrf = signed_in(client, "viewer")
    page = client.get(f"/orgs/{w['org']}/silences").text
    assert "swap" in _row(page, made.id)
    assert f'action="/orgs/{w["org"]}/silences"' not in page and "End now" not in page
    form = {"csrf_token": csrf, "target": "org", "duration": "1", "unit": "h"}
    for path, data in (
        (f"/orgs/{w['org']}/silences", form),
        (f"/orgs/{w['org']}/silences/{made.id}/expire", {"csrf_token": csrf}),
    ):
        r = client.post(path, data=data, follow_redirects=False)
        assert r.status_code == 403, path
    assert [s.id for s in _active(ctx, w["org"])] == [made.id]

    csrf = signed_in(client, "stranger")
    assert client.get(f"/orgs/{w['org']}/silences").status_code == 404
    for path, data in (
        (f"/orgs/{w['org']}/silences", {**form, "csrf_token": csrf}),
        (f"/orgs/{w['org']}/silences/{made.id}/expire", {"csrf_token": csrf}),
    ):
        r = client.post(path, data=data, follow_redirects=False)
        assert r.status_code == 404, path
    assert [s.id for s in _active(ctx, w["org"])] == [made.id]

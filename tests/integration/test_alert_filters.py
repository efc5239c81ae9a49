"""Narrowing the alert inbox: severity, kind, site, asset and words, in the service (one
query for both faces), the API (validated query parameters) and the inbox's GET form.

Check alerts are made the real way (a failed result recorded through services.results); a
security alert is raised as the security job raises it (services.alerts.raise_).
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from forewarn.domain.alerting import AlertKind, Severity
from forewarn.domain.inventory import Role
from forewarn.domain.observation import Observation, Result, Status
from forewarn.services import alerts, assets, checks, results, sites
from forewarn.services.alerts import AlertFilter
from forewarn.services.context import Context
from forewarn.services.ingest import SeriesCache
from forewarn.services.schemas import AssetUpdate, CheckCreate, SiteCreate
from forewarn.services.scope import SYSTEM, Actor
from tests.conftest import make_org, make_person
from tests.integration.test_web import make_asset, signed_in
from tests.integration.test_web_alerts import _flash


def _check(ctx: Context, asset_id: int, name: str) -> int:
    data = CheckCreate(
        asset_id=asset_id, name=name, type="http", target="http://127.0.0.1:9/", max_attempts=1
    )
    return checks.create(ctx, SYSTEM, data).id


def _fail(ctx: Context, check_id: int, status: Status, message: str) -> int:
    results.record(
        ctx,
        [Observation(check_id, ctx.clock.now(), Result(status, message))],
        series=SeriesCache(),
    )
    [found] = [a for a in alerts.list_(ctx, SYSTEM, state="active").items if a.check_id == check_id]
    return found.id


def _security_alert(ctx: Context, org_id: int, asset_id: int, summary: str) -> int:
    labels = {"org": str(org_id), "asset": str(asset_id), "kind": "security", "rule": "burst"}
    with ctx.db.transaction() as session:
        row = alerts.raise_(
            session,
            ctx,
            org_id,
            labels,
            Severity.WARNING,
            ctx.clock.now(),
            summary,
            asset_id=asset_id,
        )
        return row.id


@pytest.fixture
def world(ctx: Context) -> dict[str, Any]:
    org = make_org(ctx, "Acme Dental", timezone="Europe/Berlin")
    other = make_org(ctx, "Other Ltd")
    hq = sites.create(ctx, SYSTEM, SiteCreate(org_id=org, name="Head office")).id
    branch = sites.create(ctx, SYSTEM, SiteCreate(org_id=org, name="Branch")).id
    other_site = sites.create(ctx, SYSTEM, SiteCreate(org_id=other, name="Other HQ")).id
    fs01 = make_asset(ctx, org, "fs01", site_id=hq)
    mail01 = make_asset(ctx, org, "mail01", site_id=branch)
    other_asset = make_asset(ctx, other, "other-fs", site_id=other_site)
    w = {
        "org": org,
        "other": other,
        "hq": hq,
        "branch": branch,
        "other_site": other_site,
        "fs01": fs01,
        "mail01": mail01,
        "other_asset": other_asset,
        "tech": make_person(ctx, "tech", roles={org: "technician"}),
        "stranger": make_person(ctx, "stranger", roles={other: "admin"}),
    }
    w["web"] = _fail(ctx, _check(ctx, fs01, "website"), Status.CRITICAL, "connection refused")
    w["smtp"] = _fail(ctx, _check(ctx, mail01, "smtp relay"), Status.WARNING, "slow 50% answer")
    w["login"] = _security_alert(ctx, org, fs01, "fs01: 40 failed logins for root")
    w["theirs"] = _fail(
        ctx, _check(ctx, other_asset, "website"), Status.CRITICAL, "connection refused"
    )
    return w


def _ids(ctx: Context, actor: Any = SYSTEM, **where: Any) -> set[int]:
    org_id = where.pop("org_id", None)
    page = alerts.list_(ctx, actor, org_id=org_id, state="active", where=AlertFilter(**where))
    return {a.id for a in page.items}


def test_each_filter_narrows_in_the_service(ctx: Context, world: dict[str, Any]) -> None:
    w = world
    mine = {w["web"], w["smtp"], w["login"]}
    assert _ids(ctx, org_id=w["org"]) == mine
    assert _ids(ctx, org_id=w["org"], severity=Severity.CRITICAL) == {w["web"]}
    assert _ids(ctx, org_id=w["org"], severity=Severity.WARNING) == {w["smtp"], w["login"]}
    assert _ids(ctx, org_id=w["org"], severity=Severity.INFO) == set()
    assert _ids(ctx, org_id=w["org"], kind=AlertKind.SECURITY) == {w["login"]}
    assert _ids(ctx, org_id=w["org"], kind=AlertKind.CHECK) == {w["web"], w["smtp"]}
    assert _ids(ctx, org_id=w["org"], kind=AlertKind.PREDICTIVE) == set()
    assert _ids(ctx, org_id=w["org"], site_id=w["hq"]) == {w["web"], w["login"]}
    assert _ids(ctx, org_id=w["org"], site_id=w["branch"]) == {w["smtp"]}
    assert _ids(ctx, org_id=w["org"], asset_id=w["mail01"]) == {w["smtp"]}
    # Words: in the summary, the asset's name or the check's name, any case.
    assert _ids(ctx, org_id=w["org"], q="REFUSED") == {w["web"]}
    assert _ids(ctx, org_id=w["org"], q="Relay") == {w["smtp"]}
    assert _ids(ctx, org_id=w["org"], q="fs01") == {w["web"], w["login"]}
    # A % or _ typed is a character, not a wildcard.
    assert _ids(ctx, org_id=w["org"], q="50%") == {w["smtp"]}
    assert _ids(ctx, org_id=w["org"], q="%") == {w["smtp"]}
    assert _ids(ctx, org_id=w["org"], q="_") == set()
    # Together: every condition holds.
    both = _ids(ctx, org_id=w["org"], site_id=w["hq"], kind=AlertKind.CHECK, q="website")
    assert both == {w["web"]}
    assert _ids(ctx, org_id=w["org"], q="relay", severity=Severity.CRITICAL) == set()
    # A renamed asset is found by its new name: names are looked up, not copied.
    assets.update(ctx, SYSTEM, w["mail01"], AssetUpdate(name="exchange"))
    assert _ids(ctx, org_id=w["org"], q="exchange") == {w["smtp"]}


def test_another_organizations_site_or_asset_finds_nothing(
    ctx: Context, world: dict[str, Any]
) -> None:
    w = world
    tech = Actor(w["tech"].id, "tech", False, {w["org"]: Role.TECHNICIAN})
    assert _ids(ctx, tech) == {w["web"], w["smtp"], w["login"]}
    assert _ids(ctx, tech, site_id=w["other_site"]) == set()
    assert _ids(ctx, tech, asset_id=w["other_asset"]) == set()
    assert _ids(ctx, tech, q="other-fs") == set()
    assert _ids(ctx, SYSTEM, site_id=w["other_site"]) == {w["theirs"]}  # it is there


def test_the_api_takes_the_filters_and_refuses_unknown_values(
    client: TestClient, world: dict[str, Any]
) -> None:
    w = world
    h = w["tech"].headers

    def ids(**params: Any) -> set[int]:
        r = client.get("/api/v1/alerts", params={"state": "active", **params}, headers=h)
        assert r.status_code == 200, r.text
        return {a["id"] for a in r.json()["items"]}

    assert ids() == {w["web"], w["smtp"], w["login"]}
    assert ids(severity="critical") == {w["web"]}
    assert ids(kind="security") == {w["login"]}
    assert ids(kind="check", site_id=w["hq"]) == {w["web"]}
    assert ids(asset_id=w["mail01"]) == {w["smtp"]}
    assert ids(q="failed logins", org_id=w["org"]) == {w["login"]}
    for params, word in (
        ({"severity": "urgent"}, "severity"),
        ({"kind": "monitoring!"}, "kind"),
        ({"site_id": "0"}, "site_id"),
        ({"q": "x" * 201}, "q"),
    ):
        r = client.get("/api/v1/alerts", params=params, headers=h)
        assert r.status_code == 422, params
        assert r.headers["content-type"].startswith("application/problem+json")
        assert word in r.text
    assert "critical" in client.get("/api/v1/alerts?severity=urgent", headers=h).text


def test_the_inbox_form_filters_and_keeps_them_across_tabs_paging_and_bulk(
    client: TestClient, ctx: Context, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    csrf = signed_in(client, "tech")
    base = f"/orgs/{w['org']}/alerts"
    page = html.unescape(client.get(base).text)
    # The form offers the organization's own sites and assets by name, and no one else's.
    assert 'role="search"' in page and f'<option value="{w["hq"]}">Head office</option>' in page
    assert f'<option value="{w["mail01"]}">mail01</option>' in page
    assert "Other HQ" not in page and "other-fs" not in page
    assert '<option value="security">Security</option>' in page

    page = html.unescape(client.get(base, params={"severity": "warning", "kind": "check"}).text)
    assert f'href="/alerts/{w["smtp"]}"' in page
    assert f'href="/alerts/{w["web"]}"' not in page and f'href="/alerts/{w["login"]}"' not in page
    assert '<option value="warning" selected>' in page and "Clear filters" in page
    # The state tabs keep the filters.
    assert f"{base}?state=resolved&severity=warning&kind=check" in page

    none = html.unescape(client.get(base, params={"q": "nothing like this"}).text)
    assert "No active alerts match these filters." in none
    # A value not offered is left out rather than failing the page.
    loose = client.get(base, params={"severity": "urgent", "site_id": "x"})
    assert loose.status_code == 200 and f'href="/alerts/{w["web"]}"' in loose.text

    # Paging keeps them.
    from forewarn.web import alert_views

    monkeypatch.setattr(alert_views, "PAGE_SIZE", 1)
    first = html.unescape(client.get(base, params={"site_id": w["hq"]}).text)
    assert f'href="/alerts/{w["login"]}"' in first  # the newest of the two at the head office
    older = re.search(r'href="([^"]*cursor=[^"]*)">Older', first)
    assert older and f"site_id={w['hq']}" in older.group(1)
    second = html.unescape(client.get(older.group(1)).text)
    assert f'href="/alerts/{w["web"]}"' in second and f'href="/alerts/{w["smtp"]}"' not in second

    # The bulk form returns to the filtered list it was sent from.
    back = re.search(r'name="next" value="([^"]*)"', first)
    assert back and "site_id" in back.group(1)
    r = client.post(
        "/alerts/bulk",
        data={
            "csrf_token": csrf,
            "ids": [str(w["login"])],
            "action": "acknowledge",
            "for": "",
            "next": html.unescape(back.group(1)),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and f"site_id={w['hq']}" in r.headers["location"]
    assert _flash(client.get(r.headers["location"]).text) == "Acknowledged 1 alert until resolved."
    assert alerts.get(ctx, SYSTEM, w["login"]).state == "acknowledged"


def test_the_inbox_filters_never_show_another_organization(
    client: TestClient, world: dict[str, Any]
) -> None:
    w = world
    signed_in(client, "stranger")
    # The stranger's own inbox, asked about Acme's site and asset: nothing of Acme's.
    for params in ({"site_id": w["hq"]}, {"asset_id": w["fs01"]}, {"q": "fs01"}):
        page = client.get("/alerts", params={"state": "all", **params}).text
        assert "Acme" not in page and "fs01 · website" not in page
        page = client.get(f"/orgs/{w['other']}/alerts", params={"state": "all", **params}).text
        assert "fs01 · website" not in page
    assert client.get(f"/orgs/{w['org']}/alerts", params={"site_id": w["hq"]}).status_code == 404

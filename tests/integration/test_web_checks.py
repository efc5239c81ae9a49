"""Checks on the pages: the form, the asset's list, a check's page, problems, maintenance."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from forewarn.domain.observation import Metric, Observation, Result, Status
from forewarn.services import checks, maintenance, results
from forewarn.services.context import Context
from forewarn.services.ingest import SeriesCache
from forewarn.services.schemas import CheckCreate, MaintenanceCreate
from forewarn.services.scope import SYSTEM
from tests.conftest import Person, make_org, make_person
from tests.integration.test_web import make_asset, signed_in

HTMX = {"HX-Request": "true"}


def _form(csrf: str, **changes: str | None) -> dict[str, str]:
    """The new-check form as a browser posts it (an unticked box is simply absent)."""
    data: dict[str, str | None] = {
        "csrf_token": csrf,
        "name": "Mail port",
        "type": "tcp",
        "target": "127.0.0.1:25",
        "interval_s": "60",
        "retry_interval_s": "20",
        "max_attempts": "3",
        "timeout_s": "10",
        "enabled": "on",
        "parent_id": "",
        "p_send": "",
        "p_expect": "",
        "p_read_bytes": "4096",
        "p_warn": "",
        "p_crit": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _new_check(ctx: Context, asset_id: int, name: str, **fields: object) -> int:
    data = {"asset_id": asset_id, "name": name, "type": "tcp", "target": "127.0.0.1:9", **fields}
    return checks.create(ctx, SYSTEM, CheckCreate.model_validate(data)).id


def _record(ctx: Context, check_id: int, status: Status, message: str, seconds: float) -> None:
    """One result through the real pipeline, at the clock's time, with a response time."""
    metric = (Metric("time", seconds, "s"),) if status is not Status.CRITICAL else ()
    obs = Observation(check_id, ctx.clock.now(), Result(status, message, metric), seconds * 1000)
    results.record(ctx, [obs], series=SeriesCache())


def _section(client: TestClient, asset_id: int) -> str:
    """The asset page's checks, as htmx loads and refreshes them."""
    r = client.get(f"/assets/{asset_id}/checks", headers={**HTMX, "HX-Target": "asset-checks"})
    assert r.status_code == 200
    assert "<html" not in r.text
    return str(r.text)


# ---- adding, editing, deleting ------------------------------------------------------------------


def test_add_a_check_through_the_form_and_see_it_listed(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Acme")
    asset_id = make_asset(ctx, org_id, "mail01")
    csrf = signed_in(client, "owner")

    page = client.get(f"/assets/{asset_id}").text
    assert f'hx-get="/assets/{asset_id}/checks"' in page  # the section loads with htmx
    assert "No checks on mail01 yet" in _section(client, asset_id)

    form = client.get(f"/assets/{asset_id}/checks/new").text
    assert '<option value="heartbeat">' in form and '<option value="tcp" selected>' in form
    # The settings come from the TCP probe's Params model, defaults filled in.
    assert 'name="p_read_bytes"' in form and 'value="4096"' in form
    assert "Text the answer must contain." in form

    r = client.post(
        f"/assets/{asset_id}/checks/new",
        data=_form(csrf, p_expect="220", p_warn="0.5"),
        follow_redirects=False,
    )
    assert r.status_code == 303
    check_url = r.headers["location"]
    assert re.fullmatch(r"/checks/\d+", check_url)
    (stored,) = checks.list_(ctx, SYSTEM, asset_id=asset_id).items
    # Defaults are left out; what was chosen is kept, typed.
    assert stored.params == {"expect": "220", "warn": "0.5"}
    assert stored.target == "127.0.0.1:25" and stored.max_attempts == 3

    shown = client.get(check_url).text
    assert "Added the check Mail port." in shown
    assert "Pending" in shown and "Waiting for the first result." in shown

    listed = _section(client, asset_id)
    assert "Mail port" in listed and "Pending" in listed and "127.0.0.1:25" in listed
    assert 'hx-trigger="every 10s"' in listed
    # Without JavaScript the same list is a page of its own.
    assert "Checks of mail01" in client.get(f"/assets/{asset_id}/checks").text


def test_the_type_select_swaps_in_that_types_settings(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    signed_in(client, "owner")
    r = client.get("/check-params", params={"type": "http", "target": "https://x.example/"})
    assert r.status_code == 200 and "<html" not in r.text
    assert 'name="p_method"' in r.text and '<option value="GET" selected>' in r.text
    assert 'name="p_follow_redirects" value="on" checked' in r.text
    assert 'value="https://x.example/"' in r.text  # the target typed so far stays
    hb = client.get("/check-params", params={"type": "heartbeat", "target": "kept"}).text
    assert 'name="p_period_s"' in hb and 'value="86400"' in hb
    # No target for a heartbeat: what was typed waits, hidden, for a switch back.
    assert '<input type="hidden" id="f-target" name="target" value="kept">' in hb
    # An unknown type is the default, never an error.
    assert 'name="p_read_bytes"' in client.get("/check-params", params={"type": "x"}).text


def test_a_bad_check_is_explained_at_its_fields_and_nothing_is_stored(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Acme")
    asset_id = make_asset(ctx, org_id, "mail01")
    csrf = signed_in(client, "owner")
    url = f"/assets/{asset_id}/checks/new"

    # The probe refuses the target: the message stands at the target, all else is kept.
    r = client.post(url, data=_form(csrf, name="Typed name", target="no-port-here", p_expect="OK"))
    assert r.status_code == 422
    error = re.search(r'id="f-target-error">(.*?)</p>', r.text, re.S)
    assert error and "missing port" in error.group(1)
    for typed in ('value="Typed name"', 'value="no-port-here"', 'value="OK"'):
        assert typed in r.text

    # A setting the probe refuses ("warn" is a Nagios range): the message is by that setting.
    r = client.post(url, data=_form(csrf, p_warn="fast please"))
    assert r.status_code == 422
    assert 'id="f-p_warn-error"' in r.text and 'value="fast please"' in r.text
    assert 'aria-invalid="true"' in r.text

    # What the form cannot even read, and the timing, are all reported at once.
    r = client.post(url, data=_form(csrf, interval_s="often", p_read_bytes="lots", name=""))
    assert r.status_code == 422
    assert 'id="f-interval_s-error"' in r.text and "Seconds between runs" in r.text
    assert 'id="f-p_read_bytes-error"' in r.text and "Enter a whole number." in r.text
    assert 'id="f-name-error"' in r.text
    assert 'value="often"' in r.text and 'value="lots"' in r.text

    # A name clash is shown at the name.
    _new_check(ctx, asset_id, "Mail port")
    r = client.post(url, data=_form(csrf))
    assert r.status_code == 422 and 'id="f-name-error"' in r.text
    assert [c.name for c in checks.list_(ctx, SYSTEM, asset_id=asset_id).items] == ["Mail port"]


def test_edit_and_delete_a_check(client: TestClient, ctx: Context, owner: Person) -> None:
    org_id = make_org(ctx, "Acme")
    asset_id = make_asset(ctx, org_id, "fs01")
    router = _new_check(ctx, make_asset(ctx, org_id, "router"), "Router up")
    check_id = _new_check(ctx, asset_id, "SSH", params={"warn": "1"})
    csrf = signed_in(client, "owner")

    form = client.get(f"/checks/{check_id}/edit").text
    assert 'value="SSH"' in form and 'value="1"' in form
    assert f'<option value="{router}">router · Router up</option>' in form
    assert f'<option value="{check_id}">' not in form  # never its own parent

    data = _form(csrf, name="SSH port", parent_id=str(router), enabled=None, p_warn="")
    r = client.post(f"/checks/{check_id}/edit", data=data, follow_redirects=False)
    assert r.status_code == 303
    saved = checks.get(ctx, SYSTEM, check_id)
    assert saved.name == "SSH port" and saved.parent_id == router and not saved.enabled
    assert saved.params == {}
    page = client.get(f"/checks/{check_id}").text
    assert "Saved the check SSH port." in page and "Disabled" in page and "Router up" in page

    assert "Delete the check “SSH port”?" in client.get(f"/checks/{check_id}/delete").text
    r = client.post(f"/checks/{check_id}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/assets/{asset_id}#checks"
    assert client.get(f"/checks/{check_id}").status_code == 404


def test_a_heartbeat_check_shows_its_ping_url_and_curl_commands(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Acme")
    asset_id = make_asset(ctx, org_id, "backup01")
    csrf = signed_in(client, "owner")
    data = {
        "csrf_token": csrf,
        "name": "Nightly backup",
        "type": "heartbeat",
        "enabled": "on",
        "p_period_s": "86400",
        "p_grace_s": "7200",
    }
    r = client.post(f"/assets/{asset_id}/checks/new", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    push_path = checks.list_(ctx, SYSTEM, asset_id=asset_id).items[0].push_path
    assert push_path
    url = f"http://testserver{push_path}"
    assert f'value="{url}"' in page
    assert f"curl -fsS -m 10 --retry 3 {url}/start" in page
    assert f"curl -fsS -m 10 --retry 3 {url}/fail" in page
    assert "2 h of grace" in page


# ---- a check's page -----------------------------------------------------------------------------


def test_check_page_shows_state_timeline_chart_and_uptime(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Berlin Bakery", timezone="Europe/Berlin")
    asset_id = make_asset(ctx, org_id, "shop")
    check_id = _new_check(ctx, asset_id, "Shop port", max_attempts=2)
    clock = ctx.clock
    _record(ctx, check_id, Status.OK, "connected in 0.012 s", 0.012)
    clock.advance(minutes=30)  # type: ignore[attr-defined]
    _record(ctx, check_id, Status.OK, "connected in 0.020 s", 0.020)
    clock.advance(minutes=30)  # type: ignore[attr-defined]
    _record(ctx, check_id, Status.CRITICAL, "connection refused", 0.001)
    clock.advance(minutes=1)  # type: ignore[attr-defined]
    _record(ctx, check_id, Status.CRITICAL, "connection refused", 0.001)
    clock.advance(minutes=10)  # type: ignore[attr-defined]
    signed_in(client, "owner")

    page = client.get(f"/checks/{check_id}").text
    state = page[page.index('id="check-state"') : page.index('id="uptime"')]
    assert "Critical" in state and "Hard: confirmed" in state and "connection refused" in state
    assert 'title="2 Nov 2026, 11:00 CET">11 min ago</time>' in state  # since, Berlin time
    # The timeline: newest first, soft then hard, each with its words.
    timeline = page[page.index('id="check-timeline"') :]
    assert timeline.index("confirmed (hard)") < timeline.index("soft, being retried")
    # Uptime: one hour up, 11 minutes down, today; the 89 days before it have no data.
    bars = re.findall(r'<span class="bar bar-(\w+)" title="([^"]+)"', page)
    assert len(bars) == 90
    assert bars[-1] == ("critical", "Mon 2 Nov 2026: 84.5 % up")
    assert bars[0] == ("nodata", "Wed 5 Aug 2026: no data")
    assert "<dd>84.5 %</dd>" in page
    # The response-time chart draws the two OK results (in ms).
    assert "No response times in the last 24 hours" not in page
    assert "Response time, last 24 hours" in page

    # htmx refreshes the state box alone.
    r = client.get(f"/checks/{check_id}", headers={**HTMX, "HX-Target": "check-state"})
    assert r.text.lstrip().startswith('<section class="card state-card state-card-critical"')
    # The asset page's list says the same.
    listed = _section(client, asset_id)
    assert "Critical" in listed and "connection refused" in listed and "confirmed" in listed


def test_timeline_pages_and_quiet_reasons(client: TestClient, ctx: Context, owner: Person) -> None:
    org_id = make_org(ctx, "Acme")
    asset_id = make_asset(ctx, org_id, "fs01")
    check_id = _new_check(ctx, asset_id, "Port", max_attempts=1)
    start = ctx.clock.now().replace(tzinfo=None)
    maintenance.create(
        ctx,
        SYSTEM,
        MaintenanceCreate(org_id=org_id, name="Patch", start_local=start, duration_min=60),
    )
    for i in range(30):
        _record(ctx, check_id, Status.CRITICAL if i % 2 else Status.OK, f"result {i}", 0.01)
        ctx.clock.advance(minutes=1)  # type: ignore[attr-defined]
    signed_in(client, "owner")
    page = client.get(f"/checks/{check_id}").text
    assert "not notified: maintenance" in page
    older = re.search(r'href="(/checks/\d+\?cursor=[^"#]+)#timeline"', page)
    assert older
    r = client.get(older.group(1), headers={**HTMX, "HX-Target": "check-timeline"})
    assert r.text.lstrip().startswith('<div id="check-timeline"') and "Newest" in r.text
    # A cursor we never gave out starts again from the newest.
    assert client.get(f"/checks/{check_id}?cursor=bogus").status_code == 200


# ---- problems -----------------------------------------------------------------------------------


def test_problems_lists_what_is_not_ok_worst_first_and_says_all_clear(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Acme")
    signed_in(client, "owner")
    assert "No checks yet" in client.get(f"/orgs/{org_id}/problems").text

    fs = make_asset(ctx, org_id, "fs01")
    web = make_asset(ctx, org_id, "web01")
    ok_id = _new_check(ctx, fs, "Disk", max_attempts=1)
    _record(ctx, ok_id, Status.OK, "fine", 0.01)
    page = client.get(f"/orgs/{org_id}/problems").text
    assert "All clear: every check of Acme is OK." in page and "1 check watched" in page
    assert "No problems" in client.get(f"/orgs/{org_id}/problems/count").text

    warn_id = _new_check(ctx, fs, "Slow port", max_attempts=1)
    crit_id = _new_check(ctx, web, "Shop down", max_attempts=1)
    _record(ctx, warn_id, Status.WARNING, "answered in 2 s", 2.0)
    _record(ctx, crit_id, Status.CRITICAL, "connection refused", 0.0)
    page = client.get(f"/orgs/{org_id}/problems").text
    assert "All clear" not in page
    assert page.index("Shop down") < page.index("Slow port")  # worst first
    assert "web01" in page and "connection refused" in page and "Disk" not in page
    assert "1 critical · 1 warning" in page
    count = client.get(f"/orgs/{org_id}/problems/count").text
    assert "2 problems" in count and "state-critical" in count
    # The organization page links to it; htmx refreshes the table alone.
    assert f'href="/orgs/{org_id}/problems"' in client.get(f"/orgs/{org_id}").text
    r = client.get(f"/orgs/{org_id}/problems", headers={**HTMX, "HX-Target": "problems"})
    assert r.text.lstrip().startswith('<div id="problems"')


# ---- maintenance --------------------------------------------------------------------------------


def test_plan_and_delete_a_maintenance_window(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Berlin Bakery", timezone="Europe/Berlin")
    make_asset(ctx, org_id, "fs01")
    csrf = signed_in(client, "owner")
    url = f"/orgs/{org_id}/maintenance"
    assert "No maintenance planned." in client.get(url).text
    plan = {
        "csrf_token": csrf,
        "name": "Patch night",
        "scope": "org",
        "start_local": "2026-11-08T02:00",
        "duration": "2",
        "unit": "h",
        "repeat": "weekly",
        "weekdays": ["7"],
        "until": "",
    }
    r = client.post(url, data=plan, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(url).text
    assert "Planned the maintenance window Patch night." in page
    assert "every Sunday 02:00 for 2 h (Europe/Berlin)" in page
    assert 'title="8 Nov 2026, 02:00 CET"' in page  # next start, local time on hover

    # A bad one: messages at the fields, what was typed kept, nothing stored.
    bad = {**plan, "name": "Broken", "duration": "a while", "until": "2026-01-01"}
    r = client.post(url, data=bad)
    assert r.status_code == 422
    assert 'id="f-duration-error"' in r.text and 'value="a while"' in r.text
    assert 'value="Broken"' in r.text
    bad = {**plan, "name": "Backwards", "until": "2026-11-01"}
    r = client.post(url, data=bad)
    assert r.status_code == 422 and 'id="f-until-error"' in r.text
    assert [w.name for w in maintenance.list_(ctx, SYSTEM, org_id)] == ["Patch night"]

    window_id = maintenance.list_(ctx, SYSTEM, org_id)[0].id
    r = client.post(f"{url}/{window_id}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert maintenance.list_(ctx, SYSTEM, org_id) == []


def test_an_active_window_shows_on_the_asset_and_the_check(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Acme")
    asset_id = make_asset(ctx, org_id, "fs01")
    check_id = _new_check(ctx, asset_id, "Port")
    start = (ctx.clock.now() - timedelta(minutes=5)).replace(tzinfo=None)
    maintenance.create(
        ctx,
        SYSTEM,
        MaintenanceCreate(
            org_id=org_id, asset_id=asset_id, name="Disk swap", start_local=start, duration_min=60
        ),
    )
    signed_in(client, "owner")
    assert "In maintenance now: Disk swap" in _section(client, asset_id)
    assert "Maintenance: Disk swap" in client.get(f"/checks/{check_id}").text
    page = client.get(f"/orgs/{org_id}/maintenance").text
    assert "Active now" in page and "once, Mon 2 Nov 2026 08:55 for 1 h (UTC)" in page


# ---- who may do what ----------------------------------------------------------------------------


def test_a_viewer_sees_checks_but_cannot_change_them(client: TestClient, ctx: Context) -> None:
    org_id = make_org(ctx, "Acme")
    other = make_org(ctx, "Other")
    asset_id = make_asset(ctx, org_id, "fs01")
    check_id = _new_check(ctx, asset_id, "Port")
    foreign = _new_check(ctx, make_asset(ctx, other, "theirs"), "Theirs")
    make_person(ctx, "viewer", roles={org_id: "viewer"})
    csrf = signed_in(client, "viewer")

    listed = _section(client, asset_id)
    assert "Port" in listed and "Add check" not in listed
    page = client.get(f"/checks/{check_id}").text
    assert "Edit check" not in page and "Delete" not in page
    maint = client.get(f"/orgs/{org_id}/maintenance").text
    assert "Plan a window" not in maint

    for path in (f"/assets/{asset_id}/checks/new", f"/checks/{check_id}/edit"):
        assert client.get(path).status_code == 403, path
    r = client.post(f"/assets/{asset_id}/checks/new", data=_form(csrf, name="Sneaky"))
    assert r.status_code == 403 and "Not allowed" in r.text
    r = client.post(f"/checks/{check_id}/delete", data={"csrf_token": csrf})
    assert r.status_code == 403
    r = client.post(
        f"/orgs/{org_id}/maintenance",
        data={"csrf_token": csrf, "name": "x", "scope": "org", "start_local": "2026-11-08T02:00"},
    )
    assert r.status_code == 403
    assert [c.name for c in checks.list_(ctx, SYSTEM, asset_id=asset_id).items] == ["Port"]
    # Another organization's check does not exist for this viewer.
    for path in (f"/checks/{foreign}", f"/orgs/{other}/problems", f"/orgs/{other}/maintenance"):
        assert client.get(path).status_code == 404, path

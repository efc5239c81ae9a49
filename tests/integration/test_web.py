"""The dashboard as a person uses it: sign in, fill in forms, see the result, and be refused."""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from forewarn.config import Settings
from forewarn.services import assets, sites
from forewarn.services.context import Context
from forewarn.services.schemas import AssetCreate, SiteCreate
from forewarn.services.scope import SYSTEM
from forewarn.web import asset_list
from tests.conftest import PASSWORD, Person, make_org, make_person

ORG_FORM = {
    "name": "Acme Dental",
    "employees": "32",
    "hourly_cost": "48.50",
    "currency": "eur",
    "annual_revenue": "",
    "days": ["1", "2", "3", "4", "5"],
    "start": "08:00",
    "end": "18:00",
    "timezone": "Europe/Berlin",
    "notes": "Backups go to the NAS.",
}


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return found.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD, next: str = "/") -> Response:
    """Open the login form and post it, as a browser would."""
    form = client.get("/login", params={"next": next})
    token = _hidden(form.text, "form_token")
    return client.post(
        "/login",
        data={"username": username, "password": password, "form_token": token, "next": next},
        follow_redirects=False,
    )


def signed_in(client: TestClient, username: str) -> str:
    """Sign in and return the CSRF token the pages carry."""
    client.cookies.clear()
    assert login(client, username).status_code == 303
    return _hidden(client.get("/").text, "csrf_token")


def make_asset(ctx: Context, org_id: int, name: str, **fields: object) -> int:
    data = AssetCreate.model_validate({"org_id": org_id, "name": name, "kind": "server", **fields})
    return assets.create(ctx, SYSTEM, data).id


# ---- signing in and out ---------------------------------------------------------------------


def test_anonymous_pages_lead_to_login_and_back(client: TestClient, owner: Person) -> None:
    r = client.get("/orgs/7?kind=server", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Forgs%2F7%3Fkind%3Dserver"
    # htmx would follow a redirect inside its request; it gets told where to go instead.
    r = client.get("/", headers={"HX-Request": "true"}, follow_redirects=False)
    assert r.status_code == 401
    assert r.headers["HX-Redirect"] == "/login"
    assert login(client, "owner", next="/orgs/7").headers["location"] == "/orgs/7"
    client.cookies.clear()
    # Only local paths: another host is never a place to return to.
    for foreign in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        assert login(client, "owner", next=foreign).headers["location"] == "/"
        client.cookies.clear()


def test_login_good_and_bad_password(client: TestClient, owner: Person) -> None:
    bad = login(client, "owner", "not the password")
    assert bad.status_code == 401
    assert "Wrong user name or password" in bad.text
    assert 'value="owner"' in bad.text  # the user name stays typed in
    good = login(client, "owner")
    assert good.status_code == 303
    cookie = good.headers["set-cookie"].lower()
    assert "forewarn_session=fw_" in cookie
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=43200" in cookie
    assert "secure" not in cookie
    page = client.get("/")
    assert page.status_code == 200
    assert "owner" in page.text and "Sign out" in page.text
    # The API stays bearer-only: the session cookie opens no API door.
    assert client.get("/api/v1/orgs").status_code == 401


def test_login_throttled_says_how_long(client: TestClient, owner: Person) -> None:
    for _ in range(5):
        assert login(client, "owner", "wrong password").status_code == 401
    r = login(client, "owner")
    assert r.status_code == 429
    assert "Too many failed attempts, try again in 5 minutes" in r.text
    assert "forewarn_session" not in r.headers.get("set-cookie", "")


def test_login_form_needs_its_own_token(client: TestClient, owner: Person) -> None:
    client.get("/login")
    r = client.post(
        "/login",
        data={"username": "owner", "password": PASSWORD, "form_token": "forged"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert "forewarn_session" not in r.headers.get("set-cookie", "")
    # A post from another site's page is refused even with a matching token.
    token = _hidden(client.get("/login").text, "form_token")
    r = client.post(
        "/login",
        data={"username": "owner", "password": PASSWORD, "form_token": token},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403


def test_logout_revokes_the_session(client: TestClient, owner: Person) -> None:
    csrf = signed_in(client, "owner")
    secret = client.cookies["forewarn_session"]
    r = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "You have signed out" in client.get("/login").text
    # Replaying the old cookie does not bring the session back.
    client.cookies.set("forewarn_session", secret)
    assert client.get("/", follow_redirects=False).status_code == 303


# ---- CSRF ---------------------------------------------------------------------------------------


def test_posts_without_the_csrf_token_are_refused(client: TestClient, owner: Person) -> None:
    csrf = signed_in(client, "owner")
    assert client.post("/orgs/new", data=ORG_FORM).status_code == 403
    wrong = {**ORG_FORM, "csrf_token": "0" * 64}
    assert client.post("/orgs/new", data=wrong).status_code == 403
    assert client.post("/orgs/new", data={**ORG_FORM, "csrf_token": "é"}).status_code == 403
    assert "No organizations yet" in client.get("/").text
    # htmx sends the token as a header instead of a field.
    r = client.post(
        "/orgs/new", data=ORG_FORM, headers={"X-CSRF-Token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303


# ---- creating through the forms ---------------------------------------------------------------


def test_create_org_site_and_asset_through_forms(client: TestClient, owner: Person) -> None:
    csrf = signed_in(client, "owner")
    r = client.post("/orgs/new", data={**ORG_FORM, "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    org_url = r.headers["location"]
    org_page = client.get(org_url).text
    assert "Created Acme Dental" in org_page
    assert "48.50 EUR" in org_page and "Mon\N{EN DASH}Fri 08:00\N{EN DASH}18:00" in org_page
    assert "Acme Dental" in client.get("/").text

    r = client.post(
        f"{org_url}/sites/new",
        data={"csrf_token": csrf, "name": "Main office", "address": "", "notes": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303
    asset_form = client.get(f"{org_url}/assets/new").text
    site_id = re.search(r'<option value="(\d+)">Main office', asset_form)
    assert site_id
    asset = {
        "csrf_token": csrf,
        "kind": "server",
        "name": "fs01",
        "hostname": "fs01.acme.lan",
        "site_id": site_id.group(1),
        "criticality": "5",
        "owner": "Dr. Weber",
        "location": "Server closet",
        "purchase_date": "2023-01-15",
        "warranty_end": "2026-12-12",
        "tags": "Linux, backup",
        "notes": "",
    }
    r = client.post(f"{org_url}/assets/new", data=asset, follow_redirects=False)
    assert r.status_code == 303
    shown = client.get(r.headers["location"]).text
    for fact in ("fs01.acme.lan", "Main office", "5 · Business stops", "Dr. Weber", "backup"):
        assert fact in shown
    # The clock stands at 2 Nov 2026: the warranty ends in 40 days, which is a warning.
    assert "ends in 40 days" in shown and "Warning" in shown
    listed = client.get(org_url).text
    assert "fs01" in listed and f'href="{org_url}?tag=linux"' in listed


def test_times_show_in_the_org_zone_with_exact_time_on_hover(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Berlin Bakery", timezone="Europe/Berlin")
    signed_in(client, "owner")
    ctx.clock.advance(minutes=12)  # type: ignore[attr-defined]
    page = client.get(f"/orgs/{org_id}").text
    # Created at 09:00 UTC, which is 10:00 in Berlin in November.
    assert 'title="2 Nov 2026, 10:00 CET">12 min ago</time>' in page


def test_form_errors_keep_what_was_typed(client: TestClient, ctx: Context, owner: Person) -> None:
    csrf = signed_in(client, "owner")
    bad = {
        **ORG_FORM,
        "csrf_token": csrf,
        "name": "Typed Name",
        "employees": "many",
        "currency": "EURO",
        "start": "18:00",
        "end": "08:00",
    }
    r = client.post("/orgs/new", data=bad)
    assert r.status_code == 422
    assert "Enter a whole number." in r.text
    assert "Three capital letters" in r.text
    assert "Business hours must end after they start." in r.text
    for typed in ('value="Typed Name"', 'value="many"', 'value="EURO"', "Backups go to the NAS."):
        assert typed in r.text
    assert 'value="Europe/Berlin" selected' in r.text
    assert "No organizations yet" in client.get("/").text

    org_id = make_org(ctx, "Forms Inc")
    asset = {
        "csrf_token": csrf,
        "kind": "laptop",
        "name": "weber laptop",
        "hostname": "not a host!",
        "site_id": "",
        "criticality": "4",
        "owner": "Dr. Weber",
        "location": "",
        "purchase_date": "yesterday",
        "warranty_end": "",
        "tags": "windows 11, mobile",
        "notes": "kept",
    }
    r = client.post(f"/orgs/{org_id}/assets/new", data=asset)
    assert r.status_code == 422
    assert "A host name or IP address" in r.text
    assert "Enter a date as YYYY-MM-DD." in r.text
    assert "Separate tags with commas" in r.text
    for typed in ('value="not a host!"', 'value="windows 11, mobile"', 'value="Dr. Weber"'):
        assert typed in r.text
    assert '<option value="laptop" selected>' in r.text


def test_asset_name_clash_is_shown_at_the_name(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Clash")
    make_asset(ctx, org_id, "fs01")
    csrf = signed_in(client, "owner")
    data = {"csrf_token": csrf, "kind": "server", "name": "fs01", "criticality": "3"}
    r = client.post(f"/orgs/{org_id}/assets/new", data=data)
    assert r.status_code == 422
    assert 'id="f-name-error"' in r.text and "already has an asset of that name" in r.text


# ---- the asset table ----------------------------------------------------------------------


def test_asset_filters_live_in_the_url_and_htmx_gets_the_table_only(
    client: TestClient, ctx: Context, owner: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    org_id = make_org(ctx, "Filters")
    make_asset(ctx, org_id, "fs01", tags=["linux"])
    make_asset(ctx, org_id, "fs02", tags=["linux"])
    make_asset(ctx, org_id, "fs03", tags=["linux"])
    make_asset(ctx, org_id, "reception-pc", kind="workstation", tags=["windows"])
    signed_in(client, "owner")

    page = client.get(f"/orgs/{org_id}", params={"kind": "workstation"}).text
    assert "reception-pc" in page and "fs01" not in page
    page = client.get(f"/orgs/{org_id}", params={"tag": "Linux", "q": "FS0"}).text
    assert "fs01" in page and "reception-pc" not in page
    # A hand-edited URL still shows a page.
    odd = client.get(f"/orgs/{org_id}", params={"kind": "toaster", "cursor": "x"})
    assert odd.status_code == 200

    monkeypatch.setattr(asset_list, "PAGE_SIZE", 2)
    htmx = {"HX-Request": "true", "HX-Target": "asset-table"}
    first = client.get(f"/orgs/{org_id}", params={"tag": "linux"}, headers=htmx)
    assert first.text.lstrip().startswith('<div id="asset-table"')
    assert "<html" not in first.text
    assert "fs01" in first.text and "fs02" in first.text and "fs03" not in first.text
    next_url = re.search(r'href="([^"]+)"[^>]*>Next page', first.text)
    assert next_url and "tag=linux" in next_url.group(1)
    second = client.get(next_url.group(1).replace("&amp;", "&"), headers=htmx).text
    assert "fs03" in second and "fs01" not in second and "First page" in second


# ---- who sees what ----------------------------------------------------------------------------


def test_viewer_sees_own_org_without_edit_buttons_and_nothing_of_others(
    client: TestClient, ctx: Context
) -> None:
    org_a = make_org(ctx, "Alpha Clinic")
    org_b = make_org(ctx, "Beta Bank")
    asset_a = make_asset(ctx, org_a, "alpha-fs")
    asset_b = make_asset(ctx, org_b, "beta-fs")
    site_b = sites.create(ctx, SYSTEM, SiteCreate(org_id=org_b, name="Vault")).id
    make_person(ctx, "alpha-viewer", roles={org_a: "viewer"})
    csrf = signed_in(client, "alpha-viewer")

    overview = client.get("/").text
    assert "Alpha Clinic" in overview and "Beta Bank" not in overview
    assert "New organization" not in overview
    for path in (
        f"/orgs/{org_b}",
        f"/orgs/{org_b}/edit",
        f"/orgs/{org_b}/assets/new",
        f"/assets/{asset_b}",
        f"/assets/{asset_b}/edit",
        f"/sites/{site_b}/edit",
        "/orgs/999999",
    ):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "Beta" not in r.text and "Not found" in r.text

    page = client.get(f"/orgs/{org_a}").text
    assert "alpha-fs" in page
    for button in ("Edit organization", "Add asset", "Add site", "Invite someone", "Members"):
        assert button not in page
    asset_page = client.get(f"/assets/{asset_a}").text
    assert "alpha-fs" in asset_page and "Edit asset" not in asset_page
    assert "Delete" not in asset_page

    # The server refuses what the missing buttons would have done.
    assert client.get(f"/orgs/{org_a}/assets/new").status_code == 403
    r = client.post(
        f"/orgs/{org_a}/assets/new",
        data={"csrf_token": csrf, "kind": "server", "name": "sneaky"},
    )
    assert r.status_code == 403 and "Not allowed" in r.text
    r = client.post(f"/assets/{asset_a}/delete", data={"csrf_token": csrf})
    assert r.status_code == 403
    assert client.get(f"/assets/{asset_a}").status_code == 200


def test_delete_asset_after_confirmation(client: TestClient, ctx: Context, owner: Person) -> None:
    org_id = make_org(ctx, "Deletes")
    asset_id = make_asset(ctx, org_id, "old-pc")
    csrf = signed_in(client, "owner")
    confirm = client.get(f"/assets/{asset_id}/delete").text
    assert "Delete the asset “old-pc”?" in confirm
    r = client.post(f"/assets/{asset_id}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/orgs/{org_id}"
    assert client.get(f"/assets/{asset_id}").status_code == 404


# ---- invitations --------------------------------------------------------------------------------


def test_invitation_accept_creates_a_viewer_who_can_log_in(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Gamma Goods")
    make_asset(ctx, org_id, "gamma-fs")
    csrf = signed_in(client, "owner")
    r = client.post(
        f"/orgs/{org_id}/invitations", data={"csrf_token": csrf, "role": "viewer", "email": ""}
    )
    assert r.status_code == 200
    link = re.search(r'value="http://testserver(/invite/[A-Za-z0-9_-]+)"', r.text)
    assert link
    invite_url = link.group(1)
    assert "Open invitations" in client.get(f"/orgs/{org_id}").text

    client.cookies.clear()
    form = client.get(invite_url)
    assert form.status_code == 200 and "Join Gamma Goods" in form.text
    token = _hidden(form.text, "form_token")
    short = {"username": "office.manager", "password": "short", "display_name": "Olga"}
    r = client.post(invite_url, data={**short, "form_token": token})
    assert r.status_code == 422
    assert "Use at least 10 characters." in r.text and 'value="office.manager"' in r.text
    good = {**short, "password": "a long enough secret", "form_token": token}
    r = client.post(invite_url, data=good, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/orgs/{org_id}"
    page = client.get(f"/orgs/{org_id}").text
    assert "Welcome, Olga." in page and "gamma-fs" in page
    assert "Add asset" not in page  # a viewer
    # The link works once.
    client.cookies.clear()
    assert client.get(invite_url).status_code == 404
    assert login(client, "office.manager", "a long enough secret").status_code == 303
    assert "Gamma Goods" in client.get("/").text


def test_members_list_shows_names_and_roles_to_admins(client: TestClient, ctx: Context) -> None:
    org_id = make_org(ctx, "Delta Dental")
    make_person(ctx, "delta-admin", roles={org_id: "admin"})
    make_person(ctx, "delta-tech", roles={org_id: "technician"})
    signed_in(client, "delta-admin")
    page = client.get(f"/orgs/{org_id}").text
    assert "Members" in page and "delta-tech" in page and "Technician" in page
    assert "Edit organization" in page and "Add asset" in page


def test_unknown_pages_are_html_but_the_api_keeps_problem_json(
    client: TestClient, owner: Person
) -> None:
    signed_in(client, "owner")
    page = client.get("/no/such/page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert client.get("/orgs/abc").status_code == 404
    api = client.get("/api/v1/orgs/999", headers=owner.headers)
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")


def test_security_headers_on_pages(client: TestClient, owner: Person) -> None:
    signed_in(client, "owner")
    r = client.get("/")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    assert client.get("/static/vendor/htmx.min.js").status_code == 200


def test_warranty_dates_read_relative(client: TestClient, ctx: Context, owner: Person) -> None:
    org_id = make_org(ctx, "Dates")
    ended = make_asset(ctx, org_id, "old", warranty_end=date(2026, 8, 1))
    signed_in(client, "owner")
    assert "ended 3 months ago" in client.get(f"/assets/{ended}").text


def test_edit_org_and_sites_through_forms(client: TestClient, ctx: Context, owner: Person) -> None:
    org_id = make_org(ctx, "Epsilon", annual_revenue="1000000")
    asset_id = make_asset(ctx, org_id, "eps-fs")
    csrf = signed_in(client, "owner")
    form = client.get(f"/orgs/{org_id}/edit").text
    assert 'value="Epsilon"' in form and 'value="1000000.00"' in form
    changed = {**ORG_FORM, "csrf_token": csrf, "name": "Epsilon Ltd", "days": ["1", "3"]}
    r = client.post(f"/orgs/{org_id}/edit", data=changed, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(f"/orgs/{org_id}").text
    assert "Epsilon Ltd" in page and "Mon, Wed 08:00" in page
    assert 'Annual revenue</dt><dd><span class="muted">not recorded' in page

    r = client.post(
        f"/orgs/{org_id}/sites/new",
        data={"csrf_token": csrf, "name": "Depot", "address": "Dock 4", "notes": ""},
    )
    site_id = re.search(r'href="/sites/(\d+)/edit"', r.text)
    assert site_id and "Added the site Depot." in r.text
    site_url = f"/sites/{site_id.group(1)}"
    r = client.post(f"{site_url}/edit", data={"csrf_token": csrf, "name": "", "address": "x"})
    assert r.status_code == 422 and 'value="x"' not in r.text and ">x</textarea>" in r.text
    r = client.post(f"{site_url}/edit", data={"csrf_token": csrf, "name": "Depot 2", "address": ""})
    assert "Saved the site Depot 2." in r.text
    assert "Delete the site “Depot 2”?" in client.get(f"{site_url}/delete").text
    r = client.post(f"{site_url}/delete", data={"csrf_token": csrf})
    assert "Deleted the site Depot 2." in r.text and "No sites yet." in r.text
    assert client.get(f"/assets/{asset_id}").status_code == 200


def test_open_invitation_can_be_withdrawn(client: TestClient, ctx: Context, owner: Person) -> None:
    org_id = make_org(ctx, "Zeta")
    csrf = signed_in(client, "owner")
    r = client.post(f"/orgs/{org_id}/invitations", data={"csrf_token": csrf, "role": "admin"})
    invite_url = re.search(r'value="http://testserver(/invite/[^"]+)"', r.text)
    assert invite_url
    page = client.get(f"/orgs/{org_id}").text
    revoke = re.search(r'action="(/orgs/\d+/invitations/\d+/revoke)"', page)
    assert revoke
    r = client.post(revoke.group(1), data={"csrf_token": csrf})
    assert "Invitation withdrawn" in r.text and "Open invitations" not in r.text
    client.cookies.clear()
    assert client.get(invite_url.group(1)).status_code == 404


def test_invitation_link_starts_with_the_public_url(
    client: TestClient, ctx: Context, owner: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    org_id = make_org(ctx, "Eta")
    csrf = signed_in(client, "owner")
    # Unset: the address the request came to.
    r = client.post(f"/orgs/{org_id}/invitations", data={"csrf_token": csrf, "role": "viewer"})
    assert re.search(r'value="http://testserver/invite/[A-Za-z0-9_-]+"', r.text)
    # Set (behind a proxy, say): the address people use, with any path it has.
    public = Settings(public_url="https://forewarn.example.com/it/").public_url
    monkeypatch.setattr(ctx.settings, "public_url", public)
    r = client.post(f"/orgs/{org_id}/invitations", data={"csrf_token": csrf, "role": "viewer"})
    link = re.search(r'value="https://forewarn\.example\.com/it(/invite/[A-Za-z0-9_-]+)"', r.text)
    assert link and "testserver" not in r.text
    client.cookies.clear()
    assert "Join Eta" in client.get(link.group(1)).text


# ---- deleting an organization -----------------------------------------------------------------


def test_owner_deletes_an_org_after_typing_its_slug(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Omega Optics")
    asset_id = make_asset(ctx, org_id, "omega-fs")
    sites.create(ctx, SYSTEM, SiteCreate(org_id=org_id, name="Shop"))
    make_person(ctx, "omega-viewer", roles={org_id: "viewer"})
    csrf = signed_in(client, "owner")
    edit = client.get(f"/orgs/{org_id}/edit").text
    assert f'href="/orgs/{org_id}/delete">Delete organization</a>' in edit
    confirm = client.get(f"/orgs/{org_id}/delete").text
    assert "Delete the organization “Omega Optics”?" in confirm
    assert "Its 1 site and 1 asset" in confirm and "To confirm, type omega-optics" in confirm

    r = client.post(f"/orgs/{org_id}/delete", data={"csrf_token": csrf, "confirm": "Omega Optics"})
    assert r.status_code == 422
    assert 'id="f-confirm-error"' in r.text and "Type omega-optics exactly" in r.text
    assert 'value="Omega Optics"' in r.text
    assert client.get(f"/orgs/{org_id}").status_code == 200

    r = client.post(
        f"/orgs/{org_id}/delete",
        data={"csrf_token": csrf, "confirm": "omega-optics"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    overview = client.get("/").text
    assert "Deleted the organization Omega Optics and everything in it." in overview
    assert "No organizations yet" in overview
    assert client.get(f"/orgs/{org_id}").status_code == 404
    assert client.get(f"/assets/{asset_id}").status_code == 404
    # Its members keep their accounts, without the organization.
    assert "omega-viewer" in client.get("/people").text


def test_only_owners_may_delete_an_org(client: TestClient, ctx: Context) -> None:
    org_id = make_org(ctx, "Sigma")
    make_person(ctx, "sigma-admin", roles={org_id: "admin"})
    csrf = signed_in(client, "sigma-admin")
    edit = client.get(f"/orgs/{org_id}/edit").text
    assert "Save changes" in edit and "Delete organization" not in edit
    assert client.get(f"/orgs/{org_id}/delete").status_code == 403
    r = client.post(f"/orgs/{org_id}/delete", data={"csrf_token": csrf, "confirm": "sigma"})
    assert r.status_code == 403
    assert client.get(f"/orgs/{org_id}").status_code == 200

"""Policies on the pages: the lists, the form with its check rows, refusals next to the row
they are about, an asset's effective checks with their chain, and who may do what."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from forewarn.services import checks, policies, sites
from forewarn.services.context import Context
from forewarn.services.schemas import PolicyCreate, SiteCreate
from forewarn.services.scope import SYSTEM
from tests.conftest import Person, make_org, make_person
from tests.integration.test_web import make_asset, signed_in

HTMX = {"HX-Request": "true"}


def _row(i: int, name: str, check_type: str, target: str = "", **fields: str) -> dict[str, str]:
    """One check row as the browser posts it (its settings only where typed)."""
    row = {"name": name, "type": check_type, "target": target, **fields}
    return {f"c{i}-{k}": v for k, v in row.items()}


def _form(csrf: str, name: str, *rows: dict[str, str], **top: str) -> dict[str, str]:
    data = {"csrf_token": csrf, "name": name, "scope": "org", "tag": "", "exclude": ""}
    data.update(top)
    for row in rows:
        data.update(row)
    data["rows"] = str(len(rows))
    return data


def _checks_of(ctx: Context, asset_id: int) -> dict[str, tuple[str, str, dict[str, object]]]:
    return {
        c.name: (c.target, c.source, c.params)
        for c in checks.list_(ctx, SYSTEM, asset_id=asset_id, limit=200).items
    }


def _effective(client: TestClient, asset_id: int) -> str:
    r = client.get(
        f"/assets/{asset_id}/effective-checks", headers={**HTMX, "HX-Target": "asset-effective"}
    )
    assert r.status_code == 200 and "<html" not in r.text
    return str(r.text)


def _error(html: str, field: str) -> str:
    found = re.search(rf'id="f-{re.escape(field)}-error">(.*?)</p>', html, re.S)
    assert found, f"no message at {field}"
    return found.group(1)


def _row_text(html: str, name: str) -> str:
    """The effective-checks table row of one check name, tags stripped."""
    for row in re.findall(r"<tr.*?</tr>", html, re.S):
        plain = " ".join(re.sub(r"<[^>]+>", " ", row).split())
        if plain.startswith(name + " "):
            return plain
    raise AssertionError(f"no row for {name}")


def test_an_org_policy_made_in_the_form_gives_the_asset_its_checks(
    client: TestClient, ctx: Context
) -> None:
    org_id = make_org(ctx, "Acme")
    fs01 = make_asset(ctx, org_id, "fs01", hostname="fs01.acme.test", tags=["server"])
    pc01 = make_asset(ctx, org_id, "pc01")
    make_person(ctx, "adm", roles={org_id: "admin"})
    csrf = signed_in(client, "adm")

    assert f'href="/orgs/{org_id}/policies"' in client.get(f"/orgs/{org_id}").text
    listed = client.get(f"/orgs/{org_id}/policies").text
    assert "No policies for Acme yet." in listed
    assert f'href="/orgs/{org_id}/policies/new"' in listed
    assert "No policy reaches fs01." in _effective(client, fs01)

    form = client.get(f"/orgs/{org_id}/policies/new").text
    assert '<option value="tag:server">server</option>' in form
    assert f'<option value="asset:{fs01}">fs01</option>' in form
    assert 'name="c0-name"' in form and 'name="c0-p_count"' in form  # ping's settings
    assert 'hx-get="/policy-check-fields/0"' in form and "{host} is each asset" in form

    # "Add another check" gives a row and keeps what was typed; nothing is saved yet.
    typed = _form(csrf, "Servers", _row(0, "ping", "ping", "{host}"), scope="tag:server")
    r = client.post(f"/orgs/{org_id}/policies/new", data={**typed, "action": "add"})
    assert r.status_code == 200 and 'name="rows" value="2"' in r.text
    assert 'name="c1-name"' in r.text and 'value="{host}"' in r.text
    assert policies.list_(ctx, SYSTEM) == []

    data = _form(
        csrf,
        "Servers",
        _row(0, "ping", "ping", "{host}", **{"p_count": "5", "interval_s": "300"}),
        _row(1, "SSH port", "tcp", "{host}:22", p_expect="SSH-", p_read_bytes="4096"),
        _row(2, "", "ping"),  # the empty row at the end is left out
        scope="tag:server",
    )
    r = client.post(f"/orgs/{org_id}/policies/new", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    (made,) = policies.list_(ctx, SYSTEM)
    assert r.headers["location"] == f"/orgs/{org_id}/policies#policy-{made.id}"
    assert made.tag == "server" and made.level == "org_tag"
    assert made.checks == [
        {
            "name": "ping",
            "type": "ping",
            "target": "{host}",
            "params": {"count": 5},
            "interval_s": 300,
        },
        {"name": "SSH port", "type": "tcp", "target": "{host}:22", "params": {"expect": "SSH-"}},
    ]

    # The policies service made the checks on the tagged asset, host name filled in.
    fs = _checks_of(ctx, fs01)
    assert fs["SSH port"][:2] == ("fs01.acme.test:22", f"policy:{made.id}")
    assert fs["ping"][0] == "fs01.acme.test"
    assert _checks_of(ctx, pc01) == {}

    page = client.get(r.headers["location"]).text
    assert "Added the policy Servers." in page
    assert "Servers" in page and 'the assets tagged <span class="tag">server</span>' in page
    assert "{host}:22" in page and "SSH-" in page and 'every: <span class="mono">5 min' in page

    # The asset page loads its effective checks, each linked to the check it made.
    assert f'hx-get="/assets/{fs01}/effective-checks"' in client.get(f"/assets/{fs01}").text
    effective = _effective(client, fs01)
    ssh_id = checks.list_(ctx, SYSTEM, asset_id=fs01).items
    ssh = next(c for c in ssh_id if c.name == "SSH port")
    assert f'href="/checks/{ssh.id}">SSH port</a>' in effective
    assert _row_text(effective, "SSH port").endswith("Applied defined by Servers")
    assert "state-ok" in effective
    # Without JavaScript the same part is a page of its own.
    assert "Effective checks of fs01" in client.get(f"/assets/{fs01}/effective-checks").text


def test_a_bad_policy_is_explained_at_its_row_and_nothing_is_stored(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Acme")
    fs01 = make_asset(ctx, org_id, "fs01", hostname="fs01.acme.test")
    csrf = signed_in(client, "owner")
    url = f"/orgs/{org_id}/policies/new"
    ping = _row(0, "ping", "ping", "{host}")

    # The probe refuses the second row's target: the message stands at that row's target.
    bad = _row(1, "Mail port", "tcp", "{host}", p_expect="220")
    r = client.post(url, data=_form(csrf, "Mail", ping, bad))
    assert r.status_code == 422
    assert "missing port" in _error(r.text, "c1-target")
    assert "host.example.test" not in r.text  # the service's sample host is not shown
    for kept in ('value="Mail"', 'value="Mail port"', 'value="220"', 'value="{host}"'):
        assert kept in r.text
    assert "Needs correcting: </span>Check 2: Mail port" in r.text
    assert policies.list_(ctx, SYSTEM) == [] and _checks_of(ctx, fs01) == {}

    # An unknown type is named at the type; the typed value stays selected.
    r = client.post(url, data=_form(csrf, "Mail", ping, _row(1, "x", "telnet", "{host}:23")))
    assert r.status_code == 422
    assert "Choose a type from the list." in _error(r.text, "c1-type")
    assert '<option value="telnet" selected>' in r.text

    # A setting the probe refuses, a word where a number goes, a duplicate name, an override
    # with broken JSON: all reported at once, each at its place.
    r = client.post(
        url,
        data=_form(
            csrf,
            "Mail",
            _row(0, "ping", "ping", "{host}", p_count="many"),
            _row(1, "ping", "ping", "{host}", interval_s="often"),
            _row(2, "disk /", "", "", params_json="{crit: 97"),
        ),
    )
    assert r.status_code == 422
    assert "Enter a whole number." in _error(r.text, "c0-p_count")
    assert "Seconds between runs" in _error(r.text, "c1-interval_s")
    assert "has this name" in _error(r.text, "c1-name")
    assert "valid JSON" in _error(r.text, "c2-params_json")
    assert "{crit: 97" in r.text and 'value="often"' in r.text
    assert policies.list_(ctx, SYSTEM) == []


def test_an_exclusion_shows_as_excluded_with_its_chain(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Acme")
    hq = sites.create(ctx, SYSTEM, SiteCreate(org_id=org_id, name="HQ")).id
    fs01 = make_asset(ctx, org_id, "fs01", site_id=hq)
    baseline = policies.create(
        ctx,
        SYSTEM,
        PolicyCreate(
            name="Baseline",
            org_id=org_id,
            checks=[
                {"name": "ping", "type": "ping", "target": "{host}"},
                {"name": "web", "type": "tcp", "target": "{host}:80"},
            ],
        ),
    )
    csrf = signed_in(client, "owner")

    form = client.get(f"/orgs/{org_id}/policies/new").text
    assert "Defined elsewhere: ping, web." in form
    data = _form(
        csrf,
        "HQ",
        _row(0, "web", "", "", params_json='{"warn": "1"}'),  # an override
        _row(1, "", "ping"),
        scope=f"site:{hq}",
        exclude="ping\n",
    )
    r = client.post(f"/orgs/{org_id}/policies/new", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert set(_checks_of(ctx, fs01)) == {"web"}
    assert _checks_of(ctx, fs01)["web"][2] == {"warn": "1"}

    listed = client.get(f"/orgs/{org_id}/policies").text
    assert (
        "the assets at the site HQ" in listed
        and 'Excludes: <span class="tag">ping</span>' in listed
    )
    assert "Override of a broader policy" in listed
    # Broad to specific: the organization's policy is listed before the site's.
    assert listed.index("Baseline") < listed.index(">HQ<")

    effective = _effective(client, fs01)
    assert _row_text(effective, "ping").endswith("Excluded defined by Baseline → excluded by HQ")
    assert "state-disabled" in effective
    assert _row_text(effective, "web").endswith("Applied defined by Baseline → overridden by HQ")
    assert f'href="/orgs/{org_id}/policies#policy-{baseline.id}">Baseline</a>' in effective


def test_edit_and_delete_a_policy(client: TestClient, ctx: Context, owner: Person) -> None:
    org_id = make_org(ctx, "Acme")
    fs01 = make_asset(ctx, org_id, "fs01")
    made = policies.create(
        ctx,
        SYSTEM,
        PolicyCreate(
            name="Baseline",
            org_id=org_id,
            checks=[
                {"name": "ping", "type": "ping", "target": "{host}", "interval_s": 120},
                {"name": "ssh", "type": "tcp", "target": "{host}:22"},
            ],
        ),
    )
    csrf = signed_in(client, "owner")

    form = client.get(f"/policies/{made.id}/edit").text
    assert 'value="Baseline"' in form and 'value="{host}:22"' in form and 'value="120"' in form
    assert 'name="rows" value="3"' in form  # the two checks and an empty row
    assert "Every asset of Acme" not in form and "every asset of Acme" in form  # fixed scope

    data = _form(
        csrf,
        "Base",
        _row(0, "ping", "ping", "{host}", interval_s="120"),
        _row(1, "ssh", "tcp", "{host}:22", remove="on"),
        # Ticked boxes as the form shows them (an unticked one is simply not sent).
        _row(
            2,
            "web",
            "http",
            "http://{host}/",
            p_keyword="Welcome",
            p_verify_tls="on",
            p_follow_redirects="on",
        ),
    )
    r = client.post(f"/policies/{made.id}/edit", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert set(_checks_of(ctx, fs01)) == {"ping", "web"}
    assert _checks_of(ctx, fs01)["web"][2] == {"keyword": "Welcome"}
    assert "Saved the policy Base." in client.get(r.headers["location"]).text

    assert "Delete the policy “Base”?" in client.get(f"/policies/{made.id}/delete").text
    r = client.post(
        f"/policies/{made.id}/delete", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"/orgs/{org_id}/policies"
    assert policies.list_(ctx, SYSTEM) == [] and _checks_of(ctx, fs01) == {}


def test_the_type_select_swaps_in_that_rows_settings(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    signed_in(client, "owner")
    r = client.get(
        "/policy-check-fields/3", params={"c3-type": "http", "c3-target": "http://{host}/"}
    )
    assert r.status_code == 200 and "<html" not in r.text
    assert 'id="c3-fields"' in r.text and 'name="c3-p_method"' in r.text
    assert 'value="http://{host}/"' in r.text
    override = client.get("/policy-check-fields/0", params={"c0-type": ""}).text
    assert 'name="c0-params_json"' in override and 'name="c0-p_' not in override
    assert client.get("/policy-check-fields/999").status_code == 404


def test_a_technician_sees_policies_but_may_not_change_them(
    client: TestClient, ctx: Context
) -> None:
    org_id = make_org(ctx, "Acme")
    made = policies.create(
        ctx,
        SYSTEM,
        PolicyCreate(
            name="Baseline",
            org_id=org_id,
            checks=[{"name": "ping", "type": "ping", "target": "{host}"}],
        ),
    )
    make_person(ctx, "tech", roles={org_id: "technician"})
    csrf = signed_in(client, "tech")

    listed = client.get(f"/orgs/{org_id}/policies")
    assert listed.status_code == 200 and "Baseline" in listed.text
    assert "New policy" not in listed.text and f"/policies/{made.id}/edit" not in listed.text
    assert client.get(f"/orgs/{org_id}/policies/new").status_code == 403
    r = client.post(
        f"/orgs/{org_id}/policies/new", data=_form(csrf, "Mine", _row(0, "ping", "ping", "x"))
    )
    assert r.status_code == 403
    assert client.get(f"/policies/{made.id}/edit").status_code == 403
    r = client.post(f"/policies/{made.id}/delete", data={"csrf_token": csrf})
    assert r.status_code == 403
    assert [p.name for p in policies.list_(ctx, SYSTEM)] == ["Baseline"]

    # Another organization's policies are not found at all.
    other = make_org(ctx, "Bravo")
    theirs = policies.create(ctx, SYSTEM, PolicyCreate(name="Theirs", org_id=other))
    assert client.get(f"/orgs/{other}/policies").status_code == 404
    assert client.get(f"/policies/{theirs.id}/edit").status_code == 404


def test_provider_policies_are_the_owners_alone(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Acme")
    srv = make_asset(ctx, org_id, "srv", tags=["server"])
    make_person(ctx, "adm", roles={org_id: "admin"})
    csrf = signed_in(client, "owner")

    assert 'href="/policies"' in client.get("/").text  # in the top bar, for owners
    assert "No policies yet." in client.get("/policies").text
    form = client.get("/policies/new").text
    assert '<option value="all" selected>' in form and f"asset:{srv}" not in form

    r = client.post("/policies/new", data=_form(csrf, "Servers", scope="tag", tag=""))
    assert r.status_code == 422 and "Type the tag" in _error(r.text, "tag")
    data = _form(csrf, "Servers", _row(0, "ping", "ping", "{host}"), scope="tag", tag="server")
    r = client.post("/policies/new", data=data, follow_redirects=False)
    assert r.status_code == 303
    (made,) = policies.list_(ctx, SYSTEM)
    assert made.org_id is None and made.tag == "server"
    assert set(_checks_of(ctx, srv)) == {"ping"}
    listed = client.get("/policies").text
    assert "in every organization" in listed and "Provider, by tag" in listed

    # An administrator of an organization neither sees the page nor opens the policy.
    signed_in(client, "adm")
    assert 'href="/policies"' not in client.get("/").text
    assert client.get("/policies").status_code == 403
    assert client.get("/policies/new").status_code == 403
    assert client.get(f"/policies/{made.id}/edit").status_code == 404
    # The effective checks name the provider's policy, without a link the admin cannot use.
    effective = _effective(client, srv)
    assert _row_text(effective, "ping").endswith("Applied defined by Servers")
    assert f"#policy-{made.id}" not in effective

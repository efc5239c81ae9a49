"""Network discovery and findings on the pages: networks, devices found, adopting, ignoring.

No test here sends a packet: devices and findings are recorded through the service's own
start/finish (what a sweep's result goes through) or written as rows, and the one sweep
through the button runs with the sweep itself replaced.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from forewarn.domain.clock import ManualClock
from forewarn.probes import discover
from forewarn.probes.snmp import SystemInfo
from forewarn.services import assets, checks, discovery, findings, sites
from forewarn.services.context import Context
from forewarn.services.discovery import NetworkCreate
from forewarn.services.schemas import SiteCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import DiscoveryRun, Finding
from tests.conftest import make_org, make_person
from tests.integration.test_web import signed_in

DASH = "\N{EN DASH}"  # between the first and last row shown, as in "1-50 of 56"


def _error(page: str, field: str) -> str:
    found = re.search(rf'id="f-{field}-error">(.*?)</p>', page, re.S)
    assert found, f"no message at {field}"
    return html.unescape(found.group(1))


def _record(
    ctx: Context, clock: ManualClock, network_id: int, *hosts: discover.Host
) -> discovery.RunOut:
    """A sweep's result recorded as a real one would be, without sweeping anything."""
    clock.advance(600)
    started = discovery.start(ctx, SYSTEM, network_id)
    result = discover.SweepResult("", 254, list(hosts))
    return discovery.finish(ctx, started.run_id, result)


def _printer(address: str, mac: str, name: str = "") -> discover.Host:
    system = SystemInfo(name, "HP LaserJet Pro M404", "1.3.6.1.4.1.11.2.3.9.1", None)
    return discover.Host(address, True, mac=mac, open_ports=(80, 9100), system=system)


@pytest.fixture
def org_id(ctx: Context) -> int:
    org = make_org(ctx, "Acme")
    make_person(ctx, "admin", roles={org: "admin"})
    make_person(ctx, "tech", roles={org: "technician"})
    make_person(ctx, "viewer", roles={org: "viewer"})
    return org


# ---- networks ---------------------------------------------------------------------------------


def test_add_a_network_through_the_form(client: TestClient, ctx: Context, org_id: int) -> None:
    site = sites.create(ctx, SYSTEM, SiteCreate(org_id=org_id, name="Head office"))
    csrf = signed_in(client, "admin")
    assert f'href="/orgs/{org_id}/discovery"' in client.get(f"/orgs/{org_id}").text

    empty = html.unescape(client.get(f"/orgs/{org_id}/discovery").text)
    # The empty state says what discovery does and what it never sweeps, above the form.
    assert "No networks to sweep yet." in empty
    assert "adopt it as an asset" in empty and "a device nobody knows raises a finding" in empty
    assert "never swept" in empty and "at most a /22" in empty
    assert 'name="cidr"' in empty and f'<option value="{site.id}">Head office</option>' in empty

    r = client.post(
        f"/orgs/{org_id}/discovery/networks",
        data={
            "csrf_token": csrf,
            "cidr": " 192.168.50.7/24 ",
            "site_id": str(site.id),
            "communities": "public\n\n  s3cret two  \n",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    (net,) = discovery.list_networks(ctx, SYSTEM, org_id=org_id).items
    assert r.headers["location"] == f"/orgs/{org_id}/discovery#network-{net.id}"
    assert (net.cidr, net.site_id, net.snmp_communities) == ("192.168.50.0/24", site.id, 2)

    shown = client.get(r.headers["location"]).text
    assert "Added the network 192.168.50.0/24." in shown
    row = shown[shown.index(f'id="network-{net.id}"') :]
    row = row[: row.index("</tr>")]
    assert "192.168.50.0/24" in row and "Head office" in row and "2 communities" in row
    assert "never swept" in row and "Sweep now" in row
    # The sweep waits up to two minutes: the button says so, disables and shows it works.
    assert 'hx-disabled-elt="find button"' in row and f'hx-indicator="#sweep-busy-{net.id}"' in row
    assert "up to two minutes" in shown
    assert "s3cret" not in shown and "public" not in shown  # communities are never shown


def test_a_network_too_large_is_refused_at_its_field_and_nothing_is_stored(
    client: TestClient, ctx: Context, org_id: int
) -> None:
    csrf = signed_in(client, "admin")
    url = f"/orgs/{org_id}/discovery/networks"
    typed = {"csrf_token": csrf, "cidr": "10.0.0.0/16", "site_id": "", "communities": "kept one"}
    r = client.post(url, data=typed)
    assert r.status_code == 422
    assert "at most 1,024 (a /22)" in _error(r.text, "cidr")
    assert 'value="10.0.0.0/16"' in r.text and ">kept one</textarea>" in r.text
    assert "everything you typed is still here" in r.text
    assert discovery.list_networks(ctx, SYSTEM, org_id=org_id).items == []

    bad_community = {**typed, "cidr": "10.0.0.0/24", "communities": "with\ttab"}
    r = client.post(url, data=bad_community)
    assert r.status_code == 422 and "one a line" in _error(r.text, "communities")
    assert 'value="10.0.0.0/24"' in r.text

    loopback = client.post(url, data={**typed, "cidr": "127.0.0.0/24"})
    assert loopback.status_code == 422 and "loopback" in _error(loopback.text, "cidr")
    assert discovery.list_networks(ctx, SYSTEM, org_id=org_id).items == []

    ok = client.post(url, data={**typed, "cidr": "10.0.0.0/24"}, follow_redirects=False)
    assert ok.status_code == 303
    again = client.post(url, data={**typed, "cidr": "10.0.0.0/24"})
    assert again.status_code == 422 and "already has that network" in _error(again.text, "cidr")
    assert len(discovery.list_networks(ctx, SYSTEM, org_id=org_id).items) == 1


def test_sweep_now_shows_the_run_and_a_failed_one_says_why(
    client: TestClient, ctx: Context, org_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = discovery.create_network(ctx, SYSTEM, NetworkCreate(org_id=org_id, cidr="10.9.0.0/24"))
    csrf = signed_in(client, "admin")
    hosts = [discover.Host("10.9.0.2", True), _printer("10.9.0.3", "02:00:00:00:00:03")]

    async def found(network: Any, **_: Any) -> discover.SweepResult:
        return discover.SweepResult(str(network), 254, hosts)

    monkeypatch.setattr(discover, "sweep", found)
    url = f"/orgs/{org_id}/discovery/networks/{net.id}/sweep"
    r = client.post(url, data={"csrf_token": csrf})
    assert r.status_code == 200
    assert "Swept 10.9.0.0/24: 254 addresses, 2 devices found, 2 new." in r.text
    row = r.text[r.text.index(f'id="network-{net.id}"') :]
    assert "Done" in row[: row.index("</tr>")]
    assert "2 new devices</a> to adopt or ignore." in r.text

    async def refused(network: Any, **_: Any) -> discover.SweepResult:
        raise discover.SweepError("no route to 10.9.0.0/24")

    monkeypatch.setattr(discover, "sweep", refused)
    r = client.post(url, data={"csrf_token": csrf})
    assert "The sweep of 10.9.0.0/24 failed: no route to 10.9.0.0/24" in r.text
    row = r.text[r.text.index(f'id="network-{net.id}"') :]
    row = row[: row.index("</tr>")]
    assert "Failed" in row and "no route to 10.9.0.0/24" in row


def test_a_network_swept_by_an_agent_on_the_client_s_site(
    client: TestClient, ctx: Context, org_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integration.test_ingest import enroll

    agent = enroll(client, ctx, org_id)
    csrf = signed_in(client, "admin")
    form = html.unescape(client.get(f"/orgs/{org_id}/discovery").text)
    assert f'<option value="{agent["agent_id"]}">fs01</option>' in form

    r = client.post(
        f"/orgs/{org_id}/discovery/networks",
        data={"csrf_token": csrf, "cidr": "192.168.77.0/24", "agent_id": str(agent["agent_id"])},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    (net,) = discovery.list_networks(ctx, SYSTEM, org_id=org_id).items
    assert net.agent_id == agent["agent_id"]

    async def never(*_: Any, **__: Any) -> discover.SweepResult:
        raise AssertionError("the server must not sweep an agent's network")

    monkeypatch.setattr(discover, "sweep", never)
    r = client.post(f"/orgs/{org_id}/discovery/networks/{net.id}/sweep", data={"csrf_token": csrf})
    assert "Asked the agent to sweep 192.168.77.0/24" in r.text
    row = r.text[r.text.index(f'id="network-{net.id}"') :]
    row = row[: row.index("</tr>")]
    assert "swept by the agent on fs01" in row and "Running" in row

    bad = client.post(
        f"/orgs/{org_id}/discovery/networks",
        data={"csrf_token": csrf, "cidr": "192.168.78.0/24", "agent_id": "99999"},
    )
    assert bad.status_code == 422
    assert _error(bad.text, "agent_id").endswith("</span>No such agent in this organization.")


def test_technicians_see_no_network_buttons_and_are_refused(
    client: TestClient, ctx: Context, org_id: int
) -> None:
    net = discovery.create_network(ctx, SYSTEM, NetworkCreate(org_id=org_id, cidr="10.9.0.0/24"))
    csrf = signed_in(client, "tech")
    page = client.get(f"/orgs/{org_id}/discovery").text
    assert "10.9.0.0/24" in page
    assert "Sweep now" not in page and "Add a network" not in page and 'name="cidr"' not in page
    assert f"/networks/{net.id}/delete" not in page

    base = f"/orgs/{org_id}/discovery/networks"
    add = client.post(base, data={"csrf_token": csrf, "cidr": "10.8.0.0/24"})
    assert add.status_code == 403 and "Not allowed" in add.text
    bad = client.post(base, data={"csrf_token": csrf, "cidr": "10.0.0.0/16"})
    assert bad.status_code == 403  # refused before the input is even read
    for action in ("sweep", "delete"):
        assert (
            client.post(f"{base}/{net.id}/{action}", data={"csrf_token": csrf}).status_code == 403
        )
    assert client.get(f"{base}/{net.id}/delete").status_code == 403
    assert [n.cidr for n in discovery.list_networks(ctx, SYSTEM, org_id=org_id).items] == [
        "10.9.0.0/24"
    ]
    with ctx.db.read() as session:
        assert session.query(DiscoveryRun).count() == 0


def test_an_admin_deletes_a_network_after_confirming(
    client: TestClient, ctx: Context, clock: ManualClock, org_id: int
) -> None:
    net = discovery.create_network(ctx, SYSTEM, NetworkCreate(org_id=org_id, cidr="10.9.0.0/24"))
    _record(ctx, clock, net.id, discover.Host("10.9.0.2", True))
    csrf = signed_in(client, "admin")
    url = f"/orgs/{org_id}/discovery/networks/{net.id}/delete"
    assert "Delete the network “10.9.0.0/24”?" in client.get(url).text
    r = client.post(url, data={"csrf_token": csrf}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"/orgs/{org_id}/discovery")
    assert discovery.list_networks(ctx, SYSTEM, org_id=org_id).items == []
    assert discovery.list_devices(ctx, SYSTEM, org_id=org_id).items == []


def test_another_organizations_viewer_gets_not_found(
    client: TestClient, ctx: Context, clock: ManualClock, org_id: int
) -> None:
    net = discovery.create_network(ctx, SYSTEM, NetworkCreate(org_id=org_id, cidr="10.9.0.0/24"))
    _record(ctx, clock, net.id, discover.Host("10.9.0.2", True))
    (device,) = discovery.list_devices(ctx, SYSTEM, org_id=org_id).items
    other = make_org(ctx, "Elsewhere")
    make_person(ctx, "stranger", roles={other: "viewer"})
    csrf = signed_in(client, "stranger")
    base = f"/orgs/{org_id}"
    for path in (
        "/discovery",
        "/discovery/devices",
        f"/discovery/devices/{device.id}",
        "/findings",
        f"/discovery/networks/{net.id}/delete",
    ):
        r = client.get(base + path)
        assert r.status_code == 404 and "10.9.0" not in r.text, path
    for path in (
        "/discovery/networks",
        f"/discovery/networks/{net.id}/sweep",
        f"/discovery/networks/{net.id}/delete",
        f"/discovery/devices/{device.id}/adopt",
        f"/discovery/devices/{device.id}/ignore",
    ):
        r = client.post(base + path, data={"csrf_token": csrf, "cidr": "10.7.0.0/24"})
        assert r.status_code == 404, path
    # Their own organization's pages do not show ours either, nor take our ids.
    assert "10.9.0" not in client.get(f"/orgs/{other}/discovery/devices?state=all").text
    assert client.get(f"/orgs/{other}/discovery/devices/{device.id}").status_code == 404
    assert discovery.list_devices(ctx, SYSTEM, org_id=org_id).items[0].state == "new"


# ---- devices and findings ---------------------------------------------------------------------


def test_adopt_and_ignore_devices_found(
    client: TestClient, ctx: Context, clock: ManualClock, org_id: int
) -> None:
    site = sites.create(ctx, SYSTEM, SiteCreate(org_id=org_id, name="Head office"))
    net = discovery.create_network(
        ctx, SYSTEM, NetworkCreate(org_id=org_id, cidr="10.9.0.0/24", site_id=site.id)
    )
    known = discover.Host("10.9.0.2", True, mac="02:00:00:00:00:02", open_ports=(22,))
    _record(ctx, clock, net.id, known)  # the first run is the baseline: no findings
    printer = _printer("10.9.0.3", "02:00:00:00:00:03", name="<script>alert(1)</script>")
    phone = discover.Host("10.9.0.4", True, mac="02:00:00:00:00:04", hostname="phone.lan")
    _record(ctx, clock, net.id, known, printer)
    _record(ctx, clock, net.id, known, printer, phone)
    assert len(findings.list_findings(ctx, SYSTEM, org_id=org_id, status="open").items) == 2
    csrf = signed_in(client, "tech")
    devices = {d.address: d for d in discovery.list_devices(ctx, SYSTEM, org_id=org_id).items}

    listed = client.get(f"/orgs/{org_id}/discovery/devices?state=new")
    assert listed.status_code == 200
    text = listed.text
    # Newest first; device-supplied text is escaped, never markup.
    assert text.index("10.9.0.4") < text.index("10.9.0.3") < text.index("10.9.0.2")
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    ports = re.findall(r'data-label="Open ports">(.*?)</td>', text)
    assert ports == ["none", "80 (http), 9100 (raw printing)", "22 (ssh)"]
    looks = [html.unescape(x) for x in re.findall(r'data-label="Looks like">(.*?)</td>', text)]
    assert looks[0].startswith("Other") and "nothing it showed names a kind" in looks[0]
    # The reason the sweep gave, from the finding's evidence (the sysObjectID is not stored).
    assert looks[1].startswith("Printer") and "sysObjectID 1.3.6.1.4.1.11.2.3.9.1" in looks[1]
    assert looks[2].startswith("Server") and "open TCP ports 22 (ssh)" in looks[2]
    assert "Printer" in text and "phone.lan" in text and "02:00:00:00:00:04" in text
    assert re.search(r"New\s*<span class=\"count\">3</span>", text)
    assert text.count("Adopt…") == 3 and text.count(">Ignore<") == 3

    listing = client.get(f"/orgs/{org_id}/findings").text
    assert "Unknown device 10.9.0.3 (02:00:00:00:00:03) appeared on 10.9.0.0/24" in listing
    assert "Medium" in listing and "state-warning" in listing
    printer_page = f"/orgs/{org_id}/discovery/devices/{devices['10.9.0.3'].id}"
    assert f'href="{printer_page}"' in listing
    assert "open ports: 80 (http), 9100" in html.unescape(listing)

    # The printer's page says why it looks like one, and proposes its kind.
    page = client.get(printer_page).text
    assert "because: sysObjectID 1.3.6.1.4.1.11.2.3.9.1 is under 1.3.6.1.4.1.11.2.3.9" in page
    assert '<option value="printer" selected>' in page

    # Adopt it with a name of our own: an asset with checks, the finding resolved, a link.
    long_name = {"csrf_token": csrf, "name": "x" * 201, "kind": "printer"}
    r = client.post(f"{printer_page}/adopt", data=long_name)
    assert r.status_code == 422 and _error(r.text, "name").endswith("Error: </span>Too long.")
    assert 'value="' + "x" * 201 + '"' in r.text
    form = {"csrf_token": csrf, "name": "Front printer", "kind": "printer"}
    r = client.post(f"{printer_page}/adopt", data=form, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, printer_page)
    adopted = next(
        d
        for d in discovery.list_devices(ctx, SYSTEM, org_id=org_id).items
        if d.id == devices["10.9.0.3"].id
    )
    assert adopted.state == "adopted" and adopted.asset_id is not None
    asset = assets.get(ctx, SYSTEM, adopted.asset_id)
    assert (asset.name, asset.kind, asset.site_id) == ("Front printer", "printer", site.id)
    made = {c.name for c in checks.list_(ctx, SYSTEM, asset_id=asset.id).items}
    assert {"ping", "http"} <= made
    shown = client.get(printer_page).text
    assert "Adopted 10.9.0.3 as the asset Front printer" in shown
    assert f'href="/assets/{asset.id}">Front printer</a>' in shown
    assert "Adopt as an asset" not in shown
    open_keys = [
        f.key for f in findings.list_findings(ctx, SYSTEM, org_id=org_id, status="open").items
    ]
    assert open_keys == ["02:00:00:00:00:04"]

    # Ignore the phone from the list: back to the same view, now under Ignored.
    phone_id = devices["10.9.0.4"].id
    r = client.post(
        f"/orgs/{org_id}/discovery/devices/{phone_id}/ignore",
        data={"csrf_token": csrf, "state": "new", "page": "1"},
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (
        303,
        f"/orgs/{org_id}/discovery/devices?state=new",
    )
    after = client.get(r.headers["location"]).text
    assert "Ignored phone.lan (10.9.0.4)" in after
    assert f'id="device-{phone_id}"' not in after
    assert (
        f'id="device-{phone_id}"'
        in client.get(f"/orgs/{org_id}/discovery/devices?state=ignored").text
    )
    everything = client.get(f"/orgs/{org_id}/discovery/devices?state=all").text
    assert f'href="/assets/{asset.id}">Front printer</a>' in everything

    # No open findings left; the resolved ones stay findable behind the filter.
    assert "No open findings." in client.get(f"/orgs/{org_id}/findings").text
    resolved = client.get(f"/orgs/{org_id}/findings?status=resolved").text
    assert resolved.count('id="finding-') == 2 and "Resolved" in resolved
    assert "Front printer" in resolved


def test_viewers_see_devices_without_actions(
    client: TestClient, ctx: Context, clock: ManualClock, org_id: int
) -> None:
    net = discovery.create_network(ctx, SYSTEM, NetworkCreate(org_id=org_id, cidr="10.9.0.0/24"))
    _record(ctx, clock, net.id, discover.Host("10.9.0.2", True))
    (device,) = discovery.list_devices(ctx, SYSTEM, org_id=org_id).items
    csrf = signed_in(client, "viewer")
    listed = client.get(f"/orgs/{org_id}/discovery/devices").text
    assert "10.9.0.2" in listed and "Adopt…" not in listed and ">Ignore<" not in listed
    assert (
        "Adopt as an asset" not in client.get(f"/orgs/{org_id}/discovery/devices/{device.id}").text
    )
    for action in ("adopt", "ignore"):
        r = client.post(
            f"/orgs/{org_id}/discovery/devices/{device.id}/{action}", data={"csrf_token": csrf}
        )
        assert r.status_code == 403
    assert discovery.list_devices(ctx, SYSTEM, org_id=org_id).items[0].state == "new"


def test_devices_page_by_page_and_filters_in_the_url(
    client: TestClient, ctx: Context, clock: ManualClock, org_id: int
) -> None:
    net = discovery.create_network(ctx, SYSTEM, NetworkCreate(org_id=org_id, cidr="10.9.0.0/24"))
    other = discovery.create_network(ctx, SYSTEM, NetworkCreate(org_id=org_id, cidr="10.8.0.0/24"))
    _record(ctx, clock, net.id, *(discover.Host(f"10.9.0.{i}", True) for i in range(1, 56)))
    _record(ctx, clock, other.id, discover.Host("10.8.0.1", True))
    signed_in(client, "viewer")
    base = f"/orgs/{org_id}/discovery/devices"
    first = client.get(f"{base}?state=all").text
    assert f"1{DASH}50 of 56" in first and first.index("10.8.0.1") < first.index("10.9.0.")
    assert f'href="{base}?state=all&amp;page=2">Older</a>' in first
    second = client.get(f"{base}?state=all&page=2").text
    assert f"51{DASH}56 of 56" in second and ">Newer</a>" in second
    only = client.get(f"{base}?state=all&network={other.id}").text
    assert f"1{DASH}1 of 1" in only and "10.8.0.1" in only and "10.9.0.1<" not in only
    # Values nobody gave out read as the defaults.
    assert client.get(f"{base}?state=bogus&page=-3&network=x").status_code == 200
    # A page past the end shows the last one.
    assert f"51{DASH}56 of 56" in client.get(f"{base}?state=new&page=99").text


def test_findings_of_any_rule_show_severity_and_evidence(
    client: TestClient, ctx: Context, org_id: int
) -> None:
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        session.add(
            Finding(
                org_id=org_id,
                rule="posture.firewall_off",
                key="host-1",
                severity="high",
                status="open",
                title="The firewall of <b>host-1</b> is off",
                evidence={"profile": "public", "since": "2026-10-01", "asset_id": 9},
                first_seen=now - timedelta(days=2),
                last_seen=now,
            )
        )
    signed_in(client, "viewer")
    page = client.get(f"/orgs/{org_id}/findings").text
    assert "The firewall of &lt;b&gt;host-1&lt;/b&gt; is off" in page
    assert (
        "state-critical" in page and "High" in page and "Posture: firewall_off" in page
    )  # the rule, named by its family
    assert "profile: public · since: 2026-10-01" in page and "asset id" not in page
    assert "2 days ago" in page
    assert "No accepted findings." in client.get(f"/orgs/{org_id}/findings?status=accepted").text
    # A cursor nobody gave out starts from the newest.
    assert "host-1" in client.get(f"/orgs/{org_id}/findings?cursor=nonsense").text

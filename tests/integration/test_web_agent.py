"""What the agent reports, on the pages: status, charts, inventory tabs, changes, enrolment."""

from __future__ import annotations

import gzip
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from forewarn.services import enrollment
from forewarn.services.context import Context
from forewarn.services.schemas import EnrollTokenCreate
from forewarn.services.scope import SYSTEM
from tests.conftest import make_org, make_person
from tests.integration.test_web import make_asset, signed_in

HTMX = {"HX-Request": "true"}
PACKAGES = [
    {"name": "bash", "version": "5.2.15-2", "arch": "amd64", "source": "dpkg"},
    {"name": "openssl", "version": "3.0.11-1", "arch": "amd64", "source": "dpkg"},
]
SERVICES = [
    {"name": "ssh.service", "state": "active", "sub": "running", "enabled": "enabled"},
    {"name": "backup.service", "state": "failed", "sub": "failed", "enabled": "enabled"},
]
ACCOUNTS = [
    {"name": "root", "uid": 0, "shell": "/bin/bash", "home": "/root", "admin": True},
    {"name": "anna", "uid": 1000, "shell": "/bin/bash", "home": "/home/anna"},
    {"name": "daemon", "uid": 1, "shell": "/usr/sbin/nologin", "system": True},
]
INVENTORY = {
    "full": True,
    "system": {"hostname": "fs01", "os_name": "Debian GNU/Linux", "os_version": "12"},
    "hardware": {"cpu_model": "Xeon E-2314", "cpu_threads": 4, "memory_bytes": 16 * 1024**3},
    "packages": PACKAGES,
    "services": SERVICES,
    "listeners": [{"proto": "tcp", "address": "0.0.0.0", "port": 22, "process": "sshd"}],
    "accounts": ACCOUNTS,
    "logins": [{"user": "anna", "terminal": "pts/0", "host": "10.0.0.7", "at": 1_793_600_000}],
}


# ---- an agent that checked in, through the API as a real one does ------------------------------


def enroll(client: TestClient, ctx: Context, org_id: int) -> dict[str, Any]:
    secret = enrollment.create_token(ctx, SYSTEM, EnrollTokenCreate(org_id=org_id)).token
    r = client.post(
        "/api/v1/agent/enroll",
        json={"token": secret, "hostname": "fs01", "machine_id": "abc123", "os": "Debian 12"},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def sample(ts: float, cpu: float) -> dict[str, Any]:
    return {
        "ts": ts,
        "points": [
            {"name": "cpu.percent", "value": cpu},
            {"name": "mem.used_percent", "value": 61.5},
            {"name": "disk.used_percent", "labels": {"mount": "/"}, "value": 40.0},
            {"name": "disk.used_percent", "labels": {"mount": "/srv"}, "value": 93.0},
            {"name": "net.rx_bytes_per_s", "labels": {"iface": "eth0"}, "value": 2_500_000.0},
            {"name": "net.tx_bytes_per_s", "labels": {"iface": "eth0"}, "value": 120_000.0},
            {"name": "load.1", "value": 0.5},
            {"name": "load.5", "value": 0.4},
            {"name": "load.15", "value": 0.3},
        ],
        "top": [
            {
                "pid": 812,
                "name": "postgres",
                "user": "postgres",
                "cpu_percent": 12.5,
                "rss_bytes": 1,
            }
        ],
    }


def send(
    client: TestClient, token: str, seq: int, samples: list[Any], inventory: Any = None
) -> None:
    body = {
        "v": 1,
        "batch_id": uuid.uuid4().hex,
        "seq": seq,
        "agent_version": "0.1.0",
        "sent_at": samples[-1]["ts"],
        "samples": samples,
        "inventory": inventory,
    }
    r = client.post(
        "/api/v1/agent/checkin",
        content=gzip.compress(json.dumps(body).encode()),
        headers={"Authorization": f"Bearer {token}", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 200, r.text


@dataclass
class Machine:
    org_id: int
    asset_id: int
    token: str


@pytest.fixture
def machine(client: TestClient, ctx: Context) -> Machine:
    org_id = make_org(ctx, "Agents Ltd", timezone="Europe/Berlin")
    joined = enroll(client, ctx, org_id)
    now = ctx.clock.now().timestamp()
    samples = [sample(now - 60 * (5 - i), cpu=5.0 + i) for i in range(6)]
    send(client, joined["agent_token"], 1, samples, INVENTORY)
    return Machine(org_id, joined["asset_id"], joined["agent_token"])


def staff(ctx: Context, machine: Machine, role: str = "technician") -> str:
    make_person(ctx, "tech", roles={machine.org_id: role})
    return "tech"


# ---- the asset page ------------------------------------------------------------------------------


def test_asset_page_shows_the_agent_online_with_charts_and_processes(
    client: TestClient, ctx: Context, machine: Machine
) -> None:
    signed_in(client, staff(ctx, machine, "viewer"))
    r = client.get(f"/assets/{machine.asset_id}")
    assert r.status_code == 200, r.text
    html = r.text
    assert "state-ok" in html and "Online" in html
    assert "Last check-in" in html and "Agent 0.1.0" in html
    for chart in ("cpu", "memory", "disks", "network", "load"):
        assert f'id="chart-{chart}-title"' in html
    assert "postgres" in html  # busiest processes
    assert 'hx-trigger="every 30s"' in html
    assert f'hx-get="/assets/{machine.asset_id}/live?range=24h"' in html
    # The Overview tab is the default: system facts and the asset record.
    assert "Debian GNU/Linux 12" in html and "Xeon E-2314" in html and "16 GB" in html
    assert "Asset record" in html


def test_charts_fragment_draws_each_series(
    client: TestClient, ctx: Context, machine: Machine
) -> None:
    signed_in(client, staff(ctx, machine))
    r = client.get(f"/assets/{machine.asset_id}/live", params={"range": "1h"}, headers=HTMX)
    assert r.status_code == 200
    html = r.text
    assert (
        "<html" not in html
        and html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 5
    )
    assert "CPU: 10 % at 2 Nov 10:00" in html  # the latest sample, in Berlin time
    assert ">/srv</text>" in html and ">Received</text>" in html and ">Sent</text>" in html
    assert "Warning 90 %" in html  # the disk threshold
    assert "CPU threads 4" in html  # the load chart's reference line
    assert "MB/s" in html
    # An unknown range is the default, not an error.
    assert client.get(f"/assets/{machine.asset_id}/live?range=1y").status_code == 200


def test_range_selector_keeps_the_choice_in_the_url(
    client: TestClient, ctx: Context, machine: Machine
) -> None:
    signed_in(client, staff(ctx, machine))
    html = client.get(f"/assets/{machine.asset_id}?range=7d&tab=software").text
    assert f'href="/assets/{machine.asset_id}?tab=software&amp;range=1h#resources"' in html
    assert 'aria-current="true">7 d</a>' in html
    assert f"/assets/{machine.asset_id}/live?range=7d" in html


def test_software_tab_lists_searches_and_sorts_packages(
    client: TestClient, ctx: Context, machine: Machine
) -> None:
    signed_in(client, staff(ctx, machine))
    base = f"/assets/{machine.asset_id}"
    html = client.get(f"{base}?tab=software").text
    assert "2 packages installed" in html
    assert html.index(">bash<") < html.index(">openssl<")
    html = client.get(f"{base}?tab=software&sort=-name").text
    assert html.index(">openssl<") < html.index(">bash<")
    # Typing in the search box swaps only the results, so the box keeps its focus.
    r = client.get(f"{base}?tab=software&q=ssl", headers={**HTMX, "HX-Target": "tab-results"})
    assert r.text.lstrip().startswith('<div id="tab-results"')
    assert ">openssl<" in r.text and ">bash<" not in r.text
    assert "1 of 2 packages match" in r.text


def test_tabs_answer_alone_to_htmx_and_show_their_inventory(
    client: TestClient, ctx: Context, machine: Machine
) -> None:
    signed_in(client, staff(ctx, machine))
    base = f"/assets/{machine.asset_id}"
    tab = {**HTMX, "HX-Target": "asset-tab"}
    services = client.get(f"{base}?tab=services", headers=tab).text
    assert services.lstrip().startswith('<section id="asset-tab"')
    assert 'hx-swap-oob="true"' in services  # the range links follow the tab
    assert services.index("backup.service") < services.index("ssh.service")  # failed first
    assert "1 failed" in services and "state-critical" in services
    ports = client.get(f"{base}?tab=ports", headers=tab).text
    assert ">22<" in ports and "any address" in ports and "sshd" in ports
    accounts = client.get(f"{base}?tab=accounts", headers=tab).text
    assert "root" in accounts and "Administrator" in accounts
    assert "daemon" not in accounts and "1 system account hidden" in accounts
    assert "daemon" in client.get(f"{base}?tab=accounts&system=1", headers=tab).text
    logins = client.get(f"{base}?tab=logins", headers=tab).text
    assert "anna" in logins and "10.0.0.7" in logins


def test_changes_tab_shows_what_a_second_inventory_changed(
    client: TestClient, ctx: Context, machine: Machine
) -> None:
    signed_in(client, staff(ctx, machine))
    base = f"/assets/{machine.asset_id}"
    assert "No changes yet." in client.get(f"{base}?tab=changes").text
    ctx.clock.advance(900)
    later = {
        "packages": [*PACKAGES, {"name": "nmap", "version": "7.93", "source": "dpkg"}],
        "listeners": [
            {"proto": "tcp", "address": "0.0.0.0", "port": 22, "process": "sshd"},
            {"proto": "tcp", "address": "0.0.0.0", "port": 4444, "process": "nc"},
        ],
    }
    send(client, machine.token, 2, [sample(ctx.clock.now().timestamp(), 3.0)], later)
    html = client.get(f"{base}?tab=changes").text
    assert "package nmap 7.93 installed" in html
    assert "listening port tcp 0.0.0.0:4444 (nc) appeared" in html
    assert "15 min ago" not in html and "just now" in html
    only_ports = client.get(
        f"{base}?tab=changes&section=listeners", headers={**HTMX, "HX-Target": "tab-results"}
    ).text
    assert "4444" in only_ports and "nmap" not in only_ports
    # A cursor nobody gave out starts again from the newest, never an error page.
    assert client.get(f"{base}?tab=changes&cursor=bogus").status_code == 200


def test_asset_without_agent_teaches_how_to_install_one(client: TestClient, ctx: Context) -> None:
    org_id = make_org(ctx, "Plain Ltd")
    asset_id = make_asset(ctx, org_id, "nas01")
    make_person(ctx, "tech", roles={org_id: "technician"})
    signed_in(client, "tech")
    html = client.get(f"/assets/{asset_id}").text
    assert "No agent on this machine yet." in html
    assert "forewarn agent enroll --server http://testserver --token" in html
    assert f'href="/orgs/{org_id}#agents"' in html
    assert 'class="chart"' not in html


def test_another_organization_sees_none_of_it(
    client: TestClient, ctx: Context, machine: Machine
) -> None:
    other = make_org(ctx, "Elsewhere")
    make_person(ctx, "stranger", roles={other: "admin"})
    csrf = signed_in(client, "stranger")
    base = f"/assets/{machine.asset_id}"
    urls = [
        base,
        f"{base}?tab=software",
        f"{base}?tab=services",
        f"{base}?tab=changes",
        f"{base}/live",
        f"{base}/live?range=1h",
        f"/orgs/{machine.org_id}",
    ]
    for url in urls:
        r = client.get(url)
        assert r.status_code == 404, url
        assert "fs01" not in r.text and "openssl" not in r.text
    token_id = enrollment.list_tokens(ctx, SYSTEM, machine.org_id)[0].id
    for url in (
        f"/orgs/{machine.org_id}/enroll-tokens",
        f"/orgs/{machine.org_id}/enroll-tokens/{token_id}/revoke",
    ):
        assert client.post(url, data={"csrf_token": csrf}).status_code == 404, url
    assert enrollment.list_tokens(ctx, SYSTEM, machine.org_id)[0].revoked_at is None


# ---- the organization page ---------------------------------------------------------------------


def test_asset_table_marks_agents_online(
    client: TestClient, ctx: Context, machine: Machine
) -> None:
    make_asset(ctx, machine.org_id, "printer", kind="printer")
    signed_in(client, staff(ctx, machine, "viewer"))
    html = client.get(f"/orgs/{machine.org_id}").text
    row = re.search(
        r"<tr>\s*<td><a class=\"strong\" href=\"/assets/\d+\">fs01</a>.*?</td>", html, re.S
    )
    assert row and "Online" in row.group(0)
    printer = re.search(r">printer</a>.*?</td>", html, re.S)
    assert printer and "Online" not in printer.group(0) and "Offline" not in printer.group(0)


def test_creating_an_enrolment_token_shows_it_once(client: TestClient, ctx: Context) -> None:
    org_id = make_org(ctx, "Acme")
    make_person(ctx, "tech", roles={org_id: "technician"})
    csrf = signed_in(client, "tech")
    page = client.get(f"/orgs/{org_id}").text
    assert "No agents yet." in page and "Create enrolment token" in page
    r = client.post(
        f"/orgs/{org_id}/enroll-tokens",
        data={
            "csrf_token": csrf,
            "name": "Office laptops",
            "site_id": "",
            "max_uses": "5",
            "expires_in_days": "7",
        },
    )
    assert r.status_code == 200, r.text
    token = re.search(r'id="token-value" type="text" value="(fwe_[^"]+)"', r.text)
    assert token, r.text
    secret = token.group(1)
    assert f"forewarn agent enroll --server http://testserver --token {secret}" in r.text
    assert "forewarn agent run" in r.text and "docs/agent.md" in r.text
    assert "up to 5 machines" in r.text
    # Back on the organization page it is listed by its prefix, never again in full.
    page = client.get(f"/orgs/{org_id}").text
    assert "Office laptops" in page and secret[:10] in page and secret not in page
    assert "0 of 5" in page and "Active" in page
    # The token works: a machine enrols with it.
    r = client.post(
        "/api/v1/agent/enroll", json={"token": secret, "hostname": "laptop-7", "machine_id": "x"}
    )
    assert r.status_code == 201
    assert "1 of 5" in client.get(f"/orgs/{org_id}").text


def test_token_form_refusal_keeps_what_was_typed(client: TestClient, ctx: Context) -> None:
    org_id = make_org(ctx, "Acme")
    make_person(ctx, "tech", roles={org_id: "technician"})
    csrf = signed_in(client, "tech")
    r = client.post(
        f"/orgs/{org_id}/enroll-tokens",
        data={"csrf_token": csrf, "name": "Lab", "max_uses": "lots", "expires_in_days": "0"},
    )
    assert r.status_code == 422
    assert "A whole number from 1 to 100,000, or empty for no limit." in r.text
    assert "A whole number of days from 1 to 3,650" in r.text
    assert 'value="Lab"' in r.text and 'value="lots"' in r.text
    assert enrollment.list_tokens(ctx, SYSTEM, org_id) == []
    # Without the session's CSRF token nothing is created.
    r = client.post(f"/orgs/{org_id}/enroll-tokens", data={"name": "x", "expires_in_days": "7"})
    assert r.status_code == 403
    assert enrollment.list_tokens(ctx, SYSTEM, org_id) == []


def test_revoking_a_token(client: TestClient, ctx: Context, machine: Machine) -> None:
    csrf = signed_in(client, staff(ctx, machine))
    token_id = enrollment.list_tokens(ctx, SYSTEM, machine.org_id)[0].id
    r = client.post(
        f"/orgs/{machine.org_id}/enroll-tokens/{token_id}/revoke",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/orgs/{machine.org_id}#agents"
    page = client.get(f"/orgs/{machine.org_id}").text
    assert "revoked: it enrols no more machines" in page and "Revoked" in page
    assert enrollment.list_tokens(ctx, SYSTEM, machine.org_id)[0].revoked_at is not None


def test_viewer_sees_no_token_form_and_cannot_post_one(
    client: TestClient, ctx: Context, machine: Machine
) -> None:
    csrf = signed_in(client, staff(ctx, machine, "viewer"))
    page = client.get(f"/orgs/{machine.org_id}").text
    assert "Create enrolment token" not in page and "enroll-tokens" not in page
    assert 'id="agents"' not in page
    r = client.post(
        f"/orgs/{machine.org_id}/enroll-tokens", data={"csrf_token": csrf, "expires_in_days": "7"}
    )
    assert r.status_code == 403
    token_id = enrollment.list_tokens(ctx, SYSTEM, machine.org_id)[0].id
    r = client.post(
        f"/orgs/{machine.org_id}/enroll-tokens/{token_id}/revoke", data={"csrf_token": csrf}
    )
    assert r.status_code == 403
    assert len(enrollment.list_tokens(ctx, SYSTEM, machine.org_id)) == 1

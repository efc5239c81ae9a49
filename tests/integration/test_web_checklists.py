"""Checklists on the pages: started from an organization's tickets page (technicians any, the
client's own staff a new hire or a leaver), ticked on the ticket's page with the progress shown
and each tick in the timeline; a refused start says why at its field and creates nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from forewarn.services.context import Context
from forewarn.store.models import Ticket, TicketChecklist
from tests.conftest import make_org, make_person
from tests.integration.test_web import make_asset, signed_in
from tests.integration.test_web_alerts import _error, _flash


@pytest.fixture
def site(ctx: Context) -> dict[str, Any]:
    org = make_org(ctx, "Acme Dental", timezone="Europe/Berlin")
    make_person(ctx, "tess", roles={org: "technician"})
    make_person(ctx, "clara", roles={org: "viewer"})
    laptop = make_asset(ctx, org, "lt-07", kind="laptop")
    return {"org": org, "laptop": laptop}


def _forms(page: str) -> list[str]:
    return re.findall(r'action="/orgs/\d+/checklists/([a-z0-9-]+)/start"', page)


def _tickets(ctx: Context) -> tuple[int, int]:
    with ctx.db.read() as session:
        return (
            session.scalar(select(func.count()).select_from(Ticket)) or 0,
            session.scalar(select(func.count()).select_from(TicketChecklist)) or 0,
        )


def test_a_technician_starts_a_laptop_checklist_and_ticks_it(
    client: TestClient, ctx: Context, site: dict[str, Any]
) -> None:
    csrf = signed_in(client, "tess")
    page = client.get(f"/orgs/{site['org']}/tickets").text
    assert _forms(page) == ["new-saas", "new-laptop", "new-hire", "leaver"]
    assert f'<option value="{site["laptop"]}">lt-07</option>' in page
    r = client.post(
        f"/orgs/{site['org']}/checklists/new-laptop/start",
        data={"csrf_token": csrf, "new-laptop.laptop": str(site["laptop"])},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    url = r.headers["location"]
    ticket_id = int(url.rsplit("/", 1)[1])
    page = client.get(url).text
    assert _flash(page) == f"Ticket #{ticket_id} started: Onboard: lt-07."
    assert "0 of 7 done" in page and "a checklist started by tess" in page
    assert page.count('name="done" value="1"') == 7

    r = client.post(
        f"/tickets/{ticket_id}/steps/3",
        data={"csrf_token": csrf, "done": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/tickets/{ticket_id}#checklist"
    page = client.get(f"/tickets/{ticket_id}").text
    assert _flash(page) == "Step 3 done: 1 of 7 done."
    assert "1 of 7 done" in page and "done by tess" in page
    assert page.count('name="done" value="1"') == 6 and page.count('name="done" value="0"') == 1
    assert "Step done" in page and "3. Encrypt the disk (1 of 7 done)" in page
    listed = client.get(f"/orgs/{site['org']}/tickets").text
    assert f"#{ticket_id} · a checklist started by tess · 1 of 7 done" in listed
    # A tick that is neither done nor not done is refused at the top of the page.
    r = client.post(f"/tickets/{ticket_id}/steps/3", data={"csrf_token": csrf, "done": "maybe"})
    assert r.status_code == 422 and "Choose done or not done." in r.text
    assert "1 of 7 done" in r.text


def test_a_refused_start_says_why_and_creates_nothing(
    client: TestClient, ctx: Context, site: dict[str, Any]
) -> None:
    csrf = signed_in(client, "tess")
    before = _tickets(ctx)
    r = client.post(
        f"/orgs/{site['org']}/checklists/leaver/start",
        data={"csrf_token": csrf, "leaver.person": "  ", "leaver.last_day": "31.12.2026"},
    )
    assert r.status_code == 422
    assert _error(r.text, "leaver.person") == "Required: The leaver's name."
    assert _error(r.text, "leaver.last_day") == "Must be a date as YYYY-MM-DD."
    assert 'value="31.12.2026"' in r.text  # what was typed is still there
    assert _tickets(ctx) == before
    assert (
        client.post(
            f"/orgs/{site['org']}/checklists/no-such/start", data={"csrf_token": csrf}
        ).status_code
        == 404
    )
    assert _tickets(ctx) == before


def test_client_staff_start_a_leaver_and_follow_it_without_ticking(
    client: TestClient, ctx: Context, site: dict[str, Any]
) -> None:
    csrf = signed_in(client, "clara")
    page = client.get(f"/orgs/{site['org']}/tickets").text
    assert _forms(page) == ["new-hire", "leaver"]
    before = _tickets(ctx)
    refused = client.post(
        f"/orgs/{site['org']}/checklists/new-saas/start",
        data={"csrf_token": csrf, "new-saas.application": "Xero"},
    )
    assert refused.status_code == 403
    assert _tickets(ctx) == before
    r = client.post(
        f"/orgs/{site['org']}/checklists/leaver/start",
        data={"csrf_token": csrf, "leaver.person": "Sam Smith", "leaver.last_day": "2026-12-31"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    ticket_id = int(r.headers["location"].rsplit("/", 1)[1])
    page = client.get(f"/tickets/{ticket_id}").text
    assert "Onboard: Sam Smith (leaver)" in page and "0 of 5 done" in page
    assert "CIS 6.2, 5.1, 5.3" in page
    assert 'name="done"' not in page
    r = client.post(f"/tickets/{ticket_id}/steps/1", data={"csrf_token": csrf, "done": "1"})
    assert r.status_code == 403
    assert "0 of 5 done" in client.get(f"/tickets/{ticket_id}").text


PRINTER = """checklists:
  - id: new-printer
    title: A new printer
    clients: true
    parameters:
      - id: printer
        label: Where it stands
    steps:
      - title: Change its default password
        safeguards: ["4.7"]
"""


def test_technicians_keep_the_organizations_own_templates(
    client: TestClient, ctx: Context, site: dict[str, Any]
) -> None:
    csrf = signed_in(client, "tess")
    page = client.get(f"/orgs/{site['org']}/tickets").text
    assert f'action="/orgs/{site["org"]}/checklists/import"' in page
    bad = PRINTER.replace('"4.7"', '"4.77"')
    r = client.post(
        f"/orgs/{site['org']}/checklists/import", data={"csrf_token": csrf, "templates": bad}
    )
    assert r.status_code == 422
    assert "'4.77' is not a CIS v8 IG1 safeguard id" in _error(r.text, "templates")
    assert _forms(r.text) == ["new-saas", "new-laptop", "new-hire", "leaver"]  # nothing stored
    r = client.post(
        f"/orgs/{site['org']}/checklists/import",
        data={"csrf_token": csrf, "templates": PRINTER},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert _flash(page) == "Saved Acme Dental's own templates: A new printer."
    assert _forms(page)[-1] == "new-printer"
    assert "id: new-printer" in page  # the file, to edit

    # The client's staff start the organization's client template but keep no templates.
    csrf = signed_in(client, "clara")
    page = client.get(f"/orgs/{site['org']}/tickets").text
    assert _forms(page) == ["new-hire", "leaver", "new-printer"]
    assert "/checklists/import" not in page
    r = client.post(
        f"/orgs/{site['org']}/checklists/import", data={"csrf_token": csrf, "templates": PRINTER}
    )
    assert r.status_code == 403

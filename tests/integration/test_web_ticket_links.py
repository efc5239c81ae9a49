"""Linking an alert and a ticket from the pages: "Add to ticket" on an alert's page, "Link an
alert" on a ticket's page; both through services.tickets.link_alert, as the API does."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from forewarn.services import alerts, tickets
from forewarn.services.alerts import ResolveRequest
from forewarn.services.context import Context
from forewarn.services.scope import SYSTEM
from forewarn.services.tickets import TicketCreate, TicketUpdate
from tests.conftest import make_org, make_person
from tests.integration.test_web import signed_in
from tests.integration.test_web_alerts import _check, _error, _fail, _flash


def _ticket(ctx: Context, org_id: int, title: str) -> int:
    return tickets.create(ctx, SYSTEM, TicketCreate(org_id=org_id, title=title)).id


@pytest.fixture
def world(ctx: Context) -> dict[str, Any]:
    org = make_org(ctx, "Acme Dental", timezone="Europe/Berlin")
    other = make_org(ctx, "Other Ltd")
    make_person(ctx, "tech", roles={org: "technician"})
    make_person(ctx, "viewer", roles={org: "viewer"})
    make_person(ctx, "stranger", roles={other: "admin"})
    make_person(ctx, "boss", owner=True)
    w: dict[str, Any] = {"org": org, "other": other}
    w["alert"] = _fail(ctx, _check(ctx, org, "fs01", "website"), "connection refused")
    w["second"] = _fail(ctx, _check(ctx, org, "mail01", "smtp"), "timed out")
    w["gone"] = _fail(ctx, _check(ctx, org, "print01", "ipp"), "no answer")
    alerts.resolve(ctx, SYSTEM, w["gone"], ResolveRequest())
    w["theirs"] = _fail(ctx, _check(ctx, other, "other-fs", "website"), "connection refused")
    w["printer"] = _ticket(ctx, org, "Printer jammed")
    w["slow"] = _ticket(ctx, org, "Everything is slow")
    w["done"] = _ticket(ctx, org, "Old problem")
    tickets.update(ctx, SYSTEM, w["done"], TicketUpdate(status="resolved"))
    w["their_ticket"] = _ticket(ctx, other, "Their ticket")
    return w


def _options(page: str, name: str) -> dict[str, str]:
    found = re.search(rf'<select id="f-{name}" name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert found, f"no select {name}"
    pairs = re.findall(r'<option value="([^"]*)"[^>]*>(.*?)</option>', found.group(1))
    return {v: html.unescape(t) for v, t in pairs if v}


def _events(ctx: Context, ticket_id: int) -> list[tuple[str, str]]:
    return [(e.kind, e.detail) for e in tickets.get(ctx, SYSTEM, ticket_id).events]


def test_add_an_alert_to_an_open_ticket_from_its_page(
    client: TestClient, ctx: Context, world: dict[str, Any]
) -> None:
    w = world
    csrf = signed_in(client, "tech")
    page = client.get(f"/alerts/{w['alert']}").text
    choices = _options(page, "ticket_id")
    # The organization's open tickets, newest first; not a resolved one, not another's.
    assert list(choices) == [str(w["slow"]), str(w["printer"])]
    assert choices[str(w["printer"])] == f"#{w['printer']} Printer jammed (new)"

    r = client.post(
        f"/alerts/{w['alert']}/tickets",
        data={"csrf_token": csrf, "ticket_id": str(w["printer"])},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/alerts/{w['alert']}"
    page = client.get(r.headers["location"]).text
    assert _flash(page) == f"Added to ticket #{w['printer']}: its timeline shows the link."
    assert list(_options(page, "ticket_id")) == [str(w["slow"])]  # not offered twice
    assert tickets.get(ctx, SYSTEM, w["printer"]).alert_ids == [w["alert"]]
    assert ("linked_alert", str(w["alert"])) in _events(ctx, w["printer"])
    timeline = client.get(f"/tickets/{w['printer']}").text.split('id="timeline"', 1)[1]
    assert f'<a href="/alerts/{w["alert"]}">Alert {w["alert"]}</a>' in timeline


def test_link_an_open_alert_from_a_ticket_page(
    client: TestClient, ctx: Context, world: dict[str, Any]
) -> None:
    w = world
    csrf = signed_in(client, "tech")
    page = client.get(f"/tickets/{w['slow']}").text
    choices = _options(page, "alert_id")
    # Open alerts of the organization, newest first; not a resolved one, not another's.
    assert list(choices) == [str(w["second"]), str(w["alert"])]
    assert "mail01 · smtp: timed out" in choices[str(w["second"])]
    assert "critical" in choices[str(w["second"])]

    r = client.post(
        f"/tickets/{w['slow']}/alerts",
        data={"csrf_token": csrf, "alert_id": str(w["second"])},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/tickets/{w['slow']}#timeline"
    page = client.get(f"/tickets/{w['slow']}").text
    assert _flash(page) == f"Linked alert {w['second']} to ticket #{w['slow']}."
    assert list(_options(page, "alert_id")) == [str(w["alert"])]
    assert tickets.get(ctx, SYSTEM, w["slow"]).alert_ids == [w["second"]]
    assert f'<a href="/alerts/{w["second"]}">Alert {w["second"]}</a>' in page
    # The alert's page now leads to its ticket.
    assert f'href="/tickets/{w["slow"]}"' in client.get(f"/alerts/{w['second']}").text


def test_a_wrong_choice_is_refused_with_the_reason(
    client: TestClient, ctx: Context, world: dict[str, Any]
) -> None:
    w = world
    csrf = signed_in(client, "tech")
    r = client.post(
        f"/alerts/{w['alert']}/tickets",
        data={"csrf_token": csrf, "ticket_id": "soon"},
        follow_redirects=False,
    )
    assert r.status_code == 422 and "Choose a ticket" in _error(r.text, "ticket_id")
    r = client.post(
        f"/tickets/{w['slow']}/alerts",
        data={"csrf_token": csrf, "alert_id": ""},
        follow_redirects=False,
    )
    assert r.status_code == 422 and "Choose an alert" in _error(r.text, "alert_id")
    # Another organization's alert or ticket, by id: not in this one.
    r = client.post(
        f"/tickets/{w['slow']}/alerts",
        data={"csrf_token": csrf, "alert_id": str(w["theirs"])},
        follow_redirects=False,
    )
    assert r.status_code == 422
    assert "No such alert in this organization" in _error(r.text, "alert_id")
    r = client.post(
        f"/alerts/{w['alert']}/tickets",
        data={"csrf_token": csrf, "ticket_id": str(w["their_ticket"])},
        follow_redirects=False,
    )
    assert r.status_code == 404
    # An owner sees both organizations: still not across them.
    csrf = signed_in(client, "boss")
    r = client.post(
        f"/alerts/{w['alert']}/tickets",
        data={"csrf_token": csrf, "ticket_id": str(w["their_ticket"])},
        follow_redirects=False,
    )
    assert r.status_code == 422
    assert "No such alert in this organization" in _error(r.text, "ticket_id")
    for ticket_id in (w["slow"], w["their_ticket"]):
        assert tickets.get(ctx, SYSTEM, ticket_id).alert_ids == []


def test_viewers_get_no_forms_and_strangers_nothing(
    client: TestClient, ctx: Context, world: dict[str, Any]
) -> None:
    w = world
    csrf = signed_in(client, "viewer")
    alert_page = client.get(f"/alerts/{w['alert']}").text
    ticket_page = client.get(f"/tickets/{w['slow']}").text
    assert "Add to ticket" not in alert_page and 'name="ticket_id"' not in alert_page
    assert "Link an alert" not in ticket_page and 'name="alert_id"' not in ticket_page
    posts = (
        (f"/alerts/{w['alert']}/tickets", {"ticket_id": str(w["slow"])}),
        (f"/tickets/{w['slow']}/alerts", {"alert_id": str(w["alert"])}),
    )
    for path, data in posts:
        r = client.post(path, data={"csrf_token": csrf, **data}, follow_redirects=False)
        assert r.status_code == 403, path
    csrf = signed_in(client, "stranger")
    for path, data in posts:
        r = client.post(path, data={"csrf_token": csrf, **data}, follow_redirects=False)
        assert r.status_code == 404, path
    assert tickets.get(ctx, SYSTEM, w["slow"]).alert_ids == []

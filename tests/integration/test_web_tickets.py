"""Tickets on the pages: a client's own staff report and follow them, technicians work them,
an alert's page opens one, and an organization's month in figures.

Alerts are made the real way (a check with max_attempts=1 recorded through services.results);
the organization is in Berlin, so the test clock's 09:00 UTC reads 10:00 on the pages.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from forewarn.domain.inventory import Role
from forewarn.services import alerts, checklists, tickets, users
from forewarn.services.alerts import AckRequest
from forewarn.services.context import Context
from forewarn.services.schemas import UserUpdate
from forewarn.services.scope import SYSTEM, Actor
from forewarn.services.tickets import CommentCreate, TicketCreate
from forewarn.web import ticket_views
from tests.conftest import make_org, make_person
from tests.integration.test_tickets import _berlin_month_end
from tests.integration.test_web import signed_in
from tests.integration.test_web_alerts import _check, _error, _fail, _flash


@pytest.fixture
def site(ctx: Context) -> dict[str, Any]:
    org = make_org(ctx, "Acme Dental", timezone="Europe/Berlin")
    other = make_org(ctx, "Other Ltd")
    tech = make_person(ctx, "tess", roles={org: "technician"})
    users.update_user(ctx, SYSTEM, tech.id, UserUpdate(display_name="Tess Tech"))
    boss = make_person(ctx, "boss", roles={org: "admin"})
    viewer = make_person(ctx, "clara", roles={org: "viewer"})
    stranger = make_person(ctx, "stranger", roles={other: "admin"})
    return {
        "org": org,
        "other": other,
        "tech": tech.id,
        "boss": boss.id,
        "viewer": viewer.id,
        "stranger": stranger.id,
    }


def _as(site: dict[str, Any], who: str) -> Actor:
    """The person as the services see them (the pages' own actor, without a session)."""
    user_id = {"clara": site["viewer"], "tess": site["tech"], "boss": site["boss"]}[who]
    role = {"clara": Role.VIEWER, "tess": Role.TECHNICIAN, "boss": Role.ADMIN}[who]
    return Actor(user_id, who, roles={site["org"]: role})


def _report(ctx: Context, site: dict[str, Any], title: str) -> int:
    """A ticket clara, of the client's own staff, reported."""
    data = TicketCreate(org_id=site["org"], title=title, description="since this morning")
    return tickets.create(ctx, _as(site, "clara"), data).id


def _text(page: str) -> str:
    """The page's words, without tags: what a person reads."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_a_viewer_reports_a_problem_follows_it_and_may_not_work_it(
    client: TestClient, ctx: Context, site: dict[str, Any]
) -> None:
    org = site["org"]
    csrf = signed_in(client, "clara")
    assert 'href="/tickets"' in client.get("/").text  # the top bar
    assert f'href="/orgs/{org}/tickets"' in client.get(f"/orgs/{org}").text

    form = client.get(f"/orgs/{org}/tickets").text
    assert f'action="/orgs/{org}/tickets"' in form and "Report a problem" in form
    assert '<option value="normal" selected>' in form  # normal by default

    # No title: said at the field, what was typed kept, nothing stored.
    bad = client.post(
        f"/orgs/{org}/tickets",
        data={"csrf_token": csrf, "title": "  ", "description": "the printer jams", "priority": ""},
    )
    assert bad.status_code == 422
    assert _error(bad.text, "title") == "Required."
    assert "the printer jams" in bad.text
    assert tickets.list_(ctx, SYSTEM, status=None).items == []

    r = client.post(
        f"/orgs/{org}/tickets",
        data={
            "csrf_token": csrf,
            "title": "Printer prints blank pages",
            "description": "First floor.\nSince Monday.",
            "priority": "high",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    ticket_id = int(r.headers["location"].rsplit("/", 1)[1])
    assert r.headers["location"] == f"/tickets/{ticket_id}"
    page = client.get(r.headers["location"]).text
    assert _flash(page) == f"Ticket #{ticket_id} reported: Acme Dental's technicians see it now."
    words = _text(page)
    assert "Printer prints blank pages" in words and "reported by clara" in words
    assert "First floor.<br>Since Monday." in page
    # High: first answer within 1 h, resolution within 8 h, from 10:00 Berlin time.
    assert "respond by 11:00" in words and "resolve by 18:00" in words
    assert f'action="/tickets/{ticket_id}/comments"' in page
    assert f'action="/tickets/{ticket_id}/work"' not in page  # no work form for a viewer

    for path in ("/tickets", f"/orgs/{org}/tickets"):
        listed = client.get(path).text
        assert f'href="/tickets/{ticket_id}"' in listed, path
        row = _text(listed)
        assert "reported by clara" in row and "respond by 11:00" in row and "High" in row
        assert "table stack-sm ticket-table" in listed
        for label in ("Status", "Assignee", "Created", "SLA"):
            assert f'data-label="{label}"' in listed
    assert 'data-label="Organization"' in client.get("/tickets").text

    ctx.clock.advance(120)
    r = client.post(
        f"/tickets/{ticket_id}/comments",
        data={"csrf_token": csrf, "body": "It happens on the colour printer too."},
    )
    assert _flash(r.text) == "Comment added."
    assert "It happens on the colour printer too." in r.text
    detail = tickets.get(ctx, SYSTEM, ticket_id)
    assert [e.kind for e in detail.events] == ["created", "comment"]
    assert detail.first_response_at is None  # the client's own word does not answer it
    empty = client.post(f"/tickets/{ticket_id}/comments", data={"csrf_token": csrf, "body": " "})
    assert empty.status_code == 422 and _error(empty.text, "body") == "Required."

    refused = client.post(
        f"/tickets/{ticket_id}/work",
        data={"csrf_token": csrf, "status": "resolved", "priority": "low", "assignee": "0"},
        follow_redirects=False,
    )
    assert refused.status_code == 403 and "Not allowed" in refused.text
    assert tickets.get(ctx, SYSTEM, ticket_id).status == "new"


def test_a_technician_assigns_moves_and_resolves_and_an_illegal_move_is_refused(
    client: TestClient, ctx: Context, site: dict[str, Any]
) -> None:
    ticket_id = _report(ctx, site, "Mail is slow")
    csrf = signed_in(client, "tess")
    page = client.get(f"/tickets/{ticket_id}").text
    assert f'action="/tickets/{ticket_id}/work"' in page
    status_field = re.search(r'<select id="f-status".*?</select>', page, re.S).group(0)
    # From new: open, waiting or resolved; closing needs resolving first.
    assert re.findall(r'value="(\w+)"', status_field) == ["new", "open", "waiting", "resolved"]
    assignee_field = re.search(r'<select id="f-assignee".*?</select>', page, re.S).group(0)
    assert ">Nobody<" in assignee_field and "Tess Tech (tess)" in assignee_field

    ctx.clock.advance(600)
    r = client.post(
        f"/tickets/{ticket_id}/work",
        data={
            "csrf_token": csrf,
            "status": "open",
            "priority": "normal",
            "assignee": str(site["tech"]),
        },
    )
    assert _flash(r.text) == "Saved: now open, assigned to tess."
    words = _text(r.text)
    assert "Tess Tech (tess)" in words
    assert "responded 10:10, due 14:00" in words and "In time" in words  # the timer stopped
    detail = tickets.get(ctx, SYSTEM, ticket_id)
    assert (detail.status, detail.assignee_id) == ("open", site["tech"])

    # Closing an open ticket is not a move the rule allows: said at the field, nothing changed.
    bad = client.post(
        f"/tickets/{ticket_id}/work",
        data={"csrf_token": csrf, "status": "closed", "priority": "urgent", "assignee": "0"},
    )
    assert bad.status_code == 422
    assert _error(bad.text, "status") == (
        "A open ticket cannot become closed (it may become resolved, waiting)."
    )
    assert '<option value="urgent" selected>' in bad.text  # the choices made are kept
    after = tickets.get(ctx, SYSTEM, ticket_id)
    assert (after.status, after.priority, after.assignee_id) == ("open", "normal", site["tech"])
    # Someone who is not a member may not be given it.
    stranger = client.post(
        f"/tickets/{ticket_id}/work",
        data={"csrf_token": csrf, "status": "open", "assignee": str(site["stranger"])},
    )
    assert stranger.status_code == 422
    assert _error(stranger.text, "assignee") == "Not a member of this organization."

    # The admin assigns another member, chosen from the members by name.
    signed_in(client, "boss")
    members = client.get(f"/tickets/{ticket_id}").text
    assert f'<option value="{site["viewer"]}">clara</option>' in members
    csrf = signed_in(client, "tess")
    r = client.post(
        f"/tickets/{ticket_id}/work",
        data={"csrf_token": csrf, "status": "resolved", "priority": "normal", "assignee": "0"},
    )
    assert _flash(r.text) == "Saved: now resolved, assigned to nobody."
    assert tickets.get(ctx, SYSTEM, ticket_id).status == "resolved"
    assert f'href="/tickets/{ticket_id}"' not in client.get("/tickets").text  # not active
    assert f'href="/tickets/{ticket_id}"' in client.get("/tickets?status=resolved").text
    assert "No active tickets" in client.get(f"/orgs/{site['org']}/tickets").text

    r = client.post(
        f"/tickets/{ticket_id}/work",
        data={"csrf_token": csrf, "status": "closed", "priority": "normal", "assignee": "0"},
    )
    assert _flash(r.text) == "Saved: now closed."
    # Closed is final: no more comments, and the form is gone.
    assert f'action="/tickets/{ticket_id}/comments"' not in r.text
    late = client.post(f"/tickets/{ticket_id}/comments", data={"csrf_token": csrf, "body": "hi"})
    assert late.status_code == 422 and "This ticket is closed" in late.text


def test_the_clients_staff_see_who_is_on_it(
    client: TestClient, ctx: Context, site: dict[str, Any]
) -> None:
    ticket_id = _report(ctx, site, "VPN drops")
    tickets.update(
        ctx, _as(site, "tess"), ticket_id, tickets.TicketUpdate(assignee_id=site["tech"])
    )
    signed_in(client, "clara")
    # A viewer may not list the members; the ticket's own timeline names the assignee.
    assert "tess" in _text(client.get(f"/orgs/{site['org']}/tickets").text)
    assert "Assignee tess" in _text(client.get(f"/tickets/{ticket_id}").text)


def test_another_organizations_user_sees_nothing_of_them(
    client: TestClient, ctx: Context, site: dict[str, Any]
) -> None:
    ticket_id = _report(ctx, site, "Printer prints blank pages")
    org = site["org"]
    csrf = signed_in(client, "stranger")
    for path in (f"/tickets/{ticket_id}", f"/orgs/{org}/tickets", f"/orgs/{org}/report"):
        assert client.get(path).status_code == 404, path
    listed = client.get("/tickets?status=all")
    assert listed.status_code == 200 and "No tickets." in listed.text
    assert "Printer prints blank pages" not in listed.text and "Acme Dental" not in listed.text
    for path, data in (
        (f"/orgs/{org}/tickets", {"title": "mine now"}),
        (f"/tickets/{ticket_id}/comments", {"body": "hello"}),
        (f"/tickets/{ticket_id}/work", {"status": "resolved"}),
    ):
        r = client.post(path, data={"csrf_token": csrf, **data}, follow_redirects=False)
        assert r.status_code == 404, path
    detail = tickets.get(ctx, SYSTEM, ticket_id)
    assert detail.status == "new" and [e.kind for e in detail.events] == ["created"]
    assert len(tickets.list_(ctx, SYSTEM, status=None).items) == 1


def test_an_alert_gets_a_ticket_from_its_page_and_then_links_to_it(
    client: TestClient, ctx: Context, site: dict[str, Any]
) -> None:
    alert_id = _fail(ctx, _check(ctx, site["org"], "fs01", "website"), "connection refused")
    csrf = signed_in(client, "clara")
    assert f'action="/alerts/{alert_id}/ticket"' not in client.get(f"/alerts/{alert_id}").text
    assert client.post(f"/alerts/{alert_id}/ticket", data={"csrf_token": csrf}).status_code == 403

    csrf = signed_in(client, "tess")
    page = client.get(f"/alerts/{alert_id}").text
    assert f'action="/alerts/{alert_id}/ticket"' in page and "Open a ticket" in page
    r = client.post(f"/alerts/{alert_id}/ticket", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    ticket_id = int(r.headers["location"].rsplit("/", 1)[1])
    page = client.get(r.headers["location"]).text
    assert _flash(page) == f"Opened ticket #{ticket_id} from alert {alert_id}."
    words = _text(page)
    assert "fs01 · website: connection refused" in words
    assert "Origin monitoring" in words and "High priority" in words  # critical alert: high
    assert f'href="/alerts/{alert_id}"' in page
    assert tickets.get(ctx, SYSTEM, ticket_id).alert_ids == [alert_id]

    # The alert page now leads to its ticket, for the client's staff too.
    for who in ("tess", "clara"):
        signed_in(client, who)
        page = client.get(f"/alerts/{alert_id}").text
        assert f'href="/tickets/{ticket_id}"' in page and f"Ticket #{ticket_id}" in page
        assert f'action="/alerts/{alert_id}/ticket"' not in page
    # Asking again (an old page's button) leads to the same ticket.
    csrf = signed_in(client, "tess")
    again = client.post(f"/alerts/{alert_id}/ticket", data={"csrf_token": csrf})
    assert _flash(again.text) == f"Alert {alert_id} already had ticket #{ticket_id}."
    assert len(tickets.list_(ctx, SYSTEM, status=None).items) == 1


def test_the_service_report_shows_the_proactive_share_and_the_month_in_words(
    client: TestClient, ctx: Context, site: dict[str, Any]
) -> None:
    org = site["org"]
    signed_in(client, "clara")
    quiet = client.get(f"/orgs/{org}/report").text
    assert "Nothing to report for November 2026" in quiet

    alert_id = _fail(ctx, _check(ctx, org, "fs01", "website"), "connection refused")
    tess = _as(site, "tess")
    platform = tickets.from_alert(ctx, tess, alert_id).id  # raised by monitoring
    user = _report(ctx, site, "Cannot print")  # nobody had seen it: counts against
    ctx.clock.advance(360)
    alerts.acknowledge(ctx, tess, alert_id, AckRequest())
    ctx.clock.advance(2 * 3600 + 10 * 60 - 360)
    tickets.comment(ctx, tess, user, CommentCreate(body="On my way."))
    assert platform != user

    page = client.get(f"/orgs/{org}/report")
    assert page.status_code == 200
    words = _text(page.text)
    assert "1 of 2 problems (50 %) was caught by Forewarn before anyone reported it." in words
    assert "Caught first: tickets opened from monitoring" in words  # the definition
    assert "Mean time to acknowledge 6 min" in words
    assert "Time to first response 2 h 10 min" in words
    assert "Alerts 1" in words and "Tickets 2" in words
    assert "Mean time to resolve none resolved yet" in words
    assert f'href="/orgs/{org}/report?month=2026-10"' in page.text
    assert "month=2026-12" not in page.text  # no month to come
    assert "report-figures" in page.text

    october = client.get(f"/orgs/{org}/report?month=2026-10").text
    assert "Nothing to report for October 2026" in october
    assert f'href="/orgs/{org}/report?month=2026-11"' in october
    # A month that is no month: the current one.
    assert "November 2026" in client.get(f"/orgs/{org}/report?month=2026-13").text


def test_the_list_pages_newest_first_filters_and_refreshes_in_place(
    client: TestClient, ctx: Context, site: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    older = _report(ctx, site, "First problem")
    newer = _report(ctx, site, "Second problem")
    monkeypatch.setattr(ticket_views, "PAGE_SIZE", 1)
    signed_in(client, "tess")
    first = client.get(f"/orgs/{site['org']}/tickets").text
    assert f'href="/tickets/{newer}"' in first and f'href="/tickets/{older}"' not in first
    older_url = html.unescape(re.search(r'href="([^"]*cursor=[^"]*)">Older', first).group(1))
    assert "status=active" in older_url
    second = client.get(older_url).text
    assert f'href="/tickets/{older}"' in second and f'href="/tickets/{newer}"' not in second
    assert ">Newest<" in second
    made_up = client.get(f"/orgs/{site['org']}/tickets?cursor=bogus")
    assert made_up.status_code == 200 and f'href="/tickets/{newer}"' in made_up.text
    assert "No new tickets." not in client.get("/tickets?status=new").text
    assert "No waiting tickets." in client.get("/tickets?status=waiting").text

    part = client.get(
        f"/orgs/{site['org']}/tickets?status=active",
        headers={"HX-Request": "true", "HX-Target": "ticket-list"},
    )
    assert part.status_code == 200 and "<html" not in part.text
    assert part.text.lstrip().startswith('<div id="ticket-list"')


def test_the_service_report_page_counts_the_month_on_the_organizations_clocks(
    client: TestClient, ctx: Context
) -> None:
    """An alert at 23:30 UTC on 31 October is Berlin's 1 November, 00:30: November's."""
    org = _berlin_month_end(ctx)
    make_person(ctx, "baker", roles={org: "viewer"})
    signed_in(client, "baker")
    november = _text(client.get(f"/orgs/{org}/report?month=2026-11").text)
    assert "Alerts 1" in november and "Tickets 1" in november
    assert "Europe/Berlin" in november
    october = _text(client.get(f"/orgs/{org}/report?month=2026-10").text)
    assert "Nothing to report for October 2026" in october


def test_the_service_report_page_counts_problems_not_planned_work(
    client: TestClient, ctx: Context, site: dict[str, Any]
) -> None:
    """A leaver's checklist is a ticket but no problem: one platform ticket beside it is
    "1 of 1 problem (100 %)"."""
    org = site["org"]
    tickets.from_alert(ctx, SYSTEM, _fail(ctx, _check(ctx, org, "fs01", "website"), "down"))
    checklists.start(
        ctx, SYSTEM, org, "leaver", checklists.ChecklistStart(parameters={"person": "Alex"})
    )
    signed_in(client, "clara")
    words = _text(client.get(f"/orgs/{org}/report").text)
    assert "Tickets 2" in words
    assert "1 of 1 problem (100 %) was caught by Forewarn before anyone reported it." in words

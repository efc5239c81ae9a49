"""Tickets: opened from alerts by a route's rule or by hand, reported by a client's own staff,
worked by technicians with SLA timers; and the month's figures, proactive share first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from forewarn.domain.inventory import Role
from forewarn.domain.observation import Observation, Result, Status
from forewarn.services import alerts, assets, checks, monthly_report, notify, results, tickets
from forewarn.services.alerts import AckRequest
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError
from forewarn.services.ingest import SeriesCache
from forewarn.services.schemas import AssetCreate, CheckCreate
from forewarn.services.scope import SYSTEM, Actor
from forewarn.store.models import AlertRow, Ticket, TicketAlert
from tests.conftest import Person, make_org, make_person
from tests.integration.test_web import signed_in


def observe(ctx: Context, check_id: int, status: Status, message: str) -> None:
    results.record(
        ctx, [Observation(check_id, ctx.clock.now(), Result(status, message))], series=SeriesCache()
    )


@pytest.fixture
def shop(ctx: Context) -> dict[str, Any]:
    org = make_org(ctx, "Corner Bakery")
    asset = assets.create(ctx, SYSTEM, AssetCreate(org_id=org, name="till-pc", kind="workstation"))
    check = checks.create(
        ctx,
        SYSTEM,
        CheckCreate(
            asset_id=asset.id, name="backup", type="heartbeat", max_attempts=1, interval_s=60
        ),
    ).id
    tech = make_person(ctx, "tess", roles={org: "technician"})
    staff = make_person(ctx, "clara", roles={org: "viewer"})
    return {"org": org, "check": check, "tech": tech, "staff": staff}


def test_a_route_rule_opens_a_ticket_per_alert_and_tells_it_of_the_recovery(ctx, shop):
    channel = notify.create_channel(
        ctx,
        SYSTEM,
        notify.ChannelCreate(org_id=shop["org"], name="nowhere", url="json://127.0.0.1:9/x"),
    )
    notify.create_route(
        ctx,
        SYSTEM,
        notify.RouteCreate(
            org_id=shop["org"],
            name="critical makes work",
            matchers=["severity=critical"],
            steps=[{"channels": [channel.id]}],
            open_ticket=True,
        ),
    )
    observe(ctx, shop["check"], Status.CRITICAL, "no ping for 2 d")
    [alert] = alerts.list_(ctx, SYSTEM, org_id=shop["org"]).items
    [ticket] = tickets.list_(ctx, SYSTEM, org_id=shop["org"]).items
    assert (ticket.origin, ticket.priority, ticket.status) == ("monitoring", "high", "new")
    detail = tickets.get(ctx, SYSTEM, ticket.id)
    assert detail.alert_ids == [alert.id] and detail.title.startswith("till-pc")
    # The alert keeps failing: still one ticket.
    ctx.clock.advance(60)
    observe(ctx, shop["check"], Status.CRITICAL, "no ping for 2 d")
    alerts.escalate(ctx)
    assert len(tickets.list_(ctx, SYSTEM, org_id=shop["org"]).items) == 1

    ctx.clock.advance(60)
    observe(ctx, shop["check"], Status.OK, "ping received")
    kinds = [e.kind for e in tickets.get(ctx, SYSTEM, ticket.id).events]
    assert kinds[-1] == "alert_resolved"
    assert tickets.get(ctx, SYSTEM, ticket.id).status == "new"  # a person closes it


def test_client_staff_report_and_technicians_work_the_ticket(
    client: TestClient, ctx: Context, shop: dict[str, Any]
) -> None:
    staff: Person = shop["staff"]
    tech: Person = shop["tech"]
    r = client.post(
        "/api/v1/tickets",
        json={"org_id": shop["org"], "title": "The till printer prints blank receipts"},
        headers=staff.headers,
    )
    assert r.status_code == 201, r.text
    t = r.json()
    assert (t["origin"], t["reporter"], t["status"], t["priority"]) == (
        "user",
        "clara",
        "new",
        "normal",
    )
    assert t["sla"]["respond_due"] and not t["sla"]["respond_breached"]
    url = f"/api/v1/tickets/{t['id']}"
    # Staff may comment, not work the ticket.
    r = client.post(f"{url}/comments", json={"body": "Also the scanner"}, headers=staff.headers)
    assert r.status_code == 201 and r.json()["first_response_at"] is None
    assert client.patch(url, json={"status": "open"}, headers=staff.headers).status_code == 403

    ctx.clock.advance(minutes=30)
    r = client.patch(url, json={"status": "open", "assignee_id": tech.id}, headers=tech.headers)
    assert r.status_code == 200, r.text
    worked = r.json()
    assert worked["status"] == "open" and worked["assignee_id"] == tech.id
    assert worked["first_response_at"] is not None
    kinds = [e["kind"] for e in worked["events"]]
    assert kinds == ["created", "comment", "assigned", "status"]

    bad = client.patch(url, json={"status": "closed"}, headers=tech.headers)
    assert bad.status_code == 422 and "cannot become closed" in bad.text
    stranger = make_person(ctx, "olga", roles={make_org(ctx, "Other Co"): "admin"})
    assert (
        client.patch(url, json={"assignee_id": stranger.id}, headers=tech.headers).status_code
        == 422
    )
    assert client.get(url, headers=stranger.headers).status_code == 404
    assert client.get("/api/v1/tickets", headers=stranger.headers).json()["items"] == []

    for status in ("resolved", "closed"):
        assert client.patch(url, json={"status": status}, headers=tech.headers).status_code == 200
    closed = client.post(f"{url}/comments", json={"body": "thanks!"}, headers=staff.headers)
    assert closed.status_code == 422 and "closed" in closed.text


def test_the_month_in_figures(client: TestClient, ctx: Context, shop: dict[str, Any]) -> None:
    tech: Person = shop["tech"]
    month = ctx.clock.now().strftime("%Y-%m")
    observe(ctx, shop["check"], Status.CRITICAL, "no ping")
    [alert] = alerts.list_(ctx, SYSTEM, org_id=shop["org"]).items
    ctx.clock.advance(minutes=6)
    alerts.acknowledge(ctx, SYSTEM, alert.id, AckRequest())
    # A ticket from the alert (the platform raised it) ...
    r = client.post(f"/api/v1/alerts/{alert.id}/ticket", headers=tech.headers)
    assert r.status_code == 201 and r.json()["origin"] == "monitoring"
    assert (
        client.post(f"/api/v1/alerts/{alert.id}/ticket", headers=tech.headers).json()["id"]
        == r.json()["id"]
    )  # one per alert
    # ... one the staff reported about the same alert later (still caught first) ...
    client.post(
        "/api/v1/tickets",
        json={"org_id": shop["org"], "title": "backup warning?", "alert_ids": [alert.id]},
        headers=tech.headers,
    )
    # ... and one nobody's monitoring saw.
    client.post(
        "/api/v1/tickets",
        json={"org_id": shop["org"], "title": "new starter needs a laptop"},
        headers=shop["staff"].headers,
    )
    ctx.clock.advance(minutes=24)
    observe(ctx, shop["check"], Status.OK, "ping")

    r = client.get(
        f"/api/v1/orgs/{shop['org']}/service-report",
        params={"month": month},
        headers=shop["staff"].headers,
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["alerts"] == 1
    assert report["mtta_s"] == pytest.approx(360) and report["mttr_s"] == pytest.approx(1800)
    assert (report["tickets"], report["proactive"]) == (3, 2)
    assert report["proactive_share"] == pytest.approx(2 / 3)
    # A later report linked to the alert by a technician also counts as caught first.
    later = client.post(
        "/api/v1/tickets",
        json={"org_id": shop["org"], "title": "is the backup ok?"},
        headers=shop["staff"].headers,
    ).json()
    r = client.post(
        f"/api/v1/tickets/{later['id']}/alerts", json={"alert_id": alert.id}, headers=tech.headers
    )
    assert r.status_code == 200 and r.json()["alert_ids"] == [alert.id]
    assert (
        client.post(
            f"/api/v1/tickets/{later['id']}/alerts", json={"alert_id": 999999}, headers=tech.headers
        ).status_code
        == 422
    )
    again = client.get(
        f"/api/v1/orgs/{shop['org']}/service-report", params={"month": month}, headers=tech.headers
    ).json()
    assert (again["tickets"], again["proactive"]) == (4, 3)
    bad = client.get(
        f"/api/v1/orgs/{shop['org']}/service-report",
        params={"month": "2026-13"},
        headers=tech.headers,
    )
    assert bad.status_code == 422
    empty = client.get(
        f"/api/v1/orgs/{shop['org']}/service-report",
        params={"month": (ctx.clock.now() + timedelta(days=40)).strftime("%Y-%m")},
        headers=tech.headers,
    ).json()
    assert empty["tickets"] == 0 and empty["proactive_share"] is None


def test_a_ticket_near_or_past_its_sla_becomes_an_alert_until_it_is_answered(ctx, shop):
    t = tickets.create(
        ctx,
        SYSTEM,
        tickets.TicketCreate(org_id=shop["org"], title="Server room is hot", priority="urgent"),
    )
    assert tickets.sla_watch(ctx) == 0  # 15 min to answer: not yet at risk
    ctx.clock.advance(minutes=13)
    assert tickets.sla_watch(ctx) == 1
    [alert] = alerts.list_(ctx, SYSTEM, org_id=shop["org"], state="active").items
    assert alert.severity == "warning" and alert.labels["sla"] == "respond"
    assert alert.summary.startswith(f"Ticket #{t.id} (urgent): answer is due")
    ctx.clock.advance(minutes=3)
    tickets.sla_watch(ctx)
    [alert] = alerts.list_(ctx, SYSTEM, org_id=shop["org"], state="active").items
    assert alert.severity == "critical" and "was due" in alert.summary  # the same alert, worse
    # A technician answers: the respond alert ends; then resolving ends everything.
    tess = Actor(shop["tech"].id, "tess", roles={shop["org"]: Role.TECHNICIAN})
    tickets.comment(ctx, tess, t.id, tickets.CommentCreate(body="On my way"))
    tickets.sla_watch(ctx)
    assert alerts.list_(ctx, SYSTEM, org_id=shop["org"], state="active").items == []
    ctx.clock.advance(hours=3, minutes=30)
    tickets.sla_watch(ctx)
    [late] = alerts.list_(ctx, SYSTEM, org_id=shop["org"], state="active").items
    assert late.labels["sla"] == "resolve"
    tickets.update(ctx, SYSTEM, t.id, tickets.TicketUpdate(status="resolved"))
    tickets.sla_watch(ctx)
    assert alerts.list_(ctx, SYSTEM, org_id=shop["org"], state="active").items == []


def test_sla_clocks_stop_outside_the_organizations_business_hours(ctx, client, owner):
    """A normal ticket reported on a Friday evening in Berlin is due on Monday morning, not
    that night; its alerts come on Monday. An urgent one counts around the clock."""
    hours = {"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:00"}
    org = make_org(ctx, "Bäckerei Berlin", timezone="Europe/Berlin", business_hours=hours)
    berlin = ZoneInfo("Europe/Berlin")
    friday = datetime(2026, 11, 27, 17, 30, tzinfo=berlin)
    ctx.clock.advance((friday - ctx.clock.now()).total_seconds())
    normal = tickets.create(
        ctx, SYSTEM, tickets.TicketCreate(org_id=org, title="Printer jams", priority="normal")
    )
    urgent = tickets.create(
        ctx, SYSTEM, tickets.TicketCreate(org_id=org, title="Tills are down", priority="urgent")
    )
    monday_1pm = datetime(2026, 11, 30, 13, 0, tzinfo=berlin)
    assert normal.sla.respond_due == monday_1pm  # 4 h from Monday's opening
    assert urgent.sla.respond_due == ctx.clock.now() + timedelta(minutes=15)
    shown = client.get(f"/api/v1/tickets/{normal.id}", headers=owner.headers).json()
    assert datetime.fromisoformat(shown["sla"]["respond_due"]) == monday_1pm

    def sla_alerts() -> dict[str, str]:
        active = alerts.list_(ctx, SYSTEM, org_id=org, state="active").items
        return {f"{a.labels['ticket']}/{a.labels['sla']}": a.severity for a in active}

    tickets.sla_watch(ctx)
    assert sla_alerts() == {}
    ctx.clock.advance(hours=16)  # Saturday 09:30: the wall clock would have breached it
    tickets.sla_watch(ctx)
    assert sla_alerts() == {f"{urgent.id}/respond": "critical", f"{urgent.id}/resolve": "critical"}
    ctx.clock.advance(((monday_1pm - ctx.clock.now()) - timedelta(minutes=45)).total_seconds())
    tickets.sla_watch(ctx)  # Monday 12:15: 45 of its 240 minutes left, in the last fifth
    assert sla_alerts()[f"{normal.id}/respond"] == "warning"
    [warning] = [
        a
        for a in alerts.list_(ctx, SYSTEM, org_id=org, state="active").items
        if a.labels["ticket"] == str(normal.id)
    ]
    assert "answer is due 2026-11-30 13:00 Europe/Berlin: Printer jams" in warning.summary
    ctx.clock.advance(minutes=46)
    tickets.sla_watch(ctx)
    assert sla_alerts()[f"{normal.id}/respond"] == "critical"
    assert f"{normal.id}/resolve" not in sla_alerts()  # due Wednesday 17:00


def _breach_an_urgent_ticket(ctx: Context, shop: dict[str, Any]) -> tickets.TicketDetail:
    """A client's urgent ticket nobody answered in its 15 minutes: an SLA alert (critical)."""
    clara = Actor(shop["staff"].id, "clara", roles={shop["org"]: Role.VIEWER})
    t = tickets.create(
        ctx,
        clara,
        tickets.TicketCreate(org_id=shop["org"], title="till is dead", priority="urgent"),
    )
    ctx.clock.advance(minutes=16)
    assert tickets.sla_watch(ctx) == 1
    return t


def test_sla_alerts_stay_out_of_the_months_alert_figures(ctx, shop):
    """An SLA alert is about our own service, not the client's IT: the month's alert count,
    MTTA and MTTR are those of the client's problems only."""
    month = ctx.clock.now().strftime("%Y-%m")
    observe(ctx, shop["check"], Status.CRITICAL, "no ping")
    [problem] = alerts.list_(ctx, SYSTEM, org_id=shop["org"]).items
    ctx.clock.advance(minutes=6)
    alerts.acknowledge(ctx, SYSTEM, problem.id, AckRequest())
    ctx.clock.advance(minutes=4)
    observe(ctx, shop["check"], Status.OK, "ping")
    t = _breach_an_urgent_ticket(ctx, shop)
    [sla] = alerts.list_(ctx, SYSTEM, org_id=shop["org"], state="active").items
    assert sla.labels["kind"] == "ticket"
    ctx.clock.advance(hours=2)
    alerts.acknowledge(ctx, SYSTEM, sla.id, AckRequest())
    tickets.update(ctx, SYSTEM, t.id, tickets.TicketUpdate(status="resolved"))
    tickets.sla_watch(ctx)
    assert alerts.get(ctx, SYSTEM, sla.id).state == "resolved"

    report = tickets.service_report(ctx, SYSTEM, shop["org"], month)
    assert report.alerts == 1
    assert report.mtta_s == pytest.approx(360) and report.mttr_s == pytest.approx(600)


def test_an_sla_alert_never_opens_a_ticket(ctx, shop):
    """A catch-all route that opens tickets: a user's ticket missing its deadline pages
    someone, but gets no second ticket "from monitoring" (which made a month in which the
    platform caught nothing read 50 % proactive)."""
    month = ctx.clock.now().strftime("%Y-%m")
    channel = notify.create_channel(
        ctx,
        SYSTEM,
        notify.ChannelCreate(org_id=shop["org"], name="nowhere", url="json://127.0.0.1:9/x"),
    )
    notify.create_route(
        ctx,
        SYSTEM,
        notify.RouteCreate(
            org_id=shop["org"],
            name="everything makes work",
            steps=[{"channels": [channel.id]}],
            open_ticket=True,
        ),
    )
    t = _breach_an_urgent_ticket(ctx, shop)
    [sla] = alerts.list_(ctx, SYSTEM, org_id=shop["org"], state="active").items
    assert [d.alert_id for d in notify.list_deliveries(ctx, SYSTEM, org_id=shop["org"]).items] == [
        sla.id
    ]  # routed: someone is told
    assert [x.id for x in tickets.list_(ctx, SYSTEM, org_id=shop["org"]).items] == [t.id]
    with pytest.raises(ServiceError, match=f"about ticket #{t.id}"):
        tickets.from_alert(ctx, SYSTEM, sla.id)  # nor by hand
    report = tickets.service_report(ctx, SYSTEM, shop["org"], month)
    assert (report.tickets, report.proactive, report.proactive_share) == (1, 0, 0.0)
    # A problem of the client's IT still opens its ticket by the same rule.
    observe(ctx, shop["check"], Status.CRITICAL, "no ping")
    assert len(tickets.list_(ctx, SYSTEM, org_id=shop["org"]).items) == 2


def test_an_sla_alerts_page_leads_to_its_ticket_and_offers_no_other(ctx, shop, client, owner):
    """On the page, a deadline alert links the ticket it is about; no "Open a ticket" nor
    "Add to a ticket" (both would be refused)."""
    t = _breach_an_urgent_ticket(ctx, shop)
    [sla] = alerts.list_(ctx, SYSTEM, org_id=shop["org"], state="active").items
    signed_in(client, owner.username)
    page = client.get(f"/alerts/{sla.id}").text
    assert f'href="/tickets/{t.id}">About ticket #{t.id}</a>' in page
    assert "Open a ticket" not in page and "Add to a ticket" not in page


def _berlin_month_end(ctx: Context) -> int:
    """An organization in Berlin with an alert and a ticket at 23:30 UTC on 31 October 2026:
    00:30 on 1 November on its clocks (winter time, UTC+1)."""
    org = make_org(ctx, "Berlin Bakery", timezone="Europe/Berlin")
    at = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    with ctx.db.transaction() as session:
        session.add(
            AlertRow(
                org_id=org,
                fingerprint="n" * 16,
                labels={"org": str(org), "check": "1"},
                severity="critical",
                state="resolved",
                summary="oven controller offline",
                opened_at=at,
                last_fired_at=at,
                resolved_at=at + timedelta(minutes=20),
            )
        )
        session.add(
            Ticket(
                org_id=org,
                title="oven controller offline",
                status="new",
                priority="normal",
                origin="monitoring",
                reporter="forewarn",
                created_at=at,
                updated_at=at,
            )
        )
    return org


def test_the_api_counts_the_month_on_the_organizations_clocks(client, ctx, owner):
    org = _berlin_month_end(ctx)

    def report(month: str) -> dict[str, Any]:
        r = client.get(
            f"/api/v1/orgs/{org}/service-report", params={"month": month}, headers=owner.headers
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    november, october = report("2026-11"), report("2026-10")
    assert (november["alerts"], november["tickets"], november["mttr_s"]) == (1, 1, 1200)
    assert (october["alerts"], october["tickets"]) == (0, 0)


# ---- the proactive share: the same problem, reported first ---------------------------------------


def _office(ctx: Context) -> dict[str, Any]:
    """A client with a server (two checks) and a PC (one), and who reports and works tickets."""
    org = make_org(ctx, "Harbour Office")
    made: dict[str, Any] = {"org": org}
    for asset_name, names in (("fs01", ("disk", "backup")), ("pc02", ("ping",))):
        asset = assets.create(ctx, SYSTEM, AssetCreate(org_id=org, name=asset_name, kind="server"))
        for name in names:
            made[name] = checks.create(
                ctx,
                SYSTEM,
                CheckCreate(
                    asset_id=asset.id, name=name, type="heartbeat", max_attempts=1, interval_s=60
                ),
            ).id
    make_person(ctx, "hanna", roles={org: "viewer"})
    make_person(ctx, "theo", roles={org: "technician"})
    made["staff"] = Actor(None, "hanna", roles={org: Role.VIEWER})
    made["tech"] = Actor(None, "theo", roles={org: Role.TECHNICIAN})
    return made


def _alert_of(ctx: Context, office: dict[str, Any], check: str) -> int:
    observe(ctx, office[check], Status.CRITICAL, f"{check} failed")
    return next(
        a.id
        for a in alerts.list_(ctx, SYSTEM, org_id=office["org"], state="active").items
        if a.check_id == office[check]
    )


def _reported(ctx: Context, office: dict[str, Any], title: str, linked_to: int | None) -> int:
    """A ticket the client's staff reported; a technician links it to an alert."""
    t = tickets.create(
        ctx, office["staff"], tickets.TicketCreate(org_id=office["org"], title=title)
    )
    if linked_to is not None:
        tickets.link_alert(ctx, office["tech"], t.id, tickets.AlertLink(alert_id=linked_to))
    return t.id


def _platform_first(ctx: Context, office: dict[str, Any]) -> None:
    alert = _alert_of(ctx, office, "backup")
    tickets.from_alert(ctx, SYSTEM, alert)
    ctx.clock.advance(minutes=30)
    _reported(ctx, office, "backup mails stopped?", alert)  # after: caught first both


def _user_first_on_the_same_asset(ctx: Context, office: dict[str, Any]) -> None:
    report = _reported(ctx, office, "the file server is slow", None)
    ctx.clock.advance(minutes=5)
    tickets.link_alert(
        ctx, office["tech"], report, tickets.AlertLink(alert_id=_alert_of(ctx, office, "disk"))
    )
    ctx.clock.advance(hours=3)
    tickets.from_alert(ctx, SYSTEM, _alert_of(ctx, office, "backup"))


def _user_first_on_another_asset(ctx: Context, office: dict[str, Any]) -> None:
    report = _reported(ctx, office, "the PC is slow", None)
    ctx.clock.advance(minutes=5)
    tickets.link_alert(
        ctx, office["tech"], report, tickets.AlertLink(alert_id=_alert_of(ctx, office, "ping"))
    )
    ctx.clock.advance(hours=3)
    tickets.from_alert(ctx, SYSTEM, _alert_of(ctx, office, "backup"))


def _user_linked_to_the_alert(ctx: Context, office: dict[str, Any]) -> None:
    report = _reported(ctx, office, "backup mails stopped", None)
    ctx.clock.advance(hours=30)  # more than a day: the link alone says it is the same
    alert = _alert_of(ctx, office, "backup")
    tickets.from_alert(ctx, SYSTEM, alert)
    tickets.link_alert(ctx, office["tech"], report, tickets.AlertLink(alert_id=alert))


@pytest.mark.parametrize(
    ("story", "proactive"),
    [
        (_platform_first, 2),
        (_user_first_on_the_same_asset, 0),
        (_user_first_on_another_asset, 1),
        (_user_linked_to_the_alert, 0),
    ],
)
def test_a_platform_ticket_counts_only_if_no_person_reported_the_problem_first(
    client, ctx, owner, story, proactive
):
    office = _office(ctx)
    month = ctx.clock.now().strftime("%Y-%m")
    story(ctx, office)
    report = tickets.service_report(ctx, SYSTEM, office["org"], month)
    assert (report.tickets, report.proactive) == (2, proactive)
    # The monthly report tells the same.
    doc = client.get(
        f"/api/v1/orgs/{office['org']}/service-report",
        params={"month": month},
        headers=owner.headers,
    ).json()
    assert doc["proactive"] == proactive
    assert monthly_report.build(ctx, SYSTEM, office["org"], month)["headline"]["caught"] == (
        proactive
    )


def test_a_report_from_the_month_before_still_came_first(ctx):
    """Reported at 22:00 on 31 October, the platform's ticket of 1 November 06:00 on the same
    server: November's one ticket was not caught first."""
    org = make_org(ctx, "Late Night Ltd")
    asset = assets.create(ctx, SYSTEM, AssetCreate(org_id=org, name="fs01", kind="server")).id
    with ctx.db.transaction() as session:
        for n, (origin, at) in enumerate(
            (
                ("user", datetime(2026, 10, 31, 22, 0, tzinfo=UTC)),
                ("monitoring", datetime(2026, 11, 1, 6, 0, tzinfo=UTC)),
            )
        ):
            alert = AlertRow(
                org_id=org,
                fingerprint=f"{n}" * 16,
                labels={"org": str(org), "asset": str(asset)},
                severity="warning",
                state="open",
                summary=f"{origin} problem",
                asset_id=asset,
                opened_at=at,
                last_fired_at=at,
            )
            ticket = Ticket(
                org_id=org,
                title=f"{origin} problem",
                status="new",
                priority="normal",
                origin=origin,
                reporter="someone",
                created_at=at,
                updated_at=at,
            )
            session.add_all([alert, ticket])
            session.flush()
            session.add(TicketAlert(ticket_id=ticket.id, alert_id=alert.id, linked_at=at))
    november = tickets.service_report(ctx, SYSTEM, org, "2026-11")
    assert (november.tickets, november.proactive, november.proactive_share) == (1, 0, 0.0)

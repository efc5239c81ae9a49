"""Checklists started as tickets: one ticket "Onboard: <name>" per checklist, its steps ticked on
it with each tick in the timeline; bad templates and parameters refused with the reason and
nothing created; a client's staff start a new hire or a leaver, not the rest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from forewarn.services import assets, checklists, evidence, monthly_report, tickets
from forewarn.services.context import Context
from forewarn.services.schemas import AssetCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import AuditEvent, Ticket, TicketChecklist, TicketChecklistStep
from tests.conftest import Person, make_org, make_person


@pytest.fixture
def shop(ctx: Context) -> dict[str, Any]:
    org = make_org(ctx, "Corner Bakery")
    other = make_org(ctx, "Other Co")
    laptop = assets.create(ctx, SYSTEM, AssetCreate(org_id=org, name="lt-07", kind="laptop"))
    foreign = assets.create(ctx, SYSTEM, AssetCreate(org_id=other, name="ot-01", kind="laptop"))
    return {
        "org": org,
        "laptop": laptop.id,
        "foreign": foreign.id,
        "tech": make_person(ctx, "tess", roles={org: "technician"}),
        "staff": make_person(ctx, "clara", roles={org: "viewer"}),
    }


def counts(ctx: Context) -> tuple[int, int, int, int]:
    with ctx.db.read() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(m)) or 0
            for m in (Ticket, TicketChecklist, TicketChecklistStep, AuditEvent)
        )


def test_templates_name_their_parameters_and_safeguards(client: TestClient, shop) -> None:
    r = client.get(f"/api/v1/orgs/{shop['org']}/checklists", headers=shop["staff"].headers)
    assert r.status_code == 200, r.text
    by_id = {t["id"]: t for t in r.json()}
    assert set(by_id) == {"new-saas", "new-laptop", "new-hire", "leaver"}
    assert [p["kind"] for p in by_id["new-laptop"]["parameters"]] == ["asset", "text"]
    assert by_id["leaver"]["clients"] and not by_id["new-saas"]["clients"]
    assert "6.2" in by_id["leaver"]["steps"][0]["safeguards"]


def test_a_technician_starts_a_laptop_checklist_and_ticks_its_steps(
    client: TestClient, ctx: Context, shop
) -> None:
    tech: Person = shop["tech"]
    r = client.post(
        f"/api/v1/orgs/{shop['org']}/checklists/new-laptop/start",
        json={"parameters": {"laptop": shop["laptop"], "user": "  Jane   Doe "}},
        headers=tech.headers,
    )
    assert r.status_code == 201, r.text
    t = r.json()
    assert (t["title"], t["origin"], t["reporter"], t["status"]) == (
        "Onboard: lt-07",
        "checklist",
        "tess",
        "new",
    )
    assert "Who will use it: Jane Doe" in t["description"]
    checklist = t["checklist"]
    assert (checklist["template"], checklist["done"], checklist["total"]) == ("new-laptop", 0, 7)
    assert checklist["parameters"] == {"laptop": shop["laptop"], "user": "Jane Doe"}
    assert checklist["steps"][2]["title"] == "Encrypt the disk"
    assert checklist["steps"][2]["safeguards"] == ["3.6"]
    assert [e["kind"] for e in t["events"]] == ["created", "checklist"]
    assert t["first_response_at"] is None  # starting it is no answer to anyone

    step = f"/api/v1/tickets/{t['id']}/steps"
    ctx.clock.advance(minutes=10)
    r = client.put(f"{step}/3", json={"done": True}, headers=tech.headers)
    assert r.status_code == 200, r.text
    ticked = r.json()
    assert ticked["checklist"]["done"] == 1
    s3 = ticked["checklist"]["steps"][2]
    assert s3["done_by"] == "tess" and s3["done_at"] is not None
    assert ticked["events"][-1]["kind"] == "step_done"
    assert ticked["events"][-1]["detail"] == "3. Encrypt the disk (1 of 7 done)"
    assert ticked["first_response_at"] is not None
    # The same state again changes nothing, and records nothing.
    again = client.put(f"{step}/3", json={"done": True}, headers=tech.headers).json()
    assert len(again["events"]) == len(ticked["events"])
    client.put(f"{step}/1", json={"done": True}, headers=tech.headers)
    undone = client.put(f"{step}/3", json={"done": False}, headers=tech.headers).json()
    assert undone["checklist"]["done"] == 1
    assert undone["checklist"]["steps"][2]["done_at"] is None
    assert undone["events"][-1]["detail"] == "3. Encrypt the disk (1 of 7 done)"
    assert [e["kind"] for e in undone["events"]][-3:] == ["step_done", "step_done", "step_undone"]

    # A client's staff read the checklist but do not tick it; no such step is not found.
    assert (
        client.put(f"{step}/1", json={"done": False}, headers=shop["staff"].headers).status_code
        == 403
    )
    assert client.put(f"{step}/8", json={"done": True}, headers=tech.headers).status_code == 404
    assert client.put(f"{step}/0", json={"done": True}, headers=tech.headers).status_code == 422
    # A closed ticket's checklist is final.
    for status in ("resolved", "closed"):
        client.patch(f"/api/v1/tickets/{t['id']}", json={"status": status}, headers=tech.headers)
    r = client.put(f"{step}/2", json={"done": True}, headers=tech.headers)
    assert r.status_code == 422 and "closed" in r.json()["detail"]


def test_a_ticket_without_a_checklist_has_no_steps(client: TestClient, shop) -> None:
    tech: Person = shop["tech"]
    plain = client.post(
        "/api/v1/tickets", json={"org_id": shop["org"], "title": "Printer"}, headers=tech.headers
    ).json()
    assert plain["checklist"] is None
    r = client.put(
        f"/api/v1/tickets/{plain['id']}/steps/1", json={"done": True}, headers=tech.headers
    )
    assert r.status_code == 404 and "checklist" in r.json()["detail"]


@pytest.mark.parametrize(
    ("template", "body", "status", "said"),
    [
        (
            "no-such",
            {"parameters": {"person": "Jane"}},
            404,
            "no checklist template 'no-such' here",
        ),
        ("leaver", {"parameters": {}}, 422, "person: required: The leaver's name"),
        ("leaver", {"parameters": {"person": "   "}}, 422, "person: required"),
        (
            "leaver",
            {"parameters": {"person": "Jane", "last_day": "31/12/2026"}},
            422,
            "last_day: must be a date as YYYY-MM-DD",
        ),
        (
            "leaver",
            {"parameters": {"person": "Jane", "badge": "7"}},
            422,
            "badge: not a parameter of leaver",
        ),
        ("leaver", {"parameters": {"person": "J" * 201}}, 422, "longer than 200 characters"),
        ("leaver", {"parameters": {"person": 7}}, 422, "person: must be text"),
        ("leaver", {"parameters": {"person": "Ja\x00ne"}}, 422, "person"),
        ("leaver", {"parameters": {"person": "Jane", "p\x00": "x"}}, 422, "parameters"),
        ("new-laptop", {"parameters": {"laptop": "lt-07"}}, 422, "must be the id of an asset"),
        ("new-laptop", {"parameters": {"laptop": "FOREIGN"}}, 422, "no such asset in this"),
        ("leaver", {"parameters": {"person": "Jane"}, "extra": 1}, 422, "extra"),
        ("Leaver!", {"parameters": {"person": "Jane"}}, 422, "template"),
    ],
)
def test_bad_starts_say_why_and_create_nothing(
    client: TestClient,
    ctx: Context,
    shop,
    template: str,
    body: dict[str, Any],
    status: int,
    said: str,
) -> None:
    if body["parameters"].get("laptop") == "FOREIGN":
        body["parameters"]["laptop"] = shop["foreign"]
    before = counts(ctx)
    r = client.post(
        f"/api/v1/orgs/{shop['org']}/checklists/{template}/start",
        json=body,
        headers=shop["tech"].headers,
    )
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert said in r.text
    assert counts(ctx) == before


def test_every_problem_is_named_at_once(client: TestClient, ctx: Context, shop) -> None:
    r = client.post(
        f"/api/v1/orgs/{shop['org']}/checklists/new-hire/start",
        json={"parameters": {"start_date": "tomorrow", "shoe_size": "44"}},
        headers=shop["tech"].headers,
    )
    assert r.status_code == 422
    places = sorted(e["loc"][-1] for e in r.json()["errors"])
    assert places == ["person", "shoe_size", "start_date"]


def test_client_staff_start_a_leaver_but_not_a_new_application(
    client: TestClient, ctx: Context, shop
) -> None:
    staff: Person = shop["staff"]
    base = f"/api/v1/orgs/{shop['org']}/checklists"
    before = counts(ctx)
    r = client.post(
        f"{base}/new-saas/start",
        json={"parameters": {"application": "Xero"}},
        headers=staff.headers,
    )
    assert r.status_code == 403 and "technician" in r.text
    assert counts(ctx) == before
    r = client.post(
        f"{base}/leaver/start",
        json={"parameters": {"person": "Sam Smith", "last_day": "2026-12-31"}},
        headers=staff.headers,
    )
    assert r.status_code == 201, r.text
    t = r.json()
    assert (t["title"], t["reporter"], t["origin"]) == (
        "Onboard: Sam Smith (leaver)",
        "clara",
        "checklist",
    )
    assert t["checklist"]["parameters"] == {"person": "Sam Smith", "last_day": "2026-12-31"}
    # An outsider cannot start one for this organization, nor see its templates.
    outsider = make_person(ctx, "olga", roles={make_org(ctx, "Elsewhere"): "admin"})
    r = client.post(
        f"{base}/leaver/start", json={"parameters": {"person": "X"}}, headers=outsider.headers
    )
    assert r.status_code == 404
    assert client.get(base, headers=outsider.headers).status_code == 404


def test_finished_leavers_are_counted_for_the_assessment(ctx: Context, shop) -> None:
    start = ctx.clock.now()
    done = checklists.start(
        ctx, SYSTEM, shop["org"], "leaver", checklists.ChecklistStart(parameters={"person": "A"})
    )
    half = checklists.start(
        ctx, SYSTEM, shop["org"], "leaver", checklists.ChecklistStart(parameters={"person": "B"})
    )
    checklists.start(
        ctx, SYSTEM, shop["org"], "new-hire", checklists.ChecklistStart(parameters={"person": "C"})
    )
    assert done.checklist is not None
    for s in done.checklist.steps:
        checklists.tick(ctx, SYSTEM, done.id, s.position, checklists.StepTick(done=True))
    checklists.tick(ctx, SYSTEM, half.id, 1, checklists.StepTick(done=True))
    with ctx.db.read() as session:
        assert checklists.completed(session, shop["org"], "leaver", start) == 1
        assert checklists.completed(session, shop["org"], "new-hire", start) == 0
        later = start + timedelta(seconds=1)
        assert checklists.completed(session, shop["org"], "leaver", later) == 0
    final = tickets.get(ctx, SYSTEM, done.id)
    assert final.checklist is not None and final.checklist.done == final.checklist.total == 5

    # The assessment's evidence for 6.2 (access revoked): a finished leaver passes; one still
    # open is work in progress for a week, then a failure.
    def leavers() -> list[tuple[str, bool]]:
        with ctx.db.read() as session:
            machine = evidence.gather(session, shop["org"], ctx.clock.now()).machine
        return [(i.subject, i.ok) for i in machine["6.2"].items]

    assert leavers() == [(done.title, True)]
    ctx.clock.advance(days=8)  # type: ignore[attr-defined]
    assert leavers() == [(done.title, True), (half.title, False)]


def test_a_checklist_is_left_out_of_the_proactive_share(
    client: TestClient, ctx: Context, shop
) -> None:
    tech: Person = shop["tech"]
    client.post(
        "/api/v1/tickets", json={"org_id": shop["org"], "title": "Printer"}, headers=tech.headers
    )
    client.post(
        f"/api/v1/orgs/{shop['org']}/checklists/new-hire/start",
        json={"parameters": {"person": "Jane"}},
        headers=tech.headers,
    )
    month = ctx.clock.now().strftime("%Y-%m")
    r = client.get(
        f"/api/v1/orgs/{shop['org']}/service-report", params={"month": month}, headers=tech.headers
    )
    figures = r.json()
    assert (figures["tickets"], figures["proactive"], figures["proactive_share"]) == (2, 0, 0.0)
    assert figures["problems"] == 1
    # The monthly report's headline counts problems, not planned work.
    headline = monthly_report.build(ctx, SYSTEM, shop["org"], month)["headline"]
    assert headline["text"] == "0 of 1 problem was caught before anyone reported them."


PRINTER = """
checklists:
  - id: new-printer
    title: A new printer
    parameters:
      - id: printer
        label: The printer
        kind: asset
    steps:
      - title: Change its default password
        safeguards: ["4.7"]
      - title: Update its firmware
        safeguards: ["7.3"]
"""
YAML = {"Content-Type": "application/yaml"}


def test_an_organization_imports_its_own_templates_and_starts_one(
    client: TestClient, ctx: Context, shop
) -> None:
    tech: Person = shop["tech"]
    base = f"/api/v1/orgs/{shop['org']}/checklists"
    r = client.post(f"{base}/import", content=PRINTER, headers={**tech.headers, **YAML})
    assert r.status_code == 200, r.text
    assert [(t["id"], t["source"]) for t in r.json()] == [("new-printer", "organization")]
    listed = client.get(base, headers=shop["staff"].headers).json()
    assert [t["source"] for t in listed] == ["provider"] * 4 + ["organization"]
    r = client.post(
        f"{base}/new-printer/start",
        json={"parameters": {"printer": shop["laptop"]}},
        headers=tech.headers,
    )
    assert r.status_code == 201, r.text
    started = r.json()
    assert started["title"] == "Onboard: lt-07" and started["checklist"]["total"] == 2
    # Importing again replaces the templates; a checklist under way keeps its steps.
    other = PRINTER.replace("new-printer", "new-phone").replace("A new printer", "A new phone")
    r = client.post(f"{base}/import", content=other, headers={**tech.headers, **YAML})
    assert r.status_code == 200
    ids = [t["id"] for t in client.get(base, headers=tech.headers).json()]
    assert ids[-1] == "new-phone" and "new-printer" not in ids
    again = client.get(f"/api/v1/tickets/{started['id']}", headers=tech.headers).json()
    assert again["checklist"]["template"] == "new-printer"
    assert [s["title"] for s in again["checklist"]["steps"]][1] == "Update its firmware"
    r = client.post(
        f"{base}/new-printer/start",
        json={"parameters": {"printer": shop["laptop"]}},
        headers=tech.headers,
    )
    assert r.status_code == 404 and "new-phone" in r.json()["detail"]
    # Another organization does not get them.
    elsewhere = make_org(ctx, "Elsewhere")
    boss = make_person(ctx, "bea", roles={elsewhere: "admin"})
    theirs = client.get(f"/api/v1/orgs/{elsewhere}/checklists", headers=boss.headers).json()
    assert [t["id"] for t in theirs] == ["new-saas", "new-laptop", "new-hire", "leaver"]


def test_a_bad_templates_file_is_refused_whole_with_each_problem_named(
    client: TestClient, ctx: Context, shop
) -> None:
    tech: Person = shop["tech"]
    base = f"/api/v1/orgs/{shop['org']}/checklists"
    assert (
        client.post(f"{base}/import", content=PRINTER, headers={**tech.headers, **YAML}).status_code
        == 200
    )
    before = (counts(ctx), client.get(base, headers=tech.headers).json())
    bad = """
checklists:
  - id: leaver
    title: Our leaver
    steps:
      - title: Take the keys
  - id: new-van
    title: A new van
    colour: white
    steps:
      - title: Insure it
        safeguards: ["99.1"]
"""
    r = client.post(f"{base}/import", content=bad, headers={**tech.headers, **YAML})
    assert r.status_code == 422
    said = [e["msg"] for e in r.json()["errors"]]
    assert said == [
        "checklists[0].id: 'leaver' is a provider-wide template; choose another id",
        "checklists[1]: unknown key 'colour'",
        "checklist new-van.steps[0].safeguards: '99.1' is not a CIS v8 IG1 safeguard id",
    ]
    r = client.post(f"{base}/import", content="checklists: [", headers={**tech.headers, **YAML})
    assert r.status_code == 422 and "not valid YAML" in r.text
    r = client.post(f"{base}/import", content=b"\xff\xfe", headers={**tech.headers, **YAML})
    assert r.status_code == 422 and "not UTF-8" in r.text
    nul = PRINTER.replace("A new printer", "A new\x00printer")
    r = client.post(f"{base}/import", content=nul, headers={**tech.headers, **YAML})
    assert r.status_code == 422 and "not valid YAML" in r.text
    r = client.post(
        f"{base}/import",
        content=PRINTER,
        headers={**tech.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 415
    r = client.post(f"{base}/import", content=PRINTER, headers={**shop["staff"].headers, **YAML})
    assert r.status_code == 403
    assert (counts(ctx), client.get(base, headers=tech.headers).json()) == before

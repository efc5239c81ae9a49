"""Automation pages: schedules on the scripts page (create, pause, resume) and the remedies
page with success rates; viewers see no buttons and are refused; outsiders get 404."""

from __future__ import annotations

from fastapi.testclient import TestClient

from forewarn.services import checks, remedies, schedules, scripts
from forewarn.services.context import Context
from forewarn.services.schemas import CheckCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import RemedyAttempt
from tests.conftest import make_org, make_person
from tests.integration.test_ingest import enroll
from tests.integration.test_web import signed_in


def test_schedules_from_the_scripts_page(client: TestClient, ctx: Context) -> None:
    org = make_org(ctx, "Paged Schedules Ltd")
    enroll(client, ctx, org)
    script = scripts.create(
        ctx,
        SYSTEM,
        scripts.ScriptCreate(org_id=org, name="tidy", language="bash", body="true"),
    ).id
    make_person(ctx, "sviewer", roles={org: "viewer"})
    csrf = signed_in(client, "sviewer")
    assert "New schedule" not in client.get(f"/orgs/{org}/scripts").text
    form = {
        "csrf_token": csrf,
        "name": "nightly",
        "script_id": str(script),
        "start_local": "2026-11-03T02:00",
        "repeat": "weekly",
        "weekdays": ["1", "4"],
    }
    r = client.post(f"/orgs/{org}/script-schedules", data=form, follow_redirects=False)
    assert r.status_code == 403
    assert schedules.list_for_org(ctx, SYSTEM, org) == []

    make_person(ctx, "stech", roles={org: "technician"})
    form["csrf_token"] = signed_in(client, "stech")
    bad = {**form, "params": "NOPE=1"}
    r = client.post(f"/orgs/{org}/script-schedules", data=bad, follow_redirects=False)
    assert r.status_code == 303 and schedules.list_for_org(ctx, SYSTEM, org) == []
    assert "NOPE" in client.get(r.headers["location"]).text  # the refusal, said on the page
    r = client.post(f"/orgs/{org}/script-schedules", data=form, follow_redirects=False)
    assert r.status_code == 303
    (made,) = schedules.list_for_org(ctx, SYSTEM, org)
    assert (made.name, made.repeat, made.weekdays, made.enabled) == (
        "nightly",
        "weekly",
        "1,4",
        True,
    )
    page = client.get(f"/orgs/{org}/scripts").text
    assert "Scheduled nightly." in page and "weekly (1,4) at 02:00" in page and "Pause" in page
    r = client.post(
        f"/orgs/{org}/script-schedules/{made.id}/enabled",
        data={"csrf_token": form["csrf_token"], "enabled": "false"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert schedules.list_for_org(ctx, SYSTEM, org)[0].enabled is False
    assert "nightly paused." in client.get(r.headers["location"]).text

    make_person(ctx, "soutsider", roles={make_org(ctx, "Elsewhere Two"): "admin"})
    signed_in(client, "soutsider")
    assert client.get(f"/orgs/{org}/remedies").status_code == 404


def test_the_remedies_page_shows_success_rates(client: TestClient, ctx: Context) -> None:
    org = make_org(ctx, "Paged Remedies Ltd")
    agent = enroll(client, ctx, org)
    check = checks.create(
        ctx,
        SYSTEM,
        CheckCreate(asset_id=agent["asset_id"], name="web", type="tcp", target="127.0.0.1:9"),
    ).id
    remedy = remedies.create(
        ctx,
        SYSTEM,
        remedies.RemedyCreate(check_id=check, kind="restart_service", service="nginx"),
    ).id
    now = ctx.clock.now()
    with ctx.db.transaction() as s:
        for outcome in ("fixed", "fixed", "not_fixed"):
            s.add(
                RemedyAttempt(
                    org_id=org,
                    remedy_id=remedy,
                    check_id=check,
                    number=1,
                    state="done",
                    outcome=outcome,
                    detail=f"<b>{outcome}</b>",
                    created_at=now,
                    hold_until=now,
                    finished_at=now,
                )
            )
    make_person(ctx, "rviewer", roles={org: "viewer"})
    signed_in(client, "rviewer")
    page = client.get(f"/orgs/{org}/remedies").text
    assert "Success rate: 66.7 %" in page and "restart <code>nginx</code>" in page
    assert "&lt;b&gt;not_fixed&lt;/b&gt;" in page  # escaped, never markup


def test_a_technician_attaches_and_removes_a_remedy_from_the_page(
    client: TestClient, ctx: Context
) -> None:
    org = make_org(ctx, "Paged Healing Ltd")
    agent = enroll(client, ctx, org)
    check = checks.create(
        ctx,
        SYSTEM,
        CheckCreate(asset_id=agent["asset_id"], name="web port", type="tcp", target="127.0.0.1:9"),
    ).id
    make_person(ctx, "hviewer", roles={org: "viewer"})
    csrf = signed_in(client, "hviewer")
    assert "Attach a remedy" not in client.get(f"/orgs/{org}/remedies").text
    form = {
        "csrf_token": csrf,
        "check_id": str(check),
        "kind": "restart_service",
        "service": "nginx",
    }
    r = client.post(f"/orgs/{org}/remedies", data=form, follow_redirects=False)
    assert r.status_code == 403

    make_person(ctx, "htech", roles={org: "technician"})
    form["csrf_token"] = signed_in(client, "htech")
    page = client.get(f"/orgs/{org}/remedies").text
    assert "Attach a remedy" in page and "web port" in page
    bad = {**form, "service": "--now; reboot"}
    r = client.post(f"/orgs/{org}/remedies", data=bad, follow_redirects=False)
    assert r.status_code == 303
    assert remedies.for_org(ctx, SYSTEM, org).remedies == []
    r = client.post(
        f"/orgs/{org}/remedies", data={**form, "cooldown_min": "5"}, follow_redirects=False
    )
    assert r.status_code == 303
    (made,) = remedies.for_org(ctx, SYSTEM, org).remedies
    assert (made.check_id, made.service, made.cooldown_s) == (check, "nginx", 300)
    page = client.get(r.headers["location"]).text
    assert "Remedy attached" in page and "restart <code>nginx</code>" in page
    r = client.post(
        f"/orgs/{org}/remedies/{made.id}/delete",
        data={"csrf_token": form["csrf_token"]},
        follow_redirects=False,
    )
    assert r.status_code == 303 and remedies.for_org(ctx, SYSTEM, org).remedies == []

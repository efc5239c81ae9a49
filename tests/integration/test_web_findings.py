"""The findings register on its page: narrowing it, accepting a risk until a day, marking a
finding fixed, and who may do which."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from forewarn.services import findings
from forewarn.services.context import Context
from forewarn.store.models import Finding
from tests.conftest import make_org, make_person
from tests.integration.test_web import signed_in


def raise_(ctx: Context, org_id: int, rule: str, key: str, severity: str, title: str) -> int:
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        raised = findings.Raised(key=key, severity=severity, title=title, evidence={"seen": key})
        finding, _ = findings.raise_or_refresh(session, org_id, rule, raised, now)
        return finding.id


def stored(ctx: Context, finding_id: int) -> Finding:
    with ctx.db.read() as session:
        row = session.scalars(select(Finding).where(Finding.id == finding_id)).one()
        session.expunge(row)
        return row


def test_narrow_accept_and_mark_fixed(client: TestClient, ctx: Context) -> None:
    org = make_org(ctx, "Register Ltd")
    ssh = raise_(ctx, org, "posture.linux.ssh.root_login", "1", "high", "SSH accepts root")
    cert = raise_(ctx, org, "expiry.certificate", "shop", "medium", "Certificate expires soon")
    make_person(ctx, "tech", roles={org: "technician"})
    csrf = signed_in(client, "tech")

    page = client.get(f"/orgs/{org}/findings?family=posture.").text
    assert "SSH accepts root" in page and "Certificate expires soon" not in page
    assert "Posture: linux.ssh.root_login" in page  # the rule, named by its family
    page = client.get(f"/orgs/{org}/findings?severity=medium").text
    assert "Certificate expires soon" in page and "SSH accepts root" not in page

    # A day in the past is refused with its reason, and nothing changes.
    yesterday = (ctx.clock.now() - timedelta(days=1)).date().isoformat()
    r = client.post(
        f"/orgs/{org}/findings/{ssh}/accept",
        data={"csrf_token": csrf, "reason": "legacy backup tool", "until": yesterday},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert (
        "Not accepted. Until must be a day after today." in client.get(r.headers["location"]).text
    )
    assert stored(ctx, ssh).status == "open"

    until = (ctx.clock.now() + timedelta(days=30)).date().isoformat()
    r = client.post(
        f"/orgs/{org}/findings/{ssh}/accept",
        data={"csrf_token": csrf, "reason": "legacy backup tool", "until": until},
        follow_redirects=False,
    )
    row = stored(ctx, ssh)
    assert (row.status, row.accepted_reason, row.accepted_by) == (
        "accepted",
        "legacy backup tool",
        "tech",
    )
    shown = client.get(f"/orgs/{org}/findings?status=accepted").text
    assert "“legacy backup tool”" in shown and "Take back" in shown

    r = client.post(
        f"/orgs/{org}/findings/{cert}/resolve",
        data={"csrf_token": csrf, "note": "renewed"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    row = stored(ctx, cert)
    assert row.status == "resolved" and row.evidence["fixed_note"] == "renewed"
    # Still true at its rule's next run: it opens again.
    raise_(ctx, org, "expiry.certificate", "shop", "medium", "Certificate expires soon")
    assert stored(ctx, cert).status == "open"


def test_viewers_see_no_actions_and_other_organizations_get_nothing(
    client: TestClient, ctx: Context
) -> None:
    org = make_org(ctx, "Viewed Ltd")
    fid = raise_(ctx, org, "network.unknown_device", "10.0.0.9", "low", "Unknown device")
    make_person(ctx, "viewer", roles={org: "viewer"})
    csrf = signed_in(client, "viewer")
    page = client.get(f"/orgs/{org}/findings").text
    assert "Unknown device" in page and "Mark fixed" not in page
    r = client.post(
        f"/orgs/{org}/findings/{fid}/resolve", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 403
    assert stored(ctx, fid).status == "open"

    make_person(ctx, "stranger", roles={make_org(ctx, "Other Ltd"): "admin"})
    csrf = signed_in(client, "stranger")
    r = client.post(
        f"/orgs/{org}/findings/{fid}/resolve", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 404
    assert stored(ctx, fid).status == "open"


def test_assign_to_oneself_and_see_only_mine(client: TestClient, ctx: Context) -> None:
    org = make_org(ctx, "Assigned Ltd")
    mine = raise_(ctx, org, "agent.outdated", "7", "low", "Agent on fs07 is outdated")
    other = raise_(ctx, org, "agent.outdated", "8", "low", "Agent on fs08 is outdated")
    tech = make_person(ctx, "tech", roles={org: "technician"})
    stranger = make_person(ctx, "stranger", roles={make_org(ctx, "Else Ltd"): "admin"})
    csrf = signed_in(client, "tech")

    r = client.post(
        f"/orgs/{org}/findings/{mine}/assign",
        data={"csrf_token": csrf, "assignee_id": str(tech.id)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and stored(ctx, mine).assignee_id == tech.id
    page = client.get(f"/orgs/{org}/findings?mine=1").text
    assert "fs07" in page and "fs08" not in page

    # Someone who is not of the organization cannot be given its work.
    r = client.post(
        f"/orgs/{org}/findings/{other}/assign",
        data={"csrf_token": csrf, "assignee_id": str(stranger.id)},
        follow_redirects=False,
    )
    assert "Not a member of this organization" in client.get(r.headers["location"]).text
    assert stored(ctx, other).assignee_id is None

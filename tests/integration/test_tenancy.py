"""Every API route, called about organization A's data by someone who may not touch it.

The case table must name every route the app serves: a new route without a case here
fails `test_every_route_has_a_case`, so tenancy is decided for each route on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from forewarn.probes import discover
from forewarn.services import (
    agent_jobs,
    assessments,
    assets,
    checklists,
    checks,
    discovery,
    enrollment,
    external,
    keys,
    maintenance,
    monthly_report,
    notify,
    patch_policies,
    policies,
    posture,
    remedies,
    report_sending,
    schedules,
    scripts,
    silences,
    sites,
    status_pages,
    tickets,
    users,
)
from forewarn.services.context import Context
from forewarn.services.schemas import (
    AssetCreate,
    CheckCreate,
    EnrollTokenCreate,
    InvitationCreate,
    MaintenanceCreate,
    PolicyCreate,
    SiteCreate,
    StatusNoteCreate,
)
from forewarn.services.scope import SYSTEM
from forewarn.store.models import Agent, AlertRow, Finding
from tests.conftest import Person, make_org, make_person


@dataclass
class World:
    org_a: int
    site_a: int
    asset_a: int
    admin_a: Person
    membership_a: int
    invitation_a: int
    token_a: int
    enroll_a: int
    check_a: int
    window_a: int
    policy_a: int
    note_a: int
    org_b: int
    viewer_b: Person
    owner: Person
    network_a: int = 0
    device_a: int = 0
    alert_a: int = 0
    channel_a: int = 0
    route_a: int = 0
    silence_a: int = 0
    ticket_a: int = 0
    posture_policy_a: int = 0
    finding_a: int = 0
    script_a: int = 0
    job_a: int = 0
    remedy_a: int = 0
    schedule_a: int = 0
    report_a: int = 0
    assessment_a: int = 0
    patch_policy_a: int = 0
    checklist_ticket_a: int = 0


@pytest.fixture
def world(ctx: Context, owner: Person) -> World:
    org_a = make_org(ctx, "Alpha Dental")
    site_a = sites.create(ctx, SYSTEM, SiteCreate(org_id=org_a, name="Alpha HQ")).id
    asset_a = assets.create(
        ctx, SYSTEM, AssetCreate(org_id=org_a, name="alpha-fs01", kind="server", site_id=site_a)
    ).id
    admin_a = make_person(ctx, "alpha-admin", roles={org_a: "admin"})
    membership_a = users.list_memberships(ctx, SYSTEM, org_id=org_a).items[0].id
    invitation_a = users.invite(ctx, SYSTEM, InvitationCreate(org_id=org_a)).id
    token_a = users.list_tokens(ctx, SYSTEM).items[-1].id
    enroll_a = enrollment.create_token(ctx, SYSTEM, EnrollTokenCreate(org_id=org_a)).id
    check_a = checks.create(
        ctx, SYSTEM, CheckCreate(asset_id=asset_a, name="alpha-backup", type="heartbeat")
    ).id
    window_a = maintenance.create(
        ctx,
        SYSTEM,
        MaintenanceCreate(
            org_id=org_a, name="alpha-patching", start_local="2026-11-01T22:00", duration_min=60
        ),
    ).id
    policy_a = policies.create(
        ctx,
        SYSTEM,
        PolicyCreate(
            org_id=org_a,
            name="alpha-baseline",
            checks=[{"name": "ping", "type": "ping", "target": "{host}"}],
        ),
    ).id
    note_a = status_pages.add_note(ctx, SYSTEM, org_a, StatusNoteCreate(title="alpha-outage")).id
    org_b = make_org(ctx, "Bravo Bakery")
    viewer_b = make_person(ctx, "bravo-viewer", roles={org_b: "viewer"})
    world = World(
        org_a,
        site_a,
        asset_a,
        admin_a,
        membership_a,
        invitation_a,
        token_a,
        enroll_a,
        check_a,
        window_a,
        policy_a,
        note_a,
        org_b,
        viewer_b,
        owner,
    )
    _discovery_of_a(ctx, world)
    _alerting_of_a(ctx, world)
    _posture_of_a(ctx, world)
    _jobs_of_a(ctx, world)
    _reports_of_a(ctx, world)
    _assessment_of_a(ctx, world)
    _patch_policies_of_a(ctx, world)
    _checklists_of_a(ctx, world)
    _automation_of_a(ctx, world)
    _report_recipients_of_a(ctx, world)
    return world


def _reports_of_a(ctx: Context, w: World) -> None:
    """A stored monthly report of A (the month before the test clock's)."""
    w.report_a = monthly_report.generate(ctx, SYSTEM, w.org_a, "2026-10").id


def _report_recipients_of_a(ctx: Context, w: World) -> None:
    """A's channel receives A's monthly report (so sending it again would queue a delivery)."""
    report_sending.set_recipients(
        ctx, SYSTEM, w.org_a, report_sending.RecipientsIn(channels=[w.channel_a])
    )


def _jobs_of_a(ctx: Context, w: World) -> None:
    """A script of A and a signed job for an agent on A's asset (never delivered)."""
    w.script_a = scripts.create(
        ctx,
        SYSTEM,
        scripts.ScriptCreate(org_id=w.org_a, name="alpha-clean", language="bash", body="true"),
    ).id
    now, key = ctx.clock.now(), keys.signing_key(ctx)
    with ctx.db.transaction() as session:
        agent = Agent(
            org_id=w.org_a,
            asset_id=w.asset_a,
            token_hash="a" * 64,
            enrolled_at=now,
            status_since=now,
        )
        session.add(agent)
        session.flush()
        w.job_a = agent_jobs.issue(
            session,
            key,
            now,
            org_id=w.org_a,
            asset_id=w.asset_a,
            agent_id=agent.id,
            kind="restart_service",
            payload={"service": "cron"},
        ).id


def _assessment_of_a(ctx: Context, w: World) -> None:
    """An answer and an assessment snapshot of A."""
    assessments.import_answers(ctx, SYSTEM, w.org_a, "answers:\n  mfa_admins: yes\n")
    w.assessment_a = assessments.run(ctx, SYSTEM, w.org_a).id


def _patch_policies_of_a(ctx: Context, w: World) -> None:
    w.patch_policy_a = patch_policies.create(
        ctx,
        SYSTEM,
        patch_policies.PatchPolicyCreate(
            org_id=w.org_a, name="alpha-patching", window_start="02:00", window_minutes=120
        ),
    ).id


def _automation_of_a(ctx: Context, w: World) -> None:
    """A remedy on A's check and a schedule of A's script."""
    w.remedy_a = remedies.create(
        ctx,
        SYSTEM,
        remedies.RemedyCreate(check_id=w.check_a, kind="restart_service", service="cron"),
    ).id
    w.schedule_a = schedules.create(
        ctx,
        SYSTEM,
        schedules.ScheduleCreate.model_validate(
            {
                "org_id": w.org_a,
                "script_id": w.script_a,
                "name": "alpha-nightly",
                "start_local": "2026-11-01T03:00",
            }
        ),
    ).id


def _checklists_of_a(ctx: Context, w: World) -> None:
    w.checklist_ticket_a = checklists.start(
        ctx,
        SYSTEM,
        w.org_a,
        "leaver",
        checklists.ChecklistStart(parameters={"person": "alpha leaver"}),
    ).id


def _posture_of_a(ctx: Context, w: World) -> None:
    """A posture policy of A and a failed check's finding on A's asset."""
    source = (
        "policy: {id: alpha_extra, name: Alpha extra}\n"
        "checks:\n  - {id: alpha.hosts, title: hosts, condition: all, rules: ['f:/etc/hosts']}\n"
    )
    w.posture_policy_a = posture.import_policy(ctx, SYSTEM, source, w.org_a).id or 0
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        row = Finding(
            org_id=w.org_a,
            asset_id=w.asset_a,
            rule="posture.linux.ssh.root_login",
            key=str(w.asset_a),
            severity="high",
            status="open",
            title="SSH does not accept root logins",
            evidence={},
            first_seen=now,
            last_seen=now,
        )
        session.add(row)
        session.flush()
        w.finding_a = row.id


def _alerting_of_a(ctx: Context, w: World) -> None:
    """A channel and a route of A (nothing is sent), and an open alert of its check."""
    channel = notify.create_channel(
        ctx,
        SYSTEM,
        notify.ChannelCreate(org_id=w.org_a, name="alpha-pager", url="json://127.0.0.1:9/hook"),
    )
    route = notify.create_route(
        ctx,
        SYSTEM,
        notify.RouteCreate(org_id=w.org_a, name="alpha-all", steps=[{"channels": [channel.id]}]),
    )
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        row = AlertRow(
            org_id=w.org_a,
            fingerprint="a" * 16,
            labels={"org": str(w.org_a), "check": str(w.check_a)},
            severity="critical",
            state="open",
            summary="alpha-fs01 backup missing",
            check_id=w.check_a,
            opened_at=now,
            last_fired_at=now,
        )
        session.add(row)
        session.flush()
        w.alert_a = row.id
    w.channel_a, w.route_a = channel.id, route.id
    w.ticket_a = tickets.create(
        ctx, SYSTEM, tickets.TicketCreate(org_id=w.org_a, title="alpha printer jammed")
    ).id
    w.silence_a = silences.create(
        ctx,
        SYSTEM,
        silences.SilenceCreate(org_id=w.org_a, matchers=["type=ping"], duration_min=60),
    ).id


def _discovery_of_a(ctx: Context, w: World) -> None:
    """A network of A with two recorded runs (no sweep): a device, and a finding for it."""
    net = discovery.create_network(
        ctx, SYSTEM, discovery.NetworkCreate(org_id=w.org_a, cidr="10.99.0.0/24")
    )
    seen = [discover.Host("10.99.0.2", True, mac="02:00:00:99:00:02")]
    for hosts in (seen[:0], seen):
        run = discovery.start(ctx, SYSTEM, net.id)
        discovery.finish(ctx, run.run_id, discover.SweepResult(net.cidr, 254, hosts))
    w.network_a = net.id
    w.device_a = discovery.list_devices(ctx, SYSTEM, network_id=net.id).items[0].id


IMPORT_ROUTE = ("POST", "/api/v1/orgs/{org_id}/assets/import")  # lands with the CSV import
Request = tuple[str, str, dict[str, Any]]  # method, path, httpx keyword arguments
Case = Callable[[World], Request]

# Routes that act on A's data: the outsider must get 403 or 404 and change nothing.
REFUSED: dict[tuple[str, str], Case] = {
    ("GET", "/api/v1/orgs/{org_id}"): lambda w: ("GET", f"/api/v1/orgs/{w.org_a}", {}),
    ("GET", "/api/v1/orgs/{org_id}/expiries"): lambda w: (
        "GET",
        f"/api/v1/orgs/{w.org_a}/expiries",
        {},
    ),
    ("GET", "/api/v1/orgs/{org_id}/vulnerabilities"): lambda w: (
        "GET",
        f"/api/v1/orgs/{w.org_a}/vulnerabilities",
        {},
    ),
    ("GET", "/api/v1/assets/{asset_id}/vulnerabilities"): lambda w: (
        "GET",
        f"/api/v1/assets/{w.asset_a}/vulnerabilities",
        {},
    ),
    ("PATCH", "/api/v1/orgs/{org_id}"): lambda w: (
        "PATCH",
        f"/api/v1/orgs/{w.org_a}",
        {"json": {"name": "Pwned"}},
    ),
    ("DELETE", "/api/v1/orgs/{org_id}"): lambda w: ("DELETE", f"/api/v1/orgs/{w.org_a}", {}),
    ("POST", "/api/v1/orgs"): lambda w: ("POST", "/api/v1/orgs", {"json": {"name": "Mine"}}),
    ("GET", "/api/v1/sites/{site_id}"): lambda w: ("GET", f"/api/v1/sites/{w.site_a}", {}),
    ("PATCH", "/api/v1/sites/{site_id}"): lambda w: (
        "PATCH",
        f"/api/v1/sites/{w.site_a}",
        {"json": {"name": "Pwned"}},
    ),
    ("DELETE", "/api/v1/sites/{site_id}"): lambda w: ("DELETE", f"/api/v1/sites/{w.site_a}", {}),
    ("POST", "/api/v1/sites"): lambda w: (
        "POST",
        "/api/v1/sites",
        {"json": {"org_id": w.org_a, "name": "Intruder"}},
    ),
    ("GET", "/api/v1/assets/{asset_id}"): lambda w: ("GET", f"/api/v1/assets/{w.asset_a}", {}),
    ("PATCH", "/api/v1/assets/{asset_id}"): lambda w: (
        "PATCH",
        f"/api/v1/assets/{w.asset_a}",
        {"json": {"name": "Pwned"}},
    ),
    ("DELETE", "/api/v1/assets/{asset_id}"): lambda w: (
        "DELETE",
        f"/api/v1/assets/{w.asset_a}",
        {},
    ),
    ("POST", "/api/v1/assets"): lambda w: (
        "POST",
        "/api/v1/assets",
        {"json": {"org_id": w.org_a, "name": "x", "kind": "server"}},
    ),
    ("GET", "/api/v1/users/{user_id}"): lambda w: ("GET", f"/api/v1/users/{w.admin_a.id}", {}),
    ("PATCH", "/api/v1/users/{user_id}"): lambda w: (
        "PATCH",
        f"/api/v1/users/{w.admin_a.id}",
        {"json": {"password": "x" * 12}},
    ),
    ("DELETE", "/api/v1/users/{user_id}"): lambda w: (
        "DELETE",
        f"/api/v1/users/{w.admin_a.id}",
        {},
    ),
    ("POST", "/api/v1/users"): lambda w: (
        "POST",
        "/api/v1/users",
        {"json": {"username": "sneaky", "password": "x" * 12}},
    ),
    ("GET", "/api/v1/memberships/{membership_id}"): lambda w: (
        "GET",
        f"/api/v1/memberships/{w.membership_a}",
        {},
    ),
    ("PATCH", "/api/v1/memberships/{membership_id}"): lambda w: (
        "PATCH",
        f"/api/v1/memberships/{w.membership_a}",
        {"json": {"role": "viewer"}},
    ),
    ("DELETE", "/api/v1/memberships/{membership_id}"): lambda w: (
        "DELETE",
        f"/api/v1/memberships/{w.membership_a}",
        {},
    ),
    ("POST", "/api/v1/memberships"): lambda w: (
        "POST",
        "/api/v1/memberships",
        {"json": {"org_id": w.org_a, "user_id": w.viewer_b.id, "role": "admin"}},
    ),
    ("GET", "/api/v1/invitations"): lambda w: (
        "GET",
        "/api/v1/invitations",
        {"params": {"org_id": w.org_a}},
    ),
    ("POST", "/api/v1/invitations"): lambda w: (
        "POST",
        "/api/v1/invitations",
        {"json": {"org_id": w.org_a, "role": "admin"}},
    ),
    ("DELETE", "/api/v1/invitations/{invitation_id}"): lambda w: (
        "DELETE",
        f"/api/v1/invitations/{w.invitation_a}",
        {},
    ),
    ("GET", "/api/v1/tokens/{token_id}"): lambda w: ("GET", f"/api/v1/tokens/{w.token_a}", {}),
    ("DELETE", "/api/v1/tokens/{token_id}"): lambda w: (
        "DELETE",
        f"/api/v1/tokens/{w.token_a}",
        {},
    ),
    ("GET", "/api/v1/orgs/{org_id}/health"): lambda w: (
        "GET",
        f"/api/v1/orgs/{w.org_a}/health",
        {},
    ),
    ("GET", "/api/v1/assets/{asset_id}/health"): lambda w: (
        "GET",
        f"/api/v1/assets/{w.asset_a}/health",
        {},
    ),
    ("POST", "/api/v1/orgs/{org_id}/assets/import"): lambda w: (
        "POST",
        f"/api/v1/orgs/{w.org_a}/assets/import",
        {"content": b"name,kind\nintruder,server\n", "headers": {"content-type": "text/csv"}},
    ),
}

REFUSED.update(
    {
        ("GET", "/api/v1/enroll-tokens"): lambda w: (
            "GET",
            "/api/v1/enroll-tokens",
            {"params": {"org_id": w.org_a}},
        ),
        ("POST", "/api/v1/enroll-tokens"): lambda w: (
            "POST",
            "/api/v1/enroll-tokens",
            {"json": {"org_id": w.org_a}},
        ),
        ("DELETE", "/api/v1/enroll-tokens/{token_id}"): lambda w: (
            "DELETE",
            f"/api/v1/enroll-tokens/{w.enroll_a}",
            {},
        ),
        ("GET", "/api/v1/assets/{asset_id}/agent"): lambda w: (
            "GET",
            f"/api/v1/assets/{w.asset_a}/agent",
            {},
        ),
        ("GET", "/api/v1/assets/{asset_id}/metrics/series"): lambda w: (
            "GET",
            f"/api/v1/assets/{w.asset_a}/metrics/series",
            {},
        ),
        ("GET", "/api/v1/assets/{asset_id}/metrics"): lambda w: (
            "GET",
            f"/api/v1/assets/{w.asset_a}/metrics",
            {
                "params": {
                    "name": "cpu.percent",
                    "from": "2026-11-01T00:00:00Z",
                    "to": "2026-11-02T00:00:00Z",
                }
            },
        ),
        ("GET", "/api/v1/assets/{asset_id}/inventory/{section}"): lambda w: (
            "GET",
            f"/api/v1/assets/{w.asset_a}/inventory/packages",
            {},
        ),
        ("GET", "/api/v1/assets/{asset_id}/changes"): lambda w: (
            "GET",
            f"/api/v1/assets/{w.asset_a}/changes",
            {},
        ),
        ("GET", "/api/v1/assets/{asset_id}/security-events"): lambda w: (
            "GET",
            f"/api/v1/assets/{w.asset_a}/security-events",
            {},
        ),
        ("POST", "/api/v1/checks"): lambda w: (
            "POST",
            "/api/v1/checks",
            {"json": {"asset_id": w.asset_a, "name": "sneaky", "type": "heartbeat"}},
        ),
        ("GET", "/api/v1/checks/{check_id}"): lambda w: ("GET", f"/api/v1/checks/{w.check_a}", {}),
        ("PATCH", "/api/v1/checks/{check_id}"): lambda w: (
            "PATCH",
            f"/api/v1/checks/{w.check_a}",
            {"json": {"enabled": False}},
        ),
        ("DELETE", "/api/v1/checks/{check_id}"): lambda w: (
            "DELETE",
            f"/api/v1/checks/{w.check_a}",
            {},
        ),
        ("GET", "/api/v1/checks/{check_id}/events"): lambda w: (
            "GET",
            f"/api/v1/checks/{w.check_a}/events",
            {},
        ),
        ("GET", "/api/v1/assets/{asset_id}/effective-checks"): lambda w: (
            "GET",
            f"/api/v1/assets/{w.asset_a}/effective-checks",
            {},
        ),
        ("GET", "/api/v1/policies/{policy_id}"): lambda w: (
            "GET",
            f"/api/v1/policies/{w.policy_a}",
            {},
        ),
        ("PATCH", "/api/v1/policies/{policy_id}"): lambda w: (
            "PATCH",
            f"/api/v1/policies/{w.policy_a}",
            {"json": {"exclude": ["ping"]}},
        ),
        ("DELETE", "/api/v1/policies/{policy_id}"): lambda w: (
            "DELETE",
            f"/api/v1/policies/{w.policy_a}",
            {},
        ),
        ("POST", "/api/v1/policies"): lambda w: (
            "POST",
            "/api/v1/policies",
            {"json": {"org_id": w.org_a, "name": "sneaky"}},
        ),
        ("GET", "/api/v1/orgs/{org_id}/status-page"): lambda w: (
            "GET",
            f"/api/v1/orgs/{w.org_a}/status-page",
            {},
        ),
        ("PATCH", "/api/v1/orgs/{org_id}/status-page"): lambda w: (
            "PATCH",
            f"/api/v1/orgs/{w.org_a}/status-page",
            {"json": {"published": True}},
        ),
        ("POST", "/api/v1/orgs/{org_id}/status-page/notes"): lambda w: (
            "POST",
            f"/api/v1/orgs/{w.org_a}/status-page/notes",
            {"json": {"title": "sneaky"}},
        ),
        ("PATCH", "/api/v1/orgs/{org_id}/status-page/notes/{note_id}"): lambda w: (
            "PATCH",
            f"/api/v1/orgs/{w.org_a}/status-page/notes/{w.note_a}",
            {"json": {"resolved": True}},
        ),
        ("GET", "/api/v1/maintenance-windows"): lambda w: (
            "GET",
            "/api/v1/maintenance-windows",
            {"params": {"org_id": w.org_a}},
        ),
        ("POST", "/api/v1/maintenance-windows"): lambda w: (
            "POST",
            "/api/v1/maintenance-windows",
            {
                "json": {
                    "org_id": w.org_a,
                    "name": "sneaky",
                    "start_local": "2026-11-01T22:00:00",
                    "duration_min": 60,
                }
            },
        ),
        ("DELETE", "/api/v1/maintenance-windows/{window_id}"): lambda w: (
            "DELETE",
            f"/api/v1/maintenance-windows/{w.window_a}",
            {},
        ),
        ("GET", "/api/v1/checks/{check_id}/results"): lambda w: (
            "GET",
            f"/api/v1/checks/{w.check_a}/results",
            {"params": {"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"}},
        ),
    }
)

# Network discovery (issue 4): refused before anything is swept.
REFUSED.update(
    {
        ("POST", "/api/v1/discovery/networks"): lambda w: (
            "POST",
            "/api/v1/discovery/networks",
            {"json": {"org_id": w.org_a, "cidr": "10.66.0.0/24"}},
        ),
        ("DELETE", "/api/v1/discovery/networks/{network_id}"): lambda w: (
            "DELETE",
            f"/api/v1/discovery/networks/{w.network_a}",
            {},
        ),
        ("POST", "/api/v1/discovery/networks/{network_id}/run"): lambda w: (
            "POST",
            f"/api/v1/discovery/networks/{w.network_a}/run",
            {},
        ),
        ("POST", "/api/v1/discovery/devices/{device_id}/adopt"): lambda w: (
            "POST",
            f"/api/v1/discovery/devices/{w.device_a}/adopt",
            {"json": {"name": "Pwned"}},
        ),
        ("POST", "/api/v1/discovery/devices/{device_id}/ignore"): lambda w: (
            "POST",
            f"/api/v1/discovery/devices/{w.device_a}/ignore",
            {},
        ),
        ("GET", "/api/v1/alerts/{alert_id}"): lambda w: ("GET", f"/api/v1/alerts/{w.alert_a}", {}),
        ("POST", "/api/v1/alerts/{alert_id}/ack"): lambda w: (
            "POST",
            f"/api/v1/alerts/{w.alert_a}/ack",
            {"json": {}},
        ),
        ("POST", "/api/v1/alerts/{alert_id}/resolve"): lambda w: (
            "POST",
            f"/api/v1/alerts/{w.alert_a}/resolve",
            {"json": {}},
        ),
        ("POST", "/api/v1/channels"): lambda w: (
            "POST",
            "/api/v1/channels",
            {"json": {"org_id": w.org_a, "name": "mine", "url": "json://127.0.0.1:9/x"}},
        ),
        ("PATCH", "/api/v1/channels/{channel_id}"): lambda w: (
            "PATCH",
            f"/api/v1/channels/{w.channel_a}",
            {"json": {"enabled": False}},
        ),
        ("DELETE", "/api/v1/channels/{channel_id}"): lambda w: (
            "DELETE",
            f"/api/v1/channels/{w.channel_a}",
            {},
        ),
        ("POST", "/api/v1/channels/{channel_id}/test"): lambda w: (
            "POST",
            f"/api/v1/channels/{w.channel_a}/test",
            {},
        ),
        ("POST", "/api/v1/alert-routes"): lambda w: (
            "POST",
            "/api/v1/alert-routes",
            {"json": {"org_id": w.org_a, "name": "mine", "steps": [{"channels": [w.channel_a]}]}},
        ),
        ("POST", "/api/v1/alerts/{alert_id}/silence"): lambda w: (
            "POST",
            f"/api/v1/alerts/{w.alert_a}/silence",
            {"json": {"duration_min": 60}},
        ),
        ("POST", "/api/v1/orgs/{org_id}/alertmanager"): lambda w: (
            "POST",
            f"/api/v1/orgs/{w.org_a}/alertmanager",
            {"json": external.example_payload()},
        ),
        ("POST", "/api/v1/tickets"): lambda w: (
            "POST",
            "/api/v1/tickets",
            {"json": {"org_id": w.org_a, "title": "mine"}},
        ),
        ("GET", "/api/v1/tickets/{ticket_id}"): lambda w: (
            "GET",
            f"/api/v1/tickets/{w.ticket_a}",
            {},
        ),
        ("PATCH", "/api/v1/tickets/{ticket_id}"): lambda w: (
            "PATCH",
            f"/api/v1/tickets/{w.ticket_a}",
            {"json": {"status": "resolved"}},
        ),
        ("POST", "/api/v1/tickets/{ticket_id}/comments"): lambda w: (
            "POST",
            f"/api/v1/tickets/{w.ticket_a}/comments",
            {"json": {"body": "pwned"}},
        ),
        ("POST", "/api/v1/tickets/{ticket_id}/alerts"): lambda w: (
            "POST",
            f"/api/v1/tickets/{w.ticket_a}/alerts",
            {"json": {"alert_id": w.alert_a}},
        ),
        ("POST", "/api/v1/alerts/{alert_id}/ticket"): lambda w: (
            "POST",
            f"/api/v1/alerts/{w.alert_a}/ticket",
            {},
        ),
        ("GET", "/api/v1/orgs/{org_id}/service-report"): lambda w: (
            "GET",
            f"/api/v1/orgs/{w.org_a}/service-report",
            {"params": {"month": "2026-11"}},
        ),
        ("POST", "/api/v1/silences"): lambda w: (
            "POST",
            "/api/v1/silences",
            {"json": {"org_id": w.org_a, "matchers": ["org=1"], "duration_min": 60}},
        ),
        ("POST", "/api/v1/silences/{silence_id}/expire"): lambda w: (
            "POST",
            f"/api/v1/silences/{w.silence_a}/expire",
            {},
        ),
        ("DELETE", "/api/v1/alert-routes/{route_id}"): lambda w: (
            "DELETE",
            f"/api/v1/alert-routes/{w.route_a}",
            {},
        ),
    }
)

REFUSED.update(
    {
        ("GET", "/api/v1/assets/{asset_id}/updates"): lambda w: (
            "GET",
            f"/api/v1/assets/{w.asset_a}/updates",
            {},
        ),
        ("GET", "/api/v1/orgs/{org_id}/patches"): lambda w: (
            "GET",
            f"/api/v1/orgs/{w.org_a}/patches",
            {},
        ),
        ("GET", "/api/v1/assets/{asset_id}/posture"): lambda w: (
            "GET",
            f"/api/v1/assets/{w.asset_a}/posture",
            {},
        ),
        ("GET", "/api/v1/orgs/{org_id}/posture"): lambda w: (
            "GET",
            f"/api/v1/orgs/{w.org_a}/posture",
            {},
        ),
        ("POST", "/api/v1/posture/policies"): lambda w: (
            "POST",
            "/api/v1/posture/policies",
            {
                "params": {"org_id": w.org_a},
                "content": "policy: {id: sneaky, name: S}\nchecks: []\n",
                "headers": {"content-type": "application/yaml"},
            },
        ),
        ("DELETE", "/api/v1/posture/policies/{policy_id}"): lambda w: (
            "DELETE",
            f"/api/v1/posture/policies/{w.posture_policy_a}",
            {},
        ),
        ("POST", "/api/v1/findings/{finding_id}/accept"): lambda w: (
            "POST",
            f"/api/v1/findings/{w.finding_a}/accept",
            {"json": {"reason": "not my business", "until": "2027-01-01"}},
        ),
        ("POST", "/api/v1/findings/{finding_id}/unaccept"): lambda w: (
            "POST",
            f"/api/v1/findings/{w.finding_a}/unaccept",
            {},
        ),
        ("POST", "/api/v1/orgs/{org_id}/patches/approve"): lambda w: (
            "POST",
            f"/api/v1/orgs/{w.org_a}/patches/approve",
            {"json": {"security_only": True}},
        ),
        ("GET", "/api/v1/orgs/{org_id}/patch-policies"): lambda w: (
            "GET",
            f"/api/v1/orgs/{w.org_a}/patch-policies",
            {},
        ),
        ("GET", "/api/v1/orgs/{org_id}/patch-policies/decisions"): lambda w: (
            "GET",
            f"/api/v1/orgs/{w.org_a}/patch-policies/decisions",
            {},
        ),
        ("POST", "/api/v1/patch-policies"): lambda w: (
            "POST",
            "/api/v1/patch-policies",
            {
                "json": {
                    "org_id": w.org_a,
                    "tag": "sneaky",
                    "name": "sneaky",
                    "window_start": "02:00",
                    "window_minutes": 60,
                }
            },
        ),
        ("GET", "/api/v1/patch-policies/{policy_id}"): lambda w: (
            "GET",
            f"/api/v1/patch-policies/{w.patch_policy_a}",
            {},
        ),
        ("PUT", "/api/v1/patch-policies/{policy_id}"): lambda w: (
            "PUT",
            f"/api/v1/patch-policies/{w.patch_policy_a}",
            {"json": {"name": "sneaky", "window_start": "02:00", "window_minutes": 60}},
        ),
        ("DELETE", "/api/v1/patch-policies/{policy_id}"): lambda w: (
            "DELETE",
            f"/api/v1/patch-policies/{w.patch_policy_a}",
            {},
        ),
        ("POST", "/api/v1/assets/{asset_id}/reboot"): lambda w: (
            "POST",
            f"/api/v1/assets/{w.asset_a}/reboot",
            {},
        ),
        ("POST", "/api/v1/findings/{finding_id}/assign"): lambda w: (
            "POST",
            f"/api/v1/findings/{w.finding_a}/assign",
            {"json": {"assignee_id": 0}},
        ),
        ("POST", "/api/v1/findings/{finding_id}/resolve"): lambda w: (
            "POST",
            f"/api/v1/findings/{w.finding_a}/resolve",
            {"json": {"note": "patched"}},
        ),
    }
)

REFUSED.update(
    {
        ("POST", "/api/v1/scripts"): lambda w: (
            "POST",
            "/api/v1/scripts",
            {"json": {"org_id": w.org_a, "name": "sneaky", "language": "bash", "body": "id"}},
        ),
        ("GET", "/api/v1/scripts/{script_id}"): lambda w: (
            "GET",
            f"/api/v1/scripts/{w.script_a}",
            {},
        ),
        ("DELETE", "/api/v1/scripts/{script_id}"): lambda w: (
            "DELETE",
            f"/api/v1/scripts/{w.script_a}",
            {},
        ),
        ("POST", "/api/v1/scripts/{script_id}/run"): lambda w: (
            "POST",
            f"/api/v1/scripts/{w.script_a}/run",
            {"json": {"org_id": w.org_a}},
        ),
        ("GET", "/api/v1/jobs/{job_id}"): lambda w: ("GET", f"/api/v1/jobs/{w.job_a}", {}),
    }
)

REFUSED.update(
    {
        ("POST", "/api/v1/orgs/{org_id}/reports/monthly"): lambda w: (
            "POST",
            f"/api/v1/orgs/{w.org_a}/reports/monthly",
            {"json": {"period": "2026-10"}},
        ),
        ("GET", "/api/v1/orgs/{org_id}/reports"): lambda w: (
            "GET",
            f"/api/v1/orgs/{w.org_a}/reports",
            {},
        ),
        ("GET", "/api/v1/reports/{report_id}"): lambda w: (
            "GET",
            f"/api/v1/reports/{w.report_a}",
            {},
        ),
        ("GET", "/api/v1/reports/{report_id}/html"): lambda w: (
            "GET",
            f"/api/v1/reports/{w.report_a}/html",
            {},
        ),
        ("GET", "/api/v1/reports/{report_id}/pdf"): lambda w: (
            "GET",
            f"/api/v1/reports/{w.report_a}/pdf",
            {},
        ),
    }
)

REFUSED.update(
    {
        ("GET", "/api/v1/orgs/{org_id}/reports/recipients"): lambda w: (
            "GET",
            f"/api/v1/orgs/{w.org_a}/reports/recipients",
            {},
        ),
        ("PUT", "/api/v1/orgs/{org_id}/reports/recipients"): lambda w: (
            "PUT",
            f"/api/v1/orgs/{w.org_a}/reports/recipients",
            {"json": {"channels": []}},
        ),
        ("POST", "/api/v1/reports/{report_id}/send"): lambda w: (
            "POST",
            f"/api/v1/reports/{w.report_a}/send",
            {},
        ),
    }
)

REFUSED.update(
    {
        ("POST", "/api/v1/orgs/{org_id}/assessments"): lambda w: (
            "POST",
            f"/api/v1/orgs/{w.org_a}/assessments",
            {},
        ),
        ("GET", "/api/v1/orgs/{org_id}/assessments"): lambda w: (
            "GET",
            f"/api/v1/orgs/{w.org_a}/assessments",
            {},
        ),
        ("GET", "/api/v1/assessments/{assessment_id}"): lambda w: (
            "GET",
            f"/api/v1/assessments/{w.assessment_a}",
            {},
        ),
        ("GET", "/api/v1/assessments/{assessment_id}/json"): lambda w: (
            "GET",
            f"/api/v1/assessments/{w.assessment_a}/json",
            {},
        ),
        ("GET", "/api/v1/assessments/{assessment_id}/html"): lambda w: (
            "GET",
            f"/api/v1/assessments/{w.assessment_a}/html",
            {},
        ),
        ("GET", "/api/v1/assessments/{assessment_id}/pdf"): lambda w: (
            "GET",
            f"/api/v1/assessments/{w.assessment_a}/pdf",
            {},
        ),
        ("GET", "/api/v1/assessments/{assessment_id}/summary.pdf"): lambda w: (
            "GET",
            f"/api/v1/assessments/{w.assessment_a}/summary.pdf",
            {},
        ),
        ("GET", "/api/v1/orgs/{org_id}/questionnaire"): lambda w: (
            "GET",
            f"/api/v1/orgs/{w.org_a}/questionnaire",
            {},
        ),
        ("POST", "/api/v1/orgs/{org_id}/questionnaire"): lambda w: (
            "POST",
            f"/api/v1/orgs/{w.org_a}/questionnaire",
            {"json": {"answers": {"mfa_admins": "no"}}},
        ),
        ("POST", "/api/v1/orgs/{org_id}/questionnaire/import"): lambda w: (
            "POST",
            f"/api/v1/orgs/{w.org_a}/questionnaire/import",
            {
                "content": b"answers:\n  mfa_admins: no\n",
                "headers": {"Content-Type": "application/yaml"},
            },
        ),
    }
)

REFUSED.update(
    {
        ("POST", "/api/v1/remedies"): lambda w: (
            "POST",
            "/api/v1/remedies",
            {"json": {"check_id": w.check_a, "kind": "restart_service", "service": "sshd"}},
        ),
        ("DELETE", "/api/v1/remedies/{remedy_id}"): lambda w: (
            "DELETE",
            f"/api/v1/remedies/{w.remedy_a}",
            {},
        ),
        ("GET", "/api/v1/orgs/{org_id}/remedies"): lambda w: (
            "GET",
            f"/api/v1/orgs/{w.org_a}/remedies",
            {},
        ),
        ("POST", "/api/v1/script-schedules"): lambda w: (
            "POST",
            "/api/v1/script-schedules",
            {
                "json": {
                    "org_id": w.org_a,
                    "script_id": w.script_a,
                    "name": "sneaky",
                    "start_local": "2026-11-01T03:00",
                }
            },
        ),
        ("GET", "/api/v1/orgs/{org_id}/script-schedules"): lambda w: (
            "GET",
            f"/api/v1/orgs/{w.org_a}/script-schedules",
            {},
        ),
        ("PATCH", "/api/v1/script-schedules/{schedule_id}"): lambda w: (
            "PATCH",
            f"/api/v1/script-schedules/{w.schedule_a}",
            {"json": {"enabled": False}},
        ),
        ("DELETE", "/api/v1/script-schedules/{schedule_id}"): lambda w: (
            "DELETE",
            f"/api/v1/script-schedules/{w.schedule_a}",
            {},
        ),
        ("GET", "/api/v1/orgs/{org_id}/job-counts"): lambda w: (
            "GET",
            f"/api/v1/orgs/{w.org_a}/job-counts",
            {"params": {"month": "2026-11"}},
        ),
        ("POST", "/api/v1/assets/{asset_id}/jobs/restart-service"): lambda w: (
            "POST",
            f"/api/v1/assets/{w.asset_a}/jobs/restart-service",
            {"json": {"service": "cron"}},
        ),
    }
)


# Collections: the outsider is answered, but with nothing of A in it, even when asking for A.
LISTS: dict[tuple[str, str], Case] = {
    ("GET", "/api/v1/orgs"): lambda w: ("GET", "/api/v1/orgs", {}),
    ("GET", "/api/v1/sites"): lambda w: ("GET", "/api/v1/sites", {"params": {"org_id": w.org_a}}),
    ("GET", "/api/v1/assets"): lambda w: ("GET", "/api/v1/assets", {"params": {"org_id": w.org_a}}),
    ("GET", "/api/v1/users"): lambda w: ("GET", "/api/v1/users", {"params": {"org_id": w.org_a}}),
    ("GET", "/api/v1/memberships"): lambda w: (
        "GET",
        "/api/v1/memberships",
        {"params": {"org_id": w.org_a}},
    ),
    ("GET", "/api/v1/tokens"): lambda w: ("GET", "/api/v1/tokens", {}),
    ("GET", "/api/v1/audit-events"): lambda w: (
        "GET",
        "/api/v1/audit-events",
        {"params": {"org_id": w.org_a}},
    ),
    ("GET", "/api/v1/agents"): lambda w: ("GET", "/api/v1/agents", {"params": {"org_id": w.org_a}}),
    ("GET", "/api/v1/checks"): lambda w: ("GET", "/api/v1/checks", {"params": {"org_id": w.org_a}}),
    ("GET", "/api/v1/policies"): lambda w: (
        "GET",
        "/api/v1/policies",
        {"params": {"org_id": w.org_a}},
    ),
    ("GET", "/api/v1/posture/policies"): lambda w: ("GET", "/api/v1/posture/policies", {}),
}
LISTS.update(
    {
        ("GET", "/api/v1/discovery/networks"): lambda w: (
            "GET",
            "/api/v1/discovery/networks",
            {"params": {"org_id": w.org_a}},
        ),
        ("GET", "/api/v1/discovery/runs"): lambda w: (
            "GET",
            "/api/v1/discovery/runs",
            {"params": {"org_id": w.org_a}},
        ),
        ("GET", "/api/v1/discovery/devices"): lambda w: (
            "GET",
            "/api/v1/discovery/devices",
            {"params": {"org_id": w.org_a}},
        ),
        ("GET", "/api/v1/findings"): lambda w: (
            "GET",
            "/api/v1/findings",
            {"params": {"org_id": w.org_a}},
        ),
        ("GET", "/api/v1/patches"): lambda w: ("GET", "/api/v1/patches", {}),
        ("GET", "/api/v1/scripts"): lambda w: (
            "GET",
            "/api/v1/scripts",
            {"params": {"org_id": w.org_a}},
        ),
        ("GET", "/api/v1/jobs"): lambda w: ("GET", "/api/v1/jobs", {"params": {"org_id": w.org_a}}),
        **{
            ("GET", path): (lambda p: lambda w: ("GET", p, {"params": {"org_id": w.org_a}}))(path)
            for path in (
                "/api/v1/alerts",
                "/api/v1/channels",
                "/api/v1/alert-routes",
                "/api/v1/deliveries",
                "/api/v1/silences",
                "/api/v1/tickets",
            )
        },
    }
)

REFUSED.update(
    {
        ("GET", "/api/v1/orgs/{org_id}/checklists"): lambda w: (
            "GET",
            f"/api/v1/orgs/{w.org_a}/checklists",
            {},
        ),
        ("POST", "/api/v1/orgs/{org_id}/checklists/{template}/start"): lambda w: (
            "POST",
            f"/api/v1/orgs/{w.org_a}/checklists/leaver/start",
            {"json": {"parameters": {"person": "mine"}}},
        ),
        ("POST", "/api/v1/orgs/{org_id}/checklists/import"): lambda w: (
            "POST",
            f"/api/v1/orgs/{w.org_a}/checklists/import",
            {
                "content": "checklists:\n  - id: mine\n    title: Mine\n"
                "    steps:\n      - title: Do it\n",
                "headers": {"Content-Type": "application/yaml"},
            },
        ),
        ("PUT", "/api/v1/tickets/{ticket_id}/steps/{step}"): lambda w: (
            "PUT",
            f"/api/v1/tickets/{w.checklist_ticket_a}/steps/1",
            {"json": {"done": True}},
        ),
    }
)

REFUSED.update(
    {
        ("PATCH", "/api/v1/alert-routes/{route_id}"): lambda w: (
            "PATCH",
            f"/api/v1/alert-routes/{w.route_a}",
            {"json": {"name": "mine", "position": 0}},
        ),
    }
)

# Heartbeat pings: the unguessable token in the URL is the credential (cron jobs cannot log
# in); tests/integration/test_checks_api.py shows an unknown token changes nothing.
PINGS = {
    (method, path)
    for path in ("/hb/{token}", "/hb/{token}/start", "/hb/{token}/fail")
    for method in ("GET", "POST")
}

# About the caller alone, or public by design; anonymous callers are still checked below.
OWN_OR_PUBLIC = {
    # Agents: the enrolment token, then the agent's own credential, say who is calling;
    # tests/integration/test_ingest.py shows that a user's token is not an agent's.
    ("POST", "/api/v1/agent/enroll"),
    ("POST", "/api/v1/agent/checkin"),
    ("POST", "/api/v1/auth/token"),
    ("GET", "/api/v1/auth/me"),
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/tokens"),
    ("POST", "/api/v1/invitations/{token}/accept"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    *PINGS,
    ("GET", "/api/v1/public/status/{slug}"),
}
# The long-poll fast path for jobs: the agent's own credential says whose jobs.
OWN_OR_PUBLIC.add(("GET", "/api/v1/agent/jobs"))
PUBLIC = {
    *PINGS,
    # A status page is public once its organization published it; unpublished is not found.
    ("GET", "/api/v1/public/status/{slug}"),
    ("POST", "/api/v1/agent/enroll"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/invitations/{token}/accept"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
}


def api_routes(client: TestClient) -> set[tuple[str, str]]:
    """Every (method, path template) the app documents: the API as its clients see it."""
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return {(m.upper(), p) for p, ops in paths.items() for m in ops}


def a_state(client: TestClient, w: World) -> list[Any]:
    """What the owner sees of A: must be the same before and after the outsider's attempts."""
    h = w.owner.headers
    paths = [
        f"/api/v1/orgs/{w.org_a}",
        f"/api/v1/sites/{w.site_a}",
        f"/api/v1/assets/{w.asset_a}",
        f"/api/v1/users/{w.admin_a.id}",
        f"/api/v1/memberships/{w.membership_a}",
        f"/api/v1/tokens/{w.token_a}",
        f"/api/v1/assets?org_id={w.org_a}",
        f"/api/v1/invitations?org_id={w.org_a}",
        f"/api/v1/memberships?org_id={w.org_a}",
        f"/api/v1/checks/{w.check_a}",
        f"/api/v1/maintenance-windows?org_id={w.org_a}",
        f"/api/v1/policies/{w.policy_a}",
        f"/api/v1/assets/{w.asset_a}/effective-checks",
        f"/api/v1/orgs/{w.org_a}/status-page",
        f"/api/v1/discovery/networks?org_id={w.org_a}",
        f"/api/v1/discovery/runs?org_id={w.org_a}",
        f"/api/v1/discovery/devices?org_id={w.org_a}",
        f"/api/v1/findings?org_id={w.org_a}",
        f"/api/v1/alerts/{w.alert_a}",
        f"/api/v1/channels?org_id={w.org_a}",
        f"/api/v1/alert-routes?org_id={w.org_a}",
        f"/api/v1/deliveries?org_id={w.org_a}",
        f"/api/v1/silences?org_id={w.org_a}",
        f"/api/v1/tickets/{w.ticket_a}",
        f"/api/v1/assets/{w.asset_a}/posture",
        f"/api/v1/posture/policies?org_id={w.org_a}",
        f"/api/v1/assets/{w.asset_a}/updates",
        f"/api/v1/orgs/{w.org_a}/patches",
        f"/api/v1/scripts/{w.script_a}",
        f"/api/v1/jobs/{w.job_a}",
        f"/api/v1/orgs/{w.org_a}/remedies",
        f"/api/v1/orgs/{w.org_a}/script-schedules",
        f"/api/v1/reports/{w.report_a}",
        f"/api/v1/orgs/{w.org_a}/reports",
        f"/api/v1/orgs/{w.org_a}/assessments",
        f"/api/v1/assessments/{w.assessment_a}",
        f"/api/v1/orgs/{w.org_a}/questionnaire",
        f"/api/v1/patch-policies/{w.patch_policy_a}",
        f"/api/v1/orgs/{w.org_a}/patch-policies",
        f"/api/v1/tickets/{w.checklist_ticket_a}",
        f"/api/v1/orgs/{w.org_a}/checklists",
        f"/api/v1/orgs/{w.org_a}/reports/recipients",
    ]
    return [client.get(p, headers=h).json() for p in paths]


def test_every_route_has_a_case(client: TestClient) -> None:
    decided = set(REFUSED) | set(LISTS) | OWN_OR_PUBLIC
    routes = {
        r
        for r in api_routes(client)
        if r[1].startswith(("/api/", "/healthz", "/readyz", "/metrics", "/hb/"))
    }
    assert routes - decided == set(), "routes without a tenancy case"
    assert decided - routes <= {IMPORT_ROUTE}


def test_outsider_is_refused_everywhere(client: TestClient, world: World) -> None:
    before = a_state(client, world)
    routes = api_routes(client)
    for key, case in REFUSED.items():
        if key not in routes:
            assert key == IMPORT_ROUTE, key
            continue
        method, path, kwargs = case(world)
        kwargs.setdefault("headers", {}).update(world.viewer_b.headers)
        r = client.request(method, path, **kwargs)
        assert r.status_code in (403, 404), (key, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert a_state(client, world) == before


def test_outsider_lists_show_nothing_of_a(client: TestClient, world: World) -> None:
    a_marks = {"Alpha Dental", "Alpha HQ", "alpha-fs01", "alpha-admin"}
    for key, case in LISTS.items():
        method, path, kwargs = case(world)
        kwargs["headers"] = world.viewer_b.headers
        r = client.request(method, path, **kwargs)
        assert r.status_code == 200, (key, r.text)
        text = r.text
        assert not any(mark in text for mark in a_marks), (key, text)
        items = r.json()["items"]
        assert all(i.get("org_id") in (None, world.org_b) for i in items), (key, items)


def test_anonymous_is_refused_everywhere(client: TestClient, world: World) -> None:
    before = a_state(client, world)
    cases = {**REFUSED, **LISTS}
    for key in api_routes(client) - PUBLIC:
        if not key[1].startswith("/api/"):
            continue
        if key in cases:
            method, path, kwargs = cases[key](world)
        else:
            method, path, kwargs = key[0], key[1], {}
        r = client.request(method, path, **kwargs)
        assert r.status_code == 401, (key, r.status_code, r.text)
    forged = {"Authorization": "Bearer fw_not-a-real-token"}
    assert client.get("/api/v1/orgs", headers=forged).status_code == 401
    assert a_state(client, world) == before


def test_a_admin_cannot_reach_beyond_a(client: TestClient, world: World) -> None:
    """An admin of A is an outsider to B: the same rule holds in the other direction."""
    h = world.admin_a.headers
    assert client.get(f"/api/v1/orgs/{world.org_b}", headers=h).status_code == 404
    r = client.post(
        "/api/v1/memberships",
        json={"org_id": world.org_a, "user_id": world.viewer_b.id, "role": "admin"},
        headers=h,
    )
    assert r.status_code == 404  # B's viewer is not someone A's admin can see
    r = client.get(f"/api/v1/users/{world.viewer_b.id}", headers=h)
    assert r.status_code == 404


def test_alert_filters_of_another_organization_find_nothing(
    client: TestClient, ctx: Context, world: World
) -> None:
    """GET /api/v1/alerts?site_id=&asset_id=&q=: A's site, asset or words, asked by B's
    viewer, find nothing of A (and no error that would tell A's ids exist)."""
    with ctx.db.transaction() as session:
        row = session.get(AlertRow, world.alert_a)
        assert row is not None
        row.asset_id = world.asset_a
    cases: list[dict[str, Any]] = [
        {"site_id": world.site_a},
        {"asset_id": world.asset_a},
        {"q": "alpha"},
        {"site_id": world.site_a, "org_id": world.org_a},
        {"severity": "critical", "kind": "check"},
    ]
    for params in cases:
        seen = client.get("/api/v1/alerts", params=params, headers=world.owner.headers)
        assert world.alert_a in {a["id"] for a in seen.json()["items"]}, params
        r = client.get("/api/v1/alerts", params=params, headers=world.viewer_b.headers)
        assert r.status_code == 200, (params, r.text)
        assert r.json()["items"] == [], params

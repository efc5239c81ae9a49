"""Patch policies end to end on both engines: machines check in over the real API with their
pending updates, the clock moves, apply() decides and issues signed jobs, the real agent job
code verifies and runs them (its command runner is the one stand-in: no apt, no reboot here;
tests/integration/test_patching.py installs with real apt) and the results come back in the
next check-in. Pilot first, the rest after the delay only if the pilot stayed healthy; holds;
catch-up within the grace; reboots only inside the window."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from forewarn.agent.jobs import JobRunner, Ran
from forewarn.agent.runner import Outcome
from forewarn.domain.clock import ManualClock
from forewarn.services import agents, assets, checks, patch_policies, patching
from forewarn.services.context import Context
from forewarn.services.schemas import AssetUpdate, CheckCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import AgentJob, CheckStateRow, PatchPolicyAction
from tests.conftest import Person, make_org, make_person
from tests.integration.test_ingest import batch, enroll, send
from tests.integration.test_patching import (
    _build,
    _enroll,
    _machine,
    _open,
    _repository,
    _section,
    served,
    updates_agent,
)
from tests.integration.test_web import signed_in

__all__ = ["served"]  # the real-apt test's loopback repository fixture, shared

# The clock starts Monday 2 November 2026 09:00 UTC; the window is 02:00-04:00 UTC daily.
POLICY: dict[str, Any] = {
    "name": "Nightly",
    "security": "auto",
    "other": "manual",
    "pilot_tag": "pilot",
    "ring_delay_days": 2,
    "window_start": "02:00",
    "window_minutes": 120,
    "reboot": "when_required",
    "holds": ["linux-image-*"],
    "grace_hours": 72,
}
PENDING = (("libssl3", True), ("vim", False), ("linux-image-amd64", True))


class Machine:
    """One enrolled machine: checks in with its updates and runs its jobs with the real agent
    job code (signature, replay and expiry checks); `exit_code` is what "apt" answers."""

    def __init__(self, client: TestClient, ctx: Context, clock: ManualClock, org: int, name: str):
        self.client, self.clock = client, clock
        enrolled = _enroll(client, ctx, org, name)
        self.asset_id: int = enrolled["asset_id"]
        self.token: str = enrolled["agent_token"]
        self.seq = 0
        self.exit_code = 0
        self.pending = list(PENDING)
        self.reboot = False
        self.results: list[dict[str, Any]] = []
        self.ran: list[list[str]] = []
        self.jobs = JobRunner(
            enrolled["agent_id"],
            enrolled["server_public_key"],
            run=self._run,
            clock=lambda: clock.now().timestamp(),
        )

    def _run(self, argv: Any, env: Any, timeout: float) -> Ran:
        self.ran.append(list(argv))
        if argv[:2] == ["systemctl", "reboot"]:
            return Ran(0, b"")
        if self.exit_code == 0:  # installed: no longer pending
            asked = {a.split("=", 1)[0] for a in argv if "=" in a and not a.startswith("-")}
            self.pending = [p for p in self.pending if p[0] not in asked]
        return Ran(self.exit_code, b"apt says hello")

    def checkin(self, *, run: bool = True) -> list[dict[str, Any]]:
        """One check-in (with the results owed); runs the jobs of the answer."""
        self.seq += 1
        body = batch(self.seq, [], {"full": False, "updates": self.section()})
        body["jobs"], self.results = self.results, []
        r = send(self.client, self.token, body)
        assert r.status_code == 200, r.text
        orders: list[dict[str, Any]] = r.json().get("jobs", [])
        if run:
            for o in orders:
                out = self.jobs.handle(o, persist=lambda s: None)
                assert out is not None
                self.results.append(out)
        return orders

    def section(self) -> dict[str, Any]:
        return _section(*self.pending, reboot=self.reboot, candidate="1.1")


def at(clock: ManualClock, when: datetime) -> None:
    clock.advance(seconds=(when - clock.now()).total_seconds())


def day(d: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, d, hour, minute, tzinfo=UTC)


def envelopes(ctx: Context, asset_id: int, kind: str = "install_updates") -> list[dict[str, Any]]:
    with ctx.db.read() as s:
        rows = s.scalars(
            select(AgentJob.envelope)
            .where(AgentJob.asset_id == asset_id, AgentJob.kind == kind)
            .order_by(AgentJob.id)
        ).all()
    return [json.loads(r)["payload"] for r in rows]


def installs(ctx: Context, asset_id: int) -> list[list[str]]:
    return [[p["name"] for p in e["packages"]] for e in envelopes(ctx, asset_id)]


def decisions(client: TestClient, org: int, who: Person) -> dict[str, dict[str, Any]]:
    r = client.get(f"/api/v1/orgs/{org}/patch-policies/decisions", headers=who.headers)
    assert r.status_code == 200, r.text
    return {d["name"]: d for d in r.json()["devices"]}


@pytest.fixture
def fleet(
    client: TestClient, ctx: Context, clock: ManualClock
) -> tuple[int, Person, dict[str, Machine]]:
    org = make_org(ctx, "Policy Dental")
    tech = make_person(ctx, "policy-tech", roles={org: "technician"})
    machines = {n: Machine(client, ctx, clock, org, n) for n in ("pilot01", "ws01", "ws02")}
    assets.update(ctx, SYSTEM, machines["pilot01"].asset_id, AssetUpdate(tags=["pilot"]))
    for m in machines.values():
        m.checkin()
    r = client.post("/api/v1/patch-policies", json={**POLICY, "org_id": org}, headers=tech.headers)
    assert r.status_code == 201, r.text
    return org, tech, machines


def checkin_all(machines: dict[str, Machine], *names: str) -> None:
    for n in names or tuple(machines):
        machines[n].checkin()


def test_pilot_first_then_the_rest_after_the_delay(
    client: TestClient, ctx: Context, clock: ManualClock, fleet: tuple[int, Person, dict]
) -> None:
    org, tech, m = fleet
    pilot, ws1, ws2 = m["pilot01"], m["ws01"], m["ws02"]
    assert patch_policies.apply(ctx).jobs == []  # 09:00: outside the window
    seen = decisions(client, org, tech)
    assert seen["pilot01"]["policy_name"] == "Nightly"
    reasons = {w["name"]: w["reason"] for w in seen["pilot01"]["waiting"]}
    assert reasons == {
        "libssl3": "outside window (next: 2026-11-03 02:00\u201304:00 UTC)",
        "linux-image-amd64": "held: linux-image-*",
        "vim": "update: approve by hand",
    }
    assert {w["reason"] for w in seen["ws01"]["waiting"]} >= {
        "waiting for pilot (pilot) to install it"
    }

    # In the window: the pilot gets exactly the approved security update, the rest nothing.
    at(clock, day(3, 2, 10))
    checkin_all(m)
    report = patch_policies.apply(ctx)
    assert (report.installs, report.reboots) == (1, 0)
    assert installs(ctx, pilot.asset_id) == [["libssl3"]]
    assert installs(ctx, ws1.asset_id) == installs(ctx, ws2.asset_id) == []
    assert patch_policies.apply(ctx).jobs == []  # idempotent while it is pending
    (job,) = envelopes(ctx, pilot.asset_id)
    assert job["packages"] == [{"name": "libssl3", "version": "1.1"}]

    # The pilot runs it (verified, "installed") and reports back; it stays healthy.
    assert len(pilot.checkin()) == 1
    clock.advance(minutes=5)
    checkin_all(m)
    assert [p[0] for p in pilot.pending] == ["vim", "linux-image-amd64"]
    assert patch_policies.apply(ctx).jobs == []
    ws = decisions(client, org, tech)["ws01"]
    libssl = next(w for w in ws["waiting"] if w["name"] == "libssl3")
    assert libssl["reason"] == "waiting for pilot until 2026-11-05 02:10 UTC"

    # Next night, still inside the delay: nothing for the rest.
    at(clock, day(4, 2, 30))
    checkin_all(m)
    assert patch_policies.apply(ctx).jobs == []
    # Two days after the pilot installed it, in the window: the rest get it.
    at(clock, day(5, 2, 30))
    checkin_all(m)
    report = patch_policies.apply(ctx)
    assert report.installs == 2
    assert installs(ctx, ws1.asset_id) == installs(ctx, ws2.asset_id) == [["libssl3"]]
    checkin_all(m)
    checkin_all(m)
    assert all("libssl3" not in [p[0] for p in x.pending] for x in m.values())
    # The held kernel was never in any job, and what the policy did is on record.
    assert all("linux-image" not in json.dumps(envelopes(ctx, x.asset_id)) for x in m.values())
    r = client.get(f"/api/v1/orgs/{org}/patch-policies/decisions", headers=tech.headers)
    actions = r.json()["actions"]
    assert [(a["asset_name"], a["kind"]) for a in actions] == [
        ("ws02", "install"),
        ("ws01", "install"),
        ("pilot01", "install"),
    ]
    assert (
        actions[-1]["packages"] == ["libssl3=1.1"]
        and "installing 1 update now" in (actions[-1]["reason"])
    )
    jobs = client.get("/api/v1/jobs", params={"org_id": org}, headers=tech.headers).json()
    assert {j["state"] for j in jobs["items"]} == {"succeeded"}
    assert {j["created_by"] for j in jobs["items"]} == {"policy:Nightly"}


def test_a_failed_pilot_install_stops_the_rest(
    client: TestClient, ctx: Context, clock: ManualClock, fleet: tuple[int, Person, dict]
) -> None:
    org, tech, m = fleet
    m["pilot01"].exit_code = 100  # apt fails on the pilot
    at(clock, day(3, 2, 10))
    checkin_all(m)
    patch_policies.apply(ctx)
    checkin_all(m)
    checkin_all(m)
    with ctx.db.read() as s:
        states = s.scalars(select(AgentJob.state)).all()
    assert list(states) == ["failed"]
    # Tried in this window: not retried in it.
    assert patch_policies.apply(ctx).jobs == []
    for d in (5, 8):
        at(clock, day(d, 2, 30))
        checkin_all(m)
        patch_policies.apply(ctx)
    assert installs(ctx, m["ws01"].asset_id) == installs(ctx, m["ws02"].asset_id) == []
    libssl = next(
        w for w in decisions(client, org, tech)["ws01"]["waiting"] if w["name"] == "libssl3"
    )
    assert libssl["reason"] == "stopped: the pilot's install of libssl3 1.1 failed"
    # The pilot itself tries again in the next windows.
    assert installs(ctx, m["pilot01"].asset_id) == [["libssl3"]] * 3


def test_a_new_critical_check_on_the_pilot_stops_the_rest(
    client: TestClient, ctx: Context, clock: ManualClock, fleet: tuple[int, Person, dict]
) -> None:
    org, tech, m = fleet
    check = checks.create(
        ctx, SYSTEM, CheckCreate(asset_id=m["pilot01"].asset_id, name="web", type="heartbeat")
    ).id
    at(clock, day(3, 2, 10))
    checkin_all(m)
    patch_policies.apply(ctx)
    checkin_all(m)
    checkin_all(m)
    # After the update the pilot's web check goes hard CRITICAL (the state the check pipeline
    # keeps; set here directly: how it gets there is tested in test_checks_pipeline).
    clock.advance(hours=1)
    with ctx.db.transaction() as s:
        state = s.get(CheckStateRow, check)
        assert state is not None
        state.hard_status, state.hard_since = 2, clock.now()
    at(clock, day(5, 2, 30))
    checkin_all(m)
    assert patch_policies.apply(ctx).jobs == []
    libssl = next(
        w for w in decisions(client, org, tech)["ws01"]["waiting"] if w["name"] == "libssl3"
    )
    assert libssl["reason"].startswith("stopped: a pilot machine has a new critical check")
    # Fixed: the rest go ahead.
    with ctx.db.transaction() as s:
        state = s.get(CheckStateRow, check)
        assert state is not None
        state.hard_status = 0
    assert patch_policies.apply(ctx).installs == 2


def test_an_offline_machine_catches_up_within_the_grace_and_not_after(
    client: TestClient, ctx: Context, clock: ManualClock, fleet: tuple[int, Person, dict]
) -> None:
    org, tech, m = fleet
    client.put(
        f"/api/v1/patch-policies/{_policy_id(client, org, tech)}",
        json={**POLICY, "pilot_tag": None, "window_days": [2]},  # Tuesdays only, no rings
        headers=tech.headers,
    ).raise_for_status()
    # ws01 and ws02 are off from Monday evening; pilot01 stays on.
    at(clock, day(3, 2, 10))
    checkin_all(m, "pilot01")
    agents.mark_offline(ctx)
    report = patch_policies.apply(ctx)
    assert report.installs == 1 and installs(ctx, m["pilot01"].asset_id) == [["libssl3"]]
    offline = decisions(client, org, tech)["ws01"]
    assert offline["waiting"][0]["reason"] == "offline: installs when back in time"

    # ws01 is back on Wednesday 09:00 (29 h after the window ended): it catches up at once.
    at(clock, day(4, 9, 0))
    checkin_all(m, "pilot01", "ws01")
    seen = decisions(client, org, tech)
    assert seen["ws01"]["note"] == "catching up: installing 1 update now (missed its window)"
    # pilot01 was on all through the window and already tried: nothing outside the window.
    assert seen["pilot01"]["install"] == []
    report = patch_policies.apply(ctx)
    assert report.installs == 1 and installs(ctx, m["ws01"].asset_id) == [["libssl3"]]
    with ctx.db.read() as s:
        job = s.scalars(select(AgentJob).where(AgentJob.asset_id == m["ws01"].asset_id)).one()
        assert job.not_after == day(3, 4) + timedelta(hours=72)  # the end of the grace
    m["ws01"].checkin()
    m["ws01"].checkin()
    assert "libssl3" not in [p[0] for p in m["ws01"].pending]

    # ws02 comes back on Saturday, 78 h after the window: past the grace, it waits.
    at(clock, day(6, 10, 0))
    m["ws02"].checkin()
    assert patch_policies.apply(ctx).jobs == []
    waiting = decisions(client, org, tech)["ws02"]["waiting"]
    assert waiting[0]["reason"] == "outside window (next: 2026-11-10 02:00\u201304:00 UTC)"
    assert installs(ctx, m["ws02"].asset_id) == []


def test_reboots_only_inside_the_window(
    client: TestClient, ctx: Context, clock: ManualClock, fleet: tuple[int, Person, dict]
) -> None:
    org, tech, m = fleet
    ws1 = m["ws01"]
    ws1.pending, ws1.reboot = [], True
    ws1.checkin()
    viewer = make_person(ctx, "policy-viewer", roles={org: "viewer"})
    url = f"/api/v1/assets/{ws1.asset_id}/reboot"
    assert client.post(url, headers=viewer.headers).status_code == 403

    # Outside the window a person's reboot is refused, with when the next window is.
    r = client.post(url, headers=tech.headers)
    assert r.status_code == 409
    assert r.json()["detail"] == (
        "reboot refused: outside the maintenance window of patch policy 'Nightly' "
        "(next: 2026-11-03 02:00\u201304:00 UTC)"
    )
    assert patch_policies.apply(ctx).reboots == 0
    assert envelopes(ctx, ws1.asset_id, "reboot") == []

    # Inside it the policy reboots the machine that needs it, once; the job ends with it.
    at(clock, day(3, 3, 50))
    checkin_all(m)
    report = patch_policies.apply(ctx)
    assert report.reboots == 1
    assert envelopes(ctx, ws1.asset_id, "reboot") == [
        {"in_window": True, "window_end": int(day(3, 4).timestamp())}
    ]
    assert patch_policies.apply(ctx).reboots == 0
    # It reaches the agent too late (its answer was lost; the agent ran it at 04:05): refused.
    orders = ws1.checkin(run=False)
    assert len(orders) == 1
    clock.advance(minutes=15)
    out = ws1.jobs.handle(orders[0], persist=lambda s: None)
    assert out is not None and out["state"] == "refused" and "expired" in out["reason"]
    assert ["systemctl", "reboot"] not in ws1.ran

    # A person inside the window: allowed, the job expires at the window's end.
    at(clock, day(4, 2, 30))
    r = client.post(url, headers=tech.headers)
    assert r.status_code == 201, r.text
    assert r.json()["window_end"].startswith("2026-11-04T04:00")
    (ran,) = [ws1.jobs.handle(o, persist=lambda s: None) for o in ws1.checkin(run=False)]
    assert ran is not None and ran["state"] == "succeeded"
    assert ws1.ran == [["systemctl", "reboot"]]


def _policy_id(client: TestClient, org: int, who: Person) -> int:
    r = client.get(f"/api/v1/orgs/{org}/patch-policies", headers=who.headers)
    return int(r.json()["items"][0]["id"])


def test_bad_policies_are_refused_and_nothing_is_stored(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org = make_org(ctx, "Careful Ltd")
    tech = make_person(ctx, "careful-tech", roles={org: "technician"})
    viewer = make_person(ctx, "careful-viewer", roles={org: "viewer"})
    good = {**POLICY, "org_id": org}
    for bad, where in (
        ({"window_minutes": 5}, "window_minutes"),
        ({"window_start": "25:00"}, "window_start"),
        ({"window_days": [0]}, "window_days"),
        ({"window_days": [1, 1]}, "twice"),
        ({"deferral_days": -1}, "deferral_days"),
        ({"security": "never"}, "security"),
        ({"other": "sometimes"}, "other"),
        ({"reboot": "whenever"}, "reboot"),
        ({"holds": ["-o APT::Get"]}, "holds"),
        ({"grace_hours": 10_000}, "grace_hours"),
        ({"pilot_tag": "nightly", "tag": "nightly"}, "pilot tag"),
        ({"colour": "blue"}, "colour"),
    ):
        r = client.post("/api/v1/patch-policies", json={**good, **bad}, headers=tech.headers)
        assert r.status_code == 422, (bad, r.text)
        assert where in r.text, (bad, r.text)
    assert client.get(f"/api/v1/orgs/{org}/patch-policies", headers=tech.headers).json() == {
        "items": []
    }
    assert (
        client.post("/api/v1/patch-policies", json=good, headers=viewer.headers).status_code == 403
    )
    # The provider's default is the owners' to set, without a tag, and only one.
    provider = {**POLICY, "name": "Provider default"}
    assert (
        client.post("/api/v1/patch-policies", json=provider, headers=tech.headers).status_code
        == 403
    )
    tagged = {**provider, "tag": "servers"}
    assert (
        client.post("/api/v1/patch-policies", json=tagged, headers=owner.headers).status_code == 422
    )
    r = client.post("/api/v1/patch-policies", json=provider, headers=owner.headers)
    assert r.status_code == 201, r.text
    assert (
        client.post("/api/v1/patch-policies", json=provider, headers=owner.headers).status_code
        == 409
    )

    r = client.post("/api/v1/patch-policies", json=good, headers=tech.headers)
    assert r.status_code == 201
    assert client.post("/api/v1/patch-policies", json=good, headers=tech.headers).status_code == 409
    servers = client.post(
        "/api/v1/patch-policies",
        json={**good, "tag": "servers", "name": "Servers"},
        headers=tech.headers,
    )
    assert servers.status_code == 201
    listed = client.get(f"/api/v1/orgs/{org}/patch-policies", headers=viewer.headers).json()
    assert [(p["org_id"], p["tag"]) for p in listed["items"]] == [
        (org, None),
        (org, "servers"),
        (None, None),
    ]
    pid = r.json()["id"]
    before = client.get(f"/api/v1/patch-policies/{pid}", headers=tech.headers).json()
    bad_put = {**POLICY, "window_minutes": 2000}
    assert (
        client.put(f"/api/v1/patch-policies/{pid}", json=bad_put, headers=tech.headers).status_code
        == 422
    )
    assert client.get(f"/api/v1/patch-policies/{pid}", headers=tech.headers).json() == before
    assert client.delete(f"/api/v1/patch-policies/{pid}", headers=viewer.headers).status_code == 403
    assert client.delete(f"/api/v1/patch-policies/{pid}", headers=tech.headers).status_code == 204
    with ctx.db.read() as s:
        assert s.scalars(select(PatchPolicyAction)).all() == []


def test_which_policy_an_asset_follows(
    client: TestClient, ctx: Context, clock: ManualClock, owner: Person
) -> None:
    org = make_org(ctx, "Layers Ltd")
    tech = make_person(ctx, "layers-tech", roles={org: "technician"})
    server = Machine(client, ctx, clock, org, "srv01")
    desk = Machine(client, ctx, clock, org, "ws01")
    assets.update(ctx, SYSTEM, server.asset_id, AssetUpdate(tags=["servers"]))
    server.checkin()
    desk.checkin()
    assert decisions(client, org, tech)["ws01"]["note"] == "no patch policy"
    body = {**POLICY, "pilot_tag": None}
    client.post("/api/v1/patch-policies", json={**body, "name": "Provider"}, headers=owner.headers)
    assert {d["policy_name"] for d in decisions(client, org, tech).values()} == {"Provider"}
    client.post(
        "/api/v1/patch-policies", json={**body, "org_id": org, "name": "Org"}, headers=tech.headers
    )
    client.post(
        "/api/v1/patch-policies",
        json={**body, "org_id": org, "tag": "servers", "name": "Servers", "paused": True},
        headers=tech.headers,
    )
    seen = decisions(client, org, tech)
    assert (seen["srv01"]["policy_name"], seen["ws01"]["policy_name"]) == ("Servers", "Org")
    at(clock, day(3, 2, 30))
    server.checkin()
    desk.checkin()
    seen = decisions(client, org, tech)
    assert seen["srv01"]["note"].startswith("paused (would be: installing 1 update now")
    assert patch_policies.apply(ctx).installs == 1  # the paused one issues nothing
    assert installs(ctx, desk.asset_id) == [["libssl3"]] and installs(ctx, server.asset_id) == []


@pytest.mark.skipif(
    not (shutil.which("dpkg-deb") and shutil.which("apt-get")) or os.geteuid() != 0,
    reason="needs dpkg-deb and apt-get, and root for dpkg --root",
)
def test_a_policy_takes_a_real_machine_from_pending_to_compliant(
    client: TestClient,
    ctx: Context,
    clock: ManualClock,
    owner: Person,
    tmp_path: Path,
    served: tuple[Path, str],
) -> None:
    """No person approves anything: the real agent reports a security update pending (real
    apt, isolated root), the policy's window opens, apply() issues the signed job, the agent
    verifies it and installs with real apt, and the machine is compliant."""
    folder, url = served
    old, new = _build(tmp_path, "1.0-1"), _build(tmp_path, "1.0-2")
    _repository(folder, new, "demo-security")
    root = _machine(tmp_path, url, old)
    org = make_org(ctx, "Hands Off Dental")
    agent = enroll(client, ctx, org)

    runner = updates_agent(client, clock, agent, tmp_path, root, apt_root=str(root))
    try:
        assert runner.run_once() is Outcome.SENT  # fwdemo 1.0-2 pending, security
        clock.advance(days=15)  # 17 November, 09:00 UTC
        patching.refresh(ctx)
        assert set(_open(ctx, org)) == {patching.RULE_SECURITY}
        r = client.post(
            "/api/v1/patch-policies",
            json={**POLICY, "org_id": org, "pilot_tag": None, "window_start": "09:30"},
            headers=owner.headers,
        )
        assert r.status_code == 201, r.text
        assert runner.run_once() is Outcome.SENT
        assert patch_policies.apply(ctx).jobs == []  # before the window
        clock.advance(minutes=40)
        assert runner.run_once() is Outcome.SENT
        (job_id,) = patch_policies.apply(ctx).jobs
        assert runner.run_once() is Outcome.SENT  # delivered, verified, real apt installs
        status = (root / "var/lib/dpkg/status").read_text()
        assert "Package: fwdemo" in status and "Version: 1.0-2" in status
        assert runner.run_once() is Outcome.SENT  # the result and the fresh updates section
    finally:
        runner.close()
        runner.buffer.close()
    job = client.get(f"/api/v1/jobs/{job_id}", headers=owner.headers).json()
    assert (job["state"], job["created_by"]) == ("succeeded", "policy:Nightly")
    assert patching.refresh(ctx).resolved == 1 and _open(ctx, org) == {}
    body = client.get(f"/api/v1/orgs/{org}/patches", headers=owner.headers).json()
    assert (body["compliant"], body["compliance"]) == (1, 100.0)
    seen = decisions(client, org, owner)
    (device,) = seen.values()
    assert device["note"] == "up to date" and device["waiting"] == []
    assert patch_policies.apply(ctx).jobs == []


def test_a_technician_sets_the_policy_on_the_patches_page(
    client: TestClient, ctx: Context, clock: ManualClock
) -> None:
    org = make_org(ctx, "Page Dental", timezone="Europe/Berlin")
    machine = Machine(client, ctx, clock, org, "ws01")
    machine.checkin()
    make_person(ctx, "page-viewer", roles={org: "viewer"})
    csrf = signed_in(client, "page-viewer")
    shown = client.get(f"/orgs/{org}/patches").text
    assert "No patch policy" in shown and "New policy" not in shown
    form = {
        "csrf_token": csrf,
        "name": "Nightly",
        "security": "auto",
        "other": "manual",
        "window_start": "02:00",
        "window_minutes": "120",
        "reboot": "when_required",
        "holds": "linux-image-*\nopenssl",
        "deferral_days": "0",
        "ring_delay_days": "7",
        "grace_hours": "72",
    }
    r = client.post(f"/orgs/{org}/patch-policies", data=form, follow_redirects=False)
    assert r.status_code == 403

    make_person(ctx, "page-tech", roles={org: "technician"})
    csrf = signed_in(client, "page-tech")
    assert "New policy" in client.get(f"/orgs/{org}/patches").text
    assert client.get(f"/orgs/{org}/patch-policies/new").status_code == 200
    bad = {**form, "csrf_token": csrf, "window_minutes": "5", "deferral_days": "-2"}
    r = client.post(f"/orgs/{org}/patch-policies", data=bad, follow_redirects=False)
    assert r.status_code == 422
    assert "15" in r.text and "linux-image-*" in r.text  # the message; what was typed kept
    assert patch_policies.list_policies(ctx, SYSTEM, org) == []

    r = client.post(
        f"/orgs/{org}/patch-policies", data={**form, "csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"/orgs/{org}/patches#policy"
    (saved,) = patch_policies.list_policies(ctx, SYSTEM, org)
    assert saved.holds == ["linux-image-*", "openssl"] and saved.window_days == []
    shown = client.get(f"/orgs/{org}/patches").text
    assert "Saved the patch policy Nightly." in shown
    assert "held: linux-image-*" in shown
    # 02:00-04:00 Berlin, the next one after Monday 10:00 local.
    assert "outside window (next: 2026-11-03 02:00\u201304:00 CET)" in shown

    # 02:30 in Berlin: the policy installs, and the page says what it did.
    at(clock, day(3, 1, 30))
    machine.checkin()
    assert patch_policies.apply(ctx).installs == 1
    csrf = signed_in(client, "page-tech")  # the session ran out while the clock moved
    shown = client.get(f"/orgs/{org}/patches").text
    assert "What the policies did" in shown
    assert 'install on <a href="/assets/' in shown and ">ws01</a> (libssl3=1.1)" in shown

    edit = client.get(f"/orgs/{org}/patch-policies/{saved.id}/edit")
    assert edit.status_code == 200 and "openssl" in edit.text
    changed = {**form, "csrf_token": csrf, "window_days": ["6", "7"], "paused": "on"}
    r = client.post(f"/orgs/{org}/patch-policies/{saved.id}", data=changed, follow_redirects=False)
    assert r.status_code == 303
    again = patch_policies.get(ctx, SYSTEM, saved.id)
    assert (again.window_days, again.paused) == ([6, 7], True)
    assert "paused (would be: " in client.get(f"/orgs/{org}/patches").text
    r = client.post(
        f"/orgs/{org}/patch-policies/{saved.id}/delete",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303 and patch_policies.list_policies(ctx, SYSTEM, org) == []


def test_a_package_pending_for_two_architectures_is_installed_for_both(
    client: TestClient, ctx: Context, clock: ManualClock
) -> None:
    org = make_org(ctx, "Multiarch Ltd")
    machine = Machine(client, ctx, clock, org, "ws01")
    section = _section(("libc6", True))
    section["pending"].append({**section["pending"][0], "arch": "i386"})
    section["total"] = section["security_total"] = 2
    machine.section = lambda: section  # type: ignore[method-assign]
    machine.checkin()
    patch_policies.create(
        ctx,
        SYSTEM,
        patch_policies.PatchPolicyCreate(
            org_id=org, name="Nightly", window_start="02:00", window_minutes=120
        ),
    )
    at(clock, day(3, 2, 30))
    machine.checkin()
    (only,) = decisions(
        client, org, make_person(ctx, "arch-viewer", roles={org: "viewer"})
    ).values()
    assert only["install"] == ["libc6=1.1"]
    assert patch_policies.apply(ctx).installs == 1
    assert envelopes(ctx, machine.asset_id)[0]["packages"] == [
        {"name": "libc6:amd64", "version": "1.1"},
        {"name": "libc6:i386", "version": "1.1"},
    ]
    machine.checkin()
    assert any("libc6:i386=1.1" in argv for argv in machine.ran)
    assert patch_policies.apply(ctx).jobs == []  # tried in this window, for both


def test_an_uninstallable_name_is_left_out_and_the_turn_goes_on(
    client: TestClient, ctx: Context, clock: ManualClock
) -> None:
    """A reported name outside Debian's grammar is never put in a job (the agent would refuse
    it), and does not stop the other machines' or organizations' jobs."""
    orgs_ = [make_org(ctx, "Odd Names Ltd"), make_org(ctx, "Plain Names Ltd")]
    odd, plain = (Machine(client, ctx, clock, o, f"ws-{o}") for o in orgs_)
    odd.pending = [("Weird_Pkg;reboot", True)]
    for o in orgs_:
        patch_policies.create(
            ctx,
            SYSTEM,
            patch_policies.PatchPolicyCreate(
                org_id=o, name="Nightly", window_start="02:00", window_minutes=120
            ),
        )
    at(clock, day(3, 2, 30))
    odd.checkin()
    plain.checkin()
    report = patch_policies.apply(ctx)
    assert (report.installs, report.failed) == (1, [])
    assert installs(ctx, odd.asset_id) == []
    assert installs(ctx, plain.asset_id) == [["libssl3", "linux-image-amd64"]]

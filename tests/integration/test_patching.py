"""Patching with real apt: a tiny package built at two versions, a local repository served on
loopback, the old version installed into an isolated root, the real collector reporting the
newer one pending as a security update; the server ages it with a moved clock, raises and
resolves findings, and shows it on the API and the pages, on both engines."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from forewarn.agent import collect
from forewarn.agent.buffer import Buffer
from forewarn.agent.collectors import updates
from forewarn.agent.jobs import JobRunner
from forewarn.agent.runner import Outcome, Runner, Sources
from forewarn.domain.clock import ManualClock
from forewarn.services import agent_jobs, enrollment, findings, patching
from forewarn.services.context import Context
from forewarn.services.schemas import EnrollTokenCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import AgentJob
from tests.conftest import Person, make_org, make_person
from tests.integration.test_agent_jobs import InProcessSender
from tests.integration.test_ingest import batch, enroll, send
from tests.integration.test_web import signed_in

pytestmark = pytest.mark.skipif(
    not (shutil.which("dpkg-deb") and shutil.which("dpkg") and shutil.which("apt-get")),
    reason="needs dpkg-deb, dpkg and apt-get (Debian or Ubuntu)",
)
TIMEOUT = 120


def _run(argv: list[str]) -> str:
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=TIMEOUT, env=dict(os.environ, LC_ALL="C")
    )
    assert done.returncode == 0, (argv, done.stdout, done.stderr)
    return done.stdout


def _build(work: Path, version: str) -> Path:
    tree = work / f"fwdemo-{version}"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "usr/share/fwdemo").mkdir(parents=True)
    (tree / "usr/share/fwdemo/version").write_text(version + "\n")
    (tree / "DEBIAN/control").write_text(
        f"Package: fwdemo\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: Forewarn tests <tests@example.com>\nDescription: a package for tests\n"
    )
    deb = work / f"fwdemo_{version}_all.deb"
    _run(["dpkg-deb", "--build", "-Zgzip", str(tree), str(deb)])
    return deb


def _repository(folder: Path, deb: Path, suite: str) -> None:
    """A flat apt repository: Packages and a Release naming it, as apt-ftparchive would."""
    folder.mkdir()
    shutil.copy(deb, folder / deb.name)
    raw = deb.read_bytes()
    control = _run(["dpkg-deb", "-f", str(deb)]).rstrip("\n")
    packages = (
        f"{control}\nFilename: ./{deb.name}\nSize: {len(raw)}\n"
        f"SHA256: {hashlib.sha256(raw).hexdigest()}\n\n"
    )
    (folder / "Packages").write_text(packages)
    digest = hashlib.sha256(packages.encode()).hexdigest()
    (folder / "Release").write_text(
        f"Origin: Forewarn\nLabel: Forewarn\nSuite: {suite}\nCodename: {suite}\n"
        "Date: Thu, 01 Jan 2026 00:00:00 UTC\nArchitectures: all amd64\n"
        f"SHA256:\n {digest} {len(packages.encode())} Packages\n"
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """The repository folder and its loopback URL."""
    folder = tmp_path / "repo"
    handler = functools.partial(_Quiet, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _apt(root: Path, *args: str) -> list[str]:
    """apt-get working on the isolated root (the machine's own apt is not touched)."""
    return [
        "apt-get",
        "-q",
        "-o",
        f"Dir={root}",
        "-o",
        f"Dir::State::status={root}/var/lib/dpkg/status",
        "-o",
        "Debug::NoLocking=1",
        "-o",
        "APT::Sandbox::User=root",
        "-o",
        f"Dir::Log={root}/var/log/apt",
        "-o",
        f"DPkg::Options::=--root={root}",
        "-o",
        f"DPkg::Options::=--log={root}/var/log/dpkg.log",
        "-o",
        "DPkg::Options::=--force-script-chrootless",
        "-o",
        "DPkg::Use-Pty=0",
        *args,
    ]


def _machine(tmp_path: Path, url: str, old: Path) -> Path:
    root = tmp_path / "root"
    for d in (
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "etc/apt/sources.list.d",
        "etc/apt/preferences.d",
        "etc/apt/apt.conf.d",
        "var/lib/apt/lists/partial",
        "var/cache/apt/archives/partial",
        "var/log/apt",
        "var/run",
    ):
        (root / d).mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("")
    # --log: dpkg's log is not under --root; the machine's own must not be touched
    _run(["dpkg", f"--root={root}", f"--log={root}/var/log/dpkg.log", "-i", str(old)])
    (root / "etc/apt/sources.list").write_text(f"deb [trusted=yes] {url} ./\n")
    _run(_apt(root, "update"))
    return root


def _checkin(client: TestClient, token: str, seq: int, section: dict[str, Any]) -> None:
    r = send(client, token, batch(seq, [], {"full": False, "updates": section}))
    assert r.status_code == 200, r.text


def _enroll(client: TestClient, ctx: Context, org_id: int, machine: str) -> dict[str, Any]:
    secret = enrollment.create_token(ctx, SYSTEM, EnrollTokenCreate(org_id=org_id)).token
    r = client.post(
        "/api/v1/agent/enroll",
        json={"token": secret, "hostname": machine, "machine_id": machine, "os": "Debian 12"},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _open(ctx: Context, org_id: int) -> dict[str, findings.FindingOut]:
    page = findings.list_findings(ctx, SYSTEM, org_id=org_id, status="open", rule_prefix="patch.")
    return {f.rule: f for f in page.items}


@pytest.mark.skipif(os.geteuid() != 0, reason="dpkg --root and apt install need root here")
def test_real_apt_pending_to_compliant(
    client: TestClient,
    ctx: Context,
    clock: ManualClock,
    owner: Person,
    tmp_path: Path,
    served: tuple[Path, str],
) -> None:
    folder, url = served
    old, new = _build(tmp_path, "1.0-1"), _build(tmp_path, "1.0-2")
    _repository(folder, new, "demo-security")
    root = _machine(tmp_path, url, old)

    # The real collector, against the isolated root: the newer version is pending, security.
    section = updates.collect(str(root))
    assert section is not None
    assert section["sources"] == ["apt"] and section["total"] == 1
    assert section["pending"] == [
        {
            "name": "fwdemo",
            "installed": "1.0-1",
            "candidate": "1.0-2",
            "arch": "all",
            "security": True,
            "origin": "Forewarn:demo-security",
            "source": "apt",
        }
    ]
    assert section["reboot_required"] is False and section["last_patched"] is None

    org = make_org(ctx, "Patchy Dental")
    agent = enroll(client, ctx, org)
    asset = agent["asset_id"]
    _checkin(client, agent["agent_token"], 1, section)
    first_seen = clock.now()

    r = client.get(f"/api/v1/orgs/{org}/patches", headers=owner.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["reporting"], body["compliant"], body["compliance"]) == (1, 1, 100.0)
    device = body["devices"][0]
    assert (device["asset_id"], device["pending"], device["security"]) == (asset, 1, 1)
    assert device["oldest_pending_days"] == 0 and device["reboot_required"] is False

    # Fifteen days on, still pending: past the 14-day policy, a finding.
    clock.advance(days=15)
    (root / "var/run/reboot-required").write_text("*** System restart required ***\n")
    (root / "var/run/reboot-required.pkgs").write_text("fwdemo\n")
    section = updates.collect(str(root))
    assert section is not None and section["reboot_required"] is True
    _checkin(client, agent["agent_token"], 2, section)
    patching.refresh(ctx)
    r = client.get(f"/api/v1/orgs/{org}/patches", headers=owner.headers)
    body = r.json()
    assert (body["compliant"], body["compliance"]) == (0, 0.0)
    assert body["devices"][0]["oldest_security_days"] == 15
    assert body["devices"][0]["reboot_required"] is True
    found = _open(ctx, org)
    assert set(found) == {patching.RULE_SECURITY}  # the reboot is new, not overdue yet
    assert found[patching.RULE_SECURITY].asset_id == asset
    r = client.get(f"/api/v1/assets/{asset}/updates", headers=owner.headers)
    assert r.status_code == 200, r.text
    one = r.json()
    assert one["compliant"] is False and one["reboot_packages"] == ["fwdemo"]
    assert one["updates"][0]["pending_days"] == 15
    assert datetime.fromisoformat(one["updates"][0]["first_seen"]) == first_seen

    # A week more and the reboot is overdue too.
    clock.advance(days=8)
    patching.refresh(ctx)
    assert set(_open(ctx, org)) == {patching.RULE_SECURITY, patching.RULE_REBOOT}

    # Patched for real (apt into the root) and rebooted: nothing pending, compliant again.
    _run(_apt(root, "-y", "dist-upgrade"))
    (root / "var/run/reboot-required").unlink()
    section = updates.collect(str(root))
    assert section is not None and section["total"] == 0
    assert section["last_patched"] is not None  # apt's history of the upgrade just made
    _checkin(client, agent["agent_token"], 3, section)
    report = patching.refresh(ctx)
    assert report.resolved == 2 and _open(ctx, org) == {}
    body = client.get(f"/api/v1/orgs/{org}/patches", headers=owner.headers).json()
    assert (body["compliant"], body["compliance"]) == (1, 100.0)
    assert body["devices"][0]["last_patched"] is not None


def _section(
    *pending: tuple[str, bool], reboot: bool = False, candidate: str = "1.1"
) -> dict[str, Any]:
    rows = [
        {
            "name": name,
            "installed": "1.0",
            "candidate": candidate,
            "arch": "amd64",
            "security": security,
            "origin": "Debian-Security:12/bookworm-security" if security else "Debian:12/stable",
            "source": "apt",
        }
        for name, security in pending
    ]
    return {
        "sources": ["apt"],
        "total": len(rows),
        "security_total": sum(1 for _, s in pending if s),
        "pending": rows,
        "reboot_required": reboot,
        "reboot_packages": ["linux-image-amd64"] if reboot else [],
        "last_patched": datetime(2025, 12, 1, tzinfo=UTC).timestamp(),
    }


def test_api_and_pages(client: TestClient, ctx: Context, clock: ManualClock) -> None:
    org = make_org(ctx, "Two Machines Ltd")
    other = make_org(ctx, "Elsewhere Inc")
    viewer = make_person(ctx, "viewer", roles={org: "viewer"})
    late = _enroll(client, ctx, org, "late01")
    _checkin(client, late["agent_token"], 1, _section(("libssl3", True), ("vim", False)))
    clock.advance(days=20)
    fresh = _enroll(client, ctx, org, "fresh01")
    _checkin(client, fresh["agent_token"], 1, _section(("vim", False), reboot=True))
    _checkin(client, late["agent_token"], 2, _section(("libssl3", True), ("vim", False)))

    body = client.get(f"/api/v1/orgs/{org}/patches", headers=viewer.headers).json()
    assert (body["reporting"], body["compliant"], body["compliance"]) == (2, 1, 50.0)
    worst = body["devices"][0]
    assert worst["asset_id"] == late["asset_id"] and worst["compliant"] is False
    assert (worst["pending"], worst["security"], worst["oldest_security_days"]) == (2, 1, 20)
    assert body["devices"][1]["reboot_required"] is True
    assert client.get(f"/api/v1/orgs/{other}/patches", headers=viewer.headers).status_code in (
        403,
        404,
    )
    one = client.get(f"/api/v1/assets/{late['asset_id']}/updates", headers=viewer.headers).json()
    assert [u["name"] for u in one["updates"]] == ["libssl3", "vim"]  # security first
    assert one["last_patched"].startswith("2025-12-01")

    signed_in(client, "viewer")
    html = client.get(f"/orgs/{org}/patches").text
    assert "50.0 %" in html and "1 of 2 machines" in html
    assert html.index(f"/assets/{late['asset_id']}?tab=updates") < html.index(
        f"/assets/{fresh['asset_id']}?tab=updates"
    )
    assert f'href="/orgs/{org}/patches"' in client.get(f"/orgs/{org}").text
    tab = client.get(f"/assets/{late['asset_id']}?tab=updates").text
    assert "libssl3" in tab and "security updates overdue" in tab
    tab = client.get(f"/assets/{fresh['asset_id']}?tab=updates").text
    assert "Reboot required since" in tab and "linux-image-amd64" in tab
    assert client.get(f"/orgs/{other}/patches").status_code in (403, 404)

    # Across clients: the viewer sees only its organization; the provider's owner both,
    # the one with machines reporting first.
    body = client.get("/api/v1/patches", headers=viewer.headers).json()
    assert [(o["org_id"], o["compliance"]) for o in body["items"]] == [(org, 50.0)]
    assert (body["items"][0]["security_pending"], body["items"][0]["reboot_required"]) == (1, 1)
    owner = make_person(ctx, "boss", owner=True)
    body = client.get("/api/v1/patches", headers=owner.headers).json()
    assert [o["org_id"] for o in body["items"]] == [org, other]
    html = client.get("/patches").text
    assert f'href="/orgs/{org}/patches"' in html and "Elsewhere Inc" not in html
    assert 'href="/patches"' in html  # in the main navigation


def test_a_newer_candidate_keeps_the_age(
    client: TestClient, ctx: Context, clock: ManualClock
) -> None:
    org = make_org(ctx, "Never Patches Ltd")
    agent = _enroll(client, ctx, org, "stale01")
    token, asset = agent["agent_token"], agent["asset_id"]
    _checkin(client, token, 1, _section(("vim", False)))
    clock.advance(days=3)
    # A security release replaces the plain update: exposed from now on.
    _checkin(client, token, 2, _section(("vim", True), candidate="1.2"))
    clock.advance(days=10)
    # A second security release while the first is still not installed: still 10 days late.
    _checkin(client, token, 3, _section(("vim", True), candidate="1.3"))
    one = patching.asset_updates(ctx, SYSTEM, asset)
    assert [(u.candidate, u.pending_days) for u in one.updates] == [("1.3", 10)]
    clock.advance(days=5)
    assert patching.org_patches(ctx, SYSTEM, org).devices[0].oldest_security_days == 15
    patching.refresh(ctx)
    assert set(_open(ctx, org)) == {patching.RULE_SECURITY}
    # Installed at last: nothing pending, the finding resolved.
    _checkin(client, token, 4, _section())
    assert patching.refresh(ctx).resolved == 1
    assert patching.org_patches(ctx, SYSTEM, org).compliance == 100.0


@pytest.mark.skipif(os.geteuid() != 0, reason="dpkg --root and apt install need root here")
def updates_agent(
    client: TestClient,
    clock: ManualClock,
    agent: dict[str, Any],
    tmp_path: Path,
    root: Path,
    **agent_root: str,
) -> Runner:
    """The real agent loop of an enrolled machine whose inventory is the real updates
    collector on the isolated `root`, and whose jobs run there through the agent's own root
    setting (apt_root= or dnf_root=, as FOREWARN_AGENT_APT_ROOT / _DNF_ROOT set it)."""

    def inventory() -> dict[str, Any]:
        section = updates.collect(str(root))
        return {} if section is None else {"updates": section}

    return Runner(
        Buffer(tmp_path / "buffer.db"),
        InProcessSender(client, agent["agent_token"]),
        Sources(
            sample=lambda now: {"ts": now, "points": [{"name": "cpu.percent", "value": 1.0}]},
            inventory=inventory,
            changed_sections=collect.changed_sections,
            section_hashes=collect.section_hashes,
        ),
        clock=clock,
        sleep=lambda s: None,
        jobs=JobRunner(
            agent["agent_id"],
            agent["server_public_key"],
            clock=lambda: clock.now().timestamp(),
            **agent_root,
        ),
    )


def test_approved_updates_are_installed_by_the_agent_and_the_machine_is_compliant(
    client: TestClient,
    ctx: Context,
    clock: ManualClock,
    owner: Person,
    tmp_path: Path,
    served: tuple[Path, str],
) -> None:
    """pending -> approved (API) -> signed job in the check-in answer -> verified and run by
    the real agent with real apt into the isolated root -> installed -> compliant."""
    folder, url = served
    old, new = _build(tmp_path, "1.0-1"), _build(tmp_path, "1.0-2")
    _repository(folder, new, "demo-security")
    root = _machine(tmp_path, url, old)
    org = make_org(ctx, "Approving Dental")
    agent = enroll(client, ctx, org)
    asset = agent["asset_id"]
    tech = make_person(ctx, "patch-tech", roles={org: "technician"})
    viewer = make_person(ctx, "patch-viewer", roles={org: "viewer"})

    # The real agent loop; its inventory is the real updates collector on the isolated root.
    runner = updates_agent(client, clock, agent, tmp_path, root, apt_root=str(root))
    try:
        assert runner.run_once() is Outcome.SENT  # the first inventory: fwdemo pending
        clock.advance(days=15)
        patching.refresh(ctx)
        assert set(_open(ctx, org)) == {patching.RULE_SECURITY}
        body = client.get(f"/api/v1/orgs/{org}/patches", headers=owner.headers).json()
        assert (body["compliant"], body["devices"][0]["security"]) == (0, 1)

        # Approve: viewers may not; a technician may, security only by default.
        approve = f"/api/v1/orgs/{org}/patches/approve"
        assert client.post(approve, json={}, headers=viewer.headers).status_code == 403
        bad = {"packages": ["fwdemo; reboot"]}
        assert client.post(approve, json=bad, headers=tech.headers).status_code == 422
        r = client.post(approve, json={"asset_ids": [asset]}, headers=tech.headers)
        assert r.status_code == 201, r.text
        out = r.json()
        assert [(j["asset_id"], j["packages"]) for j in out["jobs"]] == [(asset, ["fwdemo=1.0-2"])]
        job_id = out["jobs"][0]["job"]
        # Approved again before it ran: no second job.
        again = client.post(approve, json={}, headers=tech.headers).json()
        assert (again["jobs"], again["busy"]) == ([], [asset])

        # The next check-in answer carries the job; the agent verifies it and runs real apt.
        assert runner.run_once() is Outcome.SENT
        status = (root / "var/lib/dpkg/status").read_text()
        assert "Package: fwdemo" in status and "Version: 1.0-2" in status
        # The next tick sends the result and the fresh updates section: nothing pending.
        assert runner.run_once() is Outcome.SENT
    finally:
        runner.close()
        runner.buffer.close()

    job = client.get(f"/api/v1/jobs/{job_id}", headers=tech.headers).json()
    assert (job["kind"], job["state"], job["exit_code"]) == ("install_updates", "succeeded", 0)
    assert "fwdemo" in job["output"]
    one = client.get(f"/api/v1/assets/{asset}/updates", headers=owner.headers).json()
    assert one["updates"] == [] and one["compliant"] is True
    assert patching.refresh(ctx).resolved == 1 and _open(ctx, org) == {}
    body = client.get(f"/api/v1/orgs/{org}/patches", headers=owner.headers).json()
    assert (body["compliant"], body["compliance"]) == (1, 100.0)
    params: dict[str, Any] = {"org_id": org, "action": "patches.approve"}
    events = client.get("/api/v1/audit-events", params=params, headers=owner.headers).json()[
        "items"
    ]
    assert len(events) == 2 and events[-1]["after"]["jobs"][0]["job"] == job_id


def test_a_technician_approves_security_updates_from_the_page(
    client: TestClient, ctx: Context
) -> None:
    org = make_org(ctx, "Approving Ltd")
    machine = _enroll(client, ctx, org, "ws01")
    _checkin(client, machine["agent_token"], 1, _section(("libssl3", True), ("vim", False)))

    make_person(ctx, "watcher", roles={org: "viewer"})
    csrf = signed_in(client, "watcher")
    assert "Approve and install" not in client.get(f"/orgs/{org}/patches").text
    r = client.post(
        f"/orgs/{org}/patches/approve",
        data={"csrf_token": csrf, "which": "security"},
        follow_redirects=False,
    )
    assert r.status_code == 403

    make_person(ctx, "patcher", roles={org: "technician"})
    csrf = signed_in(client, "patcher")
    assert "Approve and install" in client.get(f"/orgs/{org}/patches").text
    r = client.post(
        f"/orgs/{org}/patches/approve",
        data={"csrf_token": csrf, "which": "security"},
        follow_redirects=False,
    )
    assert r.headers["location"] == f"/orgs/{org}/patches"
    shown = client.get(r.headers["location"]).text
    assert "Approved: 1 machine will install their updates." in shown
    (job,) = agent_jobs.list_jobs(ctx, SYSTEM, org_id=org).items
    assert job.kind == "install_updates" and job.asset_id == machine["asset_id"]
    assert job.title == "Install 1 update"  # the security one only
    with ctx.db.read() as session:
        envelope = session.get(AgentJob, job.id).envelope  # type: ignore[union-attr]
    assert '{"name":"libssl3","version":"1.1"}' in envelope and "vim" not in envelope

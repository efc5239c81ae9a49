"""Patching with real dnf: a tiny noarch RPM built at two versions with rpmbuild, a repository
made with createrepo_c (the newer build marked a security update in its updateinfo) and
served on loopback, the old version installed into an isolated root with rpm --root; the real
collector reports the newer build pending from that root, a technician approves it, the real
agent job code runs real dnf into that root, and the machine is compliant again.

dnf reaches only the loopback repository: the root's own dnf.conf (which --installroot reads
in place of the machine's) turns plugins and countme off and bounds its timeouts, the root's
repository folder holds only the test's repository (a baseurl: no metalink, no mirrorlist),
and the test reads dnf's download log to show every address it fetched was the loopback one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from forewarn.agent.collectors import updates
from forewarn.agent.runner import Outcome
from forewarn.domain.clock import ManualClock
from forewarn.services import agent_jobs, patch_policies, patching
from forewarn.services.context import Context
from forewarn.services.scope import SYSTEM
from tests.conftest import Person, make_org, make_person
from tests.integration.test_ingest import enroll
from tests.integration.test_patch_policies import Machine, at, day, envelopes
from tests.integration.test_patching import (
    _checkin,
    _enroll,
    _open,
    _section,
    served,
    updates_agent,
)
from tests.integration.test_web import signed_in

__all__ = ["served"]  # the real-apt test's loopback repository fixture, shared
TOOLS = ("rpmbuild", "rpm", "createrepo_c", "modifyrepo_c", "dnf")
TIMEOUT = 120

SPEC = """Name: fwdemo
Version: 1.0
Release: {release}
Summary: a package for tests
License: MIT
BuildArch: noarch
%description
A package for Forewarn's tests.
%install
mkdir -p %{{buildroot}}/usr/share/fwdemo
echo 1.0-{release} > %{{buildroot}}/usr/share/fwdemo/version
%files
/usr/share/fwdemo/version
"""

UPDATEINFO = """<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="tests@example.com" status="stable" type="security" version="2.0">
    <id>FWSA-2026:0001</id>
    <title>fwdemo security update</title>
    <issued date="2026-01-01 00:00:00"/>
    <severity>Important</severity>
    <description>A fix for the tests.</description>
    <pkglist>
      <collection short="fw">
        <name>fw</name>
        <package name="fwdemo" version="1.0" release="2" epoch="0" arch="noarch">
          <filename>fwdemo-1.0-2.noarch.rpm</filename>
        </package>
      </collection>
    </pkglist>
  </update>
</updates>
"""

# The isolated machine's dnf.conf. gpgcheck off: the test's packages are not signed. plugins
# and countme off: nothing but the repository is contacted. Short timeouts and one retry: a
# repository that does not answer fails the test in seconds, not minutes.
DNF_CONF = """[main]
gpgcheck=0
plugins=0
countme=0
timeout=10
retries=1
skip_if_unavailable=0
install_weak_deps=0
"""


def _run(argv: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=cwd,
        env=dict(os.environ, LC_ALL="C"),
    )
    assert done.returncode == 0, (argv, done.stdout, done.stderr)
    return done.stdout


def _build(work: Path, release: str) -> Path:
    spec = work / f"fwdemo-{release}.spec"
    spec.write_text(SPEC.format(release=release))
    _run(
        [
            "rpmbuild",
            *("--define", f"_topdir {work / 'rpmbuild'}"),
            *("--define", f"_rpmdir {work / 'rpms'}"),
            # no distribution post-install scripts (stripping, byte-compiling): nothing to do
            *("--define", "__os_install_post %{nil}"),
            "-bb",
            str(spec),
        ]
    )
    rpm = work / "rpms/noarch" / f"fwdemo-1.0-{release}.noarch.rpm"
    assert rpm.exists()
    return rpm


def _repository(work: Path, folder: Path, rpm: Path) -> None:
    folder.mkdir()
    shutil.copy(rpm, folder / rpm.name)
    _run(["createrepo_c", "-q", str(folder)])
    (work / "updateinfo.xml").write_text(UPDATEINFO)
    _run(["modifyrepo_c", "--mdtype=updateinfo", str(work / "updateinfo.xml"),
          str(folder / "repodata")])  # fmt: skip


def _machine(tmp_path: Path, url: str, old: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc/yum.repos.d").mkdir(parents=True)
    (root / "etc/dnf").mkdir(parents=True)
    (root / "etc/dnf/dnf.conf").write_text(DNF_CONF)
    (root / "etc/yum.repos.d/fwtest.repo").write_text(
        f"[fwtest]\nname=Forewarn tests\nbaseurl={url}\ngpgcheck=0\n"
    )
    _run(["rpm", f"--root={root}", "-i", str(old)])
    # The machine's own timer's work (as apt-get update in the apt test): fetch the metadata
    # the collector reads from the cache.
    _run(["dnf", "-y", f"--installroot={root}", "makecache"])
    return root


def _installed(root: Path) -> str:
    return _run(["rpm", f"--root={root}", "-q", "fwdemo"]).strip()


def _fetched(root: Path) -> set[str]:
    """Every address dnf's downloader logged in the isolated machine."""
    log = (root / "var/log/dnf.librepo.log").read_text(errors="replace")
    return set(re.findall(r"https?://[^\s'\"]+", log))


@pytest.mark.skipif(
    not all(shutil.which(t) for t in TOOLS),
    reason=f"needs {', '.join(TOOLS)} (Debian: apt-get install dnf rpm createrepo-c)",
)
@pytest.mark.skipif(os.geteuid() != 0, reason="rpm --root and dnf upgrade need root here")
def test_approved_dnf_updates_are_installed_by_the_agent_and_the_machine_is_compliant(
    client: TestClient,
    ctx: Context,
    clock: ManualClock,
    owner: Person,
    tmp_path: Path,
    served: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pending (real collector, real dnf cache) -> approved (API) -> signed job -> verified and
    run by the real agent with real dnf into the isolated root -> installed -> compliant."""
    # Debian's rpm keeps its database under ~ (%_dbpath ~/.rpmdb): the test, the collector
    # and the job (whose HOME is /root when it runs as root) must all mean the same one.
    monkeypatch.setenv("HOME", "/root")
    folder, url = served
    old, new = _build(tmp_path, "1"), _build(tmp_path, "2")
    _repository(tmp_path, folder, new)
    root = _machine(tmp_path, url, old)
    assert _installed(root) == "fwdemo-1.0-1.noarch"

    # The real collector, against the isolated root: the newer build is pending, security
    # (the repository's updateinfo says so), and apt (present here) is not a source there.
    section = updates.collect(str(root))
    assert section is not None
    assert section["sources"] == ["dnf"] and section["total"] == 1
    assert section["pending"] == [
        {
            "name": "fwdemo",
            "installed": "",
            "candidate": "1.0-2",
            "arch": "noarch",
            "security": True,
            "origin": "fwtest",
            "source": "dnf",
        }
    ]
    assert section["last_patched"] is None  # rpm --root wrote no dnf history

    org = make_org(ctx, "Red Hat Dental")
    agent = enroll(client, ctx, org)
    asset = agent["asset_id"]
    tech = make_person(ctx, "dnf-tech", roles={org: "technician"})

    runner = updates_agent(client, clock, agent, tmp_path, root, dnf_root=str(root))
    try:
        assert runner.run_once() is Outcome.SENT  # the first inventory: fwdemo pending
        clock.advance(days=15)
        patching.refresh(ctx)
        assert set(_open(ctx, org)) == {patching.RULE_SECURITY}
        body = client.get(f"/api/v1/orgs/{org}/patches", headers=owner.headers).json()
        assert (body["compliant"], body["devices"][0]["security"]) == (0, 1)

        # Approved (security only, the default): one dnf job for that exact build.
        r = client.post(
            f"/api/v1/orgs/{org}/patches/approve", json={"asset_ids": [asset]}, headers=tech.headers
        )
        assert r.status_code == 201, r.text
        (approved,) = r.json()["jobs"]
        assert approved["manager"] == "dnf"
        assert approved["packages"] == ["fwdemo-1.0-2.noarch"]

        # The next check-in answer carries the job; the agent verifies it and runs real dnf.
        assert runner.run_once() is Outcome.SENT
        assert _installed(root) == "fwdemo-1.0-2.noarch"
        assert (root / "usr/share/fwdemo/version").read_text() == "1.0-2\n"
        # The next tick sends the result and the updates section collected again.
        assert runner.run_once() is Outcome.SENT
    finally:
        runner.close()
        runner.buffer.close()

    job = client.get(f"/api/v1/jobs/{approved['job']}", headers=tech.headers).json()
    assert (job["kind"], job["state"], job["exit_code"]) == ("install_updates", "succeeded", 0)
    assert "fwdemo" in job["output"] and "Complete!" in job["output"]
    one = client.get(f"/api/v1/assets/{asset}/updates", headers=owner.headers).json()
    assert one["updates"] == [] and one["compliant"] is True
    assert one["last_patched"] is not None  # dnf's history of the upgrade just made
    assert patching.refresh(ctx).resolved == 1 and _open(ctx, org) == {}
    body = client.get(f"/api/v1/orgs/{org}/patches", headers=owner.headers).json()
    assert (body["compliant"], body["compliance"]) == (1, 100.0)

    # dnf fetched the metadata and the package from the loopback repository and nothing else.
    fetched = _fetched(root)
    assert f"{url}fwdemo-1.0-2.noarch.rpm" in fetched
    assert all(a.startswith(url) for a in fetched), fetched


def _dnf_section(*pending: tuple[str, bool]) -> dict[str, Any]:
    section = _section(*pending, candidate="1.1-1.el9")
    for row in section["pending"]:
        row.update(source="dnf", arch="x86_64", installed="", origin="baseos")
    section["sources"] = ["dnf"]
    return section


def test_a_machine_with_apt_and_dnf_updates_gets_one_job_per_manager(
    client: TestClient, ctx: Context
) -> None:
    org = make_org(ctx, "Both Kinds Ltd")
    tech = make_person(ctx, "both-tech", roles={org: "technician"})
    rpm_only = _enroll(client, ctx, org, "rocky01")
    _checkin(
        client,
        rpm_only["agent_token"],
        1,
        _dnf_section(("openssl-libs", True), ("NetworkManager", True)),
    )
    both = _enroll(client, ctx, org, "mixed01")
    section = _section(("libssl3", True))
    section["pending"] += _dnf_section(("openssl-libs", True))["pending"]
    section.update(sources=["apt", "dnf"], total=2, security_total=2)
    _checkin(client, both["agent_token"], 1, section)

    r = client.post(f"/api/v1/orgs/{org}/patches/approve", json={}, headers=tech.headers)
    assert r.status_code == 201, r.text
    jobs = sorted((j["asset_id"], j["manager"], j["packages"]) for j in r.json()["jobs"])
    assert jobs == sorted(
        [
            (rpm_only["asset_id"], "dnf", ["NetworkManager-1.1-1.el9.x86_64",
                                           "openssl-libs-1.1-1.el9.x86_64"]),
            (both["asset_id"], "apt", ["libssl3=1.1"]),
            (both["asset_id"], "dnf", ["openssl-libs-1.1-1.el9.x86_64"]),
        ]
    )  # fmt: skip
    # A named RPM package (capitals are RPM's, not Debian's) is accepted by the request.
    again = client.post(
        f"/api/v1/orgs/{org}/patches/approve",
        json={"packages": ["NetworkManager"]},
        headers=tech.headers,
    )
    assert again.status_code == 201 and again.json()["busy"] == [rpm_only["asset_id"]]


def test_a_patch_policy_installs_dnf_updates_with_dnf(
    client: TestClient, ctx: Context, clock: ManualClock
) -> None:
    """The policy path issues through the same issue_install: a dnf machine's security update
    is approved by the policy in its window and the agent runs dnf for it (its command runner
    stands in for dnf); the plain update waits for a person."""
    org = make_org(ctx, "Policy Rocky Ltd")
    machine = Machine(client, ctx, clock, org, "rocky01")
    machine.section = lambda: _dnf_section(("openssl-libs", True), ("vim-enhanced", False))  # type: ignore[method-assign]
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
    assert patch_policies.apply(ctx).installs == 1
    (payload,) = envelopes(ctx, machine.asset_id)
    assert payload["manager"] == "dnf"
    assert payload["packages"] == [
        {"name": "openssl-libs", "version": "1.1-1.el9", "arch": "x86_64"}
    ]
    machine.checkin()
    (argv,) = machine.ran
    assert argv[0] in ("dnf", "yum") and argv[-2:] == ["--", "openssl-libs-1.1-1.el9.x86_64"]
    assert machine.results[0]["state"] == "succeeded"


def test_the_page_counts_machines_not_jobs(client: TestClient, ctx: Context) -> None:
    org = make_org(ctx, "One Mixed Machine Ltd")
    machine = _enroll(client, ctx, org, "mixed02")
    section = _section(("libssl3", True))
    section["pending"] += _dnf_section(("openssl-libs", True))["pending"]
    section.update(sources=["apt", "dnf"], total=2, security_total=2)
    _checkin(client, machine["agent_token"], 1, section)
    make_person(ctx, "mixed-tech", roles={org: "technician"})
    csrf = signed_in(client, "mixed-tech")
    r = client.post(
        f"/orgs/{org}/patches/approve",
        data={"csrf_token": csrf, "which": "security"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert (
        "Approved: 1 machine will install their updates." in client.get(r.headers["location"]).text
    )
    assert {j.title for j in agent_jobs.list_jobs(ctx, SYSTEM, org_id=org).items} == {
        "Install 1 update"
    }
    assert len(agent_jobs.list_jobs(ctx, SYSTEM, org_id=org).items) == 2

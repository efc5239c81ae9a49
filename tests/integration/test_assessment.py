"""The assessment on a real database: evidence from real rows, scores, gaps, the snapshot,
the comparison with the last one, answers and an organization with no data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from forewarn.domain.clock import ManualClock
from forewarn.services import assessments, checks, evidence, heartbeats, jobs, patching
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError
from forewarn.services.schemas import CheckCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import (
    Agent,
    Assessment,
    AssessmentAnswer,
    Check,
    CheckStateRow,
    Finding,
    InventorySection,
    PostureResultRow,
)
from tests.conftest import make_org
from tests.integration.test_web import make_asset


@dataclass
class Clinic:
    org: int
    srv: int
    pc: int
    lap: int
    printer: int
    old_finding: int


def _agent(session: Any, org: int, asset: int, now: Any, n: int) -> None:
    session.add(
        Agent(
            org_id=org,
            asset_id=asset,
            token_hash=f"{n}" * 64,
            enrolled_at=now,
            status_since=now,
            last_seen_at=now,
        )
    )


def _section(session: Any, org: int, asset: int, name: str, data: Any, now: Any) -> None:
    session.add(
        InventorySection(asset_id=asset, section=name, org_id=org, data=data, updated_at=now)
    )


def _posture(session: Any, org: int, asset: int, check: str, status: str, now: Any) -> None:
    session.add(
        PostureResultRow(
            asset_id=asset,
            policy_key="forewarn_linux",
            check_key=check,
            org_id=org,
            status=status,
            evidence=[],
            seen_at=now,
            since=now,
        )
    )


def _finding(session: Any, org: int, rule: str, title: str, since: Any, asset: int | None) -> int:
    row = Finding(
        org_id=org,
        asset_id=asset,
        rule=rule,
        key=title,
        severity="medium",
        status="open",
        title=title,
        evidence={},
        first_seen=since,
        last_seen=since,
    )
    session.add(row)
    session.flush()
    return row.id


def build_clinic(ctx: Context, clock: ManualClock) -> Clinic:
    """A small practice: a server with an agent, a laptop with one, a PC without and a
    printer nobody watches; posture results, a late security update, a backup heartbeat."""
    org = make_org(ctx, "Harbor Dental", employees=35)
    srv = make_asset(ctx, org, "srv01", owner="Ann", location="closet")
    pc = make_asset(ctx, org, "pc01", kind="workstation", location="front desk")
    lap = make_asset(ctx, org, "lap01", kind="laptop", location="mobile")
    printer = make_asset(ctx, org, "printer01", kind="printer", owner="Ann", location="hall")
    backup = checks.create(
        ctx, SYSTEM, CheckCreate(asset_id=srv, name="nightly backup", type="heartbeat")
    ).id
    disk = checks.create(
        ctx,
        SYSTEM,
        CheckCreate(
            asset_id=srv, name="Disk forecast", type="forecast",
            params={"metric": "disk.free_bytes"},
        ),
    ).id  # fmt: skip
    now = ctx.clock.now()
    with ctx.db.transaction() as s:
        eta = (now + timedelta(days=5)).timestamp()
        s.get(CheckStateRow, disk).details = json.dumps({"series": [{"eta": eta}, {"eta": None}]})  # type: ignore[union-attr]
        _agent(s, org, srv, now, 1)
        _agent(s, org, lap, now, 2)
        _section(s, org, srv, "system", {"os_id": "debian", "os_version": "10"}, now)
        _section(s, org, lap, "system", {"os_id": "debian", "os_version": "13"}, now)
        _section(s, org, srv, "packages", [{"name": "bash", "version": "5.0"}], now)
        _posture(s, org, srv, "linux.firewall.default_deny", "pass", now)
        _posture(s, org, lap, "linux.firewall.default_deny", "fail", now)
        _posture(s, org, lap, "linux.disk.encryption", "pass", now)
        _posture(s, org, lap, "linux.screen.lock", "na", now)  # not applicable: left out
        pending = {
            "pending": [{"name": "libssl3", "candidate": "3.0.9", "security": True}],
            "reboot_required": False,
        }
        patching.note_updates(s, now - timedelta(days=30), org, srv, pending)
        old = _finding(s, org, "posture.x", "nobody looked", now - timedelta(days=20), lap)
        _finding(s, org, "recurring.check", "backup fails every Monday", now, srv)
    with ctx.db.read() as s:
        token = s.get(Check, backup).push_token  # type: ignore[union-attr]
    heartbeats.ping(ctx, str(token), "success")
    return Clinic(org, srv, pc, lap, printer, old)


@pytest.fixture
def clinic(ctx: Context, clock: ManualClock) -> Clinic:
    return build_clinic(ctx, clock)


def _by_id(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in doc["scores"]["safeguards"]}


def test_evidence_from_real_rows(ctx: Context, clinic: Clinic) -> None:
    with ctx.db.read() as session:
        ev = evidence.gather(session, clinic.org, ctx.clock.now())
    m = ev.machine
    assert [(i.subject, i.ok) for i in m["4.4"].items] == [("srv01", True)]
    assert [(i.subject, i.ok) for i in m["4.5"].items] == [("lap01", False)]
    assert m["3.6"].score == 1.0
    assert "4.3" not in m  # the only result was "na"
    assert {i.subject: i.ok for i in m["1.1"].items} == {
        "srv01": True, "pc01": False, "lap01": False, "printer01": True
    }  # fmt: skip
    assert {i.subject: i.ok for i in m["2.2"].items} == {"srv01": False, "lap01": True}
    assert "Debian 10: out of support" in m["2.2"].items[0].seen + m["2.2"].items[1].seen
    assert [(i.subject, i.ok) for i in m["7.3"].items] == [("srv01", False)]
    assert [(i.subject, i.ok) for i in m["11.2"].items] == [("srv01 / nightly backup", True)]
    assert {i.subject: i.ok for i in m["2.1"].items} == {
        "srv01": True, "pc01": False, "lap01": False
    }  # fmt: skip
    assert m["1.2"].score is None  # never swept: unknown, not a pass
    facts = {a.name: a for a in ev.assets}
    assert facts["srv01"].has_agent and facts["srv01"].backup_ok is True
    assert facts["srv01"].os_name == "Debian 10" and facts["srv01"].os_eol is not None
    assert facts["srv01"].disk_full_days == 5.0 and facts["lap01"].disk_full_days is None
    assert facts["pc01"].has_agent is False and facts["pc01"].last_seen is None
    assert ev.cost.people == 35 and ev.cost.hourly_cost == 45.65
    assert {"hourly_cost", "annual_revenue"} <= ev.cost.defaults
    gaps = ev.gaps
    assert [g["name"] for g in gaps["no_agent"]["items"]] == ["pc01"]
    assert {g["name"] for g in gaps["no_checks"]["items"]} == {"lap01", "pc01", "printer01"}
    assert [g["title"] for g in gaps["recurring"]["items"]] == ["backup fails every Monday"]
    assert [g["finding_id"] for g in gaps["unattended_findings"]["items"]] == [clinic.old_finding]
    assert gaps["stale"]["count"] == 0


def test_an_organization_without_a_headcount_gets_an_estimate_marked_as_a_default(
    ctx: Context,
) -> None:
    """Zero people would price every outage's idle work at nothing: the assessment counts a
    person per workstation or laptop instead, or 25 with none, and says it is a default."""
    org = make_org(ctx, "No Headcount Ltd")
    with ctx.db.read() as session:
        assert evidence.gather(session, org, ctx.clock.now()).cost.people == 25
    make_asset(ctx, org, "pc01", kind="workstation")
    make_asset(ctx, org, "lap01", kind="laptop")
    make_asset(ctx, org, "srv01")
    with ctx.db.read() as session:
        cost = evidence.gather(session, org, ctx.clock.now()).cost
    assert cost.people == 2 and "people" in cost.defaults
    given = make_org(ctx, "Counted Ltd", employees=12)
    with ctx.db.read() as session:
        cost = evidence.gather(session, given, ctx.clock.now()).cost
    assert cost.people == 12 and "people" not in cost.defaults


def test_run_stores_a_canonical_snapshot_and_compares(
    ctx: Context, clinic: Clinic, clock: ManualClock
) -> None:
    first = assessments.run(ctx, SYSTEM, clinic.org)
    doc = first.document
    assert doc["schema"] == "forewarn.assessment/2" and doc["id"] == first.id
    assert doc["no_data"] is False and doc["message"] is None and doc["comparison"] is None
    register = doc["risks"]
    assert register["risks"] and register["currency"] == "USD"
    assert "hourly_cost" in register["defaults"]  # the defaults travel with the money
    # What the platform knows: one recurring problem, no critical finding, nothing looked up
    # in the vulnerability data (so KEV matches are unknown), leavers unknown.
    assert register["counts"] == {
        "recurring_problems": 1,
        "open_critical_findings": 0,
        "kev_vulnerabilities": None,
        "leaver_accounts": None,
    }
    top = register["risks"][0]
    loss = top["annual_loss_exposure"]
    assert loss["p10"] <= loss["p50"] <= loss["p90"] and top["level"] in (
        "very low", "low", "moderate", "high", "very high",
    )  # fmt: skip
    actions = doc["plan"]["actions"]
    assert actions["actions"] and set(actions["periods"]) == {"30", "60", "90", "later"}
    assert actions["defaults"] == ["hours_per_month"]
    technology = doc["plan"]["technology"]
    assert len(technology["months"]) == 36
    # 35 people at the default hourly cost, no revenue given: a day's outage is labour and
    # IT work only, and says which figures are defaults.
    outage = doc["outage"]
    assert outage["hours"] == 8 and outage["revenue"]["amount"] == 0
    assert outage["labour"]["amount"] == round(35 * 45.65 * 0.8 * 8)
    assert outage["missing"] == ["annual_revenue"] and "hourly_cost" in outage["defaults"]
    s = _by_id(doc)
    assert (s["4.4"]["score"], s["4.4"]["source"]) == (1.0, "machine")
    assert s["4.5"]["score"] == 0.0 and "FAIL: lap01" in s["4.5"]["evidence"][0]
    assert s["7.3"]["score"] == 0.0 and s["11.2"]["score"] == 1.0
    assert s["17.1"]["score"] is None and s["17.1"]["source"] is None
    overall = doc["scores"]["overall"]
    assert first.score == overall["score"] and 0 < overall["score"] < 50
    assert 0 < first.coverage == overall["coverage"] < 0.5
    assert overall["from_machines"] == 1.0
    assert {f["key"] for f in doc["scores"]["functions"]} == {"GV", "ID", "PR", "DE", "RS", "RC"}
    assert "defaults" in doc["cost_inputs"] and "hourly_cost" in doc["cost_inputs"]["defaults"]
    assert len(assessments.canonical_json(doc)) > 1000

    assessments.import_answers(
        ctx,
        SYSTEM,
        clinic.org,
        "answers:\n  incident_owner: {answer: yes, name: Ann}\n  mfa_admins: no\n",
    )
    with ctx.db.transaction() as session:  # the laptop's firewall was fixed
        row = session.get(
            PostureResultRow, (clinic.lap, "forewarn_linux", "linux.firewall.default_deny")
        )
        row.status = "pass"  # type: ignore[union-attr]
    clock.advance(days=1)
    second = assessments.run(ctx, SYSTEM, clinic.org)
    s2 = _by_id(second.document)
    assert (s2["17.1"]["score"], s2["17.1"]["source"]) == (1.0, "answer")
    assert (
        "answer: Who handles security incidents? -> yes (Ann), by system"
        in s2["17.1"]["evidence"][0]
    )
    comparison = second.document["comparison"]
    assert comparison["previous"]["id"] == first.id
    assert [i["id"] for i in comparison["improved"]] == ["4.5"]
    assert {n["id"] for n in comparison["newly_evidenced"]} == {"17.1", "6.5"}
    assert comparison["overall"]["change"] > 0
    # Each risk whose level moved is named with both levels; none appear or vanish here.
    assert isinstance(comparison["risks"], list)
    before = {r["scenario"]: r["level"] for r in doc["risks"]["risks"]}
    after = {r["scenario"]: r["level"] for r in second.document["risks"]["risks"]}
    assert [c["scenario"] for c in comparison["risks"]] == sorted(
        k for k in before if before[k] != after.get(k)
    )
    for change in comparison["risks"]:
        assert (change["before"], change["after"]) == (
            before[change["scenario"]], after[change["scenario"]],
        )  # fmt: skip
    listed = assessments.list_for_org(ctx, SYSTEM, clinic.org).items
    assert [a.id for a in listed] == [second.id, first.id]
    assert assessments.get(ctx, SYSTEM, first.id).document == doc


def test_an_organization_with_no_data_says_so_and_gets_no_score(ctx: Context) -> None:
    empty = make_org(ctx, "Empty Co")
    assessments.import_answers(
        ctx,
        SYSTEM,
        empty,
        "answers:\n" + "".join(f"  {q}: yes\n" for q in ("mfa_admins", "data_policy")),
    )
    out = assessments.run(ctx, SYSTEM, empty)
    assert out.no_data is True and out.score is None
    assert out.document["scores"]["overall"]["score"] is None
    assert "No assets" in out.document["message"]
    assert out.document["risks"]["risks"] == [] and out.document["plan"]["actions"]["actions"] == []
    silent = make_org(ctx, "Silent Co")
    make_asset(ctx, silent, "never-seen")
    out = assessments.run(ctx, SYSTEM, silent)
    assert out.no_data is True and out.score is None and "none has sent" in out.document["message"]


def test_a_bad_answers_file_is_refused_whole(ctx: Context, clinic: Clinic) -> None:
    with pytest.raises(ServiceError) as caught:
        assessments.import_answers(
            ctx,
            SYSTEM,
            clinic.org,
            "answers:\n  mfa_admins: yes\n  nope: yes\n  dns_filtering: 3\n",
        )
    assert caught.value.status == 422
    assert [(e["line"], e["id"]) for e in caught.value.errors] == [
        (3, "nope"),
        (4, "dns_filtering"),
    ]
    with ctx.db.read() as session:
        assert session.scalar(select(func.count(AssessmentAnswer.id))) == 0


def test_the_monthly_run_is_once_per_organization_per_month(
    ctx: Context, clinic: Clinic, clock: ManualClock
) -> None:
    other = make_org(ctx, "Second Org")
    job = next(j for j in jobs.default_jobs() if j.name == "assessments")
    assert job.run is assessments.run_monthly
    assert assessments.run_monthly(ctx) == 2
    clock.advance(days=3)
    assert assessments.run_monthly(ctx) == 0  # same month: nothing new
    clock.advance(days=30)  # December
    assert assessments.run_monthly(ctx) == 2
    with ctx.db.read() as session:
        months = session.execute(
            select(Assessment.org_id, Assessment.scheduled_for).order_by(Assessment.id)
        ).all()
    assert [tuple(m) for m in months] == [
        (clinic.org, "2026-11"), (other, "2026-11"), (clinic.org, "2026-12"), (other, "2026-12")
    ]  # fmt: skip


def test_unknown_devices_and_vulnerable_packages(ctx: Context, clinic: Clinic) -> None:
    """1.2 from a real (recorded) discovery sweep that found a device nobody knows; 7.4 from
    the vulnerability matcher's scans and its open vulnerable-package finding."""
    from forewarn.probes import discover
    from forewarn.services import discovery, vulns
    from forewarn.store.models import VulnScan

    net = discovery.create_network(
        ctx, SYSTEM, discovery.NetworkCreate(org_id=clinic.org, cidr="10.77.0.0/24")
    )
    host = discover.Host("10.77.0.9", True, mac="02:00:00:77:00:09")
    for hosts in ([], [host]):  # the first sweep is the baseline; the second finds a stranger
        run = discovery.start(ctx, SYSTEM, net.id)
        discovery.finish(ctx, run.run_id, discover.SweepResult(net.cidr, 254, hosts))
    now = ctx.clock.now()
    with ctx.db.transaction() as s:
        for asset, looked_up in ((clinic.srv, 800), (clinic.lap, 650), (clinic.pc, 0)):
            s.add(
                VulnScan(asset_id=asset, org_id=clinic.org, data_stamp="x", matched_at=now,
                         ecosystems=["Debian"] if looked_up else [], packages=looked_up)
            )  # fmt: skip
        _finding(s, clinic.org, vulns.RULE, "openssl on srv01", now, clinic.srv)
    with ctx.db.read() as session:
        m = evidence.gather(session, clinic.org, now).machine
    assert [i.ok for i in m["1.2"].items] == [False]
    assert "unknown device on the network" in m["1.2"].items[0].seen
    # pc01's scan looked nothing up: no evidence either way, so it is not listed.
    assert {i.subject: i.ok for i in m["7.4"].items} == {"srv01": False, "lap01": True}
    assert [i.seen for i in m["7.4"].items if i.ok] == [
        "none of 650 packages known to be vulnerable"
    ]
    with ctx.db.transaction() as s:  # once dealt with, the sweep's evidence passes
        for f in s.scalars(select(Finding).where(Finding.rule == discovery.RULE)):
            f.status = "resolved"
    with ctx.db.read() as session:
        m = evidence.gather(session, clinic.org, now).machine
    assert [(i.subject, i.ok) for i in m["1.2"].items] == [("network sweeps", True)]


def test_a_monthly_run_raced_by_another_worker_makes_no_second_snapshot(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another worker stores this month's snapshot while this one is gathering: the unique
    (org, month) key refuses the second and the run carries on with the next organization."""
    first, second = make_org(ctx, "Raced Org"), make_org(ctx, "Calm Org")
    gather = evidence.gather

    def raced(session: Any, org_id: int, now: Any) -> evidence.Evidence:
        if org_id == first:
            with ctx.db.transaction() as other:  # the other worker, committing first
                other.add(
                    Assessment(org_id=first, created_at=now, created_by="worker-2",
                               coverage=0.0, no_data=True, scheduled_for=f"{now:%Y-%m}",
                               document={"schema": assessments.SCHEMA})
                )  # fmt: skip
        return gather(session, org_id, now)

    monkeypatch.setattr(evidence, "gather", raced)
    assert assessments.run_monthly(ctx) == 1
    with ctx.db.read() as session:
        rows = session.execute(
            select(Assessment.org_id, Assessment.created_by).order_by(Assessment.id)
        ).all()
    assert [tuple(r) for r in rows] == [(first, "worker-2"), (second, "system")]


def test_the_comparison_names_each_risk_whose_level_changed(
    ctx: Context, clinic: Clinic, clock: ManualClock
) -> None:
    first = assessments.run(ctx, SYSTEM, clinic.org)
    with ctx.db.transaction() as session:  # the business now stops without its server
        from forewarn.store.models import Asset

        session.get(Asset, clinic.srv).criticality = 5  # type: ignore[union-attr]
    clock.advance(days=1)
    second = assessments.run(ctx, SYSTEM, clinic.org)
    before = {r["scenario"]: r["level"] for r in first.document["risks"]["risks"]}
    after = {r["scenario"]: r["level"] for r in second.document["risks"]["risks"]}
    changes = {c["scenario"]: c for c in second.document["comparison"]["risks"]}
    assert before["ransomware"] == "moderate" and after["ransomware"] == "very high"
    assert changes["ransomware"] == {
        "scenario": "ransomware",
        "title": "Ransomware encrypts the business's machines",
        "before": "moderate",
        "after": "very high",
        "direction": "higher",
    }
    # Exactly the risks whose level moved, and nothing else.
    assert set(changes) == {k for k in before if before[k] != after[k]}
    assert all(c["direction"] == "higher" for c in changes.values())

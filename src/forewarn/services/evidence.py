"""What the platform already knows of one organization, as an assessment reads it.

`gather(session, org_id, now)` reads inventory, agents, checks, posture results, patch
compliance, vulnerability matches, lifecycle data, backup heartbeats and findings, and returns
plain values: the assets as `assess.facts.AssetFacts`, the cost inputs as `CostInputs` (with
the defaults named), per-safeguard machine evidence for `assess.scoring`, and the hidden gaps.
It measures nothing itself and changes nothing: one read at one moment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forewarn.assess.facts import (
    DEFAULT_BUSINESS_HOURS_PER_YEAR,
    DEFAULT_HOURLY_COST,
    DEFAULT_PEOPLE,
    END_USER_KINDS,
    SERVER_KINDS,
    AssetFacts,
    CostInputs,
)
from forewarn.assess.risk import RiskCounts
from forewarn.assess.scoring import Item, MachineEvidence
from forewarn.domain import lifecycle as eol
from forewarn.domain.expiry import RULES, Kind
from forewarn.domain.observation import Status
from forewarn.services import checklists, discovery, forecasts, lifecycle, patching, posture, vulns
from forewarn.store.models import (
    Agent,
    Asset,
    Check,
    CheckStateRow,
    DiscoveryRun,
    Finding,
    InventorySection,
    Organization,
    PostureResultRow,
    VulnScan,
)

STALE_AFTER = timedelta(days=7)  # no data for longer than this is stale
# A leaver's checklist (access revoked, safeguard 6.2) is judged once it is this old, and only
# those started within the last year count.
LEAVER_GRACE = timedelta(days=7)
LEAVER_YEAR = timedelta(days=365)
UNATTENDED_AFTER = timedelta(days=14)  # open, nobody assigned, older than this
MAX_GAP_ROWS = 100  # per kind of gap; the count is always whole
# Kinds that can run the agent (services.posture.AGENT_KINDS less "other").
AGENT_KINDS = frozenset({"server", "workstation", "laptop"})
# Posture checks name several safeguards; some safeguards are about one kind of machine only.
SAFEGUARD_KINDS: dict[str, frozenset[str]] = {
    "3.6": END_USER_KINDS,
    "4.4": SERVER_KINDS,
    "4.5": END_USER_KINDS,
}


@dataclass(frozen=True)
class Evidence:
    org_id: int
    org_name: str
    now: datetime
    assets: tuple[AssetFacts, ...]
    cost: CostInputs
    machine: dict[str, MachineEvidence]
    gaps: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)
    risk_counts: RiskCounts = field(default_factory=RiskCounts)

    @property
    def no_data(self) -> bool:
        """Nothing to assess: no assets, or none that ever sent data."""
        return not self.assets or not any(a.last_seen for a in self.assets)


@dataclass
class _Asset:
    row: Asset
    agent: Agent | None = None
    checks: int = 0
    last_check: datetime | None = None
    sections: dict[str, datetime] = field(default_factory=dict)
    os: eol.Match | None = None
    os_release: eol.Release | None = None
    backup_ok: bool | None = None
    open_findings: int = 0
    disk_full_days: float | None = None

    @property
    def last_seen(self) -> datetime | None:
        seen = [t for t in (self.agent and self.agent.last_seen_at, self.last_check) if t]
        return max(seen) if seen else None


# ---- cost inputs ------------------------------------------------------------------------------


def _hours_per_year(business_hours: Any) -> float | None:
    try:
        days = len(business_hours["days"])
        start_h, start_m = (int(x) for x in str(business_hours["start"]).split(":"))
        end_h, end_m = (int(x) for x in str(business_hours["end"]).split(":"))
    except (KeyError, TypeError, ValueError):
        return None
    hours = (end_h * 60 + end_m - start_h * 60 - start_m) / 60
    return days * hours * 52 if days and hours > 0 else None


def cost_inputs(org: Organization, end_user_devices: int = 0) -> CostInputs:
    """The organization's figures; every default used instead is named in `defaults`.
    The shares of work and revenue and the IT rate have no field of their own yet. With no
    headcount, people are estimated (one per workstation or laptop, else DEFAULT_PEOPLE):
    zero people would price every outage's idle work at nothing."""
    defaults = {"share_work_blocked", "share_revenue_affected", "it_rate"}
    people = int(org.employees or 0)
    if people <= 0:
        people = end_user_devices if end_user_devices > 0 else DEFAULT_PEOPLE
        defaults.add("people")
    hourly = float(org.hourly_cost or 0)
    if hourly <= 0:
        hourly = DEFAULT_HOURLY_COST
        defaults.add("hourly_cost")
    hours = _hours_per_year(org.business_hours)
    if hours is None:
        hours = DEFAULT_BUSINESS_HOURS_PER_YEAR
        defaults.add("business_hours_per_year")
    revenue = float(org.annual_revenue) if org.annual_revenue is not None else None
    if revenue is None:
        defaults.add("annual_revenue")
    return CostInputs(
        people=people,
        hourly_cost=hourly,
        annual_revenue=revenue,
        currency=org.currency or "USD",
        business_hours_per_year=hours,
        defaults=frozenset(defaults),
    )


# ---- reading ---------------------------------------------------------------------------------


def _load_assets(session: Session, org_id: int) -> dict[int, _Asset]:
    assets = {
        a.id: _Asset(a)
        for a in session.scalars(select(Asset).where(Asset.org_id == org_id).order_by(Asset.name))
    }
    for agent in session.scalars(select(Agent).where(Agent.org_id == org_id)):
        if agent.asset_id in assets:
            assets[agent.asset_id].agent = agent
    rows = session.execute(
        select(Check.asset_id, func.count(Check.id), func.max(CheckStateRow.last_at))
        .outerjoin(CheckStateRow, CheckStateRow.check_id == Check.id)
        .where(Check.org_id == org_id)
        .group_by(Check.asset_id)
    )
    for asset_id, count, last_at in rows:
        if asset_id in assets:
            assets[asset_id].checks, assets[asset_id].last_check = int(count), last_at
    sections = session.execute(
        select(InventorySection.asset_id, InventorySection.section, InventorySection.updated_at)
        .where(InventorySection.org_id == org_id)
    )  # fmt: skip
    for asset_id, section, updated_at in sections:
        if asset_id in assets:
            assets[asset_id].sections[section] = updated_at
    return assets


def _operating_systems(session: Session, org_id: int, assets: dict[int, _Asset]) -> None:
    products = lifecycle.table(session)
    rows = session.execute(
        select(InventorySection.asset_id, InventorySection.data).where(
            InventorySection.org_id == org_id, InventorySection.section == "system"
        )
    )
    for asset_id, data in rows:
        if asset_id not in assets or not isinstance(data, dict):
            continue
        match = eol.match_os(
            str(data.get("os_id", "")),
            str(data.get("os_name", "")),
            str(data.get("os_version", "")),
            str(data.get("kernel", "")),
        )
        if match is not None:
            assets[asset_id].os = match
            assets[asset_id].os_release = eol.lookup(products, match)


def _disk_forecasts(
    session: Session, org_id: int, assets: dict[int, _Asset], now: datetime
) -> None:
    """The soonest date a disk forecast check expects a volume to fill, in days from now."""
    rows = session.execute(
        select(Check.asset_id, Check.params, CheckStateRow.details)
        .join(CheckStateRow, CheckStateRow.check_id == Check.id)
        .where(Check.org_id == org_id, Check.type == "forecast", Check.enabled.is_(True))
    )
    for asset_id, params, details in rows:
        metric = str((params or {}).get("metric", ""))
        if asset_id not in assets or not metric.startswith("disk."):
            continue
        for fig in forecasts.judged_series(details or ""):
            eta = fig.get("eta")
            if not isinstance(eta, int | float):
                continue
            days = max(0.0, (eta - now.timestamp()) / 86_400)
            known = assets[asset_id].disk_full_days
            assets[asset_id].disk_full_days = days if known is None else min(known, days)


def _backup_checks(session: Session, org_id: int) -> list[tuple[Check, CheckStateRow | None]]:
    """Heartbeat checks of backup jobs: those with "backup" in their name."""
    rows = session.execute(
        select(Check, CheckStateRow)
        .outerjoin(CheckStateRow, CheckStateRow.check_id == Check.id)
        .where(Check.org_id == org_id, Check.type == "heartbeat", Check.enabled.is_(True))
        .order_by(Check.id)
    )
    return [(c, s) for c, s in rows if "backup" in c.name.lower()]


def _open_findings(session: Session, org_id: int) -> list[Finding]:
    return list(
        session.scalars(
            select(Finding)
            .where(Finding.org_id == org_id, Finding.status == "open")
            .order_by(Finding.first_seen, Finding.id)
        )
    )


# ---- machine evidence per safeguard ----------------------------------------------------------


def _inventory(assets: Iterable[_Asset]) -> MachineEvidence:
    items = []
    for a in assets:
        missing = []
        if not a.row.owner:
            missing.append("no owner")
        if not (a.row.location or a.row.site_id):
            missing.append("no location or site")
        if a.row.kind in AGENT_KINDS and a.agent is None:
            missing.append("no agent")
        seen = "; ".join(missing) if missing else "owner, place and data known"
        items.append(Item(a.row.name, not missing, seen, a.row.updated_at))
    return MachineEvidence(tuple(items))


def _unknown_devices(session: Session, org_id: int, open_: list[Finding]) -> MachineEvidence:
    runs = session.scalar(
        select(func.count(DiscoveryRun.id)).where(
            DiscoveryRun.org_id == org_id, DiscoveryRun.status == "done"
        )
    )
    if not runs:
        return MachineEvidence()  # never swept to the end: unknown
    found = [f for f in open_ if f.rule == discovery.RULE]
    items = [
        Item(f.title, False, f"unknown device on the network since {f.first_seen:%Y-%m-%d}",
             f.last_seen)
        for f in found
    ]  # fmt: skip
    if not items:
        items = [Item("network sweeps", True, f"{runs} sweep(s), no unknown device open")]
    return MachineEvidence(tuple(items))


def _agent_section(assets: Iterable[_Asset], section: str, what: str) -> MachineEvidence:
    targets = [a for a in assets if a.row.kind in AGENT_KINDS]
    if not targets:
        return MachineEvidence(not_applicable=True, reason="no servers, workstations or laptops")
    items = []
    for a in targets:
        at = a.sections.get(section)
        if at is not None:
            items.append(Item(a.row.name, True, f"{what} reported by the agent", at))
        elif a.agent is None:
            items.append(Item(a.row.name, False, f"no agent: its {what} is not known"))
        else:
            items.append(Item(a.row.name, False, f"the agent has not reported its {what}"))
    return MachineEvidence(tuple(items))


def _supported(assets: Iterable[_Asset], open_: list[Finding], now: datetime) -> MachineEvidence:
    items = []
    for a in assets:
        if a.os is None or a.os_release is None:
            continue
        r = a.os_release
        ended = r.ended or (r.eol is not None and r.eol <= now.date())
        until = f"support ends {r.eol}" if r.eol else "no end of support announced"
        seen = f"{a.os.name}: {'out of support' if ended else until}"
        items.append(Item(a.row.name, not ended, seen, a.sections.get("system")))
    software = RULES[Kind.SOFTWARE_EOL]
    for f in open_:
        if f.rule == software and f.due_at is not None and f.due_at <= now:
            items.append(Item(f.title, False, "software past its end of life", f.last_seen))
    return MachineEvidence(tuple(items))


def _posture(session: Session, org_id: int, assets: dict[int, _Asset]) -> dict[str, list[Item]]:
    """Posture results (pass / fail; not-applicable and errors left out) per safeguard."""
    checks = {
        (f.policy.id, c.id): c for f in posture.in_force(session, org_id) for c in f.policy.checks
    }
    out: dict[str, list[Item]] = defaultdict(list)
    # Columns, not rows: the evidence JSON is not needed and decoding it was most of the time.
    r = PostureResultRow
    rows = session.execute(
        select(r.asset_id, r.policy_key, r.check_key, r.status, r.seen_at).where(
            r.org_id == org_id, r.status.in_(("pass", "fail"))
        )
    )
    for asset_id, policy_key, check_key, status, seen_at in rows:
        check, asset = checks.get((policy_key, check_key)), assets.get(asset_id)
        if check is None or asset is None:
            continue
        verdict = "passed" if status == "pass" else "failed"
        for sid in check.cis:
            kinds = SAFEGUARD_KINDS.get(sid)
            if kinds is not None and asset.row.kind not in kinds:
                continue
            out[sid].append(
                Item(asset.row.name, status == "pass", f"{check.title}: {verdict}", seen_at)
            )
    return out


def _patching(session: Session, org_id: int, now: datetime) -> list[Item]:
    items = []
    for d in patching.compliance_of_org(session, org_id, now).devices:
        if d.compliant:
            seen = f"no security update overdue ({d.pending} pending)"
        else:
            seen = f"{d.security} security update(s) pending, oldest {d.oldest_security_days} d"
        items.append(Item(d.name, d.compliant, seen, d.reported_at))
    return items


def _vulnerable(
    session: Session, org_id: int, assets: dict[int, _Asset], open_: list[Finding]
) -> list[Item]:
    hits: dict[int, list[Finding]] = defaultdict(list)
    for f in open_:
        if f.rule == vulns.RULE and f.asset_id is not None:
            hits[f.asset_id].append(f)
    items = []
    for scan in session.scalars(select(VulnScan).where(VulnScan.org_id == org_id)):
        asset = assets.get(scan.asset_id)
        if asset is None or not scan.packages:  # nothing looked up: no evidence either way
            continue
        found = hits.get(scan.asset_id, [])
        if found:
            names = ", ".join(sorted({str(f.evidence.get("package", f.key)) for f in found})[:5])
            seen = f"{len(found)} known-vulnerable package(s): {names}"
        else:
            seen = f"none of {scan.packages} packages known to be vulnerable"
        items.append(Item(asset.row.name, not found, seen, scan.matched_at))
    return items


def _backups(
    rows: list[tuple[Check, CheckStateRow | None]], assets: dict[int, _Asset]
) -> list[Item]:
    items = []
    for check, state in rows:
        ok = state is not None and state.last_at is not None and state.hard_status == Status.OK
        if state is None or state.last_at is None:
            seen = "backup job never reported"
        else:
            seen = f"backup job {'succeeding' if ok else 'failing or late'}: {state.message[:80]}"
        name = assets[check.asset_id].row.name if check.asset_id in assets else "?"
        items.append(Item(f"{name} / {check.name}", ok, seen, state.last_at if state else None))
        if check.asset_id in assets:
            a = assets[check.asset_id]
            a.backup_ok = ok if a.backup_ok is None else (a.backup_ok and ok)
    return items


def _leavers(session: Session, org_id: int, now: datetime) -> list[Item]:
    """Leaver checklists of the last year (services.checklists): finished is access revoked;
    one still open after LEAVER_GRACE is a failure; a younger one is work in progress and
    left out. None started: no machine evidence (the questionnaire answers for 6.2)."""
    items = []
    for p in checklists.started_since(session, org_id, "leaver", now - LEAVER_YEAR):
        finished = p.done == p.steps
        if not finished and now - p.started_at < LEAVER_GRACE:
            continue
        days = (now - p.started_at).days
        seen = (
            "every step of the leaver checklist done"
            if finished
            else f"{p.done} of {p.steps} leaver steps done {days} days after it started"
        )
        items.append(Item(p.title, finished, seen, p.started_at))
    return items


def _machine(
    session: Session, org_id: int, assets: dict[int, _Asset], open_: list[Finding], now: datetime
) -> dict[str, MachineEvidence]:
    kinds = {a.row.kind for a in assets.values()}
    evidence: dict[str, list[Item]] = _posture(session, org_id, assets)
    evidence["7.3"] = [*_patching(session, org_id, now), *evidence.get("7.3", [])]
    evidence["7.4"] = [*_vulnerable(session, org_id, assets, open_), *evidence.get("7.4", [])]
    evidence["11.2"] = _backups(_backup_checks(session, org_id), assets)
    evidence["6.2"] = _leavers(session, org_id, now)
    out = {sid: MachineEvidence(tuple(items)) for sid, items in evidence.items() if items}
    if not assets:
        return out
    out["1.1"] = _inventory(assets.values())
    out["1.2"] = _unknown_devices(session, org_id, open_)
    out["2.1"] = _agent_section(assets.values(), "packages", "software list")
    out["2.2"] = _supported(assets.values(), open_, now)
    if "5.1" not in out:
        out["5.1"] = _agent_section(assets.values(), "accounts", "account list")
    for sid, needed, words in (
        ("3.6", END_USER_KINDS, "no workstations or laptops"),
        ("4.5", END_USER_KINDS, "no workstations or laptops"),
        ("4.4", SERVER_KINDS, "no servers"),
    ):
        if not kinds & needed:
            out[sid] = MachineEvidence(not_applicable=True, reason=words)
    return out


# ---- hidden gaps ------------------------------------------------------------------------------


def _cut(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"count": len(rows), "items": rows[:MAX_GAP_ROWS]}


def _gaps(assets: dict[int, _Asset], open_: list[Finding], now: datetime) -> dict[str, Any]:
    names = {i: a.row.name for i, a in assets.items()}

    def finding(f: Finding) -> dict[str, Any]:
        return {
            "finding_id": f.id,
            "rule": f.rule,
            "title": f.title,
            "severity": f.severity,
            "asset": names.get(f.asset_id) if f.asset_id else None,
            "since": f.first_seen.isoformat(),
        }

    def asset(a: _Asset, **extra: Any) -> dict[str, Any]:
        return {"asset_id": a.row.id, "name": a.row.name, "kind": a.row.kind, **extra}

    watched = [a for a in assets.values() if a.agent is not None or a.checks]
    stale = [
        asset(a, last_seen=a.last_seen.isoformat() if a.last_seen else None)
        for a in watched
        if a.last_seen is None or now - a.last_seen > STALE_AFTER
    ]
    return {
        "recurring": _cut([finding(f) for f in open_ if f.rule.startswith("recurring.")]),
        "no_checks": _cut([asset(a) for a in assets.values() if not a.checks]),
        "no_agent": _cut(
            [asset(a) for a in assets.values() if a.row.kind in AGENT_KINDS and a.agent is None]
        ),
        "stale": _cut(stale),
        "unattended_findings": _cut(
            [
                finding(f)
                for f in open_
                if f.assignee_id is None and now - f.first_seen > UNATTENDED_AFTER
            ]
        ),
    }


def _risk_counts(session: Session, org_id: int, open_: list[Finding]) -> RiskCounts:
    """What the risk register counts. Known-exploited (CISA KEV) matches come from the open
    vulnerability findings: None when no package was ever looked up, or when none is known
    exploited but some look-up had no KEV answer. Leavers have no source yet: unknown."""
    scanned = session.scalar(
        select(func.count())
        .select_from(VulnScan)
        .where(VulnScan.org_id == org_id, VulnScan.packages > 0)
    )
    kev_flags = [f.evidence.get("kev") for f in open_ if f.rule == vulns.RULE]
    kev: int | None = sum(1 for k in kev_flags if k is True)
    if not scanned or (kev == 0 and None in kev_flags):
        kev = None
    return RiskCounts(
        recurring_problems=sum(1 for f in open_ if f.rule.startswith("recurring.")),
        open_critical_findings=sum(1 for f in open_ if f.severity == "critical"),
        kev_vulnerabilities=kev,
        leaver_accounts=None,
    )


def _facts(a: _Asset) -> AssetFacts:
    release = a.os_release
    return AssetFacts(
        id=a.row.id,
        name=a.row.name,
        kind=a.row.kind,
        criticality=a.row.criticality,
        has_agent=a.agent is not None,
        checks=a.checks,
        last_seen=a.last_seen,
        purchase_date=a.row.purchase_date,
        warranty_end=a.row.warranty_end,
        os_name=a.os.name if a.os else None,
        os_eol=release.eol if release else None,
        disk_full_days=None if a.disk_full_days is None else round(a.disk_full_days, 1),
        backup_ok=a.backup_ok,
        open_findings=a.open_findings,
    )


def gather(session: Session, org_id: int, now: datetime) -> Evidence:
    """Everything the assessment reads of one organization at `now` (the caller scopes)."""
    org = session.get(Organization, org_id)
    if org is None:
        raise LookupError(f"organization {org_id}")
    assets = _load_assets(session, org_id)
    _operating_systems(session, org_id, assets)
    _disk_forecasts(session, org_id, assets, now)
    open_ = _open_findings(session, org_id)
    for f in open_:
        if f.asset_id in assets:
            assets[f.asset_id].open_findings += 1
    machine = _machine(session, org_id, assets, open_, now)
    return Evidence(
        org_id=org_id,
        org_name=org.name,
        now=now,
        assets=tuple(_facts(a) for a in assets.values()),
        cost=cost_inputs(org, sum(1 for a in assets.values() if a.row.kind in END_USER_KINDS)),
        machine=machine,
        gaps=_gaps(assets, open_, now),
        counts={
            "assets": len(assets),
            "agents": sum(1 for a in assets.values() if a.agent is not None),
            "checks": sum(a.checks for a in assets.values()),
            "open_findings": len(open_),
        },
        risk_counts=_risk_counts(session, org_id, open_),
    )

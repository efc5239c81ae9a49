"""Vulnerable packages: matching each asset's inventory to the data in force, the findings
that come of it, and the views per asset and per organization.

`refresh` (a scheduled job, also run after an import) takes the assets whose packages or
operating system changed since they were last matched, or all of them once the data changed
(its stamp, services.vulndata.stamp), at most BATCH per turn; the next turn goes on. Each
matched asset gets one finding per vulnerable package (rule "vuln.package", key asset +
ecosystem + package) listing its vulnerabilities with their aliases, fixed version, KEV and
EPSS figures; a package upgraded past every fix, or removed, has its finding resolved.

Priority (reference/assessment.md): known exploited first (ransomware use first among them),
then EPSS percentile, then CVSS, then the asset's criticality. What the data does not say is
"unknown", never "low". The date of each data set goes with every answer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from forewarn.domain import vulns as dv
from forewarn.domain.vulns import Facts, PackageHit
from forewarn.services import findings, vulndata
from forewarn.services.context import Context
from forewarn.services.scope import Actor, get_in_scope, get_org_in_scope
from forewarn.services.vulndata import DatasetStatus
from forewarn.store.models import Asset, Finding, InventorySection, VulnScan

log = logging.getLogger(__name__)
RULE = "vuln.package"
BATCH = 100  # assets matched per turn of the job
MAX_VULNS_LISTED = 200  # per package finding; the count says how many there are in all
OPEN = ("open", "accepted")


# ---- which assets are due --------------------------------------------------------------------


def _due(session: Session, stamp: str, limit: int) -> list[tuple[int, int, datetime]]:
    """(asset, org, inventory time) of assets to match: never matched, inventory changed
    since, or matched against other data. Oldest asset ids first."""
    latest: dict[int, tuple[int, datetime]] = {}
    with_packages: set[int] = set()
    rows = session.execute(
        select(
            InventorySection.asset_id,
            InventorySection.org_id,
            InventorySection.section,
            InventorySection.updated_at,
        ).where(InventorySection.section.in_(["packages", "system"]))
    )
    for asset_id, org_id, section, updated in rows:
        if section == "packages":
            with_packages.add(asset_id)
        seen = latest.get(asset_id)
        if seen is None or updated > seen[1]:
            latest[asset_id] = (org_id, updated)
    scans = {s.asset_id: (s.inventory_at, s.data_stamp) for s in session.scalars(select(VulnScan))}
    due = []
    for asset_id in sorted(with_packages):
        org_id, updated = latest[asset_id]
        if scans.get(asset_id) != (updated, stamp):
            due.append((asset_id, org_id, updated))
            if len(due) >= limit:
                break
    return due


# ---- matching one asset ----------------------------------------------------------------------


def _section(session: Session, asset_id: int, name: str) -> Any:
    row = session.get(InventorySection, (asset_id, name))
    return row.data if row is not None else None


def match_asset(session: Session, asset_id: int, data: Sequence[DatasetStatus]) -> list[PackageHit]:
    """What of the asset's inventory the data in force says is vulnerable."""
    packages = _section(session, asset_id, "packages")
    system = _section(session, asset_id, "system")
    if not isinstance(packages, list):
        return []
    os_eco = None
    if isinstance(system, dict):
        os_eco = dv.os_ecosystem(str(system.get("os_id", "")), str(system.get("os_version", "")))
    installed = dv.installed_from(p for p in packages if isinstance(p, dict))
    subjects = dv.subjects(installed, os_eco)
    loaded = {d.name: d for d in data}
    hits: list[PackageHit] = []
    for eco in sorted({s.ecosystem for s in subjects}):
        dataset = loaded.get(f"osv:{dv.family(eco)}")
        if dataset is None:
            continue
        index = vulndata.index_for(session, eco, dataset.imported_at.isoformat())
        hits.extend(dv.match(index, [s for s in subjects if s.ecosystem == eco]))
    return hits


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _vuln_rows(
    session: Session, hits: Sequence[PackageHit], data: Sequence[DatasetStatus]
) -> dict[tuple[str, str], dict[str, Any]]:
    """(ecosystem family, vuln id) -> its facts as the evidence shows them."""
    by_dataset: dict[str, set[str]] = {}
    for hit in hits:
        by_dataset.setdefault(f"osv:{dv.family(hit.ecosystem)}", set()).update(
            v.vuln_id for v in hit.vulns
        )
    infos: dict[tuple[str, str], vulndata.VulnInfo] = {}
    for dataset, ids in by_dataset.items():
        for vid, info in vulndata.records(session, dataset, sorted(ids)).items():
            infos[(dataset, vid)] = info
    cves = sorted({a for i in infos.values() for a in i.aliases if a.startswith("CVE-")})
    kev_found = vulndata.kev(session, cves)
    epss_found = vulndata.epss(session, cves)
    have_kev = any(d.name == vulndata.KEV_NAME for d in data)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for (dataset, vid), info in infos.items():
        cve_ids = [a for a in info.aliases if a.startswith("CVE-")]
        facts = vulndata.facts_of(cve_ids, info.cvss, kev_found, epss_found, have_kev)
        dues = [kev_found[c].due_date for c in cve_ids if c in kev_found]
        out[(dataset, vid)] = {
            "id": vid,
            "aliases": info.aliases[:20],
            "summary": info.summary[:300],
            "kev": facts.kev,
            "ransomware": facts.ransomware,
            "kev_due": min((d for d in dues if d), default=None),
            "epss": facts.epss,
            "percentile": facts.percentile,
            "cvss": facts.cvss,
            "severity": dv.severity(facts),
        }
    return out


def _facts(row: dict[str, Any]) -> Facts:
    return Facts(row["kev"], row["ransomware"], row["epss"], row["percentile"], row["cvss"])


def _worst(severities: Sequence[str]) -> str:
    return min(severities, key=lambda s: dv.SEVERITY_RANK.get(s, 9), default="medium")


def _raised(
    asset: Asset,
    hits: Sequence[PackageHit],
    rows: dict[tuple[str, str], dict[str, Any]],
    dates: dict[str, str],
) -> list[findings.Raised]:
    out = []
    for hit in hits:
        dataset = f"osv:{dv.family(hit.ecosystem)}"
        listed = []
        for v in hit.vulns:
            row = rows.get((dataset, v.vuln_id)) or {
                "id": v.vuln_id,
                "aliases": [],
                "summary": "",
                "kev": None,
                "ransomware": False,
                "kev_due": None,
                "epss": None,
                "percentile": None,
                "cvss": None,
                "severity": "medium",
            }
            listed.append({**row, "fixed": v.fixed})
        listed.sort(key=lambda r: (dv.priority(_facts(r)), r["id"]))
        exploited = [r for r in listed if r["kev"]]
        known = [r["kev"] for r in listed]
        dues = [r["kev_due"] for r in exploited if r["kev_due"]]
        percentiles = [r["percentile"] for r in listed if r["percentile"] is not None]
        scores = [r["cvss"] for r in listed if r["cvss"] is not None]
        n = len(listed)
        title = f"{hit.package} {hit.installed} on {asset.name}: {n} known vulnerabilit" + (
            "y" if n == 1 else "ies"
        )
        if exploited:
            title += f", {len(exploited)} known exploited"
        if hit.fixed:
            detail = f"Upgrade {', '.join(hit.binaries)} to {hit.fixed} or later"
            detail += (
                f"; {hit.unfixed} of them have no fix yet." if hit.unfixed else " to fix them all."
            )
        else:
            detail = "No fixed version is known yet: watch for an update, or limit exposure."
        evidence = {
            "asset": asset.name,
            "ecosystem": hit.ecosystem,
            "package": hit.package,
            "installed": hit.installed,
            "binaries": list(hit.binaries),
            "fixed_version": hit.fixed,
            "unfixed": hit.unfixed,
            "count": n,
            "kev": True if exploited else (None if None in known else False),
            "ransomware": any(r["ransomware"] for r in listed),
            "percentile": max(percentiles, default=None),
            "cvss": max(scores, default=None),
            "data": dates,
            "vulns": [
                {**r, "kev_due": r["kev_due"].isoformat() if r["kev_due"] else None}
                for r in listed[:MAX_VULNS_LISTED]
            ],
        }
        out.append(
            findings.Raised(
                key=f"asset:{asset.id}:{hit.ecosystem}:{hit.package}",
                severity=_worst([r["severity"] for r in listed]),
                title=title,
                detail=detail,
                evidence=evidence,
                asset_id=asset.id,
                due_at=_midnight(min(dues)) if dues else None,
            )
        )
    return out


@dataclass
class RefreshReport:
    assets: int = 0
    sync: findings.SyncReport = field(default_factory=findings.SyncReport)


def _sync_asset(
    session: Session, asset: Asset, raised: list[findings.Raised], now: datetime
) -> findings.SyncReport:
    """The asset's package findings become exactly `raised`; the others are resolved."""
    report = findings.SyncReport()
    for item in raised:
        _, opened = findings.raise_or_refresh(session, asset.org_id, RULE, item, now)
        report.opened += opened
        report.refreshed += not opened
    keys = {r.key for r in raised}
    gone = [
        f
        for f in session.scalars(
            select(Finding).where(
                Finding.org_id == asset.org_id,
                Finding.rule == RULE,
                Finding.asset_id == asset.id,
                Finding.status != "resolved",
            )
        )
        if f.key not in keys
    ]
    report.resolved = findings.resolve(session, gone, now)
    return report


def refresh(ctx: Context, limit: int = BATCH) -> RefreshReport:
    """The scheduled job: match the assets that are due (at most `limit`)."""
    report = RefreshReport()
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        data = vulndata.datasets(session)
        if not any(d.kind == "osv" for d in data):
            return report
        stamp = vulndata.stamp(data)
        dates = vulndata.data_dates(data)
        for asset_id, org_id, inventory_at in _due(session, stamp, limit):
            asset = session.get(Asset, asset_id)
            if asset is None:
                continue
            hits = match_asset(session, asset_id, data)
            rows = _vuln_rows(session, hits, data)
            report.sync.add(_sync_asset(session, asset, _raised(asset, hits, rows, dates), now))
            scan = session.get(VulnScan, asset_id)
            if scan is None:
                scan = VulnScan(asset_id=asset_id, org_id=org_id)
                session.add(scan)
            scan.inventory_at, scan.data_stamp, scan.matched_at = inventory_at, stamp, now
            scan.ecosystems = sorted({h.ecosystem for h in hits})
            packages = _section(session, asset_id, "packages")
            scan.packages = len(packages) if isinstance(packages, list) else 0
            report.assets += 1
    if report.sync.opened or report.sync.resolved:
        log.info(
            "vulnerabilities: %d assets matched, %d findings opened, %d resolved",
            report.assets,
            report.sync.opened,
            report.sync.resolved,
        )
    return report


def refresh_all(ctx: Context, max_turns: int = 10_000) -> RefreshReport:
    """Every due asset now (after an import): the job's turns back to back, bounded."""
    total = RefreshReport()
    for _ in range(max_turns):
        turn = refresh(ctx)
        total.assets += turn.assets
        total.sync.add(turn.sync)
        if turn.assets < BATCH:
            break
    return total


# ---- views -----------------------------------------------------------------------------------


class DataDateOut(BaseModel):
    name: str
    label: str
    data_date: date
    imported_at: datetime
    records: int


class VulnOut(BaseModel):
    id: str
    aliases: list[str]
    summary: str
    fixed: str | None
    kev: bool | None  # None: unknown (no KEV catalog loaded)
    ransomware: bool
    kev_due: date | None
    epss: float | None
    percentile: float | None
    cvss: float | None
    severity: str


class PackageVulnsOut(BaseModel):
    finding_id: int
    status: str
    ecosystem: str
    package: str
    installed: str
    binaries: list[str]
    fixed_version: str | None
    unfixed: int
    count: int
    severity: str
    kev: bool | None
    ransomware: bool
    due_at: datetime | None
    first_seen: datetime
    vulns: list[VulnOut]


class AssetVulnsOut(BaseModel):
    asset_id: int
    asset_name: str
    matched_at: datetime | None
    ecosystems: list[str]
    data: list[DataDateOut]
    known_exploited: int
    total: int
    packages: list[PackageVulnsOut]


class AffectedAssetOut(BaseModel):
    asset_id: int
    asset_name: str
    criticality: int
    package: str
    installed: str
    fixed: str | None
    finding_id: int


class OrgVulnOut(BaseModel):
    id: str
    aliases: list[str]
    summary: str
    kev: bool | None
    ransomware: bool
    kev_due: date | None
    epss: float | None
    percentile: float | None
    cvss: float | None
    severity: str
    assets: list[AffectedAssetOut]


class OrgVulnsOut(BaseModel):
    org_id: int
    data: list[DataDateOut]
    assets_matched: int
    known_exploited: int
    total: int
    items: list[OrgVulnOut]


def _dates(data: Sequence[DatasetStatus]) -> list[DataDateOut]:
    return [
        DataDateOut(
            name=d.name,
            label=d.label,
            data_date=d.data_date,
            imported_at=d.imported_at,
            records=d.records,
        )
        for d in data
    ]


def _vuln_out(row: dict[str, Any]) -> VulnOut:
    return VulnOut.model_validate({**row, "aliases": row.get("aliases") or []})


def _package_out(f: Finding) -> PackageVulnsOut:
    ev = f.evidence or {}
    return PackageVulnsOut(
        finding_id=f.id,
        status=f.status,
        ecosystem=str(ev.get("ecosystem", "")),
        package=str(ev.get("package", "")),
        installed=str(ev.get("installed", "")),
        binaries=list(ev.get("binaries") or []),
        fixed_version=ev.get("fixed_version"),
        unfixed=int(ev.get("unfixed") or 0),
        count=int(ev.get("count") or 0),
        severity=f.severity,
        kev=ev.get("kev"),
        ransomware=bool(ev.get("ransomware")),
        due_at=f.due_at,
        first_seen=f.first_seen,
        vulns=[_vuln_out(v) for v in ev.get("vulns") or []],
    )


def _package_priority(p: PackageVulnsOut) -> tuple[Any, ...]:
    best = min((dv.priority(_facts(v.model_dump())) for v in p.vulns), default=(9,))
    return (best, dv.SEVERITY_RANK.get(p.severity, 9), p.package)


def _open_findings(session: Session, org_id: int, asset_id: int | None = None) -> list[Finding]:
    stmt = select(Finding).where(
        Finding.org_id == org_id, Finding.rule == RULE, Finding.status.in_(OPEN)
    )
    if asset_id is not None:
        stmt = stmt.where(Finding.asset_id == asset_id)
    return list(session.scalars(stmt))


def for_asset(ctx: Context, actor: Actor, asset_id: int) -> AssetVulnsOut:
    """The asset's vulnerable packages, the known-exploited first, with the fixed version."""
    with ctx.db.read() as session:
        asset = get_in_scope(session, actor, Asset, asset_id)
        scan = session.get(VulnScan, asset_id)
        data = vulndata.datasets(session)
        packages = [_package_out(f) for f in _open_findings(session, asset.org_id, asset.id)]
        name = asset.name
    packages.sort(key=_package_priority)
    return AssetVulnsOut(
        asset_id=asset_id,
        asset_name=name,
        matched_at=scan.matched_at if scan else None,
        ecosystems=list(scan.ecosystems or []) if scan else [],
        data=_dates(data),
        known_exploited=sum(1 for p in packages for v in p.vulns if v.kev),
        total=sum(p.count for p in packages),
        packages=packages,
    )


def for_org(ctx: Context, actor: Actor, org_id: int, limit: int = 500) -> OrgVulnsOut:
    """The organization's vulnerabilities, most urgent first, each with the assets it is on
    (the most critical first)."""
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id)
        data = vulndata.datasets(session)
        rows = _open_findings(session, org_id)
        assets = {a.id: a for a in session.scalars(select(Asset).where(Asset.org_id == org_id))}
        matched = len(
            list(session.scalars(select(VulnScan.asset_id).where(VulnScan.org_id == org_id)))
        )
    merged: dict[str, tuple[dict[str, Any], list[AffectedAssetOut]]] = {}
    for f in rows:
        asset = assets.get(f.asset_id or 0)
        if asset is None:
            continue
        ev = f.evidence or {}
        for v in ev.get("vulns") or []:
            entry = merged.setdefault(v["id"], (v, []))
            entry[1].append(
                AffectedAssetOut(
                    asset_id=asset.id,
                    asset_name=asset.name,
                    criticality=asset.criticality,
                    package=str(ev.get("package", "")),
                    installed=str(ev.get("installed", "")),
                    fixed=v.get("fixed"),
                    finding_id=f.id,
                )
            )
    items = []
    for row, on in merged.values():
        on.sort(key=lambda a: (-a.criticality, a.asset_name))
        out = _vuln_out({**row, "fixed": None})
        items.append(
            (
                (dv.priority(_facts(row)), -max(a.criticality for a in on), -len(on), out.id),
                OrgVulnOut(**out.model_dump(exclude={"fixed"}), assets=on),
            )
        )
    items.sort(key=lambda pair: pair[0])
    ordered = [item for _, item in items]
    return OrgVulnsOut(
        org_id=org_id,
        data=_dates(data),
        assets_matched=matched,
        known_exploited=sum(1 for i in ordered if i.kev),
        total=len(ordered),
        items=ordered[:limit],
    )

"""Patching: pending updates per machine, how long they have waited, and patch compliance.

The agent reports its pending updates as the inventory section "updates" (stored like every
section). At ingest `note_updates` keeps, per asset, each pending update keyed by package and
candidate version with when it was first seen pending; an update gone from the list is
forgotten (installed). A newer candidate that replaces one still pending inherits its age:
the machine has been behind since then (a security candidate replacing a plain one starts
anew: that is when the machine became exposed).

Patch compliance of an organization = machines with no security update pending longer than
SECURITY_DAYS ÷ machines that report their updates. The job (every 15 minutes) raises a finding per
machine out of compliance (rule patch.security_overdue) and per machine that has waited for a
reboot longer than REBOOT_DAYS (rule patch.reboot_pending); both resolve once no longer true.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from forewarn.services import findings
from forewarn.services.context import Context
from forewarn.services.findings import Raised, SyncReport
from forewarn.services.scope import Actor, get_in_scope, get_org_in_scope, scoped
from forewarn.store.models import (
    Asset,
    InventorySection,
    Organization,
    PatchStatusRow,
    PendingUpdateRow,
)

log = logging.getLogger(__name__)

# The policy until patch policies (issue 8 part 2) make it an organization's setting.
SECURITY_DAYS = 14
REBOOT_DAYS = 7
RULE_SECURITY = "patch.security_overdue"
RULE_REBOOT = "patch.reboot_pending"
SECTION = "updates"

_Key = tuple[str, str, str, str]


def _key(u: Mapping[str, Any]) -> _Key:
    return (
        str(u.get("source", ""))[:16],
        str(u.get("name", ""))[:255],
        str(u.get("arch", ""))[:255],
        str(u.get("candidate", ""))[:255],
    )


def note_updates(
    session: Session, now: datetime, org_id: int, asset_id: int, data: Mapping[str, Any]
) -> None:
    """Bring the asset's pending updates and reboot flag up to date with a reported section
    (called by ingest in its transaction)."""
    current: dict[_Key, bool] = {}
    for u in data.get("pending") or []:
        current[_key(u)] = bool(u.get("security"))
    known = {
        (r.source, r.name, r.arch, r.candidate): r
        for r in session.scalars(
            select(PendingUpdateRow).where(PendingUpdateRow.asset_id == asset_id)
        )
    }
    gone = [r for k, r in known.items() if k not in current]
    # A package still pending under a newer candidate stays as late as it was: the newer
    # candidate inherits the age of the one it replaces (unless it is the first security one).
    replaced: dict[tuple[str, str, str], PendingUpdateRow] = {}
    for r in gone:
        kept = replaced.get((r.source, r.name, r.arch))
        if kept is None or r.first_seen < kept.first_seen:
            replaced[(r.source, r.name, r.arch)] = r
    if gone:
        session.execute(
            delete(PendingUpdateRow).where(PendingUpdateRow.id.in_([r.id for r in gone]))
        )
    for key, security in current.items():
        row = known.get(key)
        if row is None:
            source, name, arch, candidate = key
            before = replaced.get((source, name, arch))
            inherit = before is not None and (before.security or not security)
            session.add(
                PendingUpdateRow(
                    asset_id=asset_id,
                    org_id=org_id,
                    source=source,
                    name=name,
                    arch=arch,
                    candidate=candidate,
                    security=security,
                    first_seen=before.first_seen if before is not None and inherit else now,
                )
            )
        elif row.security != security:
            row.security = security
    status = session.get(PatchStatusRow, asset_id)
    reboot = bool(data.get("reboot_required"))
    if status is None:
        status = PatchStatusRow(asset_id=asset_id, org_id=org_id, reboot_since=None)
        session.add(status)
    status.reported_at = now
    if not reboot:
        status.reboot_since = None
    elif status.reboot_since is None:
        status.reboot_since = now


# ---- reading ---------------------------------------------------------------------------------


class DevicePatchOut(BaseModel):
    asset_id: int
    name: str
    kind: str
    reported_at: datetime
    pending: int
    security: int
    oldest_pending_since: datetime | None
    oldest_pending_days: int | None
    oldest_security_since: datetime | None
    oldest_security_days: int | None
    reboot_required: bool
    reboot_since: datetime | None
    last_patched: datetime | None
    compliant: bool


class OrgPatchesOut(BaseModel):
    org_id: int
    security_days: int
    reboot_days: int
    reporting: int
    compliant: int
    compliance: float | None  # percent; None when no machine reports its updates
    devices: list[DevicePatchOut]


class UpdateOut(BaseModel):
    source: str
    name: str
    arch: str
    installed: str
    candidate: str
    security: bool
    origin: str
    first_seen: datetime | None
    pending_days: int | None


class AssetUpdatesOut(BaseModel):
    asset_id: int
    reported: bool
    reported_at: datetime | None
    sources: list[str]
    total: int
    security_total: int
    reboot_required: bool
    reboot_since: datetime | None
    reboot_packages: list[str]
    last_patched: datetime | None
    compliant: bool | None
    security_days: int
    updates: list[UpdateOut]
    truncated: bool


def _days(since: datetime | None, now: datetime) -> int | None:
    return None if since is None else max(0, (now - since) // timedelta(days=1))


def _epoch(value: Any) -> datetime | None:
    if isinstance(value, int | float) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None


def _overdue(since: datetime | None, now: datetime) -> bool:
    return since is not None and now - since > timedelta(days=SECURITY_DAYS)


def _devices(session: Session, org_id: int, now: datetime) -> list[DevicePatchOut]:
    statuses = {
        s.asset_id: s
        for s in session.scalars(select(PatchStatusRow).where(PatchStatusRow.org_id == org_id))
    }
    if not statuses:
        return []
    assets = {a.id: a for a in session.scalars(select(Asset).where(Asset.id.in_(list(statuses))))}
    sections = {
        s.asset_id: s.data
        for s in session.scalars(
            select(InventorySection).where(
                InventorySection.org_id == org_id, InventorySection.section == SECTION
            )
        )
    }
    agg: dict[int, dict[str, Any]] = {}
    for asset_id, security, first_seen in session.execute(
        select(
            PendingUpdateRow.asset_id, PendingUpdateRow.security, PendingUpdateRow.first_seen
        ).where(PendingUpdateRow.org_id == org_id)
    ):
        a = agg.setdefault(asset_id, {"n": 0, "sec": 0, "old": None, "old_sec": None})
        a["n"] += 1
        if a["old"] is None or first_seen < a["old"]:
            a["old"] = first_seen
        if security:
            a["sec"] += 1
            if a["old_sec"] is None or first_seen < a["old_sec"]:
                a["old_sec"] = first_seen
    out = []
    for asset_id, status in statuses.items():
        asset = assets.get(asset_id)
        if asset is None:
            continue
        a = agg.get(asset_id, {"n": 0, "sec": 0, "old": None, "old_sec": None})
        data = sections.get(asset_id) or {}
        out.append(
            DevicePatchOut(
                asset_id=asset_id,
                name=asset.name,
                kind=asset.kind,
                reported_at=status.reported_at,
                # the agent's own count: its list may have been bounded
                pending=max(a["n"], int(data.get("total") or 0)),
                security=max(a["sec"], int(data.get("security_total") or 0)),
                oldest_pending_since=a["old"],
                oldest_pending_days=_days(a["old"], now),
                oldest_security_since=a["old_sec"],
                oldest_security_days=_days(a["old_sec"], now),
                reboot_required=status.reboot_since is not None,
                reboot_since=status.reboot_since,
                last_patched=_epoch(data.get("last_patched")),
                compliant=not _overdue(a["old_sec"], now),
            )
        )
    out.sort(
        key=lambda d: (
            d.compliant,
            -(d.oldest_security_days or 0),
            -d.security,
            not d.reboot_required,
            -d.pending,
            d.name,
        )
    )
    return out


def _summary(org_id: int, devices: list[DevicePatchOut]) -> OrgPatchesOut:
    compliant = sum(1 for d in devices if d.compliant)
    return OrgPatchesOut(
        org_id=org_id,
        security_days=SECURITY_DAYS,
        reboot_days=REBOOT_DAYS,
        reporting=len(devices),
        compliant=compliant,
        compliance=round(100.0 * compliant / len(devices), 1) if devices else None,
        devices=devices,
    )


def org_patches(ctx: Context, actor: Actor, org_id: int) -> OrgPatchesOut:
    """The organization's compliance and each reporting machine, worst first."""
    now = ctx.clock.now()
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id)
        return _summary(org_id, _devices(session, org_id, now))


class OrgComplianceOut(BaseModel):
    org_id: int
    name: str
    reporting: int
    compliant: int
    compliance: float | None
    security_pending: int  # security updates pending across the organization's machines
    reboot_required: int  # machines waiting for a reboot


class PatchOverviewOut(BaseModel):
    security_days: int
    items: list[OrgComplianceOut]


def overview(ctx: Context, actor: Actor) -> PatchOverviewOut:
    """Every organization the caller may see with its compliance, worst first (those with no
    machine reporting last)."""
    now = ctx.clock.now()
    items = []
    with ctx.db.read() as session:
        for org in session.scalars(scoped(select(Organization), actor, Organization.id)):
            s = _summary(org.id, _devices(session, org.id, now))
            items.append(
                OrgComplianceOut(
                    org_id=org.id,
                    name=org.name,
                    reporting=s.reporting,
                    compliant=s.compliant,
                    compliance=s.compliance,
                    security_pending=sum(d.security for d in s.devices),
                    reboot_required=sum(1 for d in s.devices if d.reboot_required),
                )
            )
    items.sort(key=lambda o: (o.compliance is None, o.compliance or 0.0, o.name))
    return PatchOverviewOut(security_days=SECURITY_DAYS, items=items)


def asset_updates(ctx: Context, actor: Actor, asset_id: int) -> AssetUpdatesOut:
    """The asset's pending updates (security first, oldest first) with their ages."""
    now = ctx.clock.now()
    with ctx.db.read() as session:
        asset = get_in_scope(session, actor, Asset, asset_id)
        status = session.get(PatchStatusRow, asset.id)
        section = session.get(InventorySection, (asset.id, SECTION))
        rows = {
            (r.source, r.name, r.arch, r.candidate): r
            for r in session.scalars(
                select(PendingUpdateRow).where(PendingUpdateRow.asset_id == asset.id)
            )
        }
    data: Mapping[str, Any] = section.data if section is not None else {}
    updates = []
    for u in data.get("pending") or []:
        row = rows.get(_key(u))
        first = row.first_seen if row else None
        updates.append(
            UpdateOut(
                source=str(u.get("source", "")),
                name=str(u.get("name", "")),
                arch=str(u.get("arch", "")),
                installed=str(u.get("installed", "")),
                candidate=str(u.get("candidate", "")),
                security=bool(u.get("security")),
                origin=str(u.get("origin", "")),
                first_seen=first,
                pending_days=_days(first, now),
            )
        )
    updates.sort(key=lambda u: (not u.security, u.first_seen or now, u.name))
    oldest_security = min(
        (u.first_seen for u in updates if u.security and u.first_seen), default=None
    )
    total = int(data.get("total") or len(updates))
    return AssetUpdatesOut(
        asset_id=asset.id,
        reported=status is not None,
        reported_at=status.reported_at if status else None,
        sources=[str(s) for s in data.get("sources") or []],
        total=total,
        security_total=int(data.get("security_total") or 0),
        reboot_required=bool(status and status.reboot_since),
        reboot_since=status.reboot_since if status else None,
        reboot_packages=[str(p) for p in data.get("reboot_packages") or []],
        last_patched=_epoch(data.get("last_patched")),
        compliant=None if status is None else not _overdue(oldest_security, now),
        security_days=SECURITY_DAYS,
        updates=updates,
        truncated=total > len(updates),
    )


# ---- the job ---------------------------------------------------------------------------------


def _raised(devices: list[DevicePatchOut], now: datetime) -> tuple[list[Raised], list[Raised]]:
    overdue, reboot = [], []
    for d in devices:
        if not d.compliant:
            overdue.append(
                Raised(
                    key=str(d.asset_id),
                    severity="high",
                    title=f"{d.name}: security updates pending for {d.oldest_security_days} days",
                    detail=(
                        f"{d.security} security update(s) pending, the oldest for "
                        f"{d.oldest_security_days} days (policy: {SECURITY_DAYS}). Install them "
                        "(apt-get upgrade, dnf upgrade --security) in the next maintenance window."
                    ),
                    evidence={
                        "security": d.security,
                        "pending": d.pending,
                        "oldest_security_since": d.oldest_security_since.isoformat()
                        if d.oldest_security_since
                        else None,
                        "policy_days": SECURITY_DAYS,
                    },
                    asset_id=d.asset_id,
                )
            )
        if d.reboot_since is not None and now - d.reboot_since > timedelta(days=REBOOT_DAYS):
            days = _days(d.reboot_since, now)
            reboot.append(
                Raised(
                    key=str(d.asset_id),
                    severity="medium",
                    title=f"{d.name}: reboot required for {days} days",
                    detail=(
                        "Installed updates (often the kernel or the C library) take effect only "
                        f"after a reboot; this machine has waited {days} days "
                        f"(policy: {REBOOT_DAYS}). Reboot it in the next maintenance window."
                    ),
                    evidence={
                        "reboot_since": d.reboot_since.isoformat(),
                        "policy_days": REBOOT_DAYS,
                    },
                    asset_id=d.asset_id,
                )
            )
    return overdue, reboot


def sync_org(session: Session, org_id: int, now: datetime) -> SyncReport:
    """Raise and resolve the organization's patch findings as of `now`."""
    overdue, reboot = _raised(_devices(session, org_id, now), now)
    report = findings.sync(session, org_id, RULE_SECURITY, overdue, now)
    report.add(findings.sync(session, org_id, RULE_REBOOT, reboot, now))
    return report


def refresh(ctx: Context) -> SyncReport:
    """The scheduled job: every organization's patch findings."""
    now = ctx.clock.now()
    total = SyncReport()
    with ctx.db.transaction() as session:
        for org_id in session.scalars(select(Organization.id)):
            total.add(sync_org(session, org_id, now))
    if total.opened or total.resolved:
        log.info("patching: %d findings opened, %d resolved", total.opened, total.resolved)
    return total


def compliance_of_org(session: Session, org_id: int, now: datetime) -> OrgPatchesOut:
    """The figures without a caller's scope (reports and the assessment read them)."""
    return _summary(org_id, _devices(session, org_id, now))

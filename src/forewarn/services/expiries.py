"""Dates that matter for an organization, and the findings they become.

What is read (each a kind of domain.expiry.Expiry):
- certificates: the latest `days_left` a TLS check measured, from its metric series;
- warranties: an asset's warranty end;
- operating system and software end of life: the agent's System and Packages inventory,
  matched to the end-of-life table in force (services.lifecycle);
- backups not reported: heartbeat checks whose job failed or is overdue;
- outdated agents: an agent older than this server (no date: a finding only).

`refresh` (a scheduled job) turns those with a severity into findings with their due date
and resolves the ones no longer true; `upcoming` lists every dated one, soonest first, for
the organization's page and the API. Severity follows the days left (domain.expiry).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from forewarn import __version__
from forewarn.domain import lifecycle as eol
from forewarn.domain.expiry import RULES, Expiry, Kind, dated, days_left, is_older
from forewarn.domain.observation import Status
from forewarn.domain.targets import split_host_port
from forewarn.services import findings, lifecycle
from forewarn.services.context import Context
from forewarn.services.ingest import labels_key
from forewarn.services.scope import Actor, get_org_in_scope
from forewarn.store.models import (
    Agent,
    Asset,
    Check,
    CheckStateRow,
    InventorySection,
    MetricRaw,
    MetricRollup1h,
    MetricRollup5m,
    MetricSeries,
    Organization,
)

log = logging.getLogger(__name__)
DAYS_LEFT_SERIES = "check.days_left"


class ExpiryOut(BaseModel):
    kind: str
    rule: str
    key: str
    title: str
    detail: str
    asset_id: int | None
    asset_name: str | None
    due: date | None
    days_left: int | None
    severity: str | None  # None: not a finding yet (90 days or more left)


@dataclass(frozen=True)
class _Scan:
    session: Session
    org_id: int
    now: datetime
    assets: dict[int, Asset]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


# ---- what is read ---------------------------------------------------------------------------


def _warranties(scan: _Scan) -> Iterator[Expiry]:
    for asset in scan.assets.values():
        if asset.warranty_end is not None:
            yield dated(
                Kind.WARRANTY,
                f"asset:{asset.id}",
                _midnight(asset.warranty_end),
                scan.now,
                f"Warranty of {asset.name}",
                asset_id=asset.id,
                detail="After this date repairs and replacement parts are paid for.",
                evidence={"asset": asset.name, "purchase_date": _iso(asset.purchase_date)},
                verb="ends",
                past="ended",
            )


def _iso(day: date | None) -> str:
    return day.isoformat() if day else ""


def _latest(session: Session, series_id: int) -> tuple[int, float] | None:
    """The newest value of a series: raw samples first, then the rollups that outlive them."""
    sources: list[tuple[Any, Any, Any]] = [
        (MetricRaw.ts, MetricRaw.value, MetricRaw.series_id),
        (MetricRollup5m.ts, MetricRollup5m.avg, MetricRollup5m.series_id),
        (MetricRollup1h.ts, MetricRollup1h.avg, MetricRollup1h.series_id),
    ]
    for ts, value, series in sources:
        row = session.execute(
            select(ts, value).where(series == series_id).order_by(ts.desc()).limit(1)
        ).first()
        if row is not None:
            return int(row[0]), float(row[1])
    return None


def _tls_name(check: Check) -> str:
    name = check.params.get("server_name")
    if isinstance(name, str) and name:
        return name
    try:
        return split_host_port(check.target, 443)[0]
    except ValueError:
        return check.target


def _certificates(scan: _Scan) -> Iterator[Expiry]:
    tls = {
        labels_key({"check": str(c.id)}): c
        for c in scan.session.scalars(
            select(Check).where(
                Check.org_id == scan.org_id, Check.type == "tls", Check.enabled.is_(True)
            )
        )
    }
    if not tls:
        return
    series = scan.session.execute(
        select(MetricSeries.id, MetricSeries.labels_key).where(
            MetricSeries.org_id == scan.org_id,
            MetricSeries.name == DAYS_LEFT_SERIES,
            MetricSeries.labels_key.in_(list(tls)),
        )
    )
    for series_id, key in series:
        check = tls[key]
        latest = _latest(scan.session, series_id)
        if latest is None:
            continue
        measured = datetime.fromtimestamp(latest[0], UTC)
        due = measured + timedelta(days=latest[1])
        name = _tls_name(check)
        asset = scan.assets.get(check.asset_id)
        yield dated(
            Kind.CERTIFICATE,
            f"check:{check.id}",
            due,
            scan.now,
            f"Certificate for {name}",
            asset_id=check.asset_id,
            detail=f"Measured by the TLS check '{check.name}'; renew the certificate before then.",
            evidence={
                "check_id": check.id,
                "check": check.name,
                "name": name,
                "asset": asset.name if asset else "",
                "not_after": due.isoformat(timespec="minutes"),
                "measured_at": measured.isoformat(timespec="minutes"),
            },
        )


def _sections(scan: _Scan, section: str) -> Iterator[tuple[Asset, Any]]:
    rows = scan.session.execute(
        select(InventorySection.asset_id, InventorySection.data).where(
            InventorySection.org_id == scan.org_id, InventorySection.section == section
        )
    )
    for asset_id, data in rows:
        asset = scan.assets.get(asset_id)
        if asset is not None and data:
            yield asset, data


def _end_of_life(
    kind: Kind,
    key: str,
    asset: Asset,
    match: eol.Match,
    products: dict[str, eol.Product],
    now: datetime,
) -> Expiry | None:
    release = eol.lookup(products, match)
    if release is None:
        return None
    subject = f"{match.name} on {asset.name}"
    detail = "After this date it gets no more security updates."
    if release.extended:
        detail += f" Extended support (LTS/ESM, where available) lasts until {release.extended}."
    evidence = {
        "asset": asset.name,
        "product": match.product,
        "release": match.cycle,
        "codename": release.codename,
        "extended_support": _iso(release.extended),
    }
    if release.eol is not None:
        return dated(
            kind,
            key,
            _midnight(release.eol),
            now,
            subject,
            asset_id=asset.id,
            detail=detail,
            evidence=evidence,
            verb="reaches end of life",
            past="reached end of life",
        )
    if release.ended:  # ended, date not given by the data
        title = f"{subject} has reached end of life"
        return Expiry(kind, key, title, None, None, "high", asset.id, detail, evidence)
    return None


def _operating_systems(scan: _Scan, products: dict[str, eol.Product]) -> Iterator[Expiry]:
    for asset, data in _sections(scan, "system"):
        if not isinstance(data, dict):
            continue
        match = eol.match_os(
            str(data.get("os_id", "")),
            str(data.get("os_name", "")),
            str(data.get("os_version", "")),
            str(data.get("kernel", "")),
        )
        if match is not None:
            item = _end_of_life(Kind.OS_EOL, f"asset:{asset.id}", asset, match, products, scan.now)
            if item is not None:
                yield item


def _software(scan: _Scan, products: dict[str, eol.Product]) -> Iterator[Expiry]:
    for asset, data in _sections(scan, "packages"):
        if not isinstance(data, list):
            continue
        packages = [p for p in data if isinstance(p, dict)]
        for match in eol.match_packages(packages):
            key = f"asset:{asset.id}:{match.product}:{match.cycle}"
            item = _end_of_life(Kind.SOFTWARE_EOL, key, asset, match, products, scan.now)
            if item is not None:
                yield item


def _backups(scan: _Scan) -> Iterator[Expiry]:
    rows = scan.session.execute(
        select(Check, CheckStateRow)
        .join(CheckStateRow, CheckStateRow.check_id == Check.id)
        .where(Check.org_id == scan.org_id, Check.type == "heartbeat", Check.enabled.is_(True))
    )
    for check, state in rows:
        failed = state.is_hard and state.hard_status == Status.CRITICAL
        overdue = state.next_due_at < scan.now
        if not (failed or overdue):
            continue
        asset = scan.assets.get(check.asset_id)
        where = f"'{check.name}' on {asset.name if asset else 'an asset'}"
        due = (state.hard_since if failed else None) or state.next_due_at
        if failed and state.message == "the job reported a failure":
            title = f"Backup {where} reported a failure"
        else:
            title = f"Backup {where} has not reported since {due:%Y-%m-%d}"
        yield Expiry(
            Kind.BACKUP,
            f"check:{check.id}",
            title[:300],
            due,
            days_left(due, scan.now),
            "high",
            check.asset_id,
            "The job did not prove it ran: check that the backup works and that it calls "
            "its heartbeat URL.",
            {"check_id": check.id, "check": check.name, "message": state.message[:500]},
        )


def _agents(scan: _Scan, server: str) -> Iterator[Expiry]:
    rows = scan.session.scalars(select(Agent).where(Agent.org_id == scan.org_id))
    for agent in rows:
        if not is_older(agent.version, server):
            continue
        asset = scan.assets.get(agent.asset_id)
        name = asset.name if asset else agent.hostname
        yield Expiry(
            Kind.AGENT,
            f"agent:{agent.id}",
            f"Agent on {name} is version {agent.version} (server {server})",
            None,
            None,
            "low",
            agent.asset_id,
            "Update the agent: older agents miss newer checks and fixes.",
            {"agent_id": agent.id, "version": agent.version, "server_version": server},
        )


def collect(
    session: Session,
    org_id: int,
    now: datetime,
    products: dict[str, eol.Product],
    server_version: str = __version__,
) -> list[Expiry]:
    """Every expiry of the organization now, found or not a finding."""
    assets = {a.id: a for a in session.scalars(select(Asset).where(Asset.org_id == org_id))}
    scan = _Scan(session, org_id, now, assets)
    return [
        *_certificates(scan),
        *_warranties(scan),
        *_operating_systems(scan, products),
        *_software(scan, products),
        *_backups(scan),
        *_agents(scan, server_version),
    ]


# ---- the job and the read -------------------------------------------------------------------


def _raised(items: Iterable[Expiry]) -> list[findings.Raised]:
    return [
        findings.Raised(
            key=i.key,
            severity=i.severity,
            title=i.title,
            detail=i.detail,
            evidence=i.evidence,
            asset_id=i.asset_id,
            due_at=i.due,
        )
        for i in items
        if i.severity is not None
    ]


def refresh_org(ctx: Context, org_id: int) -> findings.SyncReport:
    now = ctx.clock.now()
    total = findings.SyncReport()
    with ctx.db.transaction() as session:
        items = collect(session, org_id, now, lifecycle.table(session))
        for kind, rule in RULES.items():
            report = findings.sync(
                session, org_id, rule, _raised(i for i in items if i.kind is kind), now
            )
            total.add(report)
    return total


def refresh(ctx: Context) -> findings.SyncReport:
    """The scheduled job: every organization's expiry findings brought up to date."""
    with ctx.db.read() as session:
        org_ids = list(session.scalars(select(Organization.id).order_by(Organization.id)))
    total = findings.SyncReport()
    for org_id in org_ids:
        report = refresh_org(ctx, org_id)
        total.add(report)
    if total.opened or total.resolved:
        log.info("expiries: %d opened, %d resolved", total.opened, total.resolved)
    return total


def upcoming(ctx: Context, actor: Actor, org_id: int) -> list[ExpiryOut]:
    """Every dated expiry of the organization, soonest first (passed ones lead)."""
    now = ctx.clock.now()
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id)
        items = collect(session, org_id, now, lifecycle.table(session))
        names = {a.id: a.name for a in session.scalars(select(Asset).where(Asset.org_id == org_id))}
    items = [i for i in items if i.due is not None or i.kind is not Kind.AGENT]
    items.sort(key=lambda i: (i.due is None, i.due or now, i.title))
    return [
        ExpiryOut(
            kind=i.kind.value,
            rule=i.rule,
            key=i.key,
            title=i.title,
            detail=i.detail,
            asset_id=i.asset_id,
            asset_name=names.get(i.asset_id) if i.asset_id else None,
            due=i.due.date() if i.due else None,
            days_left=i.days,
            severity=i.severity,
        )
        for i in items
    ]

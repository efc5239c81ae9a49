"""Findings: risks that persist until fixed or accepted, one per (organization, rule, key).

Whatever raises them (network discovery, the expiry and recurring-problem jobs) does it here:
`raise_or_refresh` opens a finding or brings an existing one up to date, `sync` does that for
everything a rule holds true of an organization now and resolves the rest of that rule's
findings, and `list_findings` reads them for the pages and the API.

A finding someone accepted stays accepted while it is still true (its facts are refreshed);
once it is no longer true it is resolved like an open one, so that the next occurrence (next
year's certificate) is looked at again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from forewarn.services.context import Context
from forewarn.services.pagination import Page, paginate_desc
from forewarn.services.scope import Actor, scoped
from forewarn.store.models import Finding

FindingStatus = Literal["open", "resolved", "accepted"]


class FindingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    asset_id: int | None
    rule: str
    key: str
    severity: str
    status: str
    title: str
    detail: str
    evidence: dict[str, Any]
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    due_at: datetime | None = None
    accepted_reason: str = ""
    accepted_until: datetime | None = None
    accepted_by: str = ""


@dataclass(frozen=True)
class Raised:
    """What a rule holds true now: one finding's facts."""

    key: str
    severity: str
    title: str
    detail: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    asset_id: int | None = None
    due_at: datetime | None = None


@dataclass
class SyncReport:
    opened: int = 0
    refreshed: int = 0
    resolved: int = 0

    def add(self, other: SyncReport) -> None:
        self.opened += other.opened
        self.refreshed += other.refreshed
        self.resolved += other.resolved


def raise_or_refresh(
    session: Session, org_id: int, rule: str, raised: Raised, now: datetime
) -> tuple[Finding, bool]:
    """The finding for (org, rule, key), opened or brought up to date; True when it was
    opened (new, or resolved before). An accepted one keeps its status."""
    finding = session.scalar(
        select(Finding).where(
            Finding.org_id == org_id, Finding.rule == rule, Finding.key == raised.key
        )
    )
    opened = finding is None or finding.status == "resolved"
    if finding is None:
        finding = Finding(org_id=org_id, rule=rule, key=raised.key, status="open", first_seen=now)
        session.add(finding)
    elif finding.status == "resolved":
        finding.status, finding.resolved_at = "open", None
    finding.asset_id = raised.asset_id
    finding.severity, finding.title = raised.severity, raised.title[:300]
    finding.detail, finding.evidence = raised.detail, raised.evidence
    finding.due_at, finding.last_seen = raised.due_at, now
    session.flush()
    return finding, opened


def resolve(session: Session, findings: Iterable[Finding], now: datetime) -> int:
    """Resolve those not resolved yet; answers how many."""
    count = 0
    for finding in findings:
        if finding.status != "resolved":
            finding.status, finding.resolved_at = "resolved", now
            count += 1
    return count


def sync(
    session: Session, org_id: int, rule: str, raised: Iterable[Raised], now: datetime
) -> SyncReport:
    """Make the rule's findings of the organization be exactly what is raised now: open or
    refresh each, resolve the ones no longer true."""
    report = SyncReport()
    keys: set[str] = set()
    for item in raised:
        if item.key in keys:
            continue  # the first word on a key wins; a rule should not repeat itself
        keys.add(item.key)
        _, opened = raise_or_refresh(session, org_id, rule, item, now)
        report.opened += opened
        report.refreshed += not opened
    gone = session.scalars(
        select(Finding).where(
            Finding.org_id == org_id,
            Finding.rule == rule,
            Finding.status != "resolved",
            Finding.key.not_in(keys) if keys else Finding.id.is_not(None),
        )
    )
    report.resolved = resolve(session, gone, now)
    return report


def list_findings(
    ctx: Context,
    actor: Actor,
    *,
    org_id: int | None = None,
    status: FindingStatus | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[FindingOut]:
    """Newest first."""
    stmt = scoped(select(Finding), actor, Finding.org_id)
    if org_id is not None:
        stmt = stmt.where(Finding.org_id == org_id)
    if status is not None:
        stmt = stmt.where(Finding.status == status)
    with ctx.db.read() as session:
        page = paginate_desc(session, stmt, Finding.id, limit, cursor)
        return Page([FindingOut.model_validate(f) for f in page.items], page.next_cursor)

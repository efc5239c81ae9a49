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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from forewarn.domain.inventory import Role
from forewarn.services import audit, users
from forewarn.services.context import Context
from forewarn.services.errors import invalid
from forewarn.services.pagination import Page, paginate_desc
from forewarn.services.scope import Actor, get_in_scope, scoped
from forewarn.store.models import Finding

FindingStatus = Literal["open", "resolved", "accepted"]
FindingSeverity = Literal["critical", "high", "medium", "low", "info"]


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
    assignee_id: int | None = None


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
    severities: Sequence[FindingSeverity] = (),
    rule_prefix: str | None = None,
    asset_id: int | None = None,
    assignee_id: int | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[FindingOut]:
    """Newest first; narrowed by status, severities, a rule or its family (`posture.`,
    `expiry.`, ...), an asset and who it is assigned to."""
    stmt = scoped(select(Finding), actor, Finding.org_id)
    if org_id is not None:
        stmt = stmt.where(Finding.org_id == org_id)
    if status is not None:
        stmt = stmt.where(Finding.status == status)
    if severities:
        stmt = stmt.where(Finding.severity.in_(list(severities)))
    if rule_prefix:
        # A family ends with a dot; anything else is one rule, named exactly.
        if rule_prefix.endswith("."):
            escaped = rule_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(Finding.rule.like(escaped + "%", escape="\\"))
        else:
            stmt = stmt.where(Finding.rule == rule_prefix)
    if asset_id is not None:
        stmt = stmt.where(Finding.asset_id == asset_id)
    if assignee_id is not None:
        stmt = stmt.where(Finding.assignee_id == assignee_id)
    with ctx.db.read() as session:
        page = paginate_desc(session, stmt, Finding.id, limit, cursor)
        return Page([FindingOut.model_validate(f) for f in page.items], page.next_cursor)


# ---- what people do with a finding -------------------------------------------------------------


class AcceptRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=1000)
    until: date = Field(description="the day the acceptance ends and the finding reopens")


class AssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee_id: int = Field(ge=0, le=2**31 - 1, description="a user id; 0: nobody")


class ResolveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=1000, description="what was done, for the record")


def accept(ctx: Context, actor: Actor, finding_id: int, data: AcceptRequest) -> FindingOut:
    """Accept the risk with a reason until a day (technicians); it reopens that day."""
    now = ctx.clock.now()
    until = datetime.combine(data.until, time(0, 0), tzinfo=UTC)
    with ctx.db.transaction() as session:
        finding = get_in_scope(session, actor, Finding, finding_id, Role.TECHNICIAN)
        if until <= now:
            raise invalid("until must be a day after today")
        if (until - now).days > 3 * 366:
            raise invalid("a risk may be accepted for at most three years")
        if finding.status == "resolved":
            raise invalid("this finding is resolved: there is no risk left to accept")
        before = audit.snapshot(finding)
        finding.status = "accepted"
        finding.accepted_reason, finding.accepted_until = data.reason, until
        finding.accepted_by = actor.username[:64]
        _audit(session, ctx, actor, finding, "finding.accept", before)
        return FindingOut.model_validate(finding)


def unaccept(ctx: Context, actor: Actor, finding_id: int) -> FindingOut:
    """Take back an acceptance: the finding is open again."""
    with ctx.db.transaction() as session:
        finding = get_in_scope(session, actor, Finding, finding_id, Role.TECHNICIAN)
        if finding.status != "accepted":
            raise invalid("this finding is not accepted")
        before = audit.snapshot(finding)
        _reopen(finding)
        _audit(session, ctx, actor, finding, "finding.unaccept", before)
        return FindingOut.model_validate(finding)


def assign(ctx: Context, actor: Actor, finding_id: int, data: AssignRequest) -> FindingOut:
    """Give the finding to someone (technicians): a member of its organization or one of
    the provider's owners; 0 gives it to nobody."""
    with ctx.db.transaction() as session:
        finding = get_in_scope(session, actor, Finding, finding_id, Role.TECHNICIAN)
        before = audit.snapshot(finding)
        if data.assignee_id == 0:
            finding.assignee_id = None
        else:
            finding.assignee_id = users.assignable(session, data.assignee_id, finding.org_id).id
        _audit(session, ctx, actor, finding, "finding.assign", before)
        return FindingOut.model_validate(finding)


def resolve_by_hand(
    ctx: Context, actor: Actor, finding_id: int, data: ResolveRequest
) -> FindingOut:
    """Someone fixed it (technicians). The rule that raised it still looks: a finding marked
    fixed that is still true opens again at its rule's next run, which is the point."""
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        finding = get_in_scope(session, actor, Finding, finding_id, Role.TECHNICIAN)
        if finding.status == "resolved":
            raise invalid("this finding is resolved already")
        before = audit.snapshot(finding)
        _reopen(finding)
        finding.status, finding.resolved_at = "resolved", now
        if data.note:
            finding.evidence = {
                **finding.evidence,
                "fixed_note": data.note,
                "fixed_by": actor.username,
            }
        _audit(session, ctx, actor, finding, "finding.resolve", before)
        return FindingOut.model_validate(finding)


def _audit(
    session: Session, ctx: Context, actor: Actor, finding: Finding, action: str, before: Any
) -> None:
    audit.record(
        session,
        ctx.clock,
        actor,
        action,
        entity="finding",
        entity_id=finding.id,
        org_id=finding.org_id,
        before=before,
        after=audit.snapshot(finding),
    )
    session.flush()


def _reopen(finding: Finding) -> None:
    finding.status = "open"
    finding.accepted_until = None
    finding.accepted_reason, finding.accepted_by = "", ""


def reopen_expired(ctx: Context) -> int:
    """Accepted findings whose acceptance ended are open again; answers how many."""
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        due = session.scalars(
            select(Finding).where(
                Finding.status == "accepted",
                Finding.accepted_until.is_not(None),
                Finding.accepted_until <= now,
            )
        ).all()
        for finding in due:
            _reopen(finding)
        return len(due)

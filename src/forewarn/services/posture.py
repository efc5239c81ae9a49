"""Posture: the policies in force, what agents report of them, and what that raises.

Policies in force for an organization are the shipped pack (data/posture/*.yml), then the
provider's own (org_id NULL), then the organization's; a later one with the same policy id
replaces an earlier one, so an organization can adapt the shipped pack by uploading its own
copy under the same id. Each asset's agent gets the checks for its kind through its
configuration document (services.agent_config) and reports results hourly.

For each (asset, check) the latest result is kept with when it took its status. A failed
check is a finding (rule "posture.<check id>", key the asset id) with the evidence and the
remediation; it resolves when the check passes or stops applying. Only changes alert: pass
to fail opens a security alert, fail to pass clears it. A check failing the first time it is
ever seen (a new machine) opens a finding but no alert, or enrolling a machine would page.

Accepting a risk: a finding may be accepted with a reason and an expiry; the hourly job
reopens those whose expiry passed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from forewarn.domain.alerting import AlertKind, Severity
from forewarn.domain.inventory import Role
from forewarn.security.posture_policy import Check, Policy, PolicyError, parse
from forewarn.services import agent_config, alerts, audit, findings
from forewarn.services.context import Context
from forewarn.services.errors import invalid, not_found
from forewarn.services.findings import FindingOut
from forewarn.services.scope import (
    Actor,
    get_in_scope,
    get_org_in_scope,
    org_or_provider,
    require,
    require_owner,
    scoped,
)
from forewarn.store.models import (
    Agent,
    Asset,
    Finding,
    PosturePolicyRow,
    PostureResultRow,
)
from forewarn.wire import PostureReport

log = logging.getLogger(__name__)

RULE_PREFIX = "posture."
# Kinds of asset that run an agent and so can be assessed.
AGENT_KINDS = ("server", "workstation", "laptop", "other")


# ---- policies -----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def builtin() -> tuple[Policy, ...]:
    """The shipped packs, parsed once (a broken one is a bug: the tests parse them)."""
    folder = resources.files("forewarn.data") / "posture"
    return tuple(
        parse(item.read_text("utf-8"))
        for item in sorted(folder.iterdir(), key=lambda i: i.name)
        if item.name.endswith(".yml")
    )


@lru_cache(maxsize=256)
def _parsed(source: str) -> Policy:
    return parse(source)


@dataclass(frozen=True)
class InForce:
    policy: Policy
    level: str  # builtin | provider | organization
    row_id: int | None = None


def in_force(session: Session, org_id: int) -> list[InForce]:
    """The organization's policies, later levels replacing earlier ones of the same id."""
    by_key: dict[str, InForce] = {p.id: InForce(p, "builtin") for p in builtin()}
    rows = session.scalars(
        select(PosturePolicyRow)
        .where((PosturePolicyRow.org_id == org_id) | PosturePolicyRow.org_id.is_(None))
        .order_by(PosturePolicyRow.org_id.is_not(None), PosturePolicyRow.id)
    )
    for row in rows:
        try:
            policy = _parsed(row.source)
        except PolicyError:  # stored only after parsing; a newer parser may refuse it
            log.error("stored posture policy %s no longer parses; skipped", row.id)
            continue
        level = "provider" if row.org_id is None else "organization"
        by_key[policy.id] = InForce(policy, level, row.id)
    return list(by_key.values())


def agent_policies(session: Session, asset_id: int) -> list[dict[str, Any]]:
    """What the asset's agent evaluates: the checks for its kind of each policy in force."""
    asset = session.get(Asset, asset_id)
    if asset is None or asset.kind not in AGENT_KINDS:
        return []
    out = []
    for f in in_force(session, asset.org_id):
        if f.policy.applies_to(asset.kind):
            doc = f.policy.to_agent(asset.kind)
            if doc["checks"]:
                out.append(doc)
    return out


class PolicyOut(BaseModel):
    id: int | None = Field(description="None for a shipped policy")
    org_id: int | None
    level: str
    policy_id: str
    name: str
    description: str = ""
    checks: int
    kinds: list[str]
    digest: str
    uploaded_by: str = ""
    uploaded_at: datetime | None = None


def _out(policy: Policy, level: str, row: PosturePolicyRow | None) -> PolicyOut:
    return PolicyOut(
        id=row.id if row else None,
        org_id=row.org_id if row else None,
        level=level,
        policy_id=policy.id,
        name=policy.name,
        description=policy.description,
        checks=len(policy.checks),
        kinds=list(policy.kinds),
        digest=policy.digest(),
        uploaded_by=row.uploaded_by if row else "",
        uploaded_at=row.uploaded_at if row else None,
    )


def list_policies(ctx: Context, actor: Actor, org_id: int | None = None) -> list[PolicyOut]:
    """The shipped policies, the provider's and those of the organizations the caller sees."""
    with ctx.db.read() as session:
        if org_id is not None:
            get_org_in_scope(session, actor, org_id)
        out = [_out(p, "builtin", None) for p in builtin()]
        stmt = select(PosturePolicyRow).where(org_or_provider(actor, PosturePolicyRow.org_id))
        if org_id is not None:
            stmt = stmt.where(
                (PosturePolicyRow.org_id == org_id) | PosturePolicyRow.org_id.is_(None)
            )
        for row in session.scalars(stmt.order_by(PosturePolicyRow.id)):
            level = "provider" if row.org_id is None else "organization"
            out.append(_out(_parsed(row.source), level, row))
        return out


def import_policy(
    ctx: Context, actor: Actor, source: str | bytes, org_id: int | None = None
) -> PolicyOut:
    """Check and store a policy (replacing the one of the same id at that level); refused
    whole, with its line and reason, when anything in it is wrong."""
    with ctx.db.read() as session:
        if org_id is None:
            require_owner(actor)
        else:
            get_org_in_scope(session, actor, org_id, Role.ADMIN)
    try:
        policy = parse(source)
    except PolicyError as exc:
        raise invalid(
            f"policy refused: {exc}", [{"line": exc.line, "msg": exc.reason, "type": "policy"}]
        ) from exc
    text = source.decode("utf-8") if isinstance(source, bytes) else source
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        org_clause = (
            PosturePolicyRow.org_id.is_(None)
            if org_id is None
            else PosturePolicyRow.org_id == org_id
        )
        row = session.scalar(
            select(PosturePolicyRow).where(org_clause, PosturePolicyRow.policy_key == policy.id)
        )
        before = audit.snapshot(row) if row else None
        if row is None:
            row = PosturePolicyRow(org_id=org_id, policy_key=policy.id)
            session.add(row)
        row.name, row.digest, row.checks = policy.name[:200], policy.digest(), len(policy.checks)
        row.source, row.uploaded_by, row.uploaded_at = text, actor.username[:64], now
        session.flush()
        audit.record(
            session,
            ctx.clock,
            actor,
            "posture_policy.import",
            entity="posture_policy",
            entity_id=row.id,
            org_id=org_id,
            before={k: v for k, v in (before or {}).items() if k != "source"} or None,
            after={"policy_id": policy.id, "digest": row.digest, "checks": row.checks},
        )
        _refresh_agents(session, org_id, now)
        level = "provider" if org_id is None else "organization"
        return _out(policy, level, row)


def delete_policy(ctx: Context, actor: Actor, row_id: int) -> None:
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        row = session.get(PosturePolicyRow, row_id)
        if row is None:
            raise not_found("posture policy")
        if row.org_id is None:
            require_owner(actor)
        else:
            require(actor, row.org_id, Role.ADMIN, "posture policy")
        org_id = row.org_id
        audit.record(
            session,
            ctx.clock,
            actor,
            "posture_policy.delete",
            entity="posture_policy",
            entity_id=row.id,
            org_id=org_id,
            before={"policy_id": row.policy_key, "digest": row.digest},
        )
        session.delete(row)
        session.flush()
        _refresh_agents(session, org_id, now)


def _refresh_agents(session: Session, org_id: int | None, now: datetime) -> None:
    stmt = select(Agent.asset_id)
    if org_id is not None:
        stmt = stmt.where(Agent.org_id == org_id)
    agent_config.refresh(session, list(session.scalars(stmt)), now)


# ---- results ----------------------------------------------------------------------------------


def record_reports(
    ctx: Context, agent_id: int, asset_id: int, reports: Sequence[PostureReport]
) -> int:
    """Store what the agent found; findings and alerts follow the changes. Idempotent: a
    result not newer than the one stored (a batch sent again) changes nothing. Answers how
    many results changed status."""
    now = ctx.clock.now()
    changed = 0
    with ctx.db.transaction() as session:
        asset = session.get(Asset, asset_id)
        if asset is None:
            return 0
        policies = {f.policy.id: f.policy for f in in_force(session, asset.org_id)}
        for report in reports:
            policy = policies.get(report.policy)
            if policy is None:
                log.info("posture report for unknown policy %r ignored", report.policy)
                continue
            changed += _record(session, ctx, asset, policy, report, now)
    return changed


def _record(
    session: Session,
    ctx: Context,
    asset: Asset,
    policy: Policy,
    report: PostureReport,
    now: datetime,
) -> int:
    at = min(datetime.fromtimestamp(report.ts, UTC), now)
    stored = {
        row.check_key: row
        for row in session.scalars(
            select(PostureResultRow).where(
                PostureResultRow.asset_id == asset.id, PostureResultRow.policy_key == policy.id
            )
        )
    }
    wanted = {c.id: c for c in policy.checks_for(asset.kind)}
    changed = 0
    for result in report.results:
        check = wanted.get(result.check)
        if check is None:
            continue
        row = stored.get(check.id)
        if row is not None and row.seen_at >= at:
            continue  # this report, or an older one, again
        previous = row.status if row is not None else None
        if row is None:
            row = PostureResultRow(
                asset_id=asset.id, policy_key=policy.id, check_key=check.id, org_id=asset.org_id
            )
            session.add(row)
            stored[check.id] = row
        if previous != result.status:
            row.since = at
            changed += 1
        row.status, row.evidence, row.seen_at = result.status, list(result.evidence), at
        _follow(session, ctx, asset, policy, check, previous, result.status, row, at)
    # Checks the policy no longer has (or no longer for this kind): forget them.
    for key, row in stored.items():
        if key not in wanted:
            _follow(session, ctx, asset, policy, None, row.status, "na", row, at, key)
            session.delete(row)
    return changed


def _labels(asset: Asset, check_id: str) -> dict[str, str]:
    return {
        "org": str(asset.org_id),
        "kind": AlertKind.SECURITY.value,
        "asset": str(asset.id),
        "posture": check_id,
    }


def _follow(
    session: Session,
    ctx: Context,
    asset: Asset,
    policy: Policy,
    check: Check | None,
    previous: str | None,
    status: str,
    row: PostureResultRow,
    at: datetime,
    check_key: str = "",
) -> None:
    """The finding and the alert of one check after its new result."""
    key = check.id if check is not None else check_key
    rule = RULE_PREFIX + key
    if status == "error":
        return  # could not tell: what was known stands
    if status == "fail" and check is not None:
        findings.raise_or_refresh(
            session,
            asset.org_id,
            rule,
            findings.Raised(
                key=str(asset.id),
                severity=check.severity,
                title=check.title,
                detail=check.remediation,
                evidence={
                    "policy": policy.id,
                    "check": check.id,
                    "asset": asset.name,
                    "seen": list(row.evidence),
                    "seen_at": at.isoformat(),
                    "failing_since": row.since.isoformat(),
                    "cis": list(check.cis),
                    "rationale": check.rationale,
                },
                asset_id=asset.id,
            ),
            at,
        )
        if previous == "pass":
            severity = (
                Severity.CRITICAL if check.severity in ("high", "critical") else Severity.WARNING
            )
            summary = f"{asset.name}: posture check failed: {check.title}"
            alerts.raise_(
                session,
                ctx,
                asset.org_id,
                _labels(asset, key),
                severity,
                at,
                summary,
                asset_id=asset.id,
            )
        return
    finding = session.scalar(
        select(Finding).where(
            Finding.org_id == asset.org_id, Finding.rule == rule, Finding.key == str(asset.id)
        )
    )
    if finding is not None:
        findings.resolve(session, [finding], at)
    if previous == "fail":
        word = "passes" if status == "pass" else "no longer applies"
        title = check.title if check is not None else key
        alerts.clear(session, ctx, _labels(asset, key), at, f"{asset.name}: {title} {word}")


# ---- reading -------------------------------------------------------------------------------------


class CheckResultOut(BaseModel):
    policy_id: str
    check_id: str
    title: str
    severity: str
    status: str
    evidence: list[str]
    seen_at: datetime
    since: datetime
    rationale: str = ""
    remediation: str = ""
    cis: list[str] = []
    finding_id: int | None = None
    finding_status: str | None = None
    accepted_until: datetime | None = None


class AssetPostureOut(BaseModel):
    asset_id: int
    score: int | None = Field(description="passed / (passed + failed), percent; None: no results")
    passed: int
    failed: int
    not_applicable: int
    errors: int
    checked_at: datetime | None
    failed_checks: list[CheckResultOut]
    passed_checks: list[CheckResultOut]
    other_checks: list[CheckResultOut] = Field(description="not applicable, or not evaluated")


def score(passed: int, failed: int) -> int | None:
    return round(100 * passed / (passed + failed)) if passed + failed else None


_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def asset_posture(ctx: Context, actor: Actor, asset_id: int) -> AssetPostureOut:
    with ctx.db.read() as session:
        asset = get_in_scope(session, actor, Asset, asset_id)
        checks = {
            (f.policy.id, c.id): c for f in in_force(session, asset.org_id) for c in f.policy.checks
        }
        found = {
            f.rule: f
            for f in session.scalars(
                select(Finding).where(
                    Finding.asset_id == asset.id, Finding.rule.startswith(RULE_PREFIX)
                )
            )
        }
        rows = session.scalars(
            select(PostureResultRow).where(PostureResultRow.asset_id == asset.id)
        ).all()
        items = []
        for row in rows:
            check = checks.get((row.policy_key, row.check_key))
            finding = found.get(RULE_PREFIX + row.check_key)
            items.append(
                CheckResultOut(
                    policy_id=row.policy_key,
                    check_id=row.check_key,
                    title=check.title if check else row.check_key,
                    severity=check.severity if check else "medium",
                    status=row.status,
                    evidence=list(row.evidence or []),
                    seen_at=row.seen_at,
                    since=row.since,
                    rationale=check.rationale if check else "",
                    remediation=check.remediation if check else "",
                    cis=list(check.cis) if check else [],
                    finding_id=finding.id if finding and row.status == "fail" else None,
                    finding_status=finding.status if finding and row.status == "fail" else None,
                    accepted_until=finding.accepted_until if finding else None,
                )
            )
    items.sort(key=lambda i: (_ORDER.get(i.severity, 9), i.check_id))
    failed = [i for i in items if i.status == "fail"]
    passed = [i for i in items if i.status == "pass"]
    other = [i for i in items if i.status not in ("pass", "fail")]
    return AssetPostureOut(
        asset_id=asset_id,
        score=score(len(passed), len(failed)),
        passed=len(passed),
        failed=len(failed),
        not_applicable=sum(1 for i in other if i.status == "na"),
        errors=sum(1 for i in other if i.status == "error"),
        checked_at=max((i.seen_at for i in items), default=None),
        failed_checks=failed,
        passed_checks=passed,
        other_checks=other,
    )


class AssetScoreOut(BaseModel):
    asset_id: int
    name: str
    kind: str
    score: int | None
    passed: int
    failed: int
    not_applicable: int
    checked_at: datetime | None


class OrgPostureOut(BaseModel):
    org_id: int
    score: int | None = Field(description="over every assessed asset's passed and failed checks")
    assets: list[AssetScoreOut]


def org_posture(ctx: Context, actor: Actor, org_id: int) -> OrgPostureOut:
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id)
        counts: dict[int, dict[str, Any]] = {}
        for asset_id, status, seen_at in session.execute(
            select(
                PostureResultRow.asset_id, PostureResultRow.status, PostureResultRow.seen_at
            ).where(PostureResultRow.org_id == org_id)
        ):
            c = counts.setdefault(asset_id, {"pass": 0, "fail": 0, "na": 0, "at": seen_at})
            c[status] = c.get(status, 0) + 1
            c["at"] = max(c["at"], seen_at)
        names = {a.id: a for a in session.scalars(select(Asset).where(Asset.id.in_(list(counts))))}
    assets = [
        AssetScoreOut(
            asset_id=aid,
            name=names[aid].name,
            kind=names[aid].kind,
            score=score(c["pass"], c["fail"]),
            passed=c["pass"],
            failed=c["fail"],
            not_applicable=c["na"],
            checked_at=c["at"],
        )
        for aid, c in counts.items()
        if aid in names
    ]
    assets.sort(key=lambda a: (a.score if a.score is not None else 101, a.name))
    total_pass = sum(a.passed for a in assets)
    total_fail = sum(a.failed for a in assets)
    return OrgPostureOut(org_id=org_id, score=score(total_pass, total_fail), assets=assets)


def scores_of_org(ctx: Context, org_id: int) -> dict[int, int | None]:
    """asset id -> posture score, for lists that show a column (no scope: the caller checked)."""
    out: dict[int, list[int]] = {}
    with ctx.db.read() as session:
        for asset_id, status in session.execute(
            select(PostureResultRow.asset_id, PostureResultRow.status).where(
                PostureResultRow.org_id == org_id
            )
        ):
            c = out.setdefault(asset_id, [0, 0])
            if status == "pass":
                c[0] += 1
            elif status == "fail":
                c[1] += 1
    return {aid: score(p, f) for aid, (p, f) in out.items()}


def refresh(ctx: Context) -> None:
    """The hourly job: reopen expired acceptances, and bring every agent's configuration up
    to date with the policies in force (a new shipped pack after an upgrade)."""
    findings.reopen_expired(ctx)
    with ctx.db.transaction() as session:
        assets = list(session.scalars(select(Agent.asset_id)))
        agent_config.refresh(session, assets, ctx.clock.now())


def visible_findings(ctx: Context, actor: Actor, org_id: int) -> list[FindingOut]:
    """The organization's open and accepted posture findings (for the org page)."""
    with ctx.db.read() as session:
        rows = session.scalars(
            scoped(select(Finding), actor, Finding.org_id).where(
                Finding.org_id == org_id,
                Finding.rule.startswith(RULE_PREFIX),
                Finding.status != "resolved",
            )
        )
        return [FindingOut.model_validate(f) for f in rows]

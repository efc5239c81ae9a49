"""Health scores of an organization and its assets: read the facts, let domain.health decide.

One read transaction and five queries per answer (assets, agents, checks with their states,
alerts not resolved, open findings), whatever the number of assets: never one per asset.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from forewarn.domain import health
from forewarn.domain.health import AgentFact, AlertFact, AssetFacts, CheckFact, FindingFact
from forewarn.domain.inventory import Role
from forewarn.domain.observation import Status
from forewarn.services.context import Context
from forewarn.services.scope import Actor, get_in_scope, get_org_in_scope, scoped
from forewarn.store.models import Agent, AlertRow, Asset, Check, CheckStateRow, Finding

S = TypeVar("S", bound=Select[*tuple[Any, ...]])

DEFAULT_TOP = 5
MAX_TOP = 50
# Per asset in the organization's answer: its worst few; the asset's own answer has them all.
ASSET_ITEMS_IN_ORG = 3

# ---- shapes -----------------------------------------------------------------------------------


class Ref(BaseModel):
    """The evidence behind an item: a check, an alert, a finding, or an asset's agent."""

    kind: str
    id: int


class DeductionOut(BaseModel):
    category: health.Category
    level: health.Level
    points: float
    reason: str
    ref: Ref
    asset_id: int | None
    asset_name: str | None = None
    # In the organization's list: points of the organization's score it costs.
    impact: float | None = None


class AssetScoreOut(BaseModel):
    asset_id: int
    name: str
    criticality: int
    score: int
    band: str  # ok | warning | critical: the palette state
    label: str  # Good | Fair | Poor
    items: list[DeductionOut]


class OrgHealthOut(BaseModel):
    org_id: int
    score: int | None  # None: no assets to score
    band: str | None
    label: str | None
    weighted_mean: float | None
    pulled_by: int | None
    items: list[DeductionOut]
    org_wide: list[DeductionOut]
    assets: list[AssetScoreOut]  # worst first


# ---- reads ----------------------------------------------------------------------------------


@dataclass
class _Facts:
    assets: list[AssetFacts]
    org_alerts: list[AlertFact]
    org_findings: list[FindingFact]


def org_health(ctx: Context, actor: Actor, org_id: int, top: int = DEFAULT_TOP) -> OrgHealthOut:
    """The organization's score, its `top` costliest items and every asset's score."""
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id, Role.VIEWER)
        facts = _load(session, actor, org_id)
    now = ctx.clock.now()
    scored = [health.asset_health(f, now) for f in facts.assets]
    result = health.org_health(
        scored, facts.org_alerts, facts.org_findings, top=max(0, min(top, MAX_TOP))
    )
    names = {a.asset_id: a.name for a in scored}
    state, word = result.band or (None, None)
    return OrgHealthOut(
        org_id=org_id,
        score=result.score,
        band=state,
        label=word,
        weighted_mean=_one_place(result.weighted_mean),
        pulled_by=result.pulled_by,
        items=[_deduction(d, names, with_impact=True) for d in result.items],
        org_wide=[_deduction(d, names) for d in result.org_wide],
        assets=[_asset_out(a, ASSET_ITEMS_IN_ORG) for a in result.assets],
    )


def asset_health(ctx: Context, actor: Actor, asset_id: int) -> AssetScoreOut:
    """One asset's score with every item that lowers it, largest first."""
    with ctx.db.read() as session:
        asset = get_in_scope(session, actor, Asset, asset_id)
        facts = _load(session, actor, asset.org_id, [asset_id])
    return _asset_out(health.asset_health(facts.assets[0], ctx.clock.now()), None)


def asset_scores(
    ctx: Context, actor: Actor, org_id: int, asset_ids: Collection[int]
) -> dict[int, AssetScoreOut]:
    """Scores of some assets of one organization (a page of the asset list), by asset id;
    assets the actor may not see are absent."""
    if not asset_ids:
        return {}
    with ctx.db.read() as session:
        facts = _load(session, actor, org_id, sorted(set(asset_ids)))
    now = ctx.clock.now()
    return {f.asset_id: _asset_out(health.asset_health(f, now), 1) for f in facts.assets}


def _load(
    session: Session, actor: Actor, org_id: int, asset_ids: list[int] | None = None
) -> _Facts:
    """Everything the scores need, for the organization or only some of its assets."""

    def narrow(stmt: S, org_col: Any, asset_col: Any) -> S:
        stmt = scoped(stmt, actor, org_col).where(org_col == org_id)
        if asset_ids is not None:
            stmt = stmt.where(asset_col.in_(asset_ids))
        return stmt

    assets = session.execute(
        narrow(
            select(Asset.id, Asset.name, Asset.criticality).order_by(Asset.id),
            Asset.org_id,
            Asset.id,
        )
    ).all()
    agents = {
        r.asset_id: AgentFact(r.status, r.last_seen_at, r.interval)
        for r in session.execute(
            narrow(
                select(Agent.asset_id, Agent.status, Agent.last_seen_at, Agent.interval),
                Agent.org_id,
                Agent.asset_id,
            )
        )
    }
    checks: dict[int, list[CheckFact]] = {}
    for r in session.execute(
        narrow(
            select(
                Check.id,
                Check.asset_id,
                Check.name,
                Check.type,
                Check.interval_s,
                Check.enabled,
                Check.created_at,
                CheckStateRow.hard_status,
                CheckStateRow.last_at,
                CheckStateRow.unreachable,
                CheckStateRow.message,
            ).outerjoin(CheckStateRow, CheckStateRow.check_id == Check.id),
            Check.org_id,
            Check.asset_id,
        )
    ):
        checks.setdefault(r.asset_id, []).append(
            CheckFact(
                check_id=r.id,
                name=r.name,
                type=r.type,
                interval_s=r.interval_s,
                hard_status=_status(r.hard_status),
                last_at=r.last_at,
                created_at=r.created_at,
                enabled=r.enabled,
                unreachable=bool(r.unreachable),
                message=r.message or "",
            )
        )
    alerts: dict[int | None, list[AlertFact]] = {}
    for a in session.execute(
        narrow(
            select(
                AlertRow.id,
                AlertRow.asset_id,
                AlertRow.labels,
                AlertRow.severity,
                AlertRow.summary,
                AlertRow.check_id,
            ).where(AlertRow.state != "resolved"),
            AlertRow.org_id,
            AlertRow.asset_id,
        )
    ):
        kind = str((a.labels or {}).get("kind", "check"))
        alerts.setdefault(a.asset_id, []).append(
            AlertFact(a.id, kind, a.severity, a.summary, a.check_id)
        )
    findings: dict[int | None, list[FindingFact]] = {}
    for f in session.execute(
        narrow(
            select(
                Finding.id,
                Finding.asset_id,
                Finding.rule,
                Finding.title,
                Finding.severity,
                Finding.status,
            ).where(Finding.status == "open"),
            Finding.org_id,
            Finding.asset_id,
        )
    ):
        findings.setdefault(f.asset_id, []).append(
            FindingFact(f.id, f.rule, f.title, f.severity, f.status)
        )
    return _Facts(
        assets=[
            AssetFacts(
                asset_id=a.id,
                name=a.name,
                criticality=a.criticality,
                agent=agents.get(a.id),
                checks=checks.get(a.id, []),
                alerts=alerts.get(a.id, []),
                findings=findings.get(a.id, []),
            )
            for a in assets
        ],
        # What belongs to no asset counts for the organization (not when asking about assets).
        org_alerts=alerts.get(None, []),
        org_findings=findings.get(None, []),
    )


# ---- shaping --------------------------------------------------------------------------------


def _status(value: int | None) -> Status:
    # A check that has never run has no state row yet: nothing is known to be wrong.
    try:
        return Status(value if value is not None else 0)
    except ValueError:
        return Status.UNKNOWN


def _one_place(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _deduction(
    d: health.Deduction, names: dict[int, str], *, with_impact: bool = False
) -> DeductionOut:
    return DeductionOut(
        category=d.category,
        level=d.level,
        points=round(d.points, 1),
        reason=d.reason,
        ref=Ref(kind=d.ref[0], id=d.ref[1]),
        asset_id=d.asset_id,
        asset_name=names.get(d.asset_id) if d.asset_id is not None else None,
        impact=round(d.impact, 1) if with_impact else None,
    )


def _asset_out(a: health.AssetHealth, limit: int | None) -> AssetScoreOut:
    state, word = a.band
    names = {a.asset_id: a.name}
    items = a.items if limit is None else a.items[:limit]
    return AssetScoreOut(
        asset_id=a.asset_id,
        name=a.name,
        criticality=a.criticality,
        score=a.score,
        band=state,
        label=word,
        items=[_deduction(d, names) for d in items],
    )

"""Health scores: how well an asset and an organization are doing, 0-100, and why.

Pure: the facts come in as plain values and the time as an argument; docs/health.md explains
the formula with examples. In short:

- An asset starts at 100. Each thing wrong with it is a `Deduction` with points and a reason,
  in one of four categories: problems (hard check states, security and external alerts),
  predictive warnings (forecasts), findings (open, not accepted) and stale data (an agent
  offline, checks with no result for several intervals).
- Each category's sum is capped, so one noisy category cannot drive the score to 0 by
  itself; the cap is higher when the category holds something critical, because a truly
  critical state should be able to. Score = 100 - the sum of the capped categories, floored
  at 0. A capped category's items share its cap in proportion to their points, so the items'
  points always add up to what was taken off.
- An organization's score is the criticality-weighted mean of its assets' scores, pulled
  down towards its worst asset by a share that grows with that asset's criticality (so one
  very bad critical server is not hidden behind many healthy laptops), minus a capped
  deduction for what belongs to no asset (an unknown device on the network).

Every step is monotone: a fact added never raises a score. The asset's criticality does not
change its own score (the same facts read the same on a laptop and a server); it weighs in
where assets are compared and combined: the organization's score and its list of items.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from forewarn.domain.observation import Status

# ---- the weights (docs/health.md shows them with examples) --------------------------------


class Category(StrEnum):
    PROBLEM = "problem"
    PREDICTIVE = "predictive"
    FINDING = "finding"
    STALE = "stale"


class Level(StrEnum):
    """How bad one item is, in the dashboard's palette words."""

    CRITICAL = "critical"
    WARNING = "warning"
    UNKNOWN = "unknown"


# Points per item, by category and how bad it is.
PROBLEM_POINTS = {Level.CRITICAL: 40.0, Level.WARNING: 10.0, Level.UNKNOWN: 5.0}
PREDICTIVE_POINTS = {Level.CRITICAL: 15.0, Level.WARNING: 8.0}
FINDING_POINTS = {"critical": 30.0, "high": 15.0, "medium": 6.0, "low": 2.0, "info": 0.0}
AGENT_OFFLINE_POINTS = 20.0
STALE_CHECK_POINTS = 5.0
# A check whose failure is blamed on its parent (unreachable) says little about this asset.
UNREACHABLE_POINTS = 3.0

# (cap, cap when the category holds a critical item) per category.
CAPS: dict[Category, tuple[float, float]] = {
    Category.PROBLEM: (40.0, 80.0),
    Category.PREDICTIVE: (20.0, 30.0),
    Category.FINDING: (30.0, 50.0),
    Category.STALE: (25.0, 25.0),
}
# What belongs to the organization but to none of its assets.
ORG_WIDE_CAPS = (15.0, 30.0)

# A check is stale when it has had no result for this many intervals plus the grace.
STALE_INTERVALS = 3
STALE_GRACE = timedelta(minutes=2)

# The organization's score is pulled towards an asset by criticality / 10 of the distance.
PULL_PER_CRITICALITY = 0.1

# Bands for the dashboard: (lowest score, palette state, word).
BANDS = ((90, "ok", "Good"), (65, "warning", "Fair"), (0, "critical", "Poor"))

_FINDING_LEVEL = {"critical": Level.CRITICAL, "high": Level.CRITICAL, "medium": Level.WARNING}
_ALERT_LEVEL = {"critical": Level.CRITICAL, "warning": Level.WARNING}
_LEVEL_RANK = {Level.CRITICAL: 2, Level.WARNING: 1, Level.UNKNOWN: 0}


# ---- the facts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckFact:
    check_id: int
    name: str
    type: str
    interval_s: int
    hard_status: Status
    last_at: datetime | None
    created_at: datetime
    enabled: bool = True
    unreachable: bool = False
    message: str = ""


@dataclass(frozen=True)
class AlertFact:
    """An alert that is not resolved. `kind` is its kind label (check, predictive, ...)."""

    alert_id: int
    kind: str
    severity: str
    summary: str
    check_id: int | None = None


@dataclass(frozen=True)
class FindingFact:
    finding_id: int
    rule: str
    title: str
    severity: str
    status: str = "open"


@dataclass(frozen=True)
class AgentFact:
    status: str  # online | offline
    last_seen_at: datetime | None
    interval_s: int = 60


@dataclass(frozen=True)
class AssetFacts:
    asset_id: int
    name: str
    criticality: int = 3
    agent: AgentFact | None = None
    checks: Sequence[CheckFact] = ()
    alerts: Sequence[AlertFact] = ()
    findings: Sequence[FindingFact] = ()


# ---- the answers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Deduction:
    """One thing that lowers a score: `points` is what it takes off (after its category's
    cap); `raw` what it would alone. `ref` names its evidence: ("check", id), ("alert", id),
    ("finding", id) or ("agent", asset id)."""

    category: Category
    level: Level
    points: float
    raw: float
    reason: str
    ref: tuple[str, int]
    asset_id: int | None = None
    # The organization's list: how many points of the organization's score it costs.
    impact: float = 0.0


@dataclass(frozen=True)
class AssetHealth:
    asset_id: int
    name: str
    criticality: int
    score: int
    exact: float  # unrounded, for aggregation
    items: tuple[Deduction, ...] = ()

    @property
    def band(self) -> tuple[str, str]:
        return band(self.score)


@dataclass(frozen=True)
class OrgHealth:
    """`score` is None for an organization without assets: there is nothing to score."""

    score: int | None
    exact: float | None
    assets: tuple[AssetHealth, ...] = ()
    items: tuple[Deduction, ...] = ()
    weighted_mean: float | None = None
    pulled_by: int | None = None  # the asset whose pull set the score, if one did
    org_wide: tuple[Deduction, ...] = field(default_factory=tuple)

    @property
    def band(self) -> tuple[str, str] | None:
        return None if self.score is None else band(self.score)


def band(score: float) -> tuple[str, str]:
    """(palette state, word) for a score."""
    for lowest, state, word in BANDS:
        if score >= lowest:
            return state, word
    return BANDS[-1][1], BANDS[-1][2]


# ---- an asset ----------------------------------------------------------------------------


def asset_health(facts: AssetFacts, now: datetime) -> AssetHealth:
    """The asset's score and its deductions, largest first."""
    raw = [
        *_problems(facts),
        *_predictive(facts),
        *_findings(facts.findings, facts.asset_id),
        *_stale(facts, now),
    ]
    items = _capped(raw, CAPS)
    exact = max(0.0, 100.0 - sum(d.points for d in items))
    return AssetHealth(
        asset_id=facts.asset_id,
        name=facts.name,
        criticality=_criticality(facts.criticality),
        score=_round(exact),
        exact=exact,
        items=tuple(sorted(items, key=_order)),
    )


def _is_forecast(check: CheckFact) -> bool:
    return check.type == "forecast"


def _problems(facts: AssetFacts) -> list[Deduction]:
    out = []
    for c in facts.checks:
        if not c.enabled or c.hard_status is Status.OK or _is_forecast(c):
            continue
        if c.unreachable:
            out.append(
                _item(
                    Category.PROBLEM,
                    Level.UNKNOWN,
                    UNREACHABLE_POINTS,
                    f"{c.name}: unreachable (its parent check is down)",
                    ("check", c.check_id),
                    facts.asset_id,
                )
            )
            continue
        level = _status_level(c.hard_status)
        word = c.hard_status.label
        text = f"{c.name} is {word}" + (f": {c.message}" if c.message else "")
        out.append(
            _item(
                Category.PROBLEM,
                level,
                PROBLEM_POINTS[level],
                text,
                ("check", c.check_id),
                facts.asset_id,
            )
        )
    out.extend(_alert_problems(facts.alerts, facts.asset_id))
    return out


def _alert_problems(alerts: Iterable[AlertFact], asset_id: int | None) -> list[Deduction]:
    """Alerts that are not about a check (security, external): a check's own alert mirrors
    its state, which is counted already; predictive ones have their own category."""
    out = []
    for a in alerts:
        level = _ALERT_LEVEL.get(a.severity)
        if a.kind in ("check", "predictive") or level is None:
            continue
        out.append(
            _item(
                Category.PROBLEM,
                level,
                PROBLEM_POINTS[level],
                f"{a.kind} alert: {a.summary}",
                ("alert", a.alert_id),
                asset_id,
            )
        )
    return out


def _predictive(facts: AssetFacts) -> list[Deduction]:
    """Forecast checks in a problem state, and predictive alerts not already counted so."""
    out = []
    counted: set[int] = set()
    for c in facts.checks:
        if not c.enabled or c.hard_status is Status.OK or not _is_forecast(c):
            continue
        level = Level.CRITICAL if c.hard_status is Status.CRITICAL else Level.WARNING
        counted.add(c.check_id)
        text = f"forecast: {c.message or c.name}"
        out.append(
            _item(
                Category.PREDICTIVE,
                level,
                PREDICTIVE_POINTS[level],
                text,
                ("check", c.check_id),
                facts.asset_id,
            )
        )
    for a in facts.alerts:
        told = _ALERT_LEVEL.get(a.severity)
        if a.kind != "predictive" or told is None or a.check_id in counted:
            continue
        if a.check_id is not None:
            counted.add(a.check_id)
        out.append(
            _item(
                Category.PREDICTIVE,
                told,
                PREDICTIVE_POINTS[told],
                f"forecast: {a.summary}",
                ("alert", a.alert_id),
                facts.asset_id,
            )
        )
    return out


def _findings(findings: Iterable[FindingFact], asset_id: int | None) -> list[Deduction]:
    """Open findings; accepted ones are a decision someone made, resolved ones are over."""
    out = []
    for f in findings:
        points = FINDING_POINTS.get(f.severity, 0.0)
        if f.status != "open" or points <= 0:
            continue
        out.append(
            _item(
                Category.FINDING,
                _FINDING_LEVEL.get(f.severity, Level.UNKNOWN),
                points,
                f"{f.severity} finding: {f.title}",
                ("finding", f.finding_id),
                asset_id,
            )
        )
    return out


def _stale(facts: AssetFacts, now: datetime) -> list[Deduction]:
    out = []
    agent = facts.agent
    if agent is not None and agent.status == "offline":
        since = f" since {agent.last_seen_at:%Y-%m-%d %H:%M} UTC" if agent.last_seen_at else ""
        out.append(
            _item(
                Category.STALE,
                Level.UNKNOWN,
                AGENT_OFFLINE_POINTS,
                f"agent offline: no check-in{since}",
                ("agent", facts.asset_id),
                facts.asset_id,
            )
        )
    for c in facts.checks:
        if c.enabled and is_stale(c, now):
            last = f"since {c.last_at:%Y-%m-%d %H:%M} UTC" if c.last_at else "ever"
            out.append(
                _item(
                    Category.STALE,
                    Level.UNKNOWN,
                    STALE_CHECK_POINTS,
                    f"{c.name}: no result {last}",
                    ("check", c.check_id),
                    facts.asset_id,
                )
            )
    return out


def is_stale(check: CheckFact, now: datetime) -> bool:
    """No result for STALE_INTERVALS intervals (plus a grace for a busy poller); a check that
    never reported counts from its creation."""
    last = check.last_at or check.created_at
    return now - last > timedelta(seconds=check.interval_s * STALE_INTERVALS) + STALE_GRACE


# ---- an organization -----------------------------------------------------------------------


def org_health(
    assets: Sequence[AssetHealth],
    org_alerts: Sequence[AlertFact] = (),
    org_findings: Sequence[FindingFact] = (),
    top: int = 5,
) -> OrgHealth:
    """Combine asset scores (see the module's docstring) and list the `top` items that cost
    the organization's score the most."""
    org_wide = _cap_group(
        [*_alert_problems(org_alerts, None), *_findings(org_findings, None)], ORG_WIDE_CAPS
    )
    if not assets:
        return OrgHealth(None, None, org_wide=tuple(sorted(org_wide, key=_order)))
    weights = {a.asset_id: float(a.criticality) for a in assets}
    total = sum(weights.values())
    mean = sum(weights[a.asset_id] * a.exact for a in assets) / total
    pulled = mean
    worst: AssetHealth | None = None
    for a in assets:
        candidate = mean - pull(a.criticality) * (mean - a.exact)
        if candidate < pulled:
            pulled, worst = candidate, a
    wide = sum(d.points for d in org_wide)
    exact = max(0.0, pulled - wide)

    # An item's impact: its points times how much its asset's score moves the organization's
    # (the derivative of the formula above): the weighted mean's share, plus the pull's share
    # for the asset that pulls.
    share_of_mean = 1.0 - (pull(worst.criticality) if worst else 0.0)
    items = [replace(d, impact=d.points) for d in org_wide]
    for a in assets:
        factor = share_of_mean * weights[a.asset_id] / total
        if worst is not None and a.asset_id == worst.asset_id:
            factor += pull(a.criticality)
        items.extend(replace(d, impact=d.points * factor) for d in a.items)
    items.sort(key=lambda d: (-d.impact, *_order(d)))
    return OrgHealth(
        score=_round(exact),
        exact=exact,
        assets=tuple(sorted(assets, key=lambda a: (a.exact, -a.criticality, a.name))),
        items=tuple(items[: max(0, top)]),
        weighted_mean=mean,
        pulled_by=worst.asset_id if worst else None,
        org_wide=tuple(sorted(org_wide, key=_order)),
    )


def pull(criticality: int) -> float:
    """How far (0-1) an asset of this criticality pulls the organization towards itself."""
    return PULL_PER_CRITICALITY * _criticality(criticality)


# ---- helpers -------------------------------------------------------------------------------


def _item(
    category: Category,
    level: Level,
    points: float,
    reason: str,
    ref: tuple[str, int],
    asset_id: int | None,
) -> Deduction:
    return Deduction(category, level, points, points, reason[:300], ref, asset_id)


def _capped(items: list[Deduction], caps: dict[Category, tuple[float, float]]) -> list[Deduction]:
    """Apply each category's cap to its items."""
    groups: dict[Category, list[Deduction]] = {}
    for d in items:
        groups.setdefault(d.category, []).append(d)
    return [d for c, group in groups.items() for d in _cap_group(group, caps[c])]


def _cap_group(group: list[Deduction], caps: tuple[float, float]) -> list[Deduction]:
    """Cap a group's sum (the higher cap when it holds a critical item); its items share the
    cap in proportion to their points, so their points add up to what the group takes off."""
    normal, critical = caps
    cap = critical if any(d.level is Level.CRITICAL for d in group) else normal
    total = sum(d.raw for d in group)
    scale = min(1.0, cap / total) if total > 0 else 1.0
    return [replace(d, points=d.raw * scale) for d in group]


def _order(d: Deduction) -> tuple[float, int, str, str, int]:
    """Largest first; then the worse; then by words, so equal items keep a stable order."""
    return (-d.points, -_LEVEL_RANK[d.level], d.category.value, d.reason, d.ref[1])


def _status_level(status: Status) -> Level:
    if status is Status.CRITICAL:
        return Level.CRITICAL
    if status is Status.WARNING:
        return Level.WARNING
    return Level.UNKNOWN


def _criticality(value: int) -> int:
    return min(5, max(1, value))


def _round(value: float) -> int:
    # Half up rather than Python's half-to-even: 99.5 reads as 100 and 0.5 as 1, always.
    return int(min(100.0, max(0.0, value)) + 0.5)

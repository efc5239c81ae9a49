"""The risk register: scenarios a small business faces, each with a likelihood from the
evidence, an impact from the assets it touches and what an outage costs, the NIST SP 800-30
risk level, and an annual loss exposure in money (reference/assessment.md, docs/risk.md).

Likelihood of a scenario, as a semi-quantitative score 0-100:

    score = threat * (1 - reduction * protection) + pressure      (clamped to 0..100)

- threat: how likely the scenario is for a small business with none of the safeguards;
- protection: the weighted mean of the scores (0..1) of the safeguards that guard against it,
  an unknown score counting as 0 (not protective) and reported as uncertain;
- reduction: the most those safeguards together can take off;
- pressure: points added by what the platform saw (known exploited vulnerabilities, machines
  past their end of life, recurring problems, accounts of people who left, ...).

Impact is the higher of the affected assets' criticality (1..5 -> very low..very high) and
the most likely outage's cost against the organization's yearly revenue (or, when unknown,
a year of everyone's work). The level is Table I-2 of SP 800-30 Rev. 1.

Money (Open FAIR): loss event frequency (events per year: the scenario's rate at a score of
100, times score / 100, within a factor of two either way) times loss magnitude (the downtime
cost of the scenario's shortest, typical and longest outage), sampled in money.annual_loss_
exposure. The threats, rates and outage hours are this model's assumptions (docs/risk.md),
not measurements; the context figures carry their source and date and are never presented as
the organization's own numbers.

Pure and deterministic: scores, assets, cost inputs, counts and `today` come in as arguments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from forewarn.assess.facts import END_USER_KINDS, SERVER_KINDS, AssetFacts, CostInputs
from forewarn.assess.money import (
    DRAWS,
    SEED,
    DowntimeCost,
    Estimate,
    LossRange,
    annual_loss_exposure,
    annual_reference,
    check_cost,
    downtime_cost,
)


class Level(StrEnum):
    VERY_LOW = "very low"
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    VERY_HIGH = "very high"

    @property
    def rank(self) -> int:
        return LEVELS.index(self)


LEVELS = (Level.VERY_LOW, Level.LOW, Level.MODERATE, Level.HIGH, Level.VERY_HIGH)
VL, L, M, H, VH = LEVELS

# NIST SP 800-30 Rev. 1, Table I-2: TABLE_I2[likelihood][impact] -> risk level.
TABLE_I2: Mapping[Level, Mapping[Level, Level]] = {
    VH: {VL: VL, L: L, M: M, H: H, VH: VH},
    H: {VL: VL, L: L, M: M, H: H, VH: VH},
    M: {VL: VL, L: L, M: M, H: M, VH: H},
    L: {VL: VL, L: L, M: L, H: L, VH: M},
    VL: {VL: VL, L: VL, M: VL, H: L, VH: L},
}

# The semi-quantitative scale (SP 800-30 Rev. 1, Appendix G/H/I): level -> (lowest, highest).
SCALE: Mapping[Level, tuple[int, int]] = {
    VH: (96, 100),
    H: (80, 95),
    M: (21, 79),
    L: (5, 20),
    VL: (0, 4),
}


def risk_level(likelihood: Level, impact: Level) -> Level:
    return TABLE_I2[likelihood][impact]


def level_of(score: float) -> Level:
    """The level of a 0-100 score; a score between two bins (95.5) takes the lower one."""
    if not (math.isfinite(score) and 0 <= score <= 100):
        raise ValueError(f"a semi-quantitative score is between 0 and 100, got {score}")
    for level in reversed(LEVELS):
        if score >= SCALE[level][0]:
            return level
    return VL  # pragma: no cover - 0 is the lowest bin's floor


def score_range(level: Level) -> tuple[int, int]:
    return SCALE[level]


# Criticality 1..5 (AssetFacts.criticality) as an impact level.
CRITICALITY_IMPACT = {1: VL, 2: L, 3: M, 4: H, 5: VH}
# The most likely outage's cost as a share of the annual reference -> impact (at least).
MONEY_IMPACT = ((0.10, VH), (0.02, H), (0.005, M), (0.001, L))

# Typical life per asset kind, in years (our defaults, docs/risk.md); kinds not named have none.
TYPICAL_LIFE_YEARS: Mapping[str, int] = {
    "laptop": 4,
    "workstation": 5,
    "server": 6,
    "nas": 5,
    "network_device": 7,
    "printer": 5,
    "ups": 5,
    "other": 5,
}
OS_KINDS = END_USER_KINDS | SERVER_KINDS


def life_end(asset: AssetFacts) -> date | None:
    """When the asset reaches its kind's typical life; None when its purchase is unknown."""
    years = TYPICAL_LIFE_YEARS.get(asset.kind)
    if asset.purchase_date is None or years is None:
        return None
    start = asset.purchase_date
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February
        return start.replace(year=start.year + years, day=28)


@dataclass(frozen=True)
class Context:
    """A public figure shown beside a risk for context, with its source and date."""

    text: str
    source: str
    date: str

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "source": self.source, "date": self.date}


RANSOMWARE_SHARE = Context(
    "Ransomware was involved in 88 % of breaches at small and mid-sized businesses",
    "Verizon Data Breach Investigations Report",
    "2025",
)
RANSOMWARE_DOWNTIME = Context(
    "Average downtime after a ransomware attack was about 23 days",
    "Coveware quarterly ransomware report",
    "Q2 2021",
)
HOURLY_COST_DEFAULT = Context(
    "Default loaded hourly cost 45.65 USD: US private industry employer costs",
    "US Bureau of Labor Statistics, Employer Costs for Employee Compensation",
    "June 2025",
)
RANSOMWARE_DAYS = 23.0  # Coveware, Q2 2021: the longest outage the ransomware scenario prices


@dataclass(frozen=True)
class RiskCounts:
    """Counts the services gather for the register. None: not known (never read as zero)."""

    recurring_problems: int = 0  # checks and machines failing again and again (domain.recurring)
    open_critical_findings: int = 0
    kev_vulnerabilities: int | None = None  # None: the CISA KEV look-up did not answer
    leaver_accounts: int | None = None  # enabled accounts of people who left; None: unknown


@dataclass(frozen=True)
class Evidence:
    """One line explaining a risk: what was seen, on which safeguards and assets."""

    text: str
    safeguards: tuple[str, ...] = ()
    assets: tuple[int, ...] = ()
    uncertain: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "safeguards": list(self.safeguards),
            "assets": list(self.assets),
            "uncertain": self.uncertain,
        }


@dataclass(frozen=True)
class Inputs:
    scores: Mapping[str, float | None]
    assets: Sequence[AssetFacts]
    cost: CostInputs
    today: date
    counts: RiskCounts


Pressure = Callable[[Inputs, Sequence[AssetFacts]], tuple[float, list[Evidence]]]


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    description: str
    threat: float  # likelihood score 0..100 with none of the safeguards, before pressure
    reduction: float  # the share of the threat the safeguards together can take off
    factors: tuple[tuple[str, float], ...]  # (safeguard id, weight)
    rate: float  # loss events per year at a score of 100 (per affected asset if per_asset)
    hours: tuple[float, float, float]  # business hours of outage: shortest, typical, longest
    it_hours: tuple[float, float, float]  # IT recovery work for each
    # which assets: all | servers | laptops | unsupported | unbacked, or business: the whole
    # business, judged by money alone (no asset's criticality says how bad it is)
    affects: str
    per_asset: bool = False
    context: tuple[Context, ...] = ()
    longest_days: float | None = None  # the longest outage in calendar days, from a source

    @property
    def safeguards(self) -> frozenset[str]:
        return frozenset(s for s, _ in self.factors)


# --- pressures: what the platform saw that makes a scenario likelier ----------------------------


def _ids(assets: Sequence[AssetFacts]) -> tuple[int, ...]:
    return tuple(a.id for a in assets)


def _names(assets: Sequence[AssetFacts], limit: int = 5) -> str:
    names = [a.name for a in assets[:limit]]
    more = len(assets) - limit
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def _kev(points: float, cap: float) -> Pressure:
    def pressure(inp: Inputs, _: Sequence[AssetFacts]) -> tuple[float, list[Evidence]]:
        kev = inp.counts.kev_vulnerabilities
        if kev is None:
            return 0.0, [
                Evidence("Known exploited (CISA KEV) vulnerabilities: not known", (), (), True)
            ]
        if not kev:
            return 0.0, [Evidence("No known exploited (CISA KEV) vulnerability found")]
        return min(cap, kev * points), [
            Evidence(f"{kev} known exploited (CISA KEV) vulnerabilities open", ("7.4",))
        ]

    return pressure


def _critical_findings(points: float, cap: float) -> Pressure:
    def pressure(inp: Inputs, _: Sequence[AssetFacts]) -> tuple[float, list[Evidence]]:
        n = inp.counts.open_critical_findings
        if not n:
            return 0.0, []
        return min(cap, n * points), [Evidence(f"{n} critical findings open")]

    return pressure


def _past_eol(points: float, cap: float) -> Pressure:
    def pressure(inp: Inputs, _: Sequence[AssetFacts]) -> tuple[float, list[Evidence]]:
        old = [a for a in inp.assets if a.os_eol is not None and a.os_eol <= inp.today]
        if not old:
            return 0.0, []
        text = f"{len(old)} machines past their OS end of life: {_names(old)}"
        return min(cap, len(old) * points), [Evidence(text, ("2.2",), _ids(old))]

    return pressure


def _servers(inp: Inputs, affected: Sequence[AssetFacts]) -> tuple[float, list[Evidence]]:
    points, lines = 0.0, []
    aged = [a for a in affected if (end := life_end(a)) is not None and end <= inp.today]
    unknown_age = [a for a in affected if a.purchase_date is None]
    warranty = [a for a in affected if a.warranty_end is not None and a.warranty_end <= inp.today]
    unwatched = [a for a in affected if not a.has_agent and not a.checks]
    filling = [a for a in affected if a.disk_full_days is not None and a.disk_full_days <= 30]
    for group, each, text, uncertain in (
        (aged, 6, "past the typical life of their kind", False),
        (warranty, 4, "out of warranty", False),
        (unwatched, 3, "watched by no check or agent: a failure is seen late", False),
        (filling, 8, "with a disk forecast to fill within 30 days", False),
        (unknown_age, 0, "of unknown age (no purchase date)", True),
    ):
        if group:
            points += each * len(group)
            lines.append(
                Evidence(f"{len(group)} {text}: {_names(group)}", (), _ids(group), uncertain)
            )
    recurring = inp.counts.recurring_problems
    if recurring:
        points += min(16, 4 * recurring)
        lines.append(Evidence(f"{recurring} recurring problems (failing again and again)"))
    return min(40.0, points), lines


def _unbacked(inp: Inputs, affected: Sequence[AssetFacts]) -> tuple[float, list[Evidence]]:
    failing = [a for a in affected if a.backup_ok is False]
    unwatched = [a for a in affected if a.backup_ok is None]
    lines = []
    if failing:
        text = f"{len(failing)} machines whose backup check is failing: {_names(failing)}"
        lines.append(Evidence(text, ("11.2",), _ids(failing)))
    if unwatched:
        text = f"{len(unwatched)} machines no backup check watches: {_names(unwatched)}"
        lines.append(Evidence(text, ("11.2",), _ids(unwatched), True))
    return 10.0 * len(failing) + 5.0 * len(unwatched), lines


def _unsupported(inp: Inputs, affected: Sequence[AssetFacts]) -> tuple[float, list[Evidence]]:
    old = [a for a in affected if a.os_eol is not None and a.os_eol <= inp.today]
    if old:
        text = f"{len(old)} machines past their OS end of life: {_names(old)}"
        return min(25.0, 5.0 * len(old)), [Evidence(text, ("2.2",), _ids(old))]
    text = f"OS end of life unknown for {len(affected)} machines: {_names(affected)}"
    return 0.0, [Evidence(text, ("2.2",), _ids(affected), True)]


def _leavers(inp: Inputs, _: Sequence[AssetFacts]) -> tuple[float, list[Evidence]]:
    n = inp.counts.leaver_accounts
    if n is None:
        return 0.0, [Evidence("Accounts of people who left: not known", ("6.2",), (), True)]
    if not n:
        return 0.0, [Evidence("No enabled account of a person who left", ("6.2",))]
    return min(45.0, 15.0 * n), [Evidence(f"{n} enabled accounts of people who left", ("6.2",))]


def _combine(*parts: Pressure) -> Pressure:
    def pressure(inp: Inputs, affected: Sequence[AssetFacts]) -> tuple[float, list[Evidence]]:
        total, lines = 0.0, []
        for part in parts:
            points, more = part(inp, affected)
            total += points
            lines += more
        return total, lines

    return pressure


def _none(inp: Inputs, affected: Sequence[AssetFacts]) -> tuple[float, list[Evidence]]:
    return 0.0, []


# --- the scenarios ----------------------------------------------------------------------------

TRAINING = (("14.1", 1.0), ("14.2", 1.0), ("14.3", 0.5))

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "ransomware",
        "Ransomware encrypts the business's machines",
        "Malware, usually let in by a phishing mail, a stolen password or an unpatched system, "
        "encrypts files and servers and asks for a ransom.",
        threat=85,
        reduction=0.8,
        factors=(
            ("7.3", 2.0),
            ("7.4", 1.0),
            ("10.1", 2.0),
            ("10.2", 1.0),
            ("11.2", 2.0),
            ("11.4", 2.0),
            ("6.3", 1.0),
            ("6.4", 1.0),
            ("6.5", 1.0),
            ("5.4", 1.0),
            ("9.2", 0.5),
            *TRAINING,
        ),
        rate=0.3,
        hours=(16.0, 40.0, 131.0),  # longest: longest_days in business hours (at 2,080 a year)
        it_hours=(16.0, 40.0, 120.0),
        affects="all",
        context=(RANSOMWARE_SHARE, RANSOMWARE_DOWNTIME),
        longest_days=RANSOMWARE_DAYS,
    ),
    Scenario(
        "server_failure",
        "A critical server or NAS fails",
        "Hardware or a disk fails, or a disk fills; what runs on it stops until it is "
        "repaired or restored elsewhere.",
        threat=55,
        reduction=0.5,
        factors=(("11.2", 2.0), ("11.1", 1.0), ("1.1", 1.0), ("11.4", 1.0)),
        rate=0.15,
        hours=(2.0, 8.0, 24.0),
        it_hours=(3.0, 8.0, 24.0),
        affects="servers",
        per_asset=True,
    ),
    Scenario(
        "data_loss",
        "Data is lost with no working backup",
        "A deletion, a failed disk or malware destroys data that no working, tested backup "
        "holds; it must be re-created by hand, or is gone.",
        threat=60,
        reduction=0.85,
        factors=(("11.2", 3.0), ("11.4", 2.0), ("11.1", 1.0), ("11.3", 1.0)),
        rate=0.2,
        hours=(4.0, 16.0, 40.0),
        it_hours=(8.0, 24.0, 80.0),
        affects="unbacked",
    ),
    Scenario(
        "account_takeover",
        "An account is taken over",
        "A phished or reused password gives someone else a mailbox, a cloud application or "
        "remote access: fraud, data theft and a way in for ransomware.",
        threat=80,
        reduction=0.8,
        factors=(
            ("6.3", 3.0),
            ("6.4", 2.0),
            ("6.5", 2.0),
            ("5.2", 2.0),
            ("5.3", 1.0),
            ("9.2", 0.5),
            ("8.2", 0.5),
            *TRAINING,
        ),
        rate=0.5,
        hours=(1.0, 4.0, 16.0),
        it_hours=(2.0, 6.0, 16.0),
        affects="all",
    ),
    Scenario(
        "unsupported_systems",
        "An unsupported (end-of-life) system is exploited",
        "A machine whose operating system or firmware no longer gets security fixes is "
        "broken into through a flaw that will never be patched.",
        threat=65,
        reduction=0.5,
        factors=(
            ("2.2", 3.0),
            ("7.3", 1.0),
            ("7.4", 1.0),
            ("12.1", 1.0),
            ("4.4", 1.0),
            ("4.5", 1.0),
        ),
        rate=0.2,
        hours=(4.0, 16.0, 40.0),
        it_hours=(4.0, 12.0, 32.0),
        affects="unsupported",
    ),
    Scenario(
        "exploited_vulnerability",
        "A known vulnerability is exploited",
        "An attacker uses a published flaw in software the business runs before it is patched.",
        threat=55,
        reduction=0.7,
        factors=(
            ("7.3", 2.0),
            ("7.4", 2.0),
            ("7.1", 1.0),
            ("7.2", 1.0),
            ("4.4", 1.0),
            ("4.5", 1.0),
            ("4.6", 1.0),
            ("9.1", 1.0),
        ),
        rate=0.3,
        hours=(4.0, 16.0, 40.0),
        it_hours=(4.0, 12.0, 32.0),
        affects="all",
    ),
    Scenario(
        "internet_outage",
        "A long internet or cloud outage",
        "The internet line or a cloud service the business depends on is down for hours; "
        "safeguards shorten it only a little (a plan, known contacts, a second way to work).",
        threat=60,
        reduction=0.3,
        factors=(("11.1", 1.0), ("15.1", 1.0), ("17.1", 1.0), ("17.2", 1.0), ("17.3", 1.0)),
        rate=1.0,
        hours=(2.0, 6.0, 24.0),
        it_hours=(1.0, 2.0, 6.0),
        affects="business",
    ),
    Scenario(
        "leaver_access",
        "A person who left keeps access",
        "An account of a former employee or contractor stays enabled and is used, by them or "
        "by whoever gets its password.",
        threat=40,
        reduction=0.8,
        factors=(("6.2", 3.0), ("6.1", 1.0), ("5.3", 2.0), ("5.1", 1.0), ("3.3", 1.0)),
        rate=0.2,
        hours=(0.0, 2.0, 8.0),
        it_hours=(4.0, 12.0, 40.0),
        affects="business",
    ),
    Scenario(
        "lost_laptop",
        "A laptop is lost or stolen",
        "A laptop goes missing with the business's data on it: one person's work stops, and "
        "an unencrypted disk is a data breach.",
        threat=50,
        reduction=0.7,
        factors=(("3.6", 3.0), ("4.3", 1.0), ("11.2", 1.0), ("1.1", 1.0)),
        rate=0.1,
        hours=(4.0, 8.0, 24.0),
        it_hours=(2.0, 4.0, 8.0),
        affects="laptops",
        per_asset=True,
    ),
)

PRESSURES: Mapping[str, Pressure] = {
    "ransomware": _combine(_kev(5, 15), _critical_findings(2, 10), _past_eol(3, 10)),
    "server_failure": _servers,
    "data_loss": _unbacked,
    "account_takeover": _none,
    "unsupported_systems": _unsupported,
    "exploited_vulnerability": _combine(_kev(8, 30), _critical_findings(3, 15)),
    "internet_outage": _none,
    "leaver_access": _leavers,
    "lost_laptop": _none,
}


# --- the register -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Risk:
    scenario: str
    title: str
    description: str
    likelihood_score: float
    likelihood: Level
    impact: Level
    level: Level
    frequency: Estimate  # loss events per year
    magnitude: Estimate  # money per loss event
    exposure: LossRange  # annual loss exposure
    outage: DowntimeCost  # the typical outage, priced in parts
    assets: tuple[tuple[int, str], ...]
    evidence: tuple[Evidence, ...]
    reducers: tuple[str, ...]  # safeguards that would lower it, most effect first
    uncertain: bool
    context: tuple[Context, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "title": self.title,
            "description": self.description,
            "likelihood": {"score": round(self.likelihood_score, 1), "level": str(self.likelihood)},
            "impact": str(self.impact),
            "level": str(self.level),
            "frequency_per_year": self.frequency.to_json(),
            "magnitude": self.magnitude.to_json(money=True),
            "annual_loss_exposure": self.exposure.to_json(),
            "typical_outage": self.outage.to_json(),
            "assets": [{"id": i, "name": n} for i, n in self.assets],
            "evidence": [e.to_json() for e in self.evidence],
            "reducers": list(self.reducers),
            "uncertain": self.uncertain,
            "context": [c.to_json() for c in self.context],
        }


@dataclass(frozen=True)
class Register:
    risks: tuple[Risk, ...]
    skipped: tuple[tuple[str, str], ...]  # (scenario, why it does not apply)
    currency: str
    defaults: tuple[str, ...]  # cost inputs that are defaults, not the organization's own
    missing: tuple[str, ...]  # cost inputs nobody gave and that have no default
    context: tuple[Context, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "risks": [r.to_json() for r in self.risks],
            "skipped": [{"scenario": s, "reason": why} for s, why in self.skipped],
            "currency": self.currency,
            "defaults": list(self.defaults),
            "missing": list(self.missing),
            "context": [c.to_json() for c in self.context],
        }


def _check(scores: Mapping[str, float | None], assets: Sequence[AssetFacts]) -> None:
    problems = [
        f"score of {sid} must be between 0 and 1 or unknown, got {value}"
        for sid, value in sorted(scores.items())
        if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0)
    ]
    problems += [
        f"asset {a.id} ({a.name}): criticality must be 1 to 5, got {a.criticality}"
        for a in assets
        if a.criticality not in CRITICALITY_IMPACT
    ]
    if problems:
        raise ValueError("; ".join(problems))


def _affected(scenario: Scenario, inp: Inputs) -> tuple[list[AssetFacts], str]:
    """The assets a scenario touches, or none and why it does not apply."""
    assets = inp.assets
    if scenario.affects == "all":
        return list(assets), ""
    if scenario.affects == "business":
        return [], ""
    if scenario.affects == "servers":
        chosen = [a for a in assets if a.kind in SERVER_KINDS]
        return chosen, "" if chosen else "no server or NAS in the inventory"
    if scenario.affects == "laptops":
        chosen = [a for a in assets if a.kind == "laptop"]
        return chosen, "" if chosen else "no laptop in the inventory"
    if scenario.affects == "unbacked":
        important = [a for a in assets if a.kind in SERVER_KINDS or a.criticality >= 4]
        chosen = [a for a in important if a.backup_ok is not True]
        if not important:
            return [], "no server, NAS or critical machine in the inventory"
        return chosen, "" if chosen else "every server and critical machine has a working backup"
    if scenario.affects == "unsupported":
        old = [a for a in assets if a.os_eol is not None and a.os_eol <= inp.today]
        unknown = [a for a in assets if a.kind in OS_KINDS and a.os_eol is None]
        if old:
            return old, ""
        return unknown, "" if unknown else "no machine is past its OS end of life"
    raise ValueError(f"unknown scope {scenario.affects!r}")  # pragma: no cover


def _protection(scenario: Scenario, inp: Inputs) -> tuple[float, list[Evidence], list[str]]:
    """Weighted protection 0..1, a line per safeguard, and the safeguards that would help."""
    total = sum(w for _, w in scenario.factors)
    earned, lines, gaps = 0.0, [], []
    for sid, weight in scenario.factors:
        score = inp.scores.get(sid)
        if score is None:
            lines.append(Evidence(f"{sid}: unknown, counted as not protective", (sid,), (), True))
            gaps.append((weight, sid))
            continue
        earned += weight * score
        lines.append(Evidence(f"{sid}: {round(score * 100)} %", (sid,)))
        if score < 1.0:
            gaps.append((weight * (1.0 - score), sid))
    reducers = [sid for _, sid in sorted(gaps, key=lambda g: (-g[0], _sid_key(g[1])))]
    return earned / total, lines, reducers


def _sid_key(sid: str) -> tuple[int, ...]:
    return tuple(int(p) for p in sid.split("."))


def _impact(
    scenario: Scenario, inp: Inputs, affected: Sequence[AssetFacts], typical: float
) -> tuple[Level, list[Evidence]]:
    lines = []
    level = VL
    if affected:
        top = max(affected, key=lambda a: (a.criticality, -a.id))
        level = CRITICALITY_IMPACT[top.criticality]
        lines.append(
            Evidence(
                f"Most critical asset affected: {top.name} (criticality {top.criticality})",
                (),
                (top.id,),
            )
        )
    elif scenario.affects == "business":
        lines.append(Evidence("Impact judged by what an outage costs the business"))
    else:
        lines.append(Evidence("No asset in the inventory to judge the impact by", (), (), True))
    reference = annual_reference(inp.cost)
    share = typical / reference if reference > 0 else 0.0
    by_money = next((lv for threshold, lv in MONEY_IMPACT if share >= threshold), VL)
    if by_money.rank > level.rank:
        level = by_money
    yardstick = "a year's revenue" if inp.cost.annual_revenue else "a year of everyone's work"
    lines.append(Evidence(f"A typical outage costs {share:.1%} of {yardstick}"))
    return level, lines


def _scope(scenario: Scenario, inp: Inputs, affected: Sequence[AssetFacts]) -> float:
    if scenario.affects in ("all", "business"):
        return 1.0
    if scenario.affects == "laptops":
        return 1.0 / max(1, inp.cost.people)
    crit = [a.criticality for a in affected]
    if scenario.per_asset:  # each event hits one of them: the typical machine
        return sum(crit) / (5.0 * len(crit))
    # One event can reach any of them, so the most critical one sets the outage's reach. (A
    # mean would shrink when a machine turns critical enough to join the affected set.)
    return max(crit) / 5.0


def _hours(scenario: Scenario, cost: CostInputs) -> tuple[float, float, float]:
    low, typical, high = scenario.hours
    if scenario.longest_days is not None:  # calendar days, in this organization's business hours
        high = max(typical, scenario.longest_days * cost.business_hours_per_year / 365.0)
    return low, typical, high


def assess(
    scenario: Scenario, inp: Inputs, *, draws: int = DRAWS, seed: int | str = SEED
) -> Risk | str:
    """One scenario's risk, or the reason it does not apply to this organization."""
    affected, why_not = _affected(scenario, inp)
    if why_not:
        return why_not
    protection, lines, reducers = _protection(scenario, inp)
    points, seen = PRESSURES[scenario.id](inp, affected)
    raw = scenario.threat * (1.0 - scenario.reduction * protection) + points
    score = min(100.0, max(0.0, raw))
    likelihood = level_of(score)

    scope = _scope(scenario, inp, affected)
    hours = _hours(scenario, inp.cost)
    outages = [
        downtime_cost(inp.cost, h, it_hours=it, scope=scope)
        for h, it in zip(hours, scenario.it_hours, strict=True)
    ]
    magnitude = Estimate(*(o.total for o in outages))
    impact, weighed = _impact(scenario, inp, affected, magnitude.likely)

    per_year = scenario.rate * score / 100.0 * (len(affected) if scenario.per_asset else 1)
    frequency = Estimate(per_year / 2, per_year, per_year * 2)
    exposure = annual_loss_exposure(frequency, magnitude, draws=draws, seed=f"{seed}:{scenario.id}")
    evidence = tuple(seen + lines + weighed)
    return Risk(
        scenario=scenario.id,
        title=scenario.title,
        description=scenario.description,
        likelihood_score=score,
        likelihood=likelihood,
        impact=impact,
        level=risk_level(likelihood, impact),
        frequency=frequency,
        magnitude=magnitude,
        exposure=exposure,
        outage=outages[1],
        assets=tuple((a.id, a.name) for a in sorted(affected, key=lambda a: a.id)),
        evidence=evidence,
        reducers=tuple(reducers),
        uncertain=any(e.uncertain for e in evidence),
        context=scenario.context,
    )


def sort_key(risk: Risk) -> tuple[int, float, str]:
    """Highest level first, then the most money (p50), then the scenario id."""
    return (-risk.level.rank, -risk.exposure.p50, risk.scenario)


def register(
    scores: Mapping[str, float | None],
    assets: Sequence[AssetFacts],
    cost: CostInputs,
    today: date,
    counts: RiskCounts = RiskCounts(),
    *,
    scenarios: Sequence[Scenario] = SCENARIOS,
    draws: int = DRAWS,
    seed: int | str = SEED,
) -> Register:
    """The risk register of one organization at `today`, sorted by level then money."""
    check_cost(cost)
    _check(scores, assets)
    inp = Inputs(scores, tuple(sorted(assets, key=lambda a: a.id)), cost, today, counts)
    risks, skipped = [], []
    for scenario in scenarios:
        result = assess(scenario, inp, draws=draws, seed=seed)
        if isinstance(result, str):
            skipped.append((scenario.id, result))
        else:
            risks.append(result)
    context = (HOURLY_COST_DEFAULT,) if "hourly_cost" in cost.defaults else ()
    return Register(
        risks=tuple(sorted(risks, key=sort_key)),
        skipped=tuple(skipped),
        currency=cost.currency,
        defaults=tuple(sorted(cost.defaults)),
        missing=("annual_revenue",) if cost.annual_revenue is None else (),
        context=context,
    )

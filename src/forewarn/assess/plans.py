"""Plans from an assessment: what to fix first, what to replace when, and checklists for new
technology (docs/risk.md).

- `remediation`: one action per group of related safeguards that are failing or unknown. Its
  expected risk reduction is derived, not guessed: the register recomputed with the action's
  safeguards at 1.0, the difference in annual loss exposure (p50) summed over the scenarios it
  touches. Effort comes from a small table of hours per safeguard family. Actions are ranked by
  reduction per effort hour (quick wins first) and worked through in that order at a given
  number of hours a month; each lands in the 30, 60 or 90-day group in which work on it starts
  (or "later" past 90 days).
- `technology_plan`: which assets to replace or upgrade in which month of the next 36, from
  purchase dates (a typical life per kind), warranty ends, OS end-of-life dates and disk
  forecasts, with a budget per month and per year from a replacement-cost table (defaults,
  marked as such, unless the organization gave its own).
- `parse_checklists` / `load_checklists`: onboarding checklists (a new SaaS application, a new
  laptop, a new hire, a leaver) as templates whose steps the reviewer turns into tickets;
  shipped in forewarn/data/assessment/checklists.yml.

Pure but for `load_checklists`, which reads the shipped file; no database, no clock.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from forewarn.assess import catalog
from forewarn.assess.facts import AssetFacts, CostInputs
from forewarn.assess.money import DRAWS, SEED, whole
from forewarn.assess.risk import (
    SCENARIOS,
    TYPICAL_LIFE_YEARS,
    Level,
    Register,
    RiskCounts,
    life_end,
    register,
)

# ---------------------------------------------------------------------------------------------
# Remediation

# Hours of work to meet one safeguard of each family (CIS control), for a business of 25-50
# people: our estimate, shown as such. A partly met safeguard takes its share of the hours.
EFFORT_HOURS: Mapping[str, float] = {
    "1": 3,
    "2": 3,
    "3": 3,
    "4": 2,
    "5": 2,
    "6": 3,
    "7": 3,
    "8": 2,
    "9": 2,
    "10": 2,
    "11": 4,
    "12": 4,
    "14": 1.5,
    "15": 2,
    "17": 1.5,
}
DEFAULT_EFFORT_HOURS = 3.0
MIN_SHARE = 0.25  # a nearly met safeguard still takes a quarter of its hours to finish
DEFAULT_HOURS_PER_MONTH = 16.0  # IT hours a month given to the plan, unless the caller says
PERIODS = ("30", "60", "90", "later")


@dataclass(frozen=True)
class ActionTemplate:
    key: str
    title: str
    safeguards: tuple[str, ...]


ACTIONS: tuple[ActionTemplate, ...] = (
    ActionTemplate(
        "mfa",
        "Turn on multi-factor authentication for mail, remote access and administrators",
        ("6.3", "6.4", "6.5"),
    ),
    ActionTemplate(
        "access",
        "Grant and remove access by a written process; disable leavers and dormant accounts",
        ("6.1", "6.2", "5.3"),
    ),
    ActionTemplate(
        "accounts",
        "Keep a list of accounts, unique passwords and separate admin accounts",
        ("5.1", "5.2", "5.4"),
    ),
    ActionTemplate(
        "backups", "Back up every important machine automatically and watch the backups", ("11.2",)
    ),
    ActionTemplate(
        "backup-copies",
        "Protect the backups and keep an isolated (offline or immutable) copy",
        ("11.3", "11.4"),
    ),
    ActionTemplate("recovery", "Write down how to restore, and test it", ("11.1",)),
    ActionTemplate("os-patching", "Turn on automatic operating system updates", ("7.3",)),
    ActionTemplate(
        "app-patching", "Update applications automatically; fix vulnerable packages", ("7.4",)
    ),
    ActionTemplate(
        "vulnerability-routine",
        "Set a monthly routine for vulnerabilities and their fixes",
        ("7.1", "7.2"),
    ),
    ActionTemplate(
        "anti-malware",
        "Run anti-malware everywhere with automatic updates, and no autorun",
        ("10.1", "10.2", "10.3"),
    ),
    ActionTemplate(
        "training",
        "Security awareness training for everyone",
        ("14.1", "14.2", "14.3", "14.4", "14.5", "14.6", "14.7", "14.8"),
    ),
    ActionTemplate(
        "firewalls", "Turn on host firewalls on servers and end-user devices", ("4.4", "4.5")
    ),
    ActionTemplate(
        "hardening",
        "Secure configuration: a written standard, network gear, admin interfaces, default "
        "accounts, screen lock",
        ("4.1", "4.2", "4.3", "4.6", "4.7"),
    ),
    ActionTemplate("encryption", "Encrypt the disks of laptops and workstations", ("3.6",)),
    ActionTemplate(
        "data",
        "Know the business's data: a process, an inventory, access lists, retention, disposal",
        ("3.1", "3.2", "3.3", "3.4", "3.5"),
    ),
    ActionTemplate(
        "inventory",
        "Complete the device and software inventory; deal with unknown devices and software",
        ("1.1", "1.2", "2.1", "2.3"),
    ),
    ActionTemplate(
        "supported",
        "Replace or upgrade unsupported software and network firmware",
        ("2.2", "12.1"),
    ),
    ActionTemplate("logging", "Collect audit logs and keep enough of them", ("8.1", "8.2", "8.3")),
    ActionTemplate(
        "browsing", "Supported browsers and mail clients, and DNS filtering", ("9.1", "9.2")
    ),
    ActionTemplate(
        "incidents",
        "Name who handles incidents, with contacts and a way to report them",
        ("17.1", "17.2", "17.3"),
    ),
    ActionTemplate("providers", "Keep a list of the business's service providers", ("15.1",)),
)


def effort_hours(sid: str, score: float | None) -> float:
    """Hours to bring one safeguard from `score` to met (unknown: all of its hours)."""
    hours = EFFORT_HOURS.get(sid.split(".")[0], DEFAULT_EFFORT_HOURS)
    share = 1.0 if score is None else max(MIN_SHARE, 1.0 - score)
    return hours * share


@dataclass(frozen=True)
class LevelChange:
    scenario: str
    before: Level
    after: Level


@dataclass(frozen=True)
class Action:
    key: str
    title: str
    safeguards: tuple[str, ...]  # the ones not yet met, in catalog order
    scores: tuple[float | None, ...]  # their scores now, in the same order
    effort_hours: float
    reduction: float  # annual loss exposure (p50) taken off, summed over its scenarios
    scenarios: tuple[str, ...]  # the scenarios it lowers
    level_changes: tuple[LevelChange, ...]
    period: str  # "30", "60", "90" or "later"
    uncertain: bool  # some of its safeguards are unknown

    @property
    def value_per_hour(self) -> float:
        return self.reduction / self.effort_hours if self.effort_hours else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "safeguards": list(self.safeguards),
            "scores": list(self.scores),
            "effort_hours": self.effort_hours,
            "reduction": whole(self.reduction),
            "value_per_hour": whole(self.value_per_hour),
            "scenarios": list(self.scenarios),
            "level_changes": [
                {"scenario": c.scenario, "before": str(c.before), "after": str(c.after)}
                for c in self.level_changes
            ],
            "period": self.period,
            "uncertain": self.uncertain,
        }


@dataclass(frozen=True)
class RemediationPlan:
    actions: tuple[Action, ...]  # in the order to do them
    hours_per_month: float
    currency: str
    defaults: tuple[str, ...]  # "hours_per_month" when the caller gave none

    def period(self, name: str) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.period == name)

    def to_json(self) -> dict[str, Any]:
        return {
            "actions": [a.to_json() for a in self.actions],
            "periods": {p: [a.key for a in self.period(p)] for p in PERIODS},
            "hours_per_month": self.hours_per_month,
            "currency": self.currency,
            "defaults": list(self.defaults),
        }


def _sid_key(sid: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in sid.split("."))


def _groups(scores: Mapping[str, float | None]) -> list[tuple[ActionTemplate, tuple[str, ...]]]:
    """Each action template with its safeguards not yet met; safeguards no template names
    get an action of their own."""
    known = {sid for t in ACTIONS for sid in t.safeguards} | {
        sid for sc in SCENARIOS for sid in sc.safeguards
    }
    open_ids = {sid for sid, s in scores.items() if s is None or s < 1.0}
    open_ids |= {sid for sid in known if sid not in scores}  # not scored: unknown, not a pass
    grouped: list[tuple[ActionTemplate, tuple[str, ...]]] = []
    named: set[str] = set()
    for template in ACTIONS:
        named.update(template.safeguards)
        todo = tuple(s for s in template.safeguards if s in open_ids)
        if todo:
            grouped.append((template, todo))
    for sid in sorted(open_ids - named, key=_sid_key):
        grouped.append(
            (ActionTemplate(f"safeguard-{sid}", f"Meet safeguard {sid}", (sid,)), (sid,))
        )
    return grouped


def remediation(
    reg: Register,
    scores: Mapping[str, float | None],
    assets: Sequence[AssetFacts],
    cost: CostInputs,
    today: date,
    counts: RiskCounts = RiskCounts(),
    *,
    hours_per_month: float | None = None,
    draws: int = DRAWS,
    seed: int | str = SEED,
) -> RemediationPlan:
    """The 30/60/90-day plan for the register `reg` (computed from the same inputs, draws
    and seed: its figures are the baseline each action's reduction is measured from)."""
    defaults: tuple[str, ...] = ()
    if hours_per_month is None:
        hours_per_month, defaults = DEFAULT_HOURS_PER_MONTH, ("hours_per_month",)
    if not (math.isfinite(hours_per_month) and hours_per_month > 0):
        raise ValueError(f"hours_per_month must be more than 0, got {hours_per_month}")
    stale = [
        r.scenario
        for r in reg.risks
        if r.exposure.draws != draws or r.exposure.seed != f"{seed}:{r.scenario}"
    ]
    if stale:
        raise ValueError(f"the register was computed with other draws or seed: {stale[0]}")
    baseline = {r.scenario: r for r in reg.risks}
    drafts = []
    for template, todo in _groups(scores):
        touched = [s for s in SCENARIOS if s.id in baseline and s.safeguards & set(todo)]
        reduction, lowered, changes = 0.0, [], []
        if touched:
            better = dict(scores) | {sid: 1.0 for sid in todo}
            after = register(
                better, assets, cost, today, counts, scenarios=touched, draws=draws, seed=seed
            )
            for risk in after.risks:
                was = baseline[risk.scenario]
                gain = max(0.0, was.exposure.p50 - risk.exposure.p50)
                if gain > 0 or risk.likelihood_score < was.likelihood_score:
                    lowered.append(risk.scenario)
                reduction += gain
                if risk.level != was.level:
                    changes.append(LevelChange(risk.scenario, was.level, risk.level))
        effort = sum(effort_hours(sid, scores.get(sid)) for sid in todo)
        drafts.append(
            Action(
                key=template.key,
                title=template.title,
                safeguards=todo,
                scores=tuple(scores.get(sid) for sid in todo),
                effort_hours=math.ceil(effort * 2) / 2,  # to the half hour
                reduction=reduction,
                scenarios=tuple(sorted(lowered)),
                level_changes=tuple(sorted(changes, key=lambda c: c.scenario)),
                period="",
                uncertain=any(scores.get(sid) is None for sid in todo),
            )
        )
    drafts.sort(key=lambda a: (-a.value_per_hour, a.effort_hours, a.key))
    actions, done = [], 0.0
    for action in drafts:
        month = int(done // hours_per_month)  # the month in which work on it starts
        period = PERIODS[min(month, 3)]
        actions.append(replace(action, period=period))
        done += action.effort_hours
    return RemediationPlan(tuple(actions), hours_per_month, cost.currency, defaults)


# ---------------------------------------------------------------------------------------------
# Technology plan

HORIZON_MONTHS = 36
MAX_MONTHS = 48  # the shortest typical life: no asset needs two replacements within it
# What a replacement costs, per kind, in the organization's currency: our defaults for small
# business hardware (docs/risk.md), used only where the organization gave no figure.
REPLACEMENT_COST: Mapping[str, float] = {
    "laptop": 1_400,
    "workstation": 1_200,
    "server": 7_000,
    "nas": 2_500,
    "network_device": 900,
    "printer": 600,
    "ups": 500,
    "other": 600,
}
STORAGE_UPGRADE_COST: Mapping[str, float] = {"server": 800, "nas": 600}
DEFAULT_STORAGE_UPGRADE_COST = 200.0
OS_UPGRADE_HOURS: Mapping[str, float] = {"server": 8, "nas": 4}  # x the IT rate
DEFAULT_OS_UPGRADE_HOURS = 3.0
# Replace rather than upgrade a machine this close to the end of its typical life.
REPLACE_INSTEAD_WITHIN = timedelta(days=365)
LEAD = timedelta(days=30)  # upgrade an OS or storage this long before the end or a full disk
CRITICAL = 4  # criticality from which a warranty's end brings a replacement forward


@dataclass(frozen=True)
class TechLine:
    asset_id: int
    asset_name: str
    kind: str
    action: str  # replace | upgrade_os | upgrade_storage
    month: date  # the first day of the month
    reason: str
    cost: int  # whole currency units
    cost_default: bool
    overdue: bool = False  # it was due before this month

    def to_json(self) -> dict[str, Any]:
        return {
            "asset_id": self.asset_id,
            "asset_name": self.asset_name,
            "kind": self.kind,
            "action": self.action,
            "month": self.month.strftime("%Y-%m"),
            "reason": self.reason,
            "cost": self.cost,
            "cost_default": self.cost_default,
            "overdue": self.overdue,
        }


@dataclass(frozen=True)
class TechPlan:
    start: date  # first day of the first month
    lines: tuple[TechLine, ...]  # by month, then asset
    months: tuple[tuple[date, int], ...]  # every month of the horizon with its budget
    years: tuple[tuple[int, int], ...]  # calendar year -> budget
    unknown: tuple[tuple[int, str, str], ...]  # (asset id, name, why it cannot be planned)
    currency: str
    defaults: tuple[
        str, ...
    ]  # table entries used that are defaults, e.g. "replacement_cost.laptop"

    @property
    def total(self) -> int:
        return sum(line.cost for line in self.lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "lines": [line.to_json() for line in self.lines],
            "months": [{"month": m.strftime("%Y-%m"), "total": t} for m, t in self.months],
            "years": [{"year": y, "total": t} for y, t in self.years],
            "total": self.total,
            "unknown": [{"asset_id": i, "name": n, "reason": r} for i, n, r in self.unknown],
            "currency": self.currency,
            "defaults": list(self.defaults),
        }


def _month(day: date) -> date:
    return day.replace(day=1)


def _add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _months_between(start: date, month: date) -> int:
    return (month.year - start.year) * 12 + month.month - start.month


def _plan_asset(
    asset: AssetFacts,
    today: date,
    cost: CostInputs,
    replacement: Mapping[str, float],
    used: set[str],
) -> tuple[list[tuple[str, date, str, float, bool]], str]:
    """(action, due date, reason, cost, cost is a default) for one asset, or why not."""
    items: list[tuple[str, date, str, float, bool]] = []
    end = life_end(asset)
    if end is None:
        return [], "no purchase date: its replacement cannot be planned"
    used.add(f"typical_life.{asset.kind}")
    years = TYPICAL_LIFE_YEARS[asset.kind]
    due, reason = end, f"reaches the typical life of a {asset.kind} ({years} years)"
    warranty = asset.warranty_end
    if (
        end > today
        and asset.criticality >= CRITICAL
        and warranty is not None
        and warranty < due
        and due - warranty <= REPLACE_INSTEAD_WITHIN
    ):
        due = warranty
        reason = (
            f"critical, and its warranty ends {warranty.isoformat()}, within a year of its life"
        )
    if asset.os_eol is not None and asset.os_eol < due:
        if due - asset.os_eol <= REPLACE_INSTEAD_WITHIN:
            due = asset.os_eol
            reason = f"its OS support ends {asset.os_eol.isoformat()}, near the end of its life"
        else:
            hours = OS_UPGRADE_HOURS.get(asset.kind, DEFAULT_OS_UPGRADE_HOURS)
            when = asset.os_eol - LEAD
            text = f"its OS ({asset.os_name or 'unknown'}) support ends {asset.os_eol.isoformat()}"
            items.append(
                ("upgrade_os", when, text, hours * cost.it_rate, "it_rate" in cost.defaults)
            )
    if asset.disk_full_days is not None:
        full = today + timedelta(days=max(0.0, asset.disk_full_days))
        when = full - LEAD
        if due - when <= REPLACE_INSTEAD_WITHIN / 2:
            if when < due:
                due, reason = when, f"a disk is forecast full by {full.isoformat()}, near its life"
        else:
            price = STORAGE_UPGRADE_COST.get(asset.kind, DEFAULT_STORAGE_UPGRADE_COST)
            used.add(f"storage_upgrade_cost.{asset.kind}")
            items.append(
                (
                    "upgrade_storage",
                    when,
                    f"a disk is forecast full by {full.isoformat()}",
                    price,
                    True,
                )
            )
    is_default = asset.kind not in replacement
    price = replacement[asset.kind] if not is_default else REPLACEMENT_COST[asset.kind]
    if is_default:
        used.add(f"replacement_cost.{asset.kind}")
    items.append(("replace", due, reason, price, is_default))
    return items, ""


def technology_plan(
    assets: Sequence[AssetFacts],
    cost: CostInputs,
    today: date,
    *,
    replacement_costs: Mapping[str, float] | None = None,
    months: int = HORIZON_MONTHS,
) -> TechPlan:
    """What to replace or upgrade in which month of the next `months`, and what it costs."""
    if not 1 <= months <= MAX_MONTHS:
        raise ValueError(f"months must be between 1 and {MAX_MONTHS}, got {months}")
    replacement = dict(replacement_costs or {})
    bad = sorted(k for k, v in replacement.items() if not (math.isfinite(v) and v >= 0))
    if bad:
        raise ValueError(f"replacement costs must be 0 or more: {', '.join(bad)}")
    start = _month(today)
    used: set[str] = set()
    lines, unknown = [], []
    for asset in sorted(assets, key=lambda a: a.id):
        if asset.kind not in TYPICAL_LIFE_YEARS:
            continue  # websites and cloud services are not bought and replaced
        items, why_not = _plan_asset(asset, today, cost, replacement, used)
        if why_not:
            unknown.append((asset.id, asset.name, why_not))
        for action, due, reason, price, is_default in items:
            offset = _months_between(start, _month(due))
            if offset >= months:
                continue
            lines.append(
                TechLine(
                    asset_id=asset.id,
                    asset_name=asset.name,
                    kind=asset.kind,
                    action=action,
                    month=_add_months(start, max(0, offset)),
                    reason=reason,
                    cost=whole(price),
                    cost_default=is_default,
                    overdue=offset < 0,
                )
            )
    order = {"replace": 0, "upgrade_os": 1, "upgrade_storage": 2}
    lines.sort(key=lambda line: (line.month, line.asset_id, order[line.action]))
    per_month = {_add_months(start, i): 0 for i in range(months)}
    for line in lines:
        per_month[line.month] += line.cost
    per_year: dict[int, int] = {}
    for month, total in per_month.items():
        per_year[month.year] = per_year.get(month.year, 0) + total
    if any(line.action == "upgrade_os" and line.cost_default for line in lines):
        used.add("it_rate")
    return TechPlan(
        start=start,
        lines=tuple(lines),
        months=tuple(per_month.items()),
        years=tuple(sorted(per_year.items())),
        unknown=tuple(unknown),
        currency=cost.currency,
        defaults=tuple(sorted(used)),
    )


# ---------------------------------------------------------------------------------------------
# Onboarding checklists

CHECKLISTS_FILE = "assessment/checklists.yml"
MAX_BYTES = 256 * 1024
MAX_CHECKLISTS = 50
MAX_STEPS = 60
CHECKLIST_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
TITLE_MAX = 200  # a ticket's title
DETAIL_MAX = 4_000
REQUIRED = ("new-saas", "new-laptop", "new-hire", "leaver")
MAX_PARAMETERS = 10
PARAMETER_ID = re.compile(r"^[a-z][a-z0-9_]{0,29}$")
PARAMETER_KINDS = ("text", "date", "asset")  # free text; YYYY-MM-DD; an asset of the org
TICKET_PREFIX = "Onboard: "


class ChecklistError(ValueError):
    """A checklist file refused, with every problem named (where it is and what is wrong)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class Step:
    title: str
    detail: str
    safeguards: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "detail": self.detail, "safeguards": list(self.safeguards)}


@dataclass(frozen=True)
class Parameter:
    """What a person fills in to start a checklist: the new hire's name, the laptop."""

    id: str
    label: str
    kind: str = "text"  # one of PARAMETER_KINDS
    required: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "kind": self.kind, "required": self.required}


@dataclass(frozen=True)
class Checklist:
    id: str
    title: str
    description: str
    steps: tuple[Step, ...]
    parameters: tuple[Parameter, ...] = ()
    # The started ticket's title after "Onboard: ", with {parameter} placeholders; "" means
    # the first parameter's value (or the checklist's title when it has none).
    name: str = ""
    # A client's own staff (viewers of the organization) may start it, not only technicians.
    clients: bool = False

    def ticket_title(self, values: Mapping[str, str]) -> str:
        """'Onboard: Jane Doe' from the filled parameters (as text); a missing optional one
        is left empty."""
        if self.name:
            named = self.name.format_map({p.id: values.get(p.id, "") for p in self.parameters})
        elif self.parameters:
            named = values.get(self.parameters[0].id, "")
        else:
            named = self.title
        return (TICKET_PREFIX + " ".join(named.split()))[:TITLE_MAX]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "steps": [s.to_json() for s in self.steps],
            "parameters": [p.to_json() for p in self.parameters],
            "name": self.name,
            "clients": self.clients,
        }


def _text(value: Any, where: str, limit: int, problems: list[str], *, required: bool) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        problems.append(f"{where}: must be {'non-empty ' if required else ''}text")
        return ""
    if len(value) > limit:
        problems.append(f"{where}: longer than {limit} characters")
    return value.strip()


def _keys(item: Any, where: str, allowed: set[str], problems: list[str]) -> dict[str, Any]:
    if not isinstance(item, dict):
        problems.append(f"{where}: must be a mapping")
        return {}
    for key in sorted(set(map(str, item)) - allowed):
        problems.append(f"{where}: unknown key {key!r}")
    return item


def _step(raw: Any, where: str, problems: list[str]) -> Step:
    item = _keys(raw, where, {"title", "detail", "safeguards"}, problems)
    title = _text(item.get("title"), f"{where}.title", TITLE_MAX, problems, required=True)
    detail = _text(item.get("detail"), f"{where}.detail", DETAIL_MAX, problems, required=False)
    ids = item.get("safeguards", [])
    safeguards: list[str] = []
    if not isinstance(ids, list):
        problems.append(f"{where}.safeguards: must be a list of safeguard ids")
    else:
        for sid in ids:
            text = str(sid)
            if not isinstance(sid, str) or catalog.load().get(text) is None:
                problems.append(f"{where}.safeguards: {text!r} is not a CIS v8 IG1 safeguard id")
            else:
                safeguards.append(text)
    return Step(title, detail, tuple(safeguards))


def _parameter(raw: Any, where: str, problems: list[str]) -> Parameter:
    item = _keys(raw, where, {"id", "label", "kind", "required"}, problems)
    pid = item.get("id")
    if not isinstance(pid, str) or not PARAMETER_ID.match(pid):
        problems.append(f"{where}.id: must be lower-case letters, digits and underscores")
        pid = ""
    label = _text(item.get("label"), f"{where}.label", TITLE_MAX, problems, required=True)
    kind = item.get("kind", "text")
    if kind not in PARAMETER_KINDS:
        problems.append(f"{where}.kind: {kind!r} is not one of {', '.join(PARAMETER_KINDS)}")
        kind = "text"
    required = item.get("required", True)
    if not isinstance(required, bool):
        problems.append(f"{where}.required: must be true or false")
        required = True
    return Parameter(pid, label, str(kind), required)


def _parameters(raw: Any, where: str, problems: list[str]) -> tuple[Parameter, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(f"{where}.parameters: must be a list")
        return ()
    if len(raw) > MAX_PARAMETERS:
        problems.append(f"{where}.parameters: more than {MAX_PARAMETERS}")
    found = tuple(
        _parameter(p, f"{where}.parameters[{j}]", problems)
        for j, p in enumerate(raw[:MAX_PARAMETERS])
    )
    ids = [p.id for p in found if p.id]
    for pid in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"{where}.parameters: {pid!r} is used twice")
    return found


def _name(raw: Any, where: str, params: tuple[Parameter, ...], problems: list[str]) -> str:
    """The ticket's name: text with {parameter} placeholders, each a declared parameter."""
    name = _text(raw, f"{where}.name", TITLE_MAX, problems, required=False)
    known = {p.id for p in params}
    try:
        parts = list(string.Formatter().parse(name))
    except ValueError as exc:
        problems.append(f"{where}.name: {exc} (write {{{{ and }}}} for a brace)")
        return ""
    bad = []
    for _, field, spec, conv in parts:
        if field is None:
            continue
        if spec or conv:
            bad.append(f"{{{field}}} must be a plain placeholder, without a conversion or format")
        elif field not in known:
            bad.append(f"{{{field}}} is not one of its parameters")
    for said in bad:
        problems.append(f"{where}.name: {said}")
    return "" if bad else name


def parse_checklists(text: str, reserved: Collection[str] = ()) -> tuple[Checklist, ...]:
    """Checklists from YAML text (docs/risk.md), or ChecklistError naming every problem.
    `reserved`: ids the file may not use (an organization's own file: the shipped ones)."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise ChecklistError([f"the file is larger than {MAX_BYTES} bytes"])
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise ChecklistError([f"{line}not valid YAML ({getattr(exc, 'problem', exc)})"]) from None
    problems: list[str] = []
    top = _keys(data, "the file", {"version", "checklists"}, problems)
    if top.get("version", 1) != 1:
        problems.append(f"version: only 1 is known, got {top.get('version')!r}")
    items = top.get("checklists")
    if not isinstance(items, list) or not items:
        problems.append("checklists: must be a non-empty list")
        raise ChecklistError(problems)
    if len(items) > MAX_CHECKLISTS:
        problems.append(f"checklists: more than {MAX_CHECKLISTS}")
    result, seen = [], set()
    for i, raw in enumerate(items[:MAX_CHECKLISTS]):
        where = f"checklists[{i}]"
        item = _keys(
            raw,
            where,
            {"id", "title", "description", "steps", "parameters", "name", "clients"},
            problems,
        )
        cid = item.get("id")
        if not isinstance(cid, str) or not CHECKLIST_ID.match(cid):
            problems.append(f"{where}.id: must be lower-case letters, digits and dashes")
            cid = ""
        elif cid in seen:
            problems.append(f"{where}.id: {cid!r} is used twice")
        elif cid in reserved:
            problems.append(f"{where}.id: {cid!r} is a provider-wide template; choose another id")
        seen.add(cid)
        where = f"checklist {cid or i}"
        title = _text(item.get("title"), f"{where}.title", TITLE_MAX, problems, required=True)
        about = _text(
            item.get("description"), f"{where}.description", DETAIL_MAX, problems, required=False
        )
        raw_steps = item.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            problems.append(f"{where}.steps: must be a non-empty list")
            raw_steps = []
        elif len(raw_steps) > MAX_STEPS:
            problems.append(f"{where}.steps: more than {MAX_STEPS}")
        steps = tuple(
            _step(s, f"{where}.steps[{j}]", problems) for j, s in enumerate(raw_steps[:MAX_STEPS])
        )
        params = _parameters(item.get("parameters"), where, problems)
        name = _name(item.get("name"), where, params, problems)
        clients = item.get("clients", False)
        if not isinstance(clients, bool):
            problems.append(f"{where}.clients: must be true or false")
            clients = False
        result.append(Checklist(cid, title, about, steps, params, name, clients))
    if problems:
        raise ChecklistError(problems)
    return tuple(result)


@lru_cache(maxsize=1)
def load_checklists() -> tuple[Checklist, ...]:
    """The shipped checklists (a broken file is a bug: the tests parse it)."""
    text = (resources.files("forewarn.data") / CHECKLISTS_FILE).read_text("utf-8")
    return parse_checklists(text)

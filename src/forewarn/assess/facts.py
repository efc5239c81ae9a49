"""What an assessment knows of one organization at one moment, as plain values.

services/ gather these from the platform's own data (inventory, checks, findings, posture,
patches, lifecycle, heartbeats) and the organization's settings; the scoring, risk, money and
plan modules read them. Nothing here reads a database or a clock: a date is an argument.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

# Defaults for the downtime-cost model (reference/assessment.md). Used only where the
# organization gave no figure of its own, and every use is named in CostInputs.defaults.
DEFAULT_HOURLY_COST = 45.65  # USD, loaded: US private industry, BLS, June 2025
DEFAULT_BUSINESS_HOURS_PER_YEAR = 2080.0
DEFAULT_SHARE_WORK_BLOCKED = 0.8
DEFAULT_SHARE_REVENUE_AFFECTED = 0.5
DEFAULT_IT_RATE = 150.0  # per hour of IT recovery work
# With no headcount given: one person per workstation or laptop in the inventory, or this
# many when there are none (the smallest business Forewarn is built for).
DEFAULT_PEOPLE = 25


@dataclass(frozen=True)
class CostInputs:
    """The organization's own figures for pricing downtime; `defaults` names every field
    that holds a default rather than the organization's own number, so reports can say so."""

    people: int
    hourly_cost: float
    annual_revenue: float | None
    currency: str = "USD"
    business_hours_per_year: float = DEFAULT_BUSINESS_HOURS_PER_YEAR
    share_work_blocked: float = DEFAULT_SHARE_WORK_BLOCKED
    share_revenue_affected: float = DEFAULT_SHARE_REVENUE_AFFECTED
    it_rate: float = DEFAULT_IT_RATE
    defaults: frozenset[str] = field(default_factory=frozenset)


# Asset kinds as the inventory names them (store.models.Asset.kind).
END_USER_KINDS = frozenset({"workstation", "laptop"})
SERVER_KINDS = frozenset({"server", "nas"})


@dataclass(frozen=True)
class AssetFacts:
    """One asset as the assessment sees it. None means "not known", never "fine"."""

    id: int
    name: str
    kind: str
    criticality: int  # 1 (low) .. 5 (business stops without it)
    has_agent: bool = False
    checks: int = 0  # checks watching it
    last_seen: datetime | None = None  # newest data from it (agent check-in or check result)
    purchase_date: date | None = None
    warranty_end: date | None = None
    os_name: str | None = None
    os_eol: date | None = None  # end of security support of its OS, when known
    disk_full_days: float | None = None  # the soonest disk forecast, in days
    backup_ok: bool | None = None  # None: no backup heartbeat watches it
    open_findings: int = 0

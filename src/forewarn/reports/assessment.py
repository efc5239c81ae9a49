"""The assessment on paper: its JSON document (services.assessments, read through
`assessments.readable` so a first-format snapshot prints too) in, HTML and PDF out. Two
documents: the full report (assessment.html) and the one-page executive summary for the owner
(executive.html). Reads nothing but the document, so a snapshot stored months ago prints the
same; money that rests on default figures carries a mark and the defaults are listed.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from forewarn.reports import charts
from forewarn.reports.render import html_to_pdf, render_html

TEMPLATE = "assessment.html"
SUMMARY_TEMPLATE = "executive.html"
WIDTH = 640
HEIGHT = 180
SUMMARY_RISKS = 5  # the executive summary's top risks, by money
SUMMARY_ACTIONS = 6  # the first 30 days, as many as fit the page
SUMMARY_CHANGES = 4
NAMES_SHOWN = 6  # asset names listed in one line of the technology plan
DEFAULT_MARK = "†"

# What each cost input is called, and where a default comes from.
COST_WORDS = {
    "people": "People affected by an outage",
    "hourly_cost": "Loaded hourly cost of their work",
    "annual_revenue": "Annual revenue",
    "business_hours_per_year": "Business hours per year",
    "share_work_blocked": "Share of work blocked by an outage",
    "share_revenue_affected": "Share of revenue affected by an outage",
    "it_rate": "Rate of an hour of IT recovery work",
    "hours_per_month": "IT hours a month given to the plan",
}
DEFAULT_SOURCES = {
    "people": "no headcount given: one person per workstation or laptop in the inventory "
    "(25 when there are none)",
    "hourly_cost": "US private industry employer costs, US Bureau of Labor Statistics, June 2025",
    "business_hours_per_year": "40 hours a week, 52 weeks",
    "share_work_blocked": "our assumption (reference worked example)",
    "share_revenue_affected": "our assumption (reference worked example)",
    "it_rate": "our assumption (reference worked example)",
    "hours_per_month": "our assumption",
}
GAP_WORDS = {
    "recurring": "Recurring problems",
    "no_checks": "Assets with no checks",
    "no_agent": "Devices with no agent",
    "stale": "No data for over 7 days",
    "unattended_findings": "Findings nobody has looked at (open, unassigned, over 14 days)",
}
ACTION_WORDS = {
    "replace": "Replace",
    "upgrade_os": "Upgrade the OS",
    "upgrade_storage": "Add storage",
}
PERIOD_WORDS = {
    "30": "First 30 days",
    "60": "Days 31 to 60",
    "90": "Days 61 to 90",
    "later": "After 90 days",
}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _month_label(ym: str) -> str:
    return f"{MONTHS[int(ym[5:7]) - 1]} {ym[2:4]}"


def next_twelve_months(doc: dict[str, Any]) -> int | None:
    """The technology budget of the first 12 months of the plan; None when not planned."""
    plan = doc.get("plan")
    if not plan:
        return None
    return int(sum(m["total"] for m in plan["technology"]["months"][:12]))


def technology_groups(technology: dict[str, Any]) -> list[dict[str, Any]]:
    """The technology plan's lines as the report prints them: one per month, action and kind
    of asset ("Replace 4 laptops"), with their assets and total cost. 150 machines make over
    a hundred lines, which read badly and take WeasyPrint seconds to lay out."""
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for line in technology["lines"]:
        key = (line["month"], line["action"], line["kind"])
        group = groups.setdefault(
            key,
            {
                "month": line["month"],
                "action": line["action"],
                "kind": line["kind"],
                "assets": [],
                "reasons": [],
                "cost": 0,
                "cost_default": False,
                "overdue": False,
            },
        )
        group["assets"].append(line["asset_name"])
        if line["reason"] not in group["reasons"]:
            group["reasons"].append(line["reason"])
        group["cost"] += line["cost"]
        group["cost_default"] = group["cost_default"] or line["cost_default"]
        group["overdue"] = group["overdue"] or line["overdue"]
    return list(groups.values())


def budget_chart(doc: dict[str, Any]) -> Markup:
    """The 36-month technology budget as bars. Safe to mark: charts escape what they draw."""
    plan = doc.get("plan")
    months = plan["technology"]["months"] if plan else []
    currency = plan["technology"]["currency"] if plan else ""
    return Markup(
        charts.bar_chart(
            [(_month_label(m["month"]), float(m["total"])) for m in months],
            width=WIDTH,
            height=HEIGHT,
            unit="",
            y_min=0.0,
            title=f"Technology budget per month ({currency})",
            key="tech-budget",
            empty_text="Nothing to plan: no asset has a purchase date",
            colour=charts.PALETTE[0],
        )
    )


def view(doc: dict[str, Any]) -> dict[str, Any]:
    """What both templates read beside the document: labels, the figures they derive."""
    plan = doc.get("plan")
    register = doc.get("risks")
    actions = plan["actions"] if plan else None
    by_key = {a["key"]: a for a in actions["actions"]} if actions else {}
    periods = {
        p: [by_key[k] for k in actions["periods"][p]] if actions else [] for p in PERIOD_WORDS
    }
    risks = register["risks"] if register else []
    top = sorted(risks, key=lambda r: -r["annual_loss_exposure"]["p50"])[:SUMMARY_RISKS]
    failed = [s for s in doc["scores"]["safeguards"] if s["score"] is not None and s["score"] < 1.0]
    cost_defaults = set(doc["cost_inputs"]["defaults"])
    return {
        "tech_groups": technology_groups(plan["technology"]) if plan else [],
        "names_shown": NAMES_SHOWN,
        "periods": periods,
        "top_risks": top,
        "failed": failed,
        "next_12": next_twelve_months(doc),
        "money_defaults": sorted(cost_defaults - {"annual_revenue"}),
        "revenue_missing": doc["cost_inputs"]["annual_revenue"] is None,
    }


def _data(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "doc": doc,
        "v": view(doc),
        "cost_words": COST_WORDS,
        "default_sources": DEFAULT_SOURCES,
        "gap_words": GAP_WORDS,
        "action_words": ACTION_WORDS,
        "period_words": PERIOD_WORDS,
        "mark": DEFAULT_MARK,
        "summary_actions": SUMMARY_ACTIONS,
        "summary_changes": SUMMARY_CHANGES,
    }


def html(doc: dict[str, Any]) -> str:
    """The full report as one self-contained HTML document (styles inline, charts inline SVG)."""
    return render_html(TEMPLATE, charts={"budget": budget_chart(doc)}, **_data(doc))


def summary_html(doc: dict[str, Any]) -> str:
    """The one-page executive summary for the owner."""
    return render_html(SUMMARY_TEMPLATE, **_data(doc))


def pdf(doc: dict[str, Any]) -> bytes:
    return html_to_pdf(html(doc))


def summary_pdf(doc: dict[str, Any]) -> bytes:
    return html_to_pdf(summary_html(doc))

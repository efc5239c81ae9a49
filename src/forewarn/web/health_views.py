"""Health scores on the pages: where each item's evidence is, and how a score reads."""

from __future__ import annotations

from forewarn.services.health import DeductionOut

_CATEGORY_WORDS = {
    "problem": "Problem",
    "predictive": "Forecast",
    "finding": "Finding",
    "stale": "Stale data",
}


def evidence_href(item: DeductionOut, org_id: int) -> str:
    """The page that shows what an item is about: its check, alert, finding or agent."""
    kind, ref_id = item.ref.kind, item.ref.id
    if kind == "check":
        return f"/checks/{ref_id}"
    if kind == "alert":
        return f"/alerts/{ref_id}"
    if kind == "agent":
        return f"/assets/{ref_id}#resources"
    return f"/orgs/{org_id}/findings"


def category_word(category: str) -> str:
    return _CATEGORY_WORDS.get(category, category.capitalize())

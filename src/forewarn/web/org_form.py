"""The organization form: what its fields hold, and the input the services expect from them.

Values travel as the strings the person typed, so a refused form comes back exactly as sent.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData

from forewarn.services.schemas import BusinessHours, OrgOut
from forewarn.web.forms import text, texts

HINTS = {
    "currency": "Three capital letters, like EUR or USD.",
    "timezone": "Choose a time zone from the list.",
    "start": "Use a time like 08:00.",
    "end": "Use a time like 18:00.",
    "days": "Choose days from the list.",
}


def blank() -> dict[str, Any]:
    """A new organization: the usual office week, amounts left for the person to fill in."""
    hours = BusinessHours()
    return {
        "name": "",
        "employees": "",
        "hourly_cost": "",
        "currency": "USD",
        "annual_revenue": "",
        "days": [str(d) for d in hours.days],
        "start": hours.start,
        "end": hours.end,
        "timezone": "UTC",
        "notes": "",
    }


def from_org(org: OrgOut) -> dict[str, Any]:
    return {
        "name": org.name,
        "employees": str(org.employees),
        "hourly_cost": str(org.hourly_cost),
        "currency": org.currency,
        "annual_revenue": "" if org.annual_revenue is None else str(org.annual_revenue),
        "days": [str(d) for d in org.business_hours.days],
        "start": org.business_hours.start,
        "end": org.business_hours.end,
        "timezone": org.timezone,
        "notes": org.notes,
    }


def from_form(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {key: text(form, key) for key in blank() if key != "days"}
    values["days"] = texts(form, "days")
    return values


def to_input(values: dict[str, Any]) -> dict[str, Any]:
    """The fields of OrgCreate / OrgUpdate. Blank amounts mean zero; blank revenue, unknown."""
    return {
        "name": values["name"],
        "employees": values["employees"].strip() or 0,
        "hourly_cost": values["hourly_cost"].strip() or 0,
        "currency": values["currency"].strip().upper(),
        "annual_revenue": values["annual_revenue"].strip() or None,
        "business_hours": {
            "days": values["days"],
            "start": values["start"],
            "end": values["end"],
        },
        "timezone": values["timezone"],
        "notes": values["notes"],
    }

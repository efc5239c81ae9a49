"""Maintenance windows on the pages: the schedule in words, and the form that plans one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from starlette.datastructures import FormData

from forewarn.services.schemas import MaintenanceOut
from forewarn.web.forms import FieldErrors, text, texts
from forewarn.web.humanize import days_text, long_date

FIELDS = ("name", "scope", "start_local", "duration", "unit", "repeat", "until")
UNITS = [("min", "minutes"), ("h", "hours"), ("d", "days")]
_MINUTES = {"min": 1, "h": 60, "d": 1440}
REPEATS = [
    ("none", "Once"),
    ("daily", "Every day"),
    ("weekly", "Every week, on the days ticked"),
    ("monthly", "Every month, on the start's day"),
]
_DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
HINTS = {
    "start_local": "Date and time of the first start, in the organization's time zone.",
    "duration_min": "From one minute to 31 days.",
    "until": "Enter a date as YYYY-MM-DD, on or after the first start.",
    "weekdays": "Tick at least one day, or leave all unticked to repeat on the start's day.",
}


def duration_text(minutes: int) -> str:
    """'2 h', '90 min' -> '1 h 30 min', '1 d 2 h'."""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [
        f"{days} d" if days else "",
        f"{hours} h" if hours else "",
        f"{mins} min" if mins else "",
    ]
    return " ".join(p for p in parts if p) or "0 min"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def schedule_text(w: MaintenanceOut, tz: str) -> str:
    """'every Sunday 02:00 for 2 h (Europe/Berlin)', 'once, 8 Nov 2026 22:00 for 30 min (UTC)'."""
    at = f"{w.start_local:%H:%M}"
    length = duration_text(w.duration_min)
    match w.repeat:
        case "daily":
            when = f"every day {at}"
        case "weekly":
            days = w.weekdays or [w.start_local.isoweekday()]
            named = _DAY_NAMES[days[0] - 1] if len(days) == 1 else days_text(days)
            when = f"every {named} {at}"
        case "monthly":
            when = f"every month on the {_ordinal(w.start_local.day)} {at}"
        case _:
            when = f"once, {w.start_local:%a} {long_date(w.start_local.date())} {at}"
    text_ = f"{when} for {length} ({tz})"
    if w.repeat != "none":
        text_ += f", from {long_date(w.start_local.date())}"
        if w.until:
            text_ += f" until {long_date(w.until)}"
    return text_


def blank(now_local: datetime) -> dict[str, Any]:
    """Tonight at 22:00 for an hour, once: the most common plan, easy to change."""
    start = now_local.replace(hour=22, minute=0, second=0, microsecond=0)
    if start <= now_local:
        start += timedelta(days=1)
    return {
        "name": "",
        "scope": "org",
        "start_local": f"{start:%Y-%m-%dT%H:%M}",
        "duration": "1",
        "unit": "h",
        "repeat": "none",
        "until": "",
        "weekdays": [],
    }


def from_form(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {key: text(form, key).strip()[:200] for key in FIELDS}
    values["weekdays"] = [d for d in texts(form, "weekdays") if d in "1234567" and len(d) == 1]
    return values


def to_input(org_id: int, values: dict[str, Any]) -> tuple[dict[str, Any], FieldErrors]:
    """MaintenanceCreate's input; what the form itself cannot read comes back as messages."""
    errors: FieldErrors = {}
    scope, _, ref = str(values["scope"]).partition(":")
    data: dict[str, Any] = {
        "org_id": org_id,
        "name": values["name"],
        "site_id": ref if scope == "site" else None,
        "asset_id": ref if scope == "asset" else None,
        "start_local": values["start_local"] or None,
        "repeat": values["repeat"] or "none",
        "weekdays": [int(d) for d in values["weekdays"]] if values["repeat"] == "weekly" else [],
        "until": (values["until"] or None) if values["repeat"] != "none" else None,
    }
    if scope not in ("org", "site", "asset") or (scope != "org" and not ref.isdigit()):
        errors["scope"] = ["Choose what the window covers from the list."]
    try:
        amount = float(values["duration"].replace(",", "."))
        data["duration_min"] = round(amount * _MINUTES[values["unit"]])
    except (ValueError, KeyError):
        errors["duration"] = ["Enter a number, like 2 or 1.5."]
    return data, errors


def _field_of(key: str, message: str) -> str:
    if key in ("site_id", "asset_id"):
        return "scope"
    if key == "_form" and "end before" in message:
        return "until"
    if key == "_form" and ("site" in message or "asset" in message):
        return "scope"
    return {"duration_min": "duration"}.get(key, key)


def place(errors: FieldErrors) -> FieldErrors:
    """Messages by the fields of this form: the service speaks of duration_min and of rules
    that span fields ("cannot end before it starts")."""
    out: FieldErrors = {}
    for key, messages in errors.items():
        for message in messages:
            out.setdefault(_field_of(key, message.lower()), []).append(message)
    return out

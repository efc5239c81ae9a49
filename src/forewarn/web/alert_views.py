"""What the alert pages show: the state filter, severity and state in the one palette, the
timeline's words, how long an acknowledgement lasts, and the organizations behind a page."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from forewarn.services import alerts, orgs
from forewarn.services.alerts import AlertOut
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError
from forewarn.services.pagination import MAX_LIMIT, Page
from forewarn.services.schemas import OrgOut
from forewarn.services.scope import Actor

PAGE_SIZE = 50
# The state filter as it stands in the URL; "active" (not resolved) needs someone.
STATES = [
    ("active", "Active"),
    ("open", "Open"),
    ("acknowledged", "Acknowledged"),
    ("resolved", "Resolved"),
    ("all", "All"),
]
_STATE_KEYS = {key for key, _ in STATES}
# How long an acknowledgement lasts; "" is until the alert is resolved.
ACK_FOR = [("", "until resolved"), ("1h", "for 1 h"), ("4h", "for 4 h")]
_ACK_SPANS = {"": None, "1h": timedelta(hours=1), "4h": timedelta(hours=4)}
# Silencing what an alert is about, for the length of a job.
SILENCE_FOR = [("60", "for 1 h"), ("240", "for 4 h"), ("1440", "for 1 day")]
# The organization page's count stops here: "100+" says enough and keeps the query small.
COUNT_LIMIT = 100
# Bulk actions take at most a page's worth, which is all a page can show.
BULK_LIMIT = PAGE_SIZE

# Severity word -> the palette state that colours it. The word is always shown beside it.
_SEVERITY: dict[str, tuple[str, str]] = {
    "critical": ("critical", "Critical"),
    "warning": ("warning", "Warning"),
    "info": ("unknown", "Info"),
}
_EVENTS = {
    "opened": "Opened",
    "severity_changed": "Severity changed",
    "acknowledged": "Acknowledged",
    "ack_expired": "Acknowledgement ran out",
    "unacknowledged": "Handed back",
    "resolved": "Resolved",
    "comment": "Comment",
}


def read_state(value: str | None) -> str:
    return value if value in _STATE_KEYS else "active"


def inbox_url(org_id: int | None, state: str, cursor: str | None = None) -> str:
    """The inbox's address: every organization's (org_id None) or one's, with its filter."""
    base = f"/orgs/{org_id}/alerts" if org_id is not None else "/alerts"
    params = {"state": state}
    if cursor:
        params["cursor"] = cursor
    return f"{base}?{urlencode(params)}"


def severity(value: str) -> tuple[str, str]:
    """(palette state, word) for an alert's severity."""
    return _SEVERITY.get(value, ("unknown", value.capitalize() or "Unknown"))


def state_badge(alert: AlertOut) -> tuple[str, str]:
    """(palette state, word) for an alert's state: an open one in its severity's colour."""
    if alert.state == "resolved":
        return "ok", "Resolved"
    if alert.state == "acknowledged":
        return "maintenance", "Acknowledged"
    return severity(alert.severity)[0], "Open"


def event_label(kind: str) -> str:
    return _EVENTS.get(kind, kind.replace("_", " ").capitalize())


def ack_until(choice: str, now: datetime) -> tuple[bool, datetime | None]:
    """(valid, until) for the "how long" a person chose; None is until resolved."""
    if choice not in _ACK_SPANS:
        return False, None
    span = _ACK_SPANS[choice]
    return True, (now + span if span else None)


def read_ids(values: Iterable[str]) -> list[int]:
    """The alert ids ticked, in order, each once; anything that is not an id is left out."""
    seen: list[int] = []
    for v in values:
        v = v.strip()
        if v.isdigit() and len(v) <= 10 and int(v) > 0 and int(v) not in seen:
            seen.append(int(v))
    return seen


def page_of(
    ctx: Context, actor: Actor, org_id: int | None, state: str, cursor: str | None
) -> tuple[Page[AlertOut], str | None]:
    """A page of the inbox and the cursor it really used (a made-up one starts anew)."""
    chosen = None if state == "all" else state
    try:
        found = alerts.list_(
            ctx, actor, org_id=org_id, state=chosen, limit=PAGE_SIZE, cursor=cursor
        )
    except ServiceError as exc:
        if exc.status != 422 or cursor is None:
            raise
        # A cursor we never gave out (edited by hand): start from the newest instead.
        cursor = None
        found = alerts.list_(ctx, actor, org_id=org_id, state=chosen, limit=PAGE_SIZE)
    return found, cursor


def active_count(ctx: Context, actor: Actor, org_id: int) -> tuple[int, bool, str]:
    """How many alerts of the organization are not resolved, whether there are more, and
    the palette state of the worst of them.

    services.alerts has no count yet; a bounded list is one small query all the same.
    """
    found = alerts.list_(ctx, actor, org_id=org_id, state="active", limit=COUNT_LIMIT)
    worst = "critical" if any(a.severity == "critical" for a in found.items) else "warning"
    return len(found.items), found.next_cursor is not None, worst


def visible_orgs(ctx: Context, actor: Actor) -> dict[int, OrgOut]:
    """Every organization the person sees, by id: names and time zones for the rows."""
    out: dict[int, OrgOut] = {}
    cursor: str | None = None
    while True:
        found = orgs.list_(ctx, actor, limit=MAX_LIMIT, cursor=cursor)
        out.update((o.id, o) for o in found.items)
        if not found.next_cursor:
            return out
        cursor = found.next_cursor


def helpers() -> dict[str, Any]:
    return {
        "severity": severity,
        "state_badge": state_badge,
        "event_label": event_label,
        "ack_for": ACK_FOR,
        "silence_for": SILENCE_FOR,
        "states": STATES,
        "inbox_url": inbox_url,
    }

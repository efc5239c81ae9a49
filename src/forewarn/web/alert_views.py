"""What the alert pages show: the state filter, severity and state in the one palette, the
timeline's words, how long an acknowledgement lasts, and the organizations behind a page."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from forewarn.domain.alerting import AlertKind, Severity
from forewarn.services import alerts, orgs, sites
from forewarn.services.alerts import AlertFilter, AlertOut
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError
from forewarn.services.pagination import MAX_LIMIT, Page
from forewarn.services.schemas import MAX_ID, OrgOut
from forewarn.services.scope import Actor
from forewarn.web import check_views

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
# The filter form's choices; "" is any.
SEVERITIES = [
    ("", "Any severity"),
    ("critical", "Critical"),
    ("warning", "Warning"),
    ("info", "Info"),
]
KINDS = [
    ("", "Any kind"),
    (AlertKind.CHECK.value, "Monitoring"),
    (AlertKind.PREDICTIVE.value, "Predictive"),
    (AlertKind.SECURITY.value, "Security"),
    (AlertKind.EXTERNAL.value, "External (Alertmanager)"),
]
_SEVERITY_KEYS = {s.value for s in Severity}
_KIND_KEYS = {k.value for k in AlertKind}
MAX_WORDS = 200
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


@dataclass(frozen=True)
class InboxQuery:
    """The inbox's filters as they stand in its URL: kept by the state tabs, the pager, the
    list's refresh and the bulk actions (which return to the URL they were ticked on)."""

    state: str = "active"
    severity: str = ""
    kind: str = ""
    site_id: int | None = None
    asset_id: int | None = None
    q: str = ""

    def params(self) -> dict[str, str]:
        out = {"state": self.state}
        for key in ("severity", "kind", "q"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        for key in ("site_id", "asset_id"):
            if getattr(self, key) is not None:
                out[key] = str(getattr(self, key))
        return out

    def with_state(self, state: str) -> InboxQuery:
        return replace(self, state=state)

    @property
    def narrowed(self) -> bool:
        """Anything beside the state tab is chosen."""
        return len(self.params()) > 1

    def as_filter(self) -> AlertFilter:
        return AlertFilter(
            severity=Severity(self.severity) if self.severity else None,
            kind=AlertKind(self.kind) if self.kind else None,
            site_id=self.site_id,
            asset_id=self.asset_id,
            q=self.q,
        )


def read_id(value: str | None) -> int | None:
    """An id chosen in a form or a URL; anything else is None."""
    value = (value or "").strip()
    return int(value) if value.isdigit() and 0 < int(value) <= MAX_ID else None


def read_query(params: Mapping[str, str]) -> InboxQuery:
    """The filters of a URL; a value that is not one of the choices is left out (a link
    edited by hand shows more, never an error page)."""
    severity = params.get("severity", "")
    kind = params.get("kind", "")
    return InboxQuery(
        state=read_state(params.get("state")),
        severity=severity if severity in _SEVERITY_KEYS else "",
        kind=kind if kind in _KIND_KEYS else "",
        site_id=read_id(params.get("site_id")),
        asset_id=read_id(params.get("asset_id")),
        q=" ".join(params.get("q", "").split())[:MAX_WORDS],
    )


def inbox_url(org_id: int | None, query: InboxQuery, cursor: str | None = None) -> str:
    """The inbox's address: every organization's (org_id None) or one's, with its filters."""
    base = f"/orgs/{org_id}/alerts" if org_id is not None else "/alerts"
    params = query.params()
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
    ctx: Context, actor: Actor, org_id: int | None, query: InboxQuery, cursor: str | None
) -> tuple[Page[AlertOut], str | None]:
    """A page of the inbox and the cursor it really used (a made-up one starts anew)."""
    chosen = None if query.state == "all" else query.state
    where = query.as_filter()
    try:
        found = alerts.list_(
            ctx, actor, org_id=org_id, state=chosen, limit=PAGE_SIZE, cursor=cursor, where=where
        )
    except ServiceError as exc:
        if exc.status != 422 or cursor is None:
            raise
        # A cursor we never gave out (edited by hand): start from the newest instead.
        cursor = None
        found = alerts.list_(ctx, actor, org_id=org_id, state=chosen, limit=PAGE_SIZE, where=where)
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
        "severities": SEVERITIES,
        "kinds": KINDS,
    }


def place_options(ctx: Context, actor: Actor, org_id: int) -> dict[str, list[tuple[str, str]]]:
    """The filter form's sites and assets of one organization, by name ("" is any)."""
    org_sites = sites.list_(ctx, actor, org_id=org_id, limit=MAX_LIMIT).items
    org_assets = check_views.org_assets(ctx, actor, org_id).values()
    return {
        "site_id": [("", "Any site"), *by_name((str(s.id), s.name) for s in org_sites)],
        "asset_id": [("", "Any asset"), *by_name((str(a.id), a.name) for a in org_assets)],
    }


def by_name(options: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Select options in the order people look for them: by their text, any case."""
    return sorted(options, key=lambda o: o[1].lower())

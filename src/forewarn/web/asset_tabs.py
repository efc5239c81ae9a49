"""The asset page's inventory tabs: which tab, its filters from the URL, and its rows.

Each tab is a URL (/assets/7?tab=software&q=ssl) so any view can be bookmarked; htmx swaps
the tab or its results in place. The lists are whole sections the agent reported, so
filtering, sorting and paging happen here, on at most a few thousand rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from forewarn.services import activity, agents
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError
from forewarn.services.scope import Actor
from forewarn.web.asset_charts import DEFAULT_RANGE

TABS: list[tuple[str, str]] = [
    ("overview", "Overview"),
    ("software", "Software"),
    ("services", "Services"),
    ("ports", "Ports"),
    ("accounts", "Accounts"),
    ("logins", "Logins"),
    ("changes", "Changes"),
    ("posture", "Posture"),
    ("updates", "Updates"),
    ("security", "Security"),
]
_TAB_KEYS = {key for key, _ in TABS}
# Tabs whose filters swap only their results, so the search box keeps focus while typing.
WITH_RESULTS = ("software", "services", "changes")

SECTION_LABELS: dict[str, str] = {
    "system": "System",
    "hardware": "Hardware",
    "disks": "Disks",
    "interfaces": "Network interfaces",
    "packages": "Software",
    "services": "Services",
    "listeners": "Ports",
    "accounts": "Accounts",
    "logins": "Logins",
    "time_sync": "Time sync",
    "agent": "Agent",
}
SERVICE_STATES = [
    ("", "All states"),
    ("failed", "Failed"),
    ("active", "Active"),
    ("other", "Other"),
]
PAGE_SIZE = 100
CHANGES_PAGE = 50
LOGINS_SHOWN = 100
_WILDCARD = {"0.0.0.0", "::", "*", "[::]", ""}


def _clean(value: str | None, limit: int) -> str:
    return (value or "").replace("\x00", "").strip()[:limit]


@dataclass(frozen=True)
class TabQuery:
    """Everything in the URL that shapes the tab: the tab, its filters, the page."""

    asset_id: int
    tab: str = "overview"
    range: str = DEFAULT_RANGE
    q: str = ""
    sort: str = ""
    state: str = ""
    system: str = ""
    section: str = ""
    cursor: str = ""
    page: int = 1

    @property
    def base(self) -> str:
        return f"/assets/{self.asset_id}"

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.state or self.section)

    def url(self, **changes: Any) -> str:
        """This view's address with some fields changed; a new filter starts at page one."""
        if set(changes) & {"q", "sort", "state", "system", "section"}:
            changes.setdefault("page", 1)
            changes.setdefault("cursor", "")
        view = replace(self, **changes)
        fields = {
            "tab": view.tab if view.tab != "overview" else "",
            "range": view.range if view.range != DEFAULT_RANGE else "",
            "q": view.q,
            "sort": view.sort,
            "state": view.state,
            "system": view.system,
            "section": view.section,
            "cursor": view.cursor,
            "page": str(view.page) if view.page > 1 else "",
        }
        query = urlencode({k: v for k, v in fields.items() if v})
        return f"{view.base}?{query}" if query else view.base

    def tab_url(self, tab: str) -> str:
        return TabQuery(self.asset_id, tab=tab, range=self.range).url()


def read_query(asset_id: int, params: QueryParams, range_key: str) -> TabQuery:
    tab = _clean(params.get("tab"), 20).lower()
    try:
        page = max(1, min(10_000, int(_clean(params.get("page"), 6) or "1")))
    except ValueError:
        page = 1
    section = _clean(params.get("section"), 32)
    state = _clean(params.get("state"), 16)
    return TabQuery(
        asset_id=asset_id,
        tab=tab if tab in _TAB_KEYS else "overview",
        range=range_key,
        q=_clean(params.get("q"), 200),
        sort="-name" if params.get("sort") == "-name" else "",
        state=state if state in {s for s, _ in SERVICE_STATES} else "",
        system="1" if params.get("system") == "1" else "",
        section=section if section in SECTION_LABELS else "",
        cursor=_clean(params.get("cursor"), 200),
        page=page,
    )


@dataclass(frozen=True)
class ListView:
    """One page of a filtered, sorted section."""

    rows: list[dict[str, Any]]
    total: int
    matched: int
    reported: bool
    updated_at: datetime | None
    page: int = 1
    pages: int = 1
    prev_url: str | None = None
    next_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def first_shown(self) -> int:
        return (self.page - 1) * PAGE_SIZE + 1 if self.rows else 0

    @property
    def last_shown(self) -> int:
        return self.first_shown + len(self.rows) - 1 if self.rows else 0


def _section(ctx: Context, actor: Actor, asset_id: int, name: str) -> tuple[list[Any], Any]:
    found = agents.inventory(ctx, actor, asset_id, name)
    return found["data"], found["updated_at"]


def _paged(
    query: TabQuery,
    data: list[dict[str, Any]] | None,
    updated_at: datetime | None,
    keep: Callable[[dict[str, Any]], bool],
    order: Callable[[dict[str, Any]], Any],
    reverse: bool = False,
) -> ListView:
    everything = list(data or [])
    matched = sorted((r for r in everything if keep(r)), key=order, reverse=reverse)
    pages = max(1, math.ceil(len(matched) / PAGE_SIZE))
    page = min(query.page, pages)
    rows = matched[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return ListView(
        rows=rows,
        total=len(everything),
        matched=len(matched),
        reported=data is not None,
        updated_at=updated_at,
        page=page,
        pages=pages,
        prev_url=query.url(page=page - 1) if page > 1 else None,
        next_url=query.url(page=page + 1) if page < pages else None,
    )


def _contains(row: dict[str, Any], q: str, *fields: str) -> bool:
    needle = q.lower()
    return not needle or any(needle in str(row.get(f, "")).lower() for f in fields)


# ---- the tabs ---------------------------------------------------------------------------------


def _overview(ctx: Context, actor: Actor, query: TabQuery) -> dict[str, Any]:
    names = ["system", "hardware", "interfaces", "disks", "time_sync"]
    found = agents.sections(ctx, actor, query.asset_id, names)
    system = found["system"]["data"]
    boot = system.get("boot_time") if system else None
    return {
        "system": system,
        "hardware": found["hardware"]["data"],
        "interfaces": sorted(found["interfaces"]["data"] or [], key=lambda i: i.get("name", "")),
        "disks": sorted(found["disks"]["data"] or [], key=lambda d: d.get("mount", "")),
        "time_sync": found["time_sync"]["data"],
        "booted_at": datetime.fromtimestamp(boot, UTC) if boot else None,
        "reported": any(s["data"] is not None for s in found.values()),
        "updated_at": max(
            (s["updated_at"] for s in found.values() if s["updated_at"]), default=None
        ),
    }


def _software(ctx: Context, actor: Actor, query: TabQuery) -> dict[str, Any]:
    data, updated = _section(ctx, actor, query.asset_id, "packages")
    view = _paged(
        query,
        data,
        updated,
        keep=lambda p: _contains(p, query.q, "name", "version"),
        order=lambda p: (str(p.get("name", "")).lower(), str(p.get("arch", ""))),
        reverse=query.sort == "-name",
    )
    return {"list": view}


SERVICE_BADGE = {
    "failed": "critical",
    "active": "ok",
    "activating": "warning",
    "deactivating": "warning",
    "reloading": "warning",
}


def _service_rank(s: dict[str, Any]) -> tuple[int, str]:
    state = s.get("state", "")
    rank = {"failed": 0, "activating": 1, "deactivating": 1, "reloading": 1, "active": 2}
    return rank.get(state, 3), str(s.get("name", "")).lower()


def _service_kept(s: dict[str, Any], query: TabQuery) -> bool:
    state = s.get("state", "")
    if query.state == "other" and state in ("failed", "active"):
        return False
    if query.state in ("failed", "active") and state != query.state:
        return False
    return _contains(s, query.q, "name", "description")


def _services(ctx: Context, actor: Actor, query: TabQuery) -> dict[str, Any]:
    data, updated = _section(ctx, actor, query.asset_id, "services")
    view = _paged(query, data, updated, keep=lambda s: _service_kept(s, query), order=_service_rank)
    failed = sum(1 for s in data or [] if s.get("state") == "failed")
    return {"list": replace(view, extra={"failed": failed})}


def listener_scope(address: str) -> str:
    """'all' when any machine on the network may connect, 'local' for this machine only."""
    if address in _WILDCARD:
        return "all"
    if address.startswith("127.") or address in ("::1", "[::1]", "localhost"):
        return "local"
    return "address"


def _ports(ctx: Context, actor: Actor, query: TabQuery) -> dict[str, Any]:
    data, updated = _section(ctx, actor, query.asset_id, "listeners")
    rows = sorted(
        data or [], key=lambda r: (r.get("port", 0), r.get("proto", ""), r.get("address", ""))
    )
    exposed = sum(1 for r in rows if listener_scope(r.get("address", "")) == "all")
    view = ListView(rows, len(rows), len(rows), data is not None, updated)
    return {"list": replace(view, extra={"exposed": exposed})}


def _accounts(ctx: Context, actor: Actor, query: TabQuery) -> dict[str, Any]:
    data, updated = _section(ctx, actor, query.asset_id, "accounts")
    everything = data or []
    hidden = 0 if query.system else sum(1 for a in everything if a.get("system"))
    rows = sorted(
        (a for a in everything if query.system or not a.get("system")),
        key=lambda a: (bool(a.get("system")), not a.get("admin"), str(a.get("name", "")).lower()),
    )
    admins = sum(1 for a in everything if a.get("admin") and not a.get("system"))
    view = ListView(rows, len(everything), len(rows), data is not None, updated)
    return {"list": replace(view, extra={"hidden": hidden, "admins": admins})}


def _logins(ctx: Context, actor: Actor, query: TabQuery) -> dict[str, Any]:
    data, updated = _section(ctx, actor, query.asset_id, "logins")
    rows = sorted(data or [], key=lambda r: r.get("at", 0), reverse=True)[:LOGINS_SHOWN]
    shown = [{**r, "at_time": datetime.fromtimestamp(r["at"], UTC)} for r in rows if r.get("at")]
    return {"list": ListView(shown, len(data or []), len(shown), data is not None, updated)}


def _changes(ctx: Context, actor: Actor, query: TabQuery) -> dict[str, Any]:
    cursor = query.cursor or None
    try:
        found = agents.changes(
            ctx,
            actor,
            query.asset_id,
            section=query.section or None,
            limit=CHANGES_PAGE,
            cursor=cursor,
        )
    except ServiceError as exc:
        if exc.status != 422 or cursor is None:
            raise
        # A cursor we never gave out (edited by hand): start from the newest instead.
        cursor = None
        found = agents.changes(
            ctx, actor, query.asset_id, section=query.section or None, limit=CHANGES_PAGE
        )
    return {
        "changes": found.items,
        "next_url": query.url(cursor=found.next_cursor) if found.next_cursor else None,
        "first_url": query.url(cursor="") if cursor else None,
    }


_SECURITY_KINDS = {
    "admin_added": "New administrator",
    "listener_public": "New public listener",
    "firewall_off": "Firewall switched off",
    "firewall_on": "Firewall active again",
    "agent_stopped": "Agent stopped",
}


def security_label(e: dict[str, Any]) -> str:
    """A security event in a few words: "Failed login (sshd, password)", "sudo", ..."""
    if e["kind"] in _SECURITY_KINDS:
        return _SECURITY_KINDS[e["kind"]]
    failed = e["outcome"] == "failure"
    word = {"login": "login", "sudo": "sudo", "su": "su"}.get(e["kind"], e["kind"])
    text = f"Failed {word}" if failed else word.capitalize() if word == "login" else word
    how = ", ".join(p for p in (e["service"] if e["service"] != word else "", e["method"]) if p)
    count = f" x{e['count']}" if e["count"] > 1 else ""
    return f"{text}{count}" + (f" ({how})" if how else "")


def _security(ctx: Context, actor: Actor, query: TabQuery) -> dict[str, Any]:
    cursor = query.cursor or None
    try:
        found = activity.list_events(ctx, actor, query.asset_id, limit=CHANGES_PAGE, cursor=cursor)
    except ServiceError as exc:
        if exc.status != 422 or cursor is None:
            raise
        cursor = None
        found = activity.list_events(ctx, actor, query.asset_id, limit=CHANGES_PAGE)
    return {
        "events": found.items,
        "next_url": query.url(cursor=found.next_cursor) if found.next_cursor else None,
        "first_url": query.url(cursor="") if cursor else None,
    }


def helpers() -> dict[str, Any]:
    """Names the tab templates use, beside each tab's own data."""
    return {
        "tabs": TABS,
        "section_labels": SECTION_LABELS,
        "service_states": SERVICE_STATES,
        "service_badge": SERVICE_BADGE,
        "listener_scope": listener_scope,
        "security_label": security_label,
        "default_range": DEFAULT_RANGE,
    }


def _posture(ctx: Context, actor: Actor, query: TabQuery) -> dict[str, Any]:
    from forewarn.services import posture

    return {"posture": posture.asset_posture(ctx, actor, query.asset_id)}


def _updates(ctx: Context, actor: Actor, query: TabQuery) -> dict[str, Any]:
    from forewarn.services import patching

    return {"updates": patching.asset_updates(ctx, actor, query.asset_id)}


_LOADERS: dict[str, Callable[[Context, Actor, TabQuery], dict[str, Any]]] = {
    "overview": _overview,
    "software": _software,
    "services": _services,
    "ports": _ports,
    "accounts": _accounts,
    "logins": _logins,
    "changes": _changes,
    "posture": _posture,
    "updates": _updates,
    "security": _security,
}


def load(ctx: Context, actor: Actor, query: TabQuery) -> dict[str, Any]:
    """The data the current tab's template shows."""
    return _LOADERS[query.tab](ctx, actor, query)

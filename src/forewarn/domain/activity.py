"""Suspicious activity: pure rules over a machine's authentication events and inventory changes.

Each rule looks at events (some `new`, the rest history for context) and answers Detections:
what to alert on, under which extra labels (the alert's identity beside org, asset and rule),
with which evidence. Time comes in with the events; nothing here reads a clock.

| rule                 | when                                                              |
|----------------------|-------------------------------------------------------------------|
| failed-logins        | >= BURST_FAILURES failed logins within BURST_WINDOW from one      |
|                      | source; or against one account from several sources (or locally) |
| login-after-failures | a successful login after >= AFTER_FAILURES failures within        |
|                      | AFTER_WINDOW from the same source or against the same account     |
| off-hours-login      | a person's successful login outside the organization's business   |
|                      | hours, in its time zone (service accounts are not people)         |
| new-admin            | an account became an administrator, or a new one appeared as one  |
| public-listener      | a new listening socket on a non-loopback address                  |
| firewall-off         | the host firewall went from active to inactive                    |
| agent-stopped        | the agent said it stops (SIGTERM), rather than falling silent     |
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from forewarn.domain.alerting import Severity
from forewarn.domain.changes import Change
from forewarn.domain.routing import BusinessHours

BURST_FAILURES = 10
BURST_WINDOW = timedelta(minutes=5)
AFTER_FAILURES = 5
AFTER_WINDOW = timedelta(hours=1)
# A burst's alert clears once nothing more came from its source for this long.
QUIET_PERIOD = timedelta(minutes=30)
EVIDENCE_LINES = 10
# How far back the rules need history beside the new events.
LOOKBACK = max(BURST_WINDOW, AFTER_WINDOW)

FAILED_LOGINS = "failed-logins"
LOGIN_AFTER_FAILURES = "login-after-failures"
OFF_HOURS_LOGIN = "off-hours-login"
NEW_ADMIN = "new-admin"
PUBLIC_LISTENER = "public-listener"
FIREWALL_OFF = "firewall-off"
AGENT_STOPPED = "agent-stopped"
RULES = (
    FAILED_LOGINS,
    LOGIN_AFTER_FAILURES,
    OFF_HOURS_LOGIN,
    NEW_ADMIN,
    PUBLIC_LISTENER,
    FIREWALL_OFF,
    AGENT_STOPPED,
)
# Rules whose alerts end by themselves (the others wait for a person to look).
SELF_CLEARING = (FAILED_LOGINS, FIREWALL_OFF, AGENT_STOPPED)


@dataclass(frozen=True)
class Event:
    """A security event of one machine (the shape of store.models.SecurityEvent)."""

    at: datetime
    kind: str  # login | sudo | su | admin_added | listener_public | firewall_off | ...
    outcome: str = ""
    service: str = ""
    user: str = ""
    source: str = ""
    method: str = ""
    target: str = ""
    invalid_user: bool = False
    count: int = 1
    line: str = ""
    new: bool = True

    @property
    def failed_login(self) -> bool:
        return self.kind == "login" and self.outcome == "failure"

    @property
    def login(self) -> bool:
        return self.kind == "login" and self.outcome == "success"

    def evidence(self) -> str:
        return self.line or describe(self)


@dataclass(frozen=True)
class Detection:
    rule: str
    severity: Severity
    key: dict[str, str]
    at: datetime
    summary: str
    evidence: tuple[str, ...] = ()
    count: int = 1


@dataclass(frozen=True)
class Signal:
    """A security event derived from an inventory change (stored like a logged one)."""

    kind: str
    user: str = ""
    source: str = ""
    method: str = ""
    line: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def describe(e: Event) -> str:
    """One line for an event that has no log line of its own."""
    who = e.user or "?"
    if e.kind in ("login", "sudo", "su"):
        verb = {"login": "login", "sudo": "sudo", "su": "su"}[e.kind]
        text = f"{e.service or e.kind}: {e.outcome} {verb} by {who}"
        if e.source:
            text += f" from {e.source}"
        if e.target:
            text += f" to {e.target}"
        return text + (f" ({e.count}x)" if e.count > 1 else "")
    return e.line or e.kind


# ---- the authentication rules -----------------------------------------------------------------


def failed_login_bursts(
    events: Sequence[Event],
    *,
    threshold: int = BURST_FAILURES,
    window: timedelta = BURST_WINDOW,
) -> list[Detection]:
    """Bursts of failed logins that reach `threshold` within `window` at a new event.

    Grouped by source address (one alert per attacking address); failures against one
    account are a burst of their own only when they come from several addresses (a spread
    attack) or from none (console, su): otherwise the source's alert already says it.
    """
    failures = sorted((e for e in events if e.failed_login), key=lambda e: e.at)
    out: list[Detection] = []
    by_source: dict[str, list[Event]] = defaultdict(list)
    by_user: dict[str, list[Event]] = defaultdict(list)
    for e in failures:
        if e.source:
            by_source[e.source].append(e)
        by_user[e.user].append(e)
    for source, group in sorted(by_source.items()):
        hit = _burst(group, threshold, window)
        if hit:
            users = sorted({e.user for e in hit if e.user})
            out.append(
                _burst_detection({"source": source}, f"from {source}", hit, users, "accounts")
            )
    for user, group in sorted(by_user.items()):
        sources = {e.source for e in group}
        if len(sources) < 2 and "" not in sources:
            continue
        hit = _burst(group, threshold, window)
        if hit:
            shown = sorted(s for s in {e.source for e in hit} if s)
            out.append(
                _burst_detection(
                    {"account": user}, f"against account {user or '?'}", hit, shown, "sources"
                )
            )
    return out


def _burst(group: Sequence[Event], threshold: int, window: timedelta) -> list[Event]:
    """The failures of the windows that reach `threshold` and end at a new event (sorted
    input); [] when none does. Old bursts are not told again."""
    hit: dict[int, Event] = {}
    start = 0
    total = 0
    for end, e in enumerate(group):
        total += e.count
        while group[start].at < e.at - window:
            total -= group[start].count
            start += 1
        if e.new and total >= threshold:
            for i in range(start, end + 1):
                hit[i] = group[i]
    return [hit[i] for i in sorted(hit)]


def _burst_detection(
    key: dict[str, str], where: str, hit: list[Event], others: list[str], noun: str
) -> Detection:
    new = [e for e in hit if e.new]
    count = sum(e.count for e in hit)
    span = f"{hit[0].at:%H:%M:%S}-{hit[-1].at:%H:%M:%S} UTC"
    named = f" ({noun} {', '.join(others[:5])}{', ...' if len(others) > 5 else ''})"
    summary = f"{count} failed logins {where} {span}" + (named if others else "")
    return Detection(
        FAILED_LOGINS,
        Severity.WARNING,
        key,
        hit[-1].at,
        summary,
        tuple(e.evidence() for e in new[-EVIDENCE_LINES:]),
        sum(e.count for e in new),
    )


def logins_after_failures(
    events: Sequence[Event],
    *,
    threshold: int = AFTER_FAILURES,
    window: timedelta = AFTER_WINDOW,
) -> list[Detection]:
    """New successful logins that follow >= `threshold` failures within `window`, from the
    same source or against the same account: a password guessed, or a key that finally fit."""
    ordered = sorted(events, key=lambda e: e.at)
    out = []
    for i, ok in enumerate(ordered):
        if not (ok.new and ok.login):
            continue
        before = [
            e
            for e in ordered[:i]
            if e.failed_login
            and ok.at - window <= e.at <= ok.at
            and ((ok.source and e.source == ok.source) or (ok.user and e.user == ok.user))
        ]
        failed = sum(e.count for e in before)
        if failed < threshold:
            continue
        where = f" from {ok.source}" if ok.source else ""
        out.append(
            Detection(
                LOGIN_AFTER_FAILURES,
                Severity.CRITICAL,
                {"account": ok.user, "source": ok.source},
                ok.at,
                f"{ok.user} logged in{where} at {ok.at:%Y-%m-%d %H:%M:%S} UTC after {failed}"
                f" failed logins in the {_span(window)} before",
                (*(e.evidence() for e in before[-(EVIDENCE_LINES - 1) :]), ok.evidence()),
                failed,
            )
        )
    return out


def off_hours_logins(
    events: Sequence[Event], hours: BusinessHours | None, service_accounts: Iterable[str]
) -> list[Detection]:
    """New successful logins by people outside business hours (judged in the organization's
    zone, so a change to or from daylight saving time moves nothing). Service accounts
    (the inventory's system accounts) log in at night by design and are left out."""
    if hours is None:
        return []
    services = set(service_accounts)
    out = []
    for e in sorted(events, key=lambda e: e.at):
        if not (e.new and e.login) or not e.user or e.user in services:
            continue
        if hours.within(e.at):
            continue
        local = e.at.astimezone(_zone(hours))
        where = f" from {e.source}" if e.source else ""
        out.append(
            Detection(
                OFF_HOURS_LOGIN,
                Severity.WARNING,
                {"account": e.user},
                e.at,
                f"{e.user} logged in{where} at {local:%a %Y-%m-%d %H:%M} {hours.tz}, "
                "outside business hours",
                (e.evidence(),),
            )
        )
    return out


def _zone(hours: BusinessHours) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(hours.tz)


def _span(window: timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} minutes"
    return "hour" if minutes < 120 else f"{minutes // 60} hours"


# ---- from inventory changes and the agent ---------------------------------------------------


def is_public_address(address: str) -> bool:
    """A listening address other machines can reach: anything but loopback.

    The wildcard (0.0.0.0, ::, *) is every interface, so it counts; an address that does not
    parse is taken as reachable (better one alert too many than a port missed).
    """
    text = address.strip().strip("[]").split("%", 1)[0]
    if text == "localhost":
        return False
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_loopback


def signals_from_changes(changes: Iterable[Change]) -> list[Signal]:
    """The inventory changes that are security events: a new administrator, a new listener on
    a reachable address, the firewall switched off (or on again)."""
    out = []
    for c in changes:
        after = c.after if isinstance(c.after, dict) else {}
        before = c.before if isinstance(c.before, dict) else {}
        if c.section == "accounts" and after.get("admin"):
            if c.change == "added" or (c.change == "changed" and not before.get("admin")):
                name = str(after.get("name", c.key))
                out.append(Signal("admin_added", user=name, line=c.summary))
        elif c.section == "listeners" and c.change == "added":
            if is_public_address(str(after.get("address", ""))):
                where = f"{after.get('proto', '')} {after.get('address', '')}:{after.get('port')}"
                out.append(
                    Signal(
                        "listener_public",
                        source=where,
                        method=str(after.get("process", ""))[:64],
                        line=c.summary,
                        extra={"port": str(after.get("port", "")), "proto": after.get("proto", "")},
                    )
                )
        elif c.section == "firewall" and c.key == "active" and c.before is not c.after:
            if c.before is True and c.after is False:
                out.append(Signal("firewall_off", line="host firewall switched off"))
            elif c.after is True and c.before is False:
                out.append(Signal("firewall_on", line="host firewall active again"))
    return out


def inventory_detections(events: Sequence[Event]) -> list[Detection]:
    """Alerts for the new events that came from inventory changes and the agent."""
    out = []
    for e in sorted(events, key=lambda e: e.at):
        if not e.new:
            continue
        if e.kind == "admin_added":
            out.append(
                Detection(
                    NEW_ADMIN,
                    Severity.WARNING,
                    {"account": e.user},
                    e.at,
                    f"new administrator: {e.user} ({e.line})",
                    (e.evidence(),),
                )
            )
        elif e.kind == "listener_public":
            proto = e.source.split(" ", 1)[0].rstrip("6")
            port = e.source.rsplit(":", 1)[-1]
            what = f" ({e.method})" if e.method else ""
            out.append(
                Detection(
                    PUBLIC_LISTENER,
                    Severity.WARNING,
                    {"port": f"{proto}/{port}"},
                    e.at,
                    f"new service listening on a public address: {e.source}{what}",
                    (e.evidence(),),
                )
            )
        elif e.kind == "firewall_off":
            out.append(
                Detection(
                    FIREWALL_OFF,
                    Severity.CRITICAL,
                    {},
                    e.at,
                    "the host firewall was switched off",
                    (e.evidence(),),
                )
            )
        elif e.kind == "agent_stopped":
            out.append(
                Detection(
                    AGENT_STOPPED,
                    Severity.WARNING,
                    {},
                    e.at,
                    f"the agent was stopped on purpose at {e.at:%Y-%m-%d %H:%M:%S} UTC"
                    " (a clean stop, not a crash or a network loss)",
                    (e.evidence(),),
                )
            )
    return out


def detect(
    events: Sequence[Event],
    hours: BusinessHours | None,
    service_accounts: Iterable[str] = (),
) -> list[Detection]:
    """Every rule over one machine's events: the new ones judged, the others as history."""
    return [
        *failed_login_bursts(events),
        *logins_after_failures(events),
        *off_hours_logins(events, hours, service_accounts),
        *inventory_detections(events),
    ]


def burst_is_quiet(last_fired_at: datetime, now: datetime, quiet: timedelta = QUIET_PERIOD) -> bool:
    """Whether a failed-logins alert may clear: nothing more for the quiet period."""
    return now - last_fired_at >= quiet

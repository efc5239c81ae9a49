"""Alerts: what they are, how they live, who may silence them, how bursts become one message.

Pure decisions for the alerting service; it stores alerts, silences and an outbox and asks
these functions what to do. The separate, small concepts follow Prometheus Alertmanager:

- An alert is identified by its *labels* (org, site, asset, check, kind, ...). The same labels
  always give the same `fingerprint`, so a check that keeps failing refreshes one alert instead
  of opening a new one every minute. The `severity` label is left out of the fingerprint: a
  disk going from warning to critical is the same problem getting worse, not a second problem.
- Lifecycle: open -> acknowledged -> resolved, each step returning the new alert and the
  timeline entries it caused (`Change`). Once resolved an alert stays resolved; the same problem
  coming back opens a new alert with the same fingerprint.
- Silences mute alerts whose labels match, for a bounded time.
- Grouping: alerts sharing some labels (a site losing its link) share a `group_key` and leave
  as one message written by `render`.

Routing, escalation and batching (who is told, when, and again) live in
`forewarn.domain.routing`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from forewarn.domain.observation import Status

AUTO = "auto"  # `resolved_by` when the check itself recovered
SEVERITY_LABEL = "severity"
MAX_LINES = 20  # lines of a grouped message before "and N more"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Higher is worse; for sorting and picking the worst of a group."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class AlertKind(StrEnum):
    """Values of the `kind` label: where an alert came from."""

    CHECK = "check"
    PREDICTIVE = "predictive"
    SECURITY = "security"
    EXTERNAL = "external"
    TICKET = "ticket"  # a ticket's deadline near or passed (services.tickets.sla_watch)


def about_a_ticket(labels: Mapping[str, str]) -> bool:
    """An SLA alert: about the provider's own service (a ticket's deadline), not the client's
    IT. It is routed like any alert, but opens no ticket and stays out of the month's alert
    figures (count, MTTA, MTTR)."""
    return labels.get("kind") == AlertKind.TICKET.value


def severity_of(status: Status) -> Severity | None:
    """The severity a check status alerts with; None for OK (nothing to alert on).

    UNKNOWN is a warning: "could not tell" needs a look, but must not page like a real outage.
    """
    return {
        Status.OK: None,
        Status.WARNING: Severity.WARNING,
        Status.CRITICAL: Severity.CRITICAL,
        Status.UNKNOWN: Severity.WARNING,
    }[status]


def _digest(pairs: Iterable[tuple[str, str]]) -> str:
    # JSON of the sorted pairs is unambiguous whatever the keys and values contain, so two
    # different label sets cannot be joined into the same text.
    text = json.dumps(sorted(pairs), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprint(labels: Mapping[str, str]) -> str:
    """The identity of an alert: 16 hex chars of sha256 over its sorted labels.

    `severity` is not part of it, so a problem that worsens keeps its alert.
    """
    return _digest((k, v) for k, v in labels.items() if k != SEVERITY_LABEL)


def require_aware(at: datetime, what: str = "time") -> datetime:
    """`at`, refused when naive: a naive time compared with stored UTC is off by the zone."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {at.isoformat()}")
    return at


def _iso_minute(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


# ---------------------------------------------------------------------------------------------
# Lifecycle


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class EventKind(StrEnum):
    OPENED = "opened"
    SEVERITY_CHANGED = "severity_changed"
    ACKNOWLEDGED = "acknowledged"
    ACK_EXPIRED = "ack_expired"
    UNACKNOWLEDGED = "unacknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of an alert's timeline."""

    at: datetime
    kind: EventKind
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert as stored. The ack fields describe the current acknowledgement only (they are
    empty unless ACKNOWLEDGED); the resolved fields are set exactly when RESOLVED. Earlier
    acknowledgements live in the timeline."""

    fingerprint: str
    labels: Mapping[str, str] = field(hash=False)
    severity: Severity
    state: AlertState
    opened_at: datetime
    last_fired_at: datetime
    acked_at: datetime | None = None
    ack_until: datetime | None = None  # None while acknowledged: until resolved
    acked_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None  # AUTO or a user name

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", MappingProxyType(dict(sorted(self.labels.items()))))
        object.__setattr__(self, "severity", Severity(self.severity))
        object.__setattr__(self, "state", AlertState(self.state))
        for name in ("opened_at", "last_fired_at", "acked_at", "ack_until", "resolved_at"):
            value = getattr(self, name)
            if value is not None:
                require_aware(value, name)
        acked = self.state is AlertState.ACKNOWLEDGED
        if acked != (self.acked_at is not None and bool(self.acked_by)):
            raise ValueError("acked_at and acked_by are set exactly when an alert is acknowledged")
        if not acked and self.ack_until is not None:
            raise ValueError("ack_until is only set on an acknowledged alert")
        resolved = self.state is AlertState.RESOLVED
        if resolved != (self.resolved_at is not None and bool(self.resolved_by)):
            raise ValueError(
                "resolved_at and resolved_by are set exactly when an alert is resolved"
            )

    @property
    def is_open(self) -> bool:
        """Open and not acknowledged (an acknowledgement that ran out also notifies, see
        `routing.due`)."""
        return self.state is AlertState.OPEN


class Change(NamedTuple):
    """What a lifecycle step returns: the alert to store and the timeline entries to append.

    When `opened` is true the alert is a new one (insert it), even if a resolved alert with the
    same fingerprint was passed in (leave that one as it was).
    """

    alert: Alert
    events: tuple[Event, ...]

    @property
    def opened(self) -> bool:
        return any(e.kind is EventKind.OPENED for e in self.events)


def fire(
    alert: Alert | None, labels: Mapping[str, str], severity: Severity, now: datetime
) -> Change:
    """A check (or forecast, or scanner) says the problem is there at `now`.

    No alert, or only a resolved one: a new alert opens. An open or acknowledged alert is
    refreshed: `last_fired_at` moves and a different severity is recorded as an event. The
    acknowledgement is kept when the severity changes, like a sticky ack in Nagios: whoever
    took it is already on it. An expired acknowledgement is ended first.
    """
    require_aware(now, "now")
    fp = fingerprint(labels)
    if alert is not None and alert.fingerprint != fp:
        raise ValueError(f"labels give fingerprint {fp}, not the alert's {alert.fingerprint}")
    full = {**labels, SEVERITY_LABEL: Severity(severity).value}
    if alert is None or alert.state is AlertState.RESOLVED:
        new = Alert(fp, full, severity, AlertState.OPEN, opened_at=now, last_fired_at=now)
        return Change(new, (Event(now, EventKind.OPENED, f"{severity} problem"),))
    alert, events = unacknowledge_expired(alert, now)
    if severity != alert.severity:
        detail = f"{alert.severity} -> {severity}"
        events = (*events, Event(now, EventKind.SEVERITY_CHANGED, detail))
    last = max(alert.last_fired_at, now)  # a late, out-of-order result must not move it back
    return Change(replace(alert, labels=full, severity=severity, last_fired_at=last), events)


def acknowledge(alert: Alert, by: str, now: datetime, until: datetime | None = None) -> Change:
    """Someone takes the alert: notifications stop until `until` (None: until it resolves).

    Acknowledging again with the same `until` changes nothing (the first one stands, so a
    double tap on a phone adds no noise); a different `until` replaces the acknowledgement.
    """
    require_aware(now, "now")
    if not by.strip():
        raise ValueError("an acknowledgement needs the name of who takes the alert")
    if alert.state is AlertState.RESOLVED:
        raise ValueError(
            f"alert {alert.fingerprint} was resolved at {_iso_minute(alert.resolved_at or now)}"
            f" by {alert.resolved_by}; a resolved alert cannot be acknowledged"
        )
    if until is not None and require_aware(until, "until") <= now:
        raise ValueError(f"an acknowledgement must last past now; until {until.isoformat()}")
    alert, events = unacknowledge_expired(alert, now)
    if alert.state is AlertState.ACKNOWLEDGED and alert.ack_until == until:
        return Change(alert, events)
    detail = f"by {by}, " + (f"until {_iso_minute(until)}" if until else "until resolved")
    acked = replace(
        alert, state=AlertState.ACKNOWLEDGED, acked_at=now, ack_until=until, acked_by=by
    )
    return Change(acked, (*events, Event(now, EventKind.ACKNOWLEDGED, detail)))


def _clear_ack(alert: Alert) -> Alert:
    return replace(alert, state=AlertState.OPEN, acked_at=None, ack_until=None, acked_by=None)


def unacknowledge_expired(alert: Alert, now: datetime) -> Change:
    """An acknowledgement past its `until` ends: the alert is open and notifies again.

    The event is dated when the acknowledgement ran out, not when this was noticed.
    """
    require_aware(now, "now")
    if alert.state is not AlertState.ACKNOWLEDGED or alert.ack_until is None:
        return Change(alert, ())
    if now < alert.ack_until:
        return Change(alert, ())
    event = Event(alert.ack_until, EventKind.ACK_EXPIRED, f"acknowledged by {alert.acked_by}")
    return Change(_clear_ack(alert), (event,))


def unacknowledge(alert: Alert, by: str, now: datetime) -> Change:
    """Someone hands the alert back before it is solved; a no-op unless acknowledged."""
    require_aware(now, "now")
    if alert.state is not AlertState.ACKNOWLEDGED:
        return Change(alert, ())
    return Change(_clear_ack(alert), (Event(now, EventKind.UNACKNOWLEDGED, f"by {by}"),))


def resolve(alert: Alert, by: str, now: datetime) -> Change:
    """The problem is over: `by` is AUTO when the check recovered, else who closed it by hand.

    Resolving twice changes nothing: the first resolution is the one that happened.
    """
    require_aware(now, "now")
    if not by.strip():
        raise ValueError(f"say who resolved the alert ({AUTO!r} when the check recovered)")
    if alert.state is AlertState.RESOLVED:
        return Change(alert, ())
    done = replace(_clear_ack(alert), state=AlertState.RESOLVED, resolved_at=now, resolved_by=by)
    detail = "the check recovered" if by == AUTO else f"by {by}"
    return Change(done, (Event(now, EventKind.RESOLVED, detail),))


# ---------------------------------------------------------------------------------------------
# Matchers and silences


class MatchOp(StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Longest operators first, so `a!=b` is not read as `a!` `=` `b`.
_MATCHER = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)(.*)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Matcher:
    """A condition on one label. Regular expressions must match the whole value; a label an
    alert does not carry reads as the empty string (so `site=""` matches alerts without one)."""

    name: str
    op: MatchOp
    value: str
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _LABEL_NAME.fullmatch(self.name):
            raise ValueError(f"not a label name: {self.name!r} (letters, digits, underscore)")
        try:
            op = MatchOp(self.op)
        except ValueError:
            ops = ", ".join(o.value for o in MatchOp)
            raise ValueError(
                f"matcher on {self.name!r}: unknown operator {self.op!r} ({ops})"
            ) from None
        object.__setattr__(self, "op", op)
        pattern = None
        if op in (MatchOp.RE, MatchOp.NRE):
            try:
                pattern = re.compile(self.value)
            except re.error as e:
                raise ValueError(f"matcher {self}: bad regular expression: {e}") from None
        object.__setattr__(self, "_pattern", pattern)

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """`severity=~warning|critical`, `site!=hq`, `asset="name with edge spaces "`."""
        m = _MATCHER.fullmatch(text)
        if m is None:
            raise ValueError(f"not a matcher: {text!r} (like org=12 or severity=~warning|crit.*)")
        name, op, value = m.group(1), m.group(2), m.group(3).strip()
        if value.startswith('"'):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ValueError(f"matcher {text!r}: badly quoted value") from None
            if not isinstance(value, str):  # pragma: no cover - a leading quote means a string
                raise ValueError(f"matcher {text!r}: badly quoted value")
        return cls(name, MatchOp(op), value)

    def __str__(self) -> str:
        quote = self.value != self.value.strip() or self.value.startswith('"')
        return f"{self.name}{self.op}{json.dumps(self.value) if quote else self.value}"

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.name, "")
        match self.op:
            case MatchOp.EQ:
                return value == self.value
            case MatchOp.NE:
                return value != self.value
            case MatchOp.RE:
                return self._pattern is not None and self._pattern.fullmatch(value) is not None
            case MatchOp.NRE:
                return self._pattern is not None and self._pattern.fullmatch(value) is None
        return False  # pragma: no cover


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """All matchers hold; no matchers match everything (a catch-all route)."""
    return all(m.matches(labels) for m in matchers)


@dataclass(frozen=True, slots=True)
class Silence:
    """Mute matching alerts between `starts_at` and `ends_at`. Always bounded: a forgotten
    silence must not hide a real outage forever."""

    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str = ""
    id: int | None = None  # the service's row id, carried along for "silenced by #id"

    def __post_init__(self) -> None:
        object.__setattr__(self, "matchers", tuple(self.matchers))
        if not self.matchers:
            raise ValueError("a silence needs at least one matcher")
        if all(m.matches({}) for m in self.matchers):
            raise ValueError(
                "a silence needs a matcher that requires a value (like org=12); these would "
                "also mute every alert that lacks the label: "
                + ", ".join(str(m) for m in self.matchers)
            )
        if self.ends_at is None:
            raise ValueError("a silence needs an end time")
        require_aware(self.starts_at, "starts_at")
        require_aware(self.ends_at, "ends_at")
        if self.ends_at <= self.starts_at:
            raise ValueError("a silence must end after it starts")
        if not self.created_by.strip():
            raise ValueError("a silence needs the name of who created it")

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.active(now) and matches_all(self.matchers, labels)


def silenced_by(
    labels: Mapping[str, str], silences: Iterable[Silence], now: datetime
) -> Silence | None:
    """The silence muting these labels at `now`, or None.

    With several, the one that ends last: it tells the technician how long it stays quiet.
    """
    require_aware(now, "now")
    muting = [s for s in silences if s.mutes(labels, now)]
    return max(muting, key=lambda s: s.ends_at, default=None)


# ---------------------------------------------------------------------------------------------
# Grouping


def group_key(labels: Mapping[str, str], by: Sequence[str]) -> str:
    """Alerts with the same values of the `by` labels go out together.

    `org` is always part of the key, so one message never mixes two clients. A missing label
    counts as empty, and the order of `by` does not matter.
    """
    names = {"org", *by}
    return _digest((name, labels.get(name, "")) for name in names)


# ---------------------------------------------------------------------------------------------
# Rendering


def _sort_key(a: Alert) -> tuple[bool, int, datetime, str, str]:
    resolved = a.state is AlertState.RESOLVED
    return (resolved, -a.severity.rank, a.opened_at, a.labels.get("asset", ""), a.fingerprint)


def _line(a: Alert, messages: Mapping[str, str]) -> str:
    asset = a.labels.get("asset") or "(no asset)"
    site = a.labels.get("site")
    where = f"{asset} (site {site})" if site else asset
    what = a.labels.get("check") or a.labels.get("kind") or "problem"
    if a.state is AlertState.RESOLVED and a.resolved_at is not None:
        when = f"from {_iso_minute(a.opened_at)} to {_iso_minute(a.resolved_at)}"
        tag = "RESOLVED"
    else:
        when = f"since {_iso_minute(a.opened_at)}"
        tag = a.severity.upper() + (" (acknowledged)" if a.state is AlertState.ACKNOWLEDGED else "")
    message = messages.get(a.fingerprint)
    return f"{tag} {where}: {what} {when}" + (f" - {message}" if message else "")


def render(
    alerts: Sequence[Alert],
    org_name: str,
    link: str,
    messages: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """(title, body) in plain text for one message about a group of alerts of one client.

    Worst and oldest first; after MAX_LINES lines the rest is counted, not listed, so a site
    outage stays one readable message. `messages` maps a fingerprint to the check's output.
    """
    if not alerts:
        raise ValueError("nothing to render: the group has no alerts")
    items = sorted(alerts, key=_sort_key)
    live = [a for a in items if a.state is not AlertState.RESOLVED]
    tag = max(live, key=lambda a: a.severity.rank).severity.upper() if live else "RESOLVED"
    first = items[0]
    if len(items) == 1:
        asset = first.labels.get("asset") or "(no asset)"
        what = first.labels.get("check") or first.labels.get("kind") or "problem"
        title = f"[{tag}] {org_name}: {what} on {asset}"
    else:
        assets = {a.labels.get("asset", "") for a in items}
        sites = {a.labels.get("site", "") for a in items}
        title = f"[{tag}] {org_name}: {len(items)} alerts on {len(assets)} asset" + (
            "s" if len(assets) != 1 else ""
        )
        if len(sites) == 1 and "" not in sites:
            title += f" at site {sites.pop()}"
    lines = [_line(a, messages or {}) for a in items[:MAX_LINES]]
    if len(items) > MAX_LINES:
        lines.append(f"and {len(items) - MAX_LINES} more")
    count = "1 alert" if len(items) == 1 else f"{len(items)} alerts"
    body = "\n".join([f"{org_name}: {count}", "", *lines, "", link])
    return title, body

"""Alerts: made from hard state changes of checks, routed to channels through the outbox.

`on_changes` runs inside the transaction that recorded the results (services.results), so an
alert and the deliveries it causes are committed with the state change that caused them, or
not at all: a server killed between the two loses nothing. The decisions are pure
(domain.alerting, domain.routing); this module loads and stores what they decide on.

- A hard change to a problem that is to be notified (not in maintenance, not unreachable,
  not flapping) fires the check's alert: a new one opens, or the open one is refreshed.
- A hard recovery resolves it (by "auto") and tells the channels that were told.
- Opening, and later `escalate` (a job), enqueue what the routes say is due: the first step
  at once, later steps while nobody acknowledged, repeats.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from forewarn.domain import alerting, routing
from forewarn.domain.alerting import Alert, AlertKind, AlertState, Change, Severity
from forewarn.domain.checkstate import Kind, Quiet
from forewarn.domain.inventory import Role
from forewarn.domain.observation import Status
from forewarn.services import audit, maintenance, orgs, remedies, silences, tickets
from forewarn.services.context import Context
from forewarn.services.errors import invalid
from forewarn.services.pagination import Page, paginate_desc
from forewarn.services.scope import Actor, get_in_scope, scoped
from forewarn.store.bulk import dialect_insert
from forewarn.store.models import (
    AlertEvent,
    AlertRoute,
    AlertRow,
    AlertSend,
    Asset,
    Channel,
    Check,
    CheckEvent,
    CheckStateRow,
    Delivery,
    Organization,
    Site,
)

if TYPE_CHECKING:
    from forewarn.config import Settings
    from forewarn.services.results import Change as CheckChange

log = logging.getLogger(__name__)

ESCALATE_BATCH = 1_000
RECHECK_UNROUTED = timedelta(minutes=15)
DEFAULT_GROUP_BY = ("org", "site")


# ---- shapes -----------------------------------------------------------------------------------


class AlertEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    kind: str
    detail: str


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    fingerprint: str
    labels: dict[str, str]
    severity: str
    state: str
    summary: str
    asset_id: int | None
    check_id: int | None
    opened_at: datetime
    last_fired_at: datetime
    acked_at: datetime | None
    ack_until: datetime | None
    acked_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None


class AlertDetail(AlertOut):
    events: list[AlertEventOut]


class AckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    until: datetime | None = Field(
        None, description="repeats and escalation resume then; none: until it is resolved"
    )
    comment: str = Field("", max_length=1000)


class ResolveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field("", max_length=1000)


@dataclass(frozen=True)
class AlertFilter:
    """What the inbox narrows alerts by, beside state and organization (one for the API and
    the pages). Each part is a condition of the query, never a pass over fetched rows.

    `site_id` and `asset_id` only narrow: an id of an organization the caller cannot see
    matches none of the alerts it may see, so it finds nothing rather than an error.
    """

    severity: Severity | None = None
    kind: AlertKind | None = None
    site_id: int | None = None
    asset_id: int | None = None
    q: str = ""  # words in the summary, the asset's or the check's name (any case)

    def apply(self, stmt: Select[AlertRow]) -> Select[AlertRow]:
        if self.severity is not None:
            stmt = stmt.where(AlertRow.severity == self.severity.value)
        if self.kind is not None:
            # Alerts from before the label existed are check alerts (services.health too).
            kind = func.coalesce(AlertRow.labels["kind"].as_string(), AlertKind.CHECK.value)
            stmt = stmt.where(kind == self.kind.value)
        if self.site_id is not None:
            stmt = stmt.where(
                AlertRow.asset_id.in_(select(Asset.id).where(Asset.site_id == self.site_id))
            )
        if self.asset_id is not None:
            stmt = stmt.where(AlertRow.asset_id == self.asset_id)
        words = self.q.strip()
        if words:
            stmt = stmt.where(
                or_(
                    AlertRow.summary.icontains(words, autoescape=True),
                    AlertRow.asset_id.in_(
                        select(Asset.id).where(Asset.name.icontains(words, autoescape=True))
                    ),
                    AlertRow.check_id.in_(
                        select(Check.id).where(Check.name.icontains(words, autoescape=True))
                    ),
                )
            )
        return stmt


# ---- rows <-> decisions ---------------------------------------------------------------------


def to_domain(row: AlertRow) -> Alert:
    return Alert(
        fingerprint=row.fingerprint,
        labels=row.labels,
        severity=Severity(row.severity),
        state=AlertState(row.state),
        opened_at=row.opened_at,
        last_fired_at=row.last_fired_at,
        acked_at=row.acked_at,
        ack_until=row.ack_until,
        acked_by=row.acked_by,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
    )


def _store(session: Session, row: AlertRow, change: Change) -> None:
    a = change.alert
    row.fingerprint, row.labels = a.fingerprint, dict(a.labels)
    row.severity, row.state = a.severity.value, a.state.value
    row.opened_at, row.last_fired_at = a.opened_at, a.last_fired_at
    row.acked_at, row.ack_until, row.acked_by = a.acked_at, a.ack_until, a.acked_by
    row.resolved_at, row.resolved_by = a.resolved_at, a.resolved_by
    session.flush()  # a new row needs its id for its events
    for e in change.events:
        session.add(AlertEvent(alert_id=row.id, at=e.at, kind=e.kind.value, detail=e.detail))


def check_labels(
    org_id: int, site_id: int | None, asset_id: int, check_id: int, kind: str
) -> dict[str, str]:
    """The labels of a check's alert: ids (stable under renames) and the check type; a
    forecast check's alerts are of kind "predictive" (routes and tickets tell them apart); an
    anomaly check's are ordinary check alerts (a route tells them by type=anomaly)."""
    return {
        "org": str(org_id),
        "site": str(site_id or ""),
        "asset": str(asset_id),
        "check": str(check_id),
        "type": kind,
        "kind": (
            alerting.AlertKind.PREDICTIVE if kind == "forecast" else alerting.AlertKind.CHECK
        ).value,
    }


def _current(session: Session, fingerprint: str) -> AlertRow | None:
    """The fingerprint's alert that is not resolved (there is at most one)."""
    return session.scalars(
        select(AlertRow)
        .where(AlertRow.fingerprint == fingerprint, AlertRow.state != AlertState.RESOLVED.value)
        .order_by(AlertRow.id.desc())
        .limit(1)
    ).first()


# ---- from check state changes -----------------------------------------------------------------


def on_changes(session: Session, ctx: Context, changes: Sequence[CheckChange]) -> None:
    """Alerts for the hard changes among `changes`, in the recording transaction."""
    hard = [c for c in changes if c.transition.kind is Kind.HARD]
    if not hard:
        return
    about = {
        r.id: r
        for r in session.execute(
            select(Check.id, Check.type, Check.name, Asset.site_id, Asset.name.label("asset"))
            .join(Asset, Asset.id == Check.asset_id)
            .where(Check.id.in_({c.check_id for c in hard}))
        )
    }
    for c in sorted(hard, key=lambda c: c.transition.at):
        info = about.get(c.check_id)
        if info is None:
            continue
        labels = check_labels(c.org_id, info.site_id, c.asset_id, c.check_id, info.type)
        t = c.transition
        summary = f"{info.asset} · {info.name}: {c.message}"[:2000]
        if t.new is Status.OK:
            clear(session, ctx, labels, t.at, summary)
        elif t.notify:  # not: maintenance, an unreachable parent, flapping
            severity = alerting.severity_of(t.new) or Severity.WARNING
            # A new incident of a check with a remedy: the remedy is tried first and the
            # alert held meanwhile (services.remedies), for at most the remedy's timeout.
            attempt = None
            if _current(session, alerting.fingerprint(labels)) is None:
                attempt = remedies.begin(session, ctx.clock.now(), c.check_id)
            row = raise_(
                session,
                ctx,
                c.org_id,
                labels,
                severity,
                t.at,
                summary,
                asset_id=c.asset_id,
                check_id=c.check_id,
                hold_until=attempt.hold_until if attempt is not None else None,
                hold_detail=remedies.hold_detail(session, attempt) if attempt is not None else "",
            )
            if attempt is not None:
                attempt.alert_id = row.id


def raise_(
    session: Session,
    ctx: Context,
    org_id: int,
    labels: dict[str, str],
    severity: Severity,
    at: datetime,
    summary: str,
    *,
    asset_id: int | None = None,
    check_id: int | None = None,
    hold_until: datetime | None = None,
    hold_detail: str = "",
) -> AlertRow:
    """A problem is there at `at`: open its alert (and route it) or refresh the open one.

    `hold_until`: a new alert is not routed before then (a remedy is being tried); the
    escalation turn routes it at that moment unless it was resolved or released before."""
    now = ctx.clock.now()
    row = _current(session, alerting.fingerprint(labels))
    change = alerting.fire(to_domain(row) if row else None, labels, severity, at)
    if change.opened or row is None:
        opened = _insert_open(session, org_id, asset_id, check_id, summary, change.alert)
        if opened is None:
            # Another transaction opened it since we looked (two pollers, two posts at
            # once): that one is the problem's alert, and this firing refreshes it.
            row = _current(session, alerting.fingerprint(labels))
            assert row is not None  # the conflict was with an open one, committed now
            change = alerting.fire(to_domain(row), labels, severity, at)
        else:
            row = opened
    before = row.severity
    row.summary = summary[:2000]
    _store(session, row, change)
    worse = any(e.kind is alerting.EventKind.SEVERITY_CHANGED for e in change.events)
    if worse and not change.opened and change.alert.state is AlertState.OPEN:
        _tell_worse(session, ctx, row, change.alert, before, now)
    if change.opened:
        muted = alerting.silenced_by(
            change.alert.labels, silences.active_for(session, org_id, now), now
        )
        if muted is not None:
            session.add(
                AlertEvent(
                    alert_id=row.id,
                    at=now,
                    kind="silenced",
                    detail=f"silenced until {muted.ends_at:%Y-%m-%d %H:%M} UTC by "
                    f"{muted.created_by} (silence {muted.id})",
                )
            )
        if hold_until is not None and hold_until > now:
            session.add(AlertEvent(alert_id=row.id, at=now, kind="held", detail=hold_detail))
            row.notify_at = hold_until
        else:
            route(session, ctx, row, now)
    return row


def _insert_open(
    session: Session,
    org_id: int,
    asset_id: int | None,
    check_id: int | None,
    summary: str,
    alert: Alert,
) -> AlertRow | None:
    """Insert the open alert of a problem; None when one is open already.

    The partial unique index (one open alert per fingerprint) decides, in the database:
    ON CONFLICT DO NOTHING, not an IntegrityError, so that the recording transaction this
    runs in (services.results) keeps its check results when another transaction won."""
    stmt = (
        dialect_insert(session, AlertRow)
        .values(
            org_id=org_id,
            asset_id=asset_id,
            check_id=check_id,
            summary=summary[:2000],
            fingerprint=alert.fingerprint,
            labels=dict(alert.labels),
            severity=alert.severity.value,
            state=alert.state.value,
            opened_at=alert.opened_at,
            last_fired_at=alert.last_fired_at,
        )
        .on_conflict_do_nothing(
            index_elements=["fingerprint"], index_where=AlertRow.state != "resolved"
        )
        .returning(AlertRow.id)
    )
    new_id = session.scalar(stmt)
    return session.get(AlertRow, new_id) if new_id is not None else None


def clear(
    session: Session, ctx: Context, labels: dict[str, str], at: datetime, summary: str
) -> AlertRow | None:
    """The problem is gone: resolve its alert by "auto" and tell who was told."""
    row = _current(session, alerting.fingerprint(labels))
    if row is None:
        return None
    _store(session, row, alerting.resolve(to_domain(row), alerting.AUTO, at))
    row.notify_at = None
    row.summary = summary[:2000]
    _tell_resolved(session, ctx, row, ctx.clock.now())
    tickets.note_alert_resolved(session, row, ctx.clock.now())
    return row


# ---- routing into the outbox ------------------------------------------------------------------


def _routes(session: Session, org_id: int) -> list[tuple[AlertRoute, routing.Route]]:
    """The organization's routes in order, then the provider's."""
    rows = session.scalars(
        select(AlertRoute)
        .where((AlertRoute.org_id == org_id) | AlertRoute.org_id.is_(None))
        .order_by(AlertRoute.org_id.is_(None), AlertRoute.position, AlertRoute.id)
    ).all()
    out = []
    for r in rows:
        try:
            out.append((r, route_of(r)))
        except ValueError:
            log.warning("alert route %s is not valid any more; skipped", r.id)
    return out


def route_of(r: AlertRoute) -> routing.Route:
    return routing.Route(
        matchers=tuple(alerting.Matcher.parse(m) for m in r.matchers),
        when=routing.When(r.when),
        steps=tuple(
            routing.Step(int(s["after_s"]), tuple(int(ch) for ch in s["channels"])) for s in r.steps
        ),
        repeat_s=r.repeat_s,
        continue_=r.continue_,
        id=r.id,
    )


def _display(session: Session, alert: Alert) -> Alert:
    """The alert with names where its labels hold ids, for people to read (the labels keep
    ids so that renaming an asset does not make its open alert a stranger)."""
    names: dict[str, str] = {}
    for label, model in (("asset", Asset), ("check", Check), ("site", Site)):
        value = alert.labels.get(label, "")
        name = (
            session.scalar(select(model.name).where(model.id == int(value)))
            if value.isdigit()
            else None
        )
        if name is not None:
            names[label] = name
    return replace(alert, labels={**alert.labels, **names})


def display(session: Session, row: AlertRow) -> Alert:
    """An alert row as people read it (names, not ids)."""
    return _display(session, to_domain(row))


def _link(ctx: Context, row: AlertRow) -> str:
    """The alert's own page (acknowledge and resolve are there; its check one click away)."""
    base = (ctx.settings.public_url or "").rstrip("/")
    return f"{base}/alerts/{row.id}"


def link_hint(settings: Settings) -> str | None:
    """What to tell whoever runs the server while links in messages are bare paths."""
    if settings.public_url:
        return None
    return (
        "FOREWARN_PUBLIC_URL is not set, so links in alert messages are bare paths like "
        "/alerts/42 that a phone or mail program cannot open. Set it to the address people "
        "open this server at, e.g. FOREWARN_PUBLIC_URL=https://forewarn.example.com, and "
        "restart."
    )


def route(session: Session, ctx: Context, row: AlertRow, now: datetime) -> int:
    """Enqueue what this alert's routes say is due now, and note when they next will have
    something (`notify_at`); how many deliveries."""
    org = session.get(Organization, row.org_id)
    alert = to_domain(row)
    if org is None or alert.state is AlertState.RESOLVED:
        row.notify_at = None
        return 0
    muted = alerting.silenced_by(alert.labels, silences.active_for(session, row.org_id, now), now)
    if muted is not None:
        row.notify_at = muted.ends_at  # told then, if it is still a problem
        return 0
    rows = dict(_routes(session, row.org_id))
    by_id = {r.id: stored for stored, r in rows.items()}
    chosen = routing.routes_for(alert.labels, list(rows.values()), now, orgs.business_hours(org))
    if not chosen:
        # Perhaps only a business-hours route would take it: look again later.
        row.notify_at = now + RECHECK_UNROUTED
        return 0
    sent: dict[int | None, list[routing.Sent]] = {}
    for s in session.scalars(select(AlertSend).where(AlertSend.alert_id == row.id)):
        sent.setdefault(s.route_id, []).append(routing.Sent(s.step_index, s.channel_id, s.at))
    if not sent and any(by_id[r.id].open_ticket for r in chosen if r.id in by_id):
        tickets.from_alert_by_rule(session, row, now)  # the rule: a ticket for each
    message: tuple[str, str] | None = None
    usable = _channels(session, row.org_id)
    made = 0
    wake: list[datetime] = []
    for r in chosen:
        history = sent.setdefault(r.id, [])
        for d in routing.due(alert, r, history, now):
            # Recorded even for a channel since deleted or disabled, so that the step is not
            # looked at again at every escalation turn.
            session.add(
                AlertSend(
                    alert_id=row.id,
                    route_id=r.id,
                    step_index=d.step_index,
                    channel_id=d.channel,
                    at=now,
                )
            )
            history.append(routing.Sent(d.step_index, d.channel, now))
            channel = usable.get(d.channel)
            if channel is None:
                log.warning("alert %s: channel %s is gone or disabled", row.id, d.channel)
                continue
            if message is None:
                message = alerting.render(
                    [_display(session, alert)],
                    org.name,
                    _link(ctx, row),
                    {alert.fingerprint: row.summary},
                )
            kind = {"first": "alert"}.get(d.reason.value, d.reason.value)
            queued = enqueue(
                session, channel, now, kind, *message, alert_id=row.id, org_id=row.org_id
            )
            stored = by_id.get(r.id)
            if stored is not None and stored.group_wait_s and d.reason is routing.Reason.FIRST:
                # Held for the rest of its burst: notify.flush_groups sends them as one.
                by = stored.group_by or list(DEFAULT_GROUP_BY)
                queued.state = "held"
                queued.next_at = now + timedelta(seconds=stored.group_wait_s)
                queued.group_key = f"{r.id}:{d.channel}:{alerting.group_key(alert.labels, by)}"
            made += 1
        upcoming = routing.next_wakeup(alert, r, history, now)
        if upcoming is not None:
            wake.append(upcoming)
    row.notify_at = min(wake, default=None)
    return made


def _channels(session: Session, org_id: int) -> dict[int, Channel]:
    """Enabled channels an organization's alerts may use: its own and the provider's."""
    return {
        ch.id: ch
        for ch in session.scalars(
            select(Channel).where(
                ((Channel.org_id == org_id) | Channel.org_id.is_(None)), Channel.enabled.is_(True)
            )
        )
    }


def enqueue(
    session: Session,
    channel: Channel,
    now: datetime,
    kind: str,
    title: str,
    body: str,
    *,
    alert_id: int | None = None,
    org_id: int | None = None,
) -> Delivery:
    """Put a message in the outbox. It belongs to the alert's organization (`org_id`), also
    when it goes out through one of the provider's channels, so that organization's delivery
    log shows it."""
    d = Delivery(
        org_id=org_id if org_id is not None else channel.org_id,
        channel_id=channel.id,
        alert_id=alert_id,
        kind=kind,
        title=title[:300],
        body=body[:20_000],
        state="pending",
        attempts=0,
        created_at=now,
        next_at=now,
        last_error="",
    )
    session.add(d)
    return d


def _tell_worse(
    session: Session, ctx: Context, row: AlertRow, alert: Alert, before: str, now: datetime
) -> None:
    """A problem that got worse (warning -> critical) is news to the channels already told
    of it; an acknowledged one is not (whoever took it is on it), nor one that got better."""
    if alert.severity is not Severity.CRITICAL:
        return
    told = {
        s.channel_id
        for s in session.scalars(select(AlertSend).where(AlertSend.alert_id == row.id))
        if s.step_index >= 0
    }
    usable = _channels(session, row.org_id)
    org = session.get(Organization, row.org_id)
    title, body = alerting.render(
        [_display(session, alert)],
        org.name if org else "",
        _link(ctx, row),
        {alert.fingerprint: row.summary},
    )
    for channel_id in sorted(told & set(usable)):
        enqueue(
            session,
            usable[channel_id],
            now,
            "worse",
            f"{title} (was {before})",
            body,
            alert_id=row.id,
            org_id=row.org_id,
        )


def _tell_resolved(session: Session, ctx: Context, row: AlertRow, now: datetime) -> None:
    """A "resolved" message to every channel that was told of the alert, once each."""
    sends = session.scalars(select(AlertSend).where(AlertSend.alert_id == row.id)).all()
    history = [routing.Sent(s.step_index, s.channel_id, s.at) for s in sends]
    owed = routing.resolved_notice(to_domain(row), history)
    if not owed:
        return
    org = session.get(Organization, row.org_id)
    title = f"RESOLVED: {row.summary}"[:300]
    body = (
        f"Resolved {row.resolved_at:%Y-%m-%d %H:%M} UTC ({row.resolved_by}) for "
        f"{org.name if org else 'organization ' + str(row.org_id)}.\n{row.summary}\n"
        f"{_link(ctx, row)}"
    )
    usable = _channels(session, row.org_id)
    for channel_id in owed:
        session.add(
            AlertSend(
                alert_id=row.id,
                route_id=None,
                step_index=routing.RESOLVED_STEP,
                channel_id=channel_id,
                at=now,
            )
        )
        if channel_id in usable:
            enqueue(
                session,
                usable[channel_id],
                now,
                "resolved",
                title,
                body,
                alert_id=row.id,
                org_id=row.org_id,
            )


def open_outlived_quiet(session: Session, ctx: Context, now: datetime) -> int:
    """Alerts for problems that began in a maintenance window, or behind a parent that was
    down, and outlived it.

    A check that went hard critical during planned work woke nobody (its transition was
    quiet). If it is still down once the window is over, that is no longer the plan: its
    alert opens now. Likewise a check that went down while its parent was down (unreachable,
    told of through the parent's alert) and is still down once the parent is back: it is a
    problem of its own now, and its state shows no new hard change to open an alert by.
    How many opened."""
    rows = session.execute(
        select(
            CheckStateRow.check_id,
            CheckStateRow.hard_status,
            CheckStateRow.message,
            Check.org_id,
            Check.asset_id,
            Check.type,
            Check.name,
            Asset.site_id,
            Asset.name.label("asset"),
        )
        .join(Check, Check.id == CheckStateRow.check_id)
        .join(Asset, Asset.id == Check.asset_id)
        .where(
            CheckStateRow.is_hard.is_(True),
            CheckStateRow.hard_status != int(Status.OK),
            CheckStateRow.unreachable.is_(False),
            CheckStateRow.flapping.is_(False),
            Check.enabled.is_(True),
            # Those with an alert are told already: what is left is few (quiet ones).
            ~exists().where(
                AlertRow.check_id == Check.id, AlertRow.state != AlertState.RESOLVED.value
            ),
        )
        .limit(ESCALATE_BATCH)
    ).all()
    if not rows:
        return 0
    windows = maintenance.windows_of(session, {r.org_id for r in rows})
    opened = 0
    for r in rows:
        if maintenance.active(windows, r.org_id, r.site_id, r.asset_id, now):
            continue
        last = session.scalar(
            select(CheckEvent.quiet)
            .where(CheckEvent.check_id == r.check_id, CheckEvent.kind == Kind.HARD.value)
            .order_by(CheckEvent.at.desc(), CheckEvent.id.desc())
            .limit(1)
        )
        if last == Quiet.MAINTENANCE.value:
            why = "still failing after maintenance"
        elif last == Quiet.UNREACHABLE.value:
            why = "still failing now that its parent is back"
        else:
            continue
        labels = check_labels(r.org_id, r.site_id, r.asset_id, r.check_id, r.type)
        if _current(session, alerting.fingerprint(labels)) is not None:
            continue
        severity = alerting.severity_of(Status(r.hard_status)) or Severity.WARNING
        summary = f"{r.asset} · {r.name}: {r.message} ({why})"
        raise_(
            session,
            ctx,
            r.org_id,
            labels,
            severity,
            now,
            summary,
            asset_id=r.asset_id,
            check_id=r.check_id,
        )
        opened += 1
    return opened


def escalate(ctx: Context) -> int:
    """The job: end acknowledgements that ran out, enqueue escalations and repeats, and open
    the alerts of problems that outlived their maintenance window or their parent's outage."""
    now = ctx.clock.now()
    made = 0
    with ctx.db.transaction() as session:
        open_outlived_quiet(session, ctx, now)
        rows = session.scalars(
            select(AlertRow)
            .where(AlertRow.state != AlertState.RESOLVED.value, AlertRow.notify_at <= now)
            .order_by(AlertRow.notify_at, AlertRow.id)
            .limit(ESCALATE_BATCH)
        ).all()
        for row in rows:
            change = alerting.unacknowledge_expired(to_domain(row), now)
            if change.events:
                _store(session, row, change)
            made += route(session, ctx, row, now)
    return made


# ---- what people do -----------------------------------------------------------------------------


def list_(
    ctx: Context,
    actor: Actor,
    *,
    org_id: int | None = None,
    state: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    where: AlertFilter | None = None,
) -> Page[AlertOut]:
    """Newest first. `state`: open, acknowledged, resolved, or "active" (not resolved);
    `where` narrows further (severity, kind, site, asset, words), all in the query."""
    stmt = scoped(select(AlertRow), actor, AlertRow.org_id)
    if org_id is not None:
        stmt = stmt.where(AlertRow.org_id == org_id)
    if state == "active":
        stmt = stmt.where(AlertRow.state != AlertState.RESOLVED.value)
    elif state is not None:
        stmt = stmt.where(AlertRow.state == state)
    if where is not None:
        stmt = where.apply(stmt)
    with ctx.db.read() as session:
        page = paginate_desc(session, stmt, AlertRow.id, limit, cursor)
        return Page([AlertOut.model_validate(a) for a in page.items], page.next_cursor)


def get(ctx: Context, actor: Actor, alert_id: int) -> AlertDetail:
    with ctx.db.read() as session:
        row = get_in_scope(session, actor, AlertRow, alert_id)
        return _detail(session, row)


def _detail(session: Session, row: AlertRow) -> AlertDetail:
    events = session.scalars(
        select(AlertEvent).where(AlertEvent.alert_id == row.id).order_by(AlertEvent.id)
    ).all()
    return AlertDetail.model_validate(
        {
            **AlertOut.model_validate(row).model_dump(),
            "events": [AlertEventOut.model_validate(e) for e in events],
        }
    )


def acknowledge(ctx: Context, actor: Actor, alert_id: int, data: AckRequest) -> AlertDetail:
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        row = get_in_scope(session, actor, AlertRow, alert_id, Role.TECHNICIAN)
        try:
            change = alerting.acknowledge(to_domain(row), actor.username, now, data.until)
        except ValueError as exc:
            raise invalid(str(exc)) from None
        _store(session, row, change)
        route(session, ctx, row, now)  # sends nothing now; notes when the ack runs out
        _comment(session, row, now, actor, data.comment)
        _audit(session, ctx, actor, row, "alert.acknowledge")
        return _detail(session, row)


def resolve(ctx: Context, actor: Actor, alert_id: int, data: ResolveRequest) -> AlertDetail:
    """Resolve by hand: if the check still fails at its next hard change, a new alert opens."""
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        row = get_in_scope(session, actor, AlertRow, alert_id, Role.TECHNICIAN)
        _store(session, row, alerting.resolve(to_domain(row), actor.username, now))
        row.notify_at = None
        _comment(session, row, now, actor, data.comment)
        _tell_resolved(session, ctx, row, now)
        tickets.note_alert_resolved(session, row, now)
        _audit(session, ctx, actor, row, "alert.resolve")
        return _detail(session, row)


def _comment(session: Session, row: AlertRow, now: datetime, actor: Actor, text: str) -> None:
    if text.strip():
        session.add(
            AlertEvent(alert_id=row.id, at=now, kind="comment", detail=f"{actor.username}: {text}")
        )


def _audit(session: Session, ctx: Context, actor: Actor, row: AlertRow, action: str) -> None:
    audit.record(
        session,
        ctx.clock,
        actor,
        action,
        entity="alert",
        entity_id=row.id,
        org_id=row.org_id,
        after={
            "state": row.state,
            "ack_until": row.ack_until.isoformat() if row.ack_until else None,
        },
    )

"""The one pipeline for check results: Observation -> evaluate (pure) -> state, timeline, data.

Every source of check results (the poller's probes, heartbeat pings, agent checks) ends in
`record`, which judges a group of observations in one transaction: it loads their states,
applies the state machine with what else is true (parent down, maintenance), and writes the
new states, a few bytes of raw result each, the timeline events and the probes' numbers as
metric series.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from forewarn.domain.checkstate import CheckState, Rules, Transition, evaluate
from forewarn.domain.checkstate import Context as EvalContext
from forewarn.domain.observation import Observation, Status
from forewarn.services import alerts, maintenance
from forewarn.services.context import Context
from forewarn.services.ingest import SeriesCache, labels_key
from forewarn.store.bulk import insert_ignore, insert_samples
from forewarn.store.models import Asset, Check, CheckEvent, CheckResult, CheckStateRow

_MAX_TEXT = 4_000


@dataclass(frozen=True)
class Change:
    """A transition of one check, for the alerting that follows."""

    check_id: int
    org_id: int
    asset_id: int
    transition: Transition
    message: str


def to_domain(row: Any) -> CheckState:
    """A stored state (an ORM object or a plain row) as the state machine's value."""
    return CheckState(
        status=Status(row.status),
        hard_status=Status(row.hard_status),
        is_hard=row.is_hard,
        attempt=row.attempt,
        since=row.since,
        hard_since=row.hard_since,
        last_at=row.last_at,
        history=tuple(Status(int(c)) for c in row.history),
        flapping=row.flapping,
        unreachable=row.unreachable,
    )


def _store_state(row: CheckStateRow, st: CheckState) -> None:
    row.status = int(st.status)
    row.hard_status = int(st.hard_status)
    row.is_hard = st.is_hard
    row.attempt = st.attempt
    row.since = st.since
    row.hard_since = st.hard_since
    row.last_at = st.last_at
    row.history = "".join(str(int(s)) for s in st.history)
    row.flapping = st.flapping
    row.unreachable = st.unreachable


def rules_of(check: Any) -> Rules:
    if check.type == "heartbeat":
        # Lateness is judged by period + grace already: the first miss is hard, and the next
        # verdict is due one period + grace after this one.
        wait = float(check.params.get("period_s", 86_400) + check.params.get("grace_s", 3_600))
        return Rules(max_attempts=1, interval=wait, retry_interval=wait)
    return Rules(
        max_attempts=check.max_attempts,
        interval=float(check.interval_s),
        retry_interval=float(check.retry_interval_s),
    )


def _parent_down(
    states: dict[int, Any], judged: dict[int, CheckState], parent_id: int | None
) -> bool:
    """The parent's hard state: as just judged in this group, else as stored."""
    if parent_id is None:
        return False
    if parent_id in judged:
        st = judged[parent_id]
        return st.is_hard and st.hard_status is not Status.OK
    row = states.get(parent_id)
    return row is not None and row.is_hard and row.hard_status != int(Status.OK)


def record(
    ctx: Context,
    observations: Sequence[Observation],
    *,
    series: SeriesCache,
    lease_owner: str | None = None,
) -> list[Change]:
    """Judge and store a group of observations in one transaction; answer the transitions.

    An observation of a check that was deleted meanwhile is dropped. With `lease_owner`, the
    checks' leases held by that poller are released.
    """
    if not observations:
        return []
    created: dict[tuple[int, str, str], int] = {}
    with ctx.db.transaction() as session:
        changes = _record(session, observations, series, lease_owner, created)
        # In the same transaction: an alert and its deliveries exist exactly when the
        # change that caused them does.
        alerts.on_changes(session, ctx, changes)
    series.remember(created)  # only once committed: a rollback would leave stale ids
    return changes


_STATE: Table = CheckStateRow.__table__  # type: ignore[assignment]
_EVENTS: Table = CheckEvent.__table__  # type: ignore[assignment]
_CHECK_COLUMNS = (
    Check.id,
    Check.org_id,
    Check.asset_id,
    Check.parent_id,
    Check.type,
    Check.params,
    Check.max_attempts,
    Check.interval_s,
    Check.retry_interval_s,
    Asset.site_id,
)
# One UPDATE statement for the whole group (executemany), by primary key.
_UPDATE_STATE = (
    update(_STATE)
    .where(_STATE.c.check_id == bindparam("b_id"))
    .values(
        {
            name: bindparam(f"v_{name}")
            for name in (
                "status",
                "hard_status",
                "is_hard",
                "attempt",
                "since",
                "hard_since",
                "last_at",
                "history",
                "flapping",
                "unreachable",
                "message",
                "details",
                "duration_ms",
                "next_due_at",
                "lease_owner",
                "lease_until",
            )
        }
    )
)


def _chunks(ids: list[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _record(
    session: Session,
    observations: Sequence[Observation],
    series: SeriesCache,
    lease_owner: str | None,
    created: dict[tuple[int, str, str], int],
) -> list[Change]:
    """The hot path of the poller: plain rows in, one executemany per table out (the ORM's
    per-object bookkeeping was half the poller's CPU)."""
    ids = sorted({o.check_id for o in observations})
    checks: dict[int, Any] = {}
    for chunk in _chunks(ids):
        stmt = (
            select(*_CHECK_COLUMNS)
            .join(Asset, Asset.id == Check.asset_id)
            .where(Check.id.in_(chunk))
        )
        for found in session.execute(stmt):
            checks[found.id] = found
    wanted = sorted(set(checks) | {c.parent_id for c in checks.values() if c.parent_id})
    states: dict[int, Any] = {}
    for chunk in _chunks(wanted):
        for st in session.execute(select(_STATE).where(_STATE.c.check_id.in_(chunk))):
            states[st.check_id] = st
    windows = maintenance.windows_of(session, {c.org_id for c in checks.values()})

    changes: list[Change] = []
    results: list[dict[str, int]] = []
    events: list[dict[str, object]] = []
    updates: dict[int, dict[str, Any]] = {}
    points: list[tuple[tuple[int, str, str], int, float]] = []
    current: dict[int, CheckState] = {}
    for obs in sorted(observations, key=lambda o: o.at):
        check = checks.get(obs.check_id)
        row = states.get(obs.check_id)
        if check is None or row is None:
            continue
        prev = current.get(check.id) or to_domain(row)
        if prev.last_at is not None and obs.at < prev.last_at:
            continue  # older than what is stored (a late overdue verdict after a ping): stale
        ectx = EvalContext(
            parent_down=_parent_down(states, current, check.parent_id),
            in_maintenance=bool(windows)
            and maintenance.active(windows, check.org_id, check.site_id, check.asset_id, obs.at),
        )
        ev = evaluate(prev, obs.result.status, obs.at, rules_of(check), ectx)
        current[check.id] = ev.state
        message = obs.result.message[:_MAX_TEXT]
        release = lease_owner is not None and row.lease_owner == lease_owner
        updates[check.id] = {
            "b_id": check.id,
            **_state_values(ev.state),
            "v_message": message,
            "v_details": obs.result.details[:_MAX_TEXT],
            "v_duration_ms": obs.duration_ms,
            "v_next_due_at": obs.at + timedelta(seconds=ev.next_in),
            "v_lease_owner": None if release else row.lease_owner,
            "v_lease_until": None if release else row.lease_until,
        }
        ts = int(obs.at.timestamp())
        results.append({"check_id": check.id, "ts": ts, "status": int(obs.result.status)})
        if obs.result.metrics:
            key = labels_key({"check": str(check.id)})
            for m in obs.result.metrics:
                points.append(((check.asset_id, f"check.{m.name}"[:100], key), ts, m.value))
        for t in ev.transitions:
            events.append(
                {
                    "org_id": check.org_id,
                    "check_id": check.id,
                    "at": t.at,
                    "kind": t.kind.value,
                    "old": int(t.old),
                    "new": int(t.new),
                    "quiet": t.quiet.value if t.quiet else "",
                    "message": message[:1000],
                }
            )
            changes.append(Change(check.id, check.org_id, check.asset_id, t, message))
    if updates:
        session.connection().execute(_UPDATE_STATE, list(updates.values()))
    insert_ignore(session, CheckResult.__table__, results)  # type: ignore[arg-type]
    if events:
        session.connection().execute(_EVENTS.insert(), events)  # Core: no ORM rows
    _write_points(session, series, checks, points, created)
    return changes


def _state_values(st: CheckState) -> dict[str, Any]:
    return {
        "v_status": int(st.status),
        "v_hard_status": int(st.hard_status),
        "v_is_hard": st.is_hard,
        "v_attempt": st.attempt,
        "v_since": st.since,
        "v_hard_since": st.hard_since,
        "v_last_at": st.last_at,
        "v_history": "".join(str(int(s)) for s in st.history),
        "v_flapping": st.flapping,
        "v_unreachable": st.unreachable,
    }


def _write_points(
    session: Session,
    series: SeriesCache,
    checks: dict[int, Any],
    points: list[tuple[tuple[int, str, str], int, float]],
    created: dict[tuple[int, str, str], int],
) -> None:
    if not points:
        return
    keys = [k for k, _, _ in points]
    ids = series.known(keys)
    missing = {k for k in keys if k not in ids}
    if missing:
        org_of = {c.asset_id: c.org_id for c in checks.values()}
        wanted = {
            k: (org_of[k[0]], dict(p.split("=", 1) for p in k[2].split(",") if p)) for k in missing
        }
        made = series.create(session, wanted)
        ids.update(made)
        created.update(made)
    rows = [(ids[k], ts, v) for k, ts, v in points if k in ids]
    insert_samples(session, rows)

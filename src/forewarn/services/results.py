"""The one pipeline for check results: Observation -> evaluate (pure) -> state, timeline, data.

Every source of check results (the poller's probes, heartbeat pings, agent checks) ends in
`record`, which judges a group of observations in one transaction: it loads their states,
applies the state machine with what else is true (parent down, maintenance), and writes the
new states, a few bytes of raw result each, the timeline events and the probes' numbers as
metric series.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Table
from sqlalchemy.orm import Session

from forewarn.domain.checkstate import CheckState, Rules, Transition, evaluate
from forewarn.domain.checkstate import Context as EvalContext
from forewarn.domain.observation import Observation, Status
from forewarn.services import alerts, maintenance
from forewarn.services.context import Context
from forewarn.services.ingest import SeriesCache, labels_key
from forewarn.store.bulk import (
    driver_time,
    insert_ignore_triples,
    insert_samples,
    select_in,
    time_from_driver,
    update_by_key,
)
from forewarn.store.models import CheckEvent, CheckResult

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


def rules_of(check: Any) -> Rules:
    if check.type == "heartbeat":
        return _heartbeat_rules(check.params)
    return _rules(check.max_attempts, check.interval_s, check.retry_interval_s)


def _heartbeat_rules(params: dict[str, Any]) -> Rules:
    # Lateness is judged by period + grace already: the first miss is hard, and the next
    # verdict is due one period + grace after this one.
    wait = float(params.get("period_s", 86_400) + params.get("grace_s", 3_600))
    return Rules(max_attempts=1, interval=wait, retry_interval=wait)


@lru_cache(maxsize=1024)
def _rules(max_attempts: int, interval_s: float, retry_interval_s: float) -> Rules:
    """Shared by every check with the same settings: a Rules validates itself when made."""
    return Rules(
        max_attempts=max_attempts,
        interval=float(interval_s),
        retry_interval=float(retry_interval_s),
    )


def _parent_down(
    states: dict[int, CheckState], judged: dict[int, CheckState], parent_id: int | None
) -> bool:
    """The parent's hard state: as just judged in this group, else as stored."""
    if parent_id is None:
        return False
    st = judged.get(parent_id) or states.get(parent_id)
    return st is not None and st.is_hard and st.hard_status is not Status.OK


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


_EVENTS: Table = CheckEvent.__table__  # type: ignore[assignment]
_STATUS = {int(s): s for s in Status}
_DIGIT = {str(int(s)): s for s in Status}
_DIGIT_OF = {s: d for d, s in _DIGIT.items()}
_NOTHING_ELSE = EvalContext()
_STATE_READ = (
    "s.status, s.hard_status, s.is_hard, s.attempt, s.since, s.hard_since, s.last_at,"
    " s.history, s.flapping, s.unreachable"
)


class _Loaded(NamedTuple):
    """A check's definition and stored state, as `record` needs them."""

    id: int
    org_id: int
    asset_id: int
    parent_id: int | None
    rules: Rules
    site_id: int | None
    lease_owner: str | None
    # The driver's values, written back as they were read when they did not change.
    lease_until: Any
    since: Any
    hard_since: Any
    state: CheckState


def _load(session: Session, dialect: str, ids: list[int]) -> list[_Loaded]:
    """The checks' definitions and states in one read per 500 checks, on the driver's cursor:
    SQLAlchemy's result processing (two type processors per datetime, JSON) and the
    conversion of its rows cost as much as the statements themselves."""
    timeof = time_from_driver(dialect)
    sql = (
        "SELECT c.id, c.org_id, c.asset_id, c.parent_id, c.type, c.params, c.max_attempts,"
        " c.interval_s, c.retry_interval_s, a.site_id, s.lease_owner, s.lease_until,"
        f" {_STATE_READ} FROM checks c JOIN assets a ON a.id = c.asset_id"
        " JOIN check_states s ON s.check_id = c.id WHERE c.id IN ({in})"
    )
    out = []
    for chunk in _chunks(ids):
        for r in select_in(session, sql, chunk):
            if r[4] == "heartbeat":  # the only rules drawn from the parameters
                rules = _heartbeat_rules(r[5] if isinstance(r[5], dict) else json.loads(r[5]))
            else:
                rules = _rules(r[6], r[7], r[8])
            state = _state(r, 12, timeof)
            # id, org, asset, parent, rules, site, lease owner and until, since, hard since
            out.append(
                _Loaded(r[0], r[1], r[2], r[3], rules, r[9], r[10], r[11], r[16], r[17], state)
            )
    return out


def _load_states(session: Session, dialect: str, ids: list[int]) -> dict[int, CheckState]:
    timeof = time_from_driver(dialect)
    sql = f"SELECT s.check_id, {_STATE_READ} FROM check_states s WHERE s.check_id IN ({{in}})"
    found = {}
    for chunk in _chunks(ids):
        for r in select_in(session, sql, chunk):
            found[r[0]] = _state(r, 1, timeof)
    return found


def _state(r: Sequence[Any], i: int, timeof: Callable[[Any], datetime | None]) -> CheckState:
    """A stored state from the driver's row, its columns (`_STATE_READ`) from `i` on."""
    return CheckState(
        _STATUS[r[i]],
        _STATUS[r[i + 1]],
        bool(r[i + 2]),
        r[i + 3],
        timeof(r[i + 4]),
        timeof(r[i + 5]),
        timeof(r[i + 6]),
        tuple([_DIGIT[c] for c in r[i + 7]]),
        bool(r[i + 8]),
        bool(r[i + 9]),
    )


# The state columns a result writes, in the order of the tuples `_record` makes (key last).
_STATE_COLUMNS = (
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
    dialect = session.get_bind().dialect.name
    loaded = _load(session, dialect, sorted({o.check_id for o in observations}))
    checks = {c.id: c for c in loaded}
    states = {c.id: c.state for c in loaded}
    parents = {c.parent_id for c in loaded if c.parent_id and c.parent_id not in states}
    if parents:
        states.update(_load_states(session, dialect, sorted(parents)))
    windows = maintenance.windows_of(session, {c.org_id for c in checks.values()})

    changes: list[Change] = []
    results: list[tuple[int, int, int]] = []
    events: list[dict[str, object]] = []
    updates: dict[int, tuple[Any, ...]] = {}
    when = driver_time(dialect)
    points: list[tuple[tuple[int, str, str], int, float]] = []
    current: dict[int, CheckState] = {}
    for obs in sorted(observations, key=lambda o: o.at):
        check = checks.get(obs.check_id)
        if check is None:
            continue
        prev = current.get(check.id) or check.state
        if prev.last_at is not None and obs.at < prev.last_at:
            continue  # older than what is stored (a late overdue verdict after a ping): stale
        if check.parent_id is None and not windows:
            ectx = _NOTHING_ELSE
        else:
            ectx = EvalContext(
                parent_down=_parent_down(states, current, check.parent_id),
                in_maintenance=bool(windows)
                and maintenance.active(
                    windows, check.org_id, check.site_id, check.asset_id, obs.at
                ),
            )
        ev = evaluate(prev, obs.result.status, obs.at, check.rules, ectx)
        current[check.id] = ev.state
        message = obs.result.message[:_MAX_TEXT]
        release = lease_owner is not None and check.lease_owner == lease_owner
        st = ev.state
        updates[check.id] = (
            int(st.status),
            int(st.hard_status),
            st.is_hard,
            st.attempt,
            check.since if st.since is check.state.since else when(st.since),
            check.hard_since if st.hard_since is check.state.hard_since else when(st.hard_since),
            when(st.last_at),
            "".join([_DIGIT_OF[s] for s in st.history]),
            st.flapping,
            st.unreachable,
            message,
            obs.result.details[:_MAX_TEXT],
            obs.duration_ms,
            when(obs.at + timedelta(seconds=ev.next_in)),
            None if release else check.lease_owner,
            None if release else check.lease_until,
            check.id,
        )
        ts = int(obs.at.timestamp())
        results.append((check.id, ts, int(obs.result.status)))
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
    # Sorted by key: the rows are visited in the primary key's order.
    update_by_key(
        session, "check_states", "check_id", _STATE_COLUMNS, sorted(updates.values(), key=_last)
    )
    insert_ignore_triples(session, CheckResult.__table__, results)  # type: ignore[arg-type]
    if events:
        session.connection().execute(_EVENTS.insert(), events)  # Core: no ORM rows
    _write_points(session, series, checks, points, created)
    return changes


def _last(row: tuple[Any, ...]) -> Any:
    return row[-1]


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

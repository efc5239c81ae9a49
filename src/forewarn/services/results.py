"""The one pipeline for check results: Observation -> evaluate (pure) -> state, timeline, data.

Every source of check results (the poller's probes, heartbeat pings, agent checks) ends in
`record`, which judges a group of observations in one transaction: it loads their states,
applies the state machine with what else is true (parent down, maintenance), and writes the
new states, a few bytes of raw result each, the timeline events and the probes' numbers as
metric series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from forewarn.domain.checkstate import CheckState, Rules, Transition, evaluate
from forewarn.domain.checkstate import Context as EvalContext
from forewarn.domain.observation import Observation, Status
from forewarn.services import maintenance
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


def to_domain(row: CheckStateRow) -> CheckState:
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


def rules_of(check: Check) -> Rules:
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


def _parent_down(states: dict[int, CheckStateRow], parent_id: int | None) -> bool:
    st = states.get(parent_id) if parent_id is not None else None
    return st is not None and st.is_hard and st.hard_status != int(Status.OK)


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
    series.remember(created)  # only once committed: a rollback would leave stale ids
    return changes


def _record(
    session: Session,
    observations: Sequence[Observation],
    series: SeriesCache,
    lease_owner: str | None,
    created: dict[tuple[int, str, str], int],
) -> list[Change]:
    ids = sorted({o.check_id for o in observations})
    checks: dict[int, tuple[Check, int | None]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = (
            select(Check, Asset.site_id)
            .join(Asset, Asset.id == Check.asset_id)
            .where(Check.id.in_(chunk))
        )
        for check, site_id in session.execute(stmt):
            checks[check.id] = (check, site_id)
    wanted_states = set(checks) | {c.parent_id for c, _ in checks.values() if c.parent_id}
    states: dict[int, CheckStateRow] = {}
    wanted = sorted(wanted_states)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for st in session.scalars(select(CheckStateRow).where(CheckStateRow.check_id.in_(chunk))):
            states[st.check_id] = st
    windows = maintenance.windows_of(session, {c.org_id for c, _ in checks.values()})

    changes: list[Change] = []
    results: list[dict[str, int]] = []
    events: list[dict[str, object]] = []
    points: list[tuple[tuple[int, str, str], int, float]] = []
    for obs in sorted(observations, key=lambda o: o.at):
        found = checks.get(obs.check_id)
        row = states.get(obs.check_id)
        if found is None or row is None:
            continue
        check, site_id = found
        if row.last_at is not None and obs.at < row.last_at:
            continue  # older than what is stored (a late overdue verdict after a ping): stale
        ectx = EvalContext(
            parent_down=_parent_down(states, check.parent_id),
            in_maintenance=bool(windows)
            and maintenance.active(windows, check.org_id, site_id, check.asset_id, obs.at),
        )
        ev = evaluate(to_domain(row), obs.result.status, obs.at, rules_of(check), ectx)
        _store_state(row, ev.state)
        row.message = obs.result.message[:_MAX_TEXT]
        row.details = obs.result.details[:_MAX_TEXT]
        row.duration_ms = obs.duration_ms
        row.next_due_at = obs.at + timedelta(seconds=ev.next_in)
        if lease_owner is not None and row.lease_owner == lease_owner:
            row.lease_owner = None
            row.lease_until = None
        ts = int(obs.at.timestamp())
        results.append({"check_id": check.id, "ts": ts, "status": int(obs.result.status)})
        for m in obs.result.metrics:
            labels = {"check": str(check.id)}
            points.append(
                ((check.asset_id, f"check.{m.name}"[:100], labels_key(labels)), ts, m.value)
            )
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
                    "message": row.message[:1000],
                }
            )
            changes.append(Change(check.id, check.org_id, check.asset_id, t, row.message))
    session.flush()
    insert_ignore(session, CheckResult.__table__, results)  # type: ignore[arg-type]
    if events:
        session.execute(insert(CheckEvent), events)
    _write_points(session, series, checks, points, created)
    return changes


def _write_points(
    session: Session,
    series: SeriesCache,
    checks: dict[int, tuple[Check, int | None]],
    points: list[tuple[tuple[int, str, str], int, float]],
    created: dict[tuple[int, str, str], int],
) -> None:
    if not points:
        return
    keys = [k for k, _, _ in points]
    ids = series.known(keys)
    missing = {k for k in keys if k not in ids}
    if missing:
        org_of = {c.asset_id: c.org_id for c, _ in checks.values()}
        wanted = {
            k: (org_of[k[0]], dict(p.split("=", 1) for p in k[2].split(",") if p)) for k in missing
        }
        made = series.create(session, wanted)
        ids.update(made)
        created.update(made)
    rows = [(ids[k], ts, v) for k, ts, v in points if k in ids]
    insert_samples(session, rows)

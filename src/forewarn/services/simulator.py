"""Time travel: weeks of synthetic series through the real pipeline, with a moved clock.

Each trace becomes one series of an enrolled machine (label `mount=/sim/<name>`) and one
check on it: a forecast by default, or the trace's `check_type` (an anomaly check, say).
Every `send_every` seconds of simulated time the machine's samples since the last send arrive
as an agent batch through the real ingest (validated as the API would), the rollup job runs,
and a poller tick judges the checks that are due: the real evaluate pipeline raising and
clearing real alerts. The run answers, per trace, what the check said at
each turn and when alerts opened and closed — what the tests assert on and the accuracy
benchmark prints.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from forewarn.domain.clock import ManualClock
from forewarn.domain.forecast import Sample
from forewarn.services import checks, enrollment, ingest, metrics, orgs
from forewarn.services.context import Context
from forewarn.services.poller import Poller
from forewarn.services.schemas import CheckCreate, CheckUpdate, EnrollTokenCreate, OrgCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import AlertRow, CheckStateRow
from forewarn.wire import Batch, EnrollRequest


@dataclass(frozen=True)
class Trace:
    """A synthetic series and the truth about it.

    `fails_at`: when the series (without its noise) reaches the check's limit, None when it
    never does within the run: an alert on such a trace is a false alert.
    """

    name: str
    samples: Sequence[Sample]
    metric: str = "disk.free_bytes"
    params: dict[str, Any] = field(default_factory=dict)
    fails_at: float | None = None
    check_type: str = "forecast"


@dataclass(frozen=True)
class Said:
    """One run of the check: when, its status, and its estimate (None: no date given)."""

    at: float
    status: str
    days_left: float | None
    message: str


@dataclass(frozen=True)
class Span:
    severity: str  # the alert's severity when the run ended (it may have grown)
    opened: float
    closed: float | None


@dataclass
class Outcome:
    trace: Trace
    check_id: int
    said: list[Said] = field(default_factory=list)
    alerts: list[Span] = field(default_factory=list)

    def first_alert(self) -> float | None:
        return min((s.opened for s in self.alerts), default=None)

    def estimate_at(self, t: float) -> Said | None:
        """The first thing the check said at or after `t`."""
        return next((s for s in self.said if s.at >= t), None)


def simulate(
    ctx: Context,
    clock: ManualClock,
    traces: Sequence[Trace],
    *,
    start: float,
    end: float,
    send_every: float = 3600,
    tz: str = "UTC",
) -> list[Outcome]:
    """Play `traces` from `start` to `end` (epoch seconds) through ingest, rollups and the
    poller; `ctx` must run on `clock`, which is moved forward (never back) to `start` first.
    `tz` is the simulated organization's time zone."""
    if clock.now().timestamp() > start:
        raise ValueError("the clock is already past the start of the simulation")
    clock.advance(start - clock.now().timestamp())
    ref, outcomes = _machine(ctx, traces, tz)
    by_time = _by_time(traces)
    times = sorted(by_time)
    asyncio.run(_play(ctx, clock, ref, outcomes, by_time, times, end, send_every))
    _collect_alerts(ctx, outcomes)
    return outcomes


def _machine(
    ctx: Context, traces: Sequence[Trace], tz: str
) -> tuple[ingest.AgentRef, list[Outcome]]:
    name = f"Simulation {uuid.uuid4().hex[:8]}"
    org = orgs.create(ctx, SYSTEM, OrgCreate(name=name, timezone=tz))
    token = enrollment.create_token(ctx, SYSTEM, EnrollTokenCreate(org_id=org.id)).token
    joined = enrollment.enroll(
        ctx, EnrollRequest(token=token, hostname="simulated", machine_id="sim", os="Debian 12")
    )
    # The defaults would forecast every simulated series at once: only ours run.
    for c in checks.list_(ctx, SYSTEM, asset_id=joined.asset_id).items:
        checks.update(ctx, SYSTEM, c.id, CheckUpdate(enabled=False))
    outcomes = []
    for t in traces:
        params = {**t.params, "metric": t.metric, "labels": {"mount": f"/sim/{t.name}"}}
        data = CheckCreate(
            asset_id=joined.asset_id,
            name=f"{t.check_type} {t.name}",
            type=t.check_type,
            params=params,
            interval_s=3600,
            max_attempts=1,
        )
        outcomes.append(Outcome(t, checks.create(ctx, SYSTEM, data).id))
    ref = ingest.AgentRef(joined.agent_id, joined.asset_id, joined.org_id, joined.interval)
    return ref, outcomes


def _by_time(traces: Sequence[Trace]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for t in traces:
        labels = {"mount": f"/sim/{t.name}"}
        for ts, v in t.samples:
            out[int(ts)].append({"name": t.metric, "labels": labels, "value": v})
    return out


async def _play(
    ctx: Context,
    clock: ManualClock,
    ref: ingest.AgentRef,
    outcomes: list[Outcome],
    by_time: dict[int, list[dict[str, Any]]],
    times: list[int],
    end: float,
    send_every: float,
) -> None:
    poller = Poller(ctx, owner="simulator")
    series = ingest.SeriesCache()
    now, i, seq = clock.now().timestamp(), 0, 0
    while now <= end:
        batch = []
        while i < len(times) and times[i] <= now:
            batch.append({"ts": times[i], "points": by_time[times[i]]})
            i += 1
        for part in range(0, len(batch), 1000):
            seq += 1
            body = Batch.model_validate(
                {
                    "v": 1,
                    "batch_id": uuid.uuid4().hex,
                    "seq": seq,
                    "sent_at": now,
                    "samples": batch[part : part + 1000],
                }
            )
            ingest.store(ctx.db, clock.now(), series, [ingest.checkin_of(ref, body)])
        metrics.rollup(ctx)
        await poller.tick()
        _note(ctx, outcomes, now)
        now = clock.advance(send_every).timestamp()


def _note(ctx: Context, outcomes: list[Outcome], now: float) -> None:
    ids = {o.check_id: o for o in outcomes}
    with ctx.db.read() as session:
        rows = session.execute(
            select(
                CheckStateRow.check_id,
                CheckStateRow.status,
                CheckStateRow.message,
                CheckStateRow.details,
                CheckStateRow.last_at,
            ).where(CheckStateRow.check_id.in_(ids))
        )
        for cid, status, message, details, last_at in rows:
            o = ids[cid]
            if last_at is None or (o.said and o.said[-1].at >= last_at.timestamp()):
                continue  # not run this turn
            o.said.append(Said(last_at.timestamp(), _status(status), _days(details), message))


def _status(code: int) -> str:
    return {0: "ok", 1: "warning", 2: "critical"}.get(code, "unknown")


def _days(details: str) -> float | None:
    try:
        first = json.loads(details)["series"][0]
        chosen = next(e for e in first["estimates"] if e["method"] == first["chosen"])
        return float(chosen["days"]) if chosen["days"] is not None else None
    except StopIteration:
        return None
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _collect_alerts(ctx: Context, outcomes: list[Outcome]) -> None:
    ids = {o.check_id: o for o in outcomes}
    with ctx.db.read() as session:
        for row in session.scalars(
            select(AlertRow).where(AlertRow.check_id.in_(ids)).order_by(AlertRow.opened_at)
        ):
            closed = row.resolved_at.timestamp() if row.resolved_at else None
            assert row.check_id is not None  # selected by it
            ids[row.check_id].alerts.append(Span(row.severity, row.opened_at.timestamp(), closed))


def at(text: str) -> float:
    """Epoch seconds of an ISO date, for writing simulations readably."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()

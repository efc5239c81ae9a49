"""Heartbeat pings: a job calls its check's URL to prove it ran (healthchecks.io style).

`ping(token, "success")` records an OK result (WARNING when the run, timed from the last
`start`, took longer than allowed) and moves the deadline to now + period + grace; `fail`
records CRITICAL; `start` only notes the start time. An unknown token is "not found" and
changes nothing. The body (the job's log, a few KB) is kept as the result's details.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import select

from forewarn.domain.observation import Metric, Observation, Result, Status
from forewarn.services import results
from forewarn.services.context import Context
from forewarn.services.errors import not_found
from forewarn.services.ingest import SeriesCache
from forewarn.store.models import Check, CheckStateRow

MAX_LOG = 10_000
_series = SeriesCache()

Kind = Literal["success", "start", "fail"]


def _result(check: Check, kind: Kind, started: datetime | None, now: datetime, log: str) -> Result:
    if kind == "fail":
        return Result(Status.CRITICAL, "the job reported a failure", details=log)
    if started is None:
        return Result(Status.OK, "the job reported success", details=log)
    took = (now - started).total_seconds()
    limit = check.params.get("max_runtime_s")
    metric = Metric("runtime", took, "s", crit=None, min=0)
    if limit and took > limit:
        msg = f"the job succeeded but ran {took:.0f} s (longer than {limit} s)"
        return Result(Status.WARNING, msg, (metric,), log)
    return Result(Status.OK, f"the job reported success after {took:.0f} s", (metric,), log)


def ping(ctx: Context, token: str, kind: Kind, body: bytes = b"") -> None:
    now = ctx.clock.now()
    log = body[:MAX_LOG].decode("utf-8", "replace")
    with ctx.db.transaction() as session:
        check = session.scalars(select(Check).where(Check.push_token == token)).first()
        if check is None or check.type != "heartbeat":
            raise not_found("heartbeat check")
        if not check.enabled:
            return
        state = session.get(CheckStateRow, check.id)
        if state is None:
            raise not_found("heartbeat check")
        if kind == "start":
            state.started_at = now
            return
        started, state.started_at = state.started_at, None
        check_id = check.id
        result = _result(check, kind, started, now, log)
    results.record(ctx, [Observation(check_id, now, result)], series=_series)

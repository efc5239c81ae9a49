"""Judging the passive checks, which read the database instead of probing a network.

- heartbeat: claimed when its period + grace passed; critical unless a ping arrived meanwhile;
- agent: the asset's agent data (online state, a metric's recent mean, a service's state, a
  watched process's count, a watched log's matches) judged by `probes.agent.evaluate`;
- forecast: the asset's stored series of a metric, forecast by services.forecasts;
- anomaly: the asset's recent values of a metric against its hour-of-week baseline
  (services.anomalies).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forewarn.domain.observation import Observation, Result, Status
from forewarn.probes import agent as agent_probe
from forewarn.services import anomalies, forecasts
from forewarn.services.context import Context
from forewarn.services.ingest import labels_key
from forewarn.store.models import (
    Agent,
    AgentWatch,
    CheckStateRow,
    InventorySection,
    MetricRaw,
    MetricSeries,
)

# A process count older than this many agent intervals is not "now".
_FRESH_INTERVALS = 3

if TYPE_CHECKING:
    from forewarn.services.poller import Claimed


def judge(ctx: Context, claimed: Sequence[Claimed]) -> list[Observation]:
    now = ctx.clock.now()
    out: list[Observation] = []
    with ctx.db.read() as session:
        for c in claimed:
            if c.type == "heartbeat":
                result = _heartbeat(session, c, now)
            elif c.type == "forecast":
                result = forecasts.judge(session, c, now)
            elif c.type == "anomaly":
                result = anomalies.judge(session, c, now)
            else:
                result = _agent(session, c, now)
            if result is not None:
                out.append(Observation(c.check_id, now, result))
    return out


def _heartbeat(session: Session, c: Claimed, now: datetime) -> Result | None:
    st = session.get(CheckStateRow, c.check_id)
    if st is None:
        return None
    if st.next_due_at > now:
        return None  # a ping arrived after the claim and moved the deadline
    period = c.params.get("period_s", 86_400)
    if st.last_at is None:
        return Result(Status.CRITICAL, f"no ping received (expected every {_span(period)})")
    ago = (now - st.last_at).total_seconds()
    return Result(Status.CRITICAL, f"no ping for {_span(ago)} (expected every {_span(period)})")


def _span(seconds: float) -> str:
    if seconds >= 86_400:
        return f"{seconds / 86_400:.1f} d"
    if seconds >= 3_600:
        return f"{seconds / 3_600:.1f} h"
    return f"{seconds / 60:.0f} min"


def _agent(session: Session, c: Claimed, now: datetime) -> Result:
    try:
        params = agent_probe.validate(c.target, c.params)
    except ValueError as exc:
        return Result(Status.UNKNOWN, f"bad check definition: {exc}")
    agent = session.scalars(select(Agent).where(Agent.asset_id == c.asset_id)).first()
    if agent is None:
        return agent_probe.evaluate(params, agent_probe.AgentFacts(online=None))
    facts: dict[str, Any] = {
        "online": agent.status == "online",
        "last_seen_s": (now - agent.last_seen_at).total_seconds() if agent.last_seen_at else None,
    }
    if params.kind == "metric":
        facts["metric_mean"] = _mean(session, c.asset_id, params, now)
    elif params.kind == "service":
        row = session.get(InventorySection, (c.asset_id, "services"))
        items = row.data if row is not None and isinstance(row.data, list) else []
        facts["services"] = {s.get("name"): s.get("state") for s in items if isinstance(s, dict)}
    elif params.kind in ("process", "log"):
        facts.update(_watch(session, c, params, agent.interval, now))
    return agent_probe.evaluate(params, agent_probe.AgentFacts(**facts))


def _watch(
    session: Session, c: Claimed, params: agent_probe.Params, interval: int, now: datetime
) -> dict[str, Any]:
    """The agent's numbers for a watched process (latest count) or log (matches summed over
    the window), and its words (last matching line, an error)."""
    facts: dict[str, Any] = {}
    labels = {"check": str(c.check_id)}
    if params.kind == "process":
        span = max(params.window_s, _FRESH_INTERVALS * interval)
        facts["watch_value"] = _value(
            session, c.asset_id, "watch.process_count", labels, span, now, latest=True
        )
    else:
        facts["watch_value"] = _value(
            session, c.asset_id, "watch.log_matches", labels, params.window_s, now, total=True
        )
        words = session.get(AgentWatch, c.check_id)
        if words is not None and words.asset_id == c.asset_id:
            facts["watch_error"] = words.error
            # The last line only while it is within the window being judged.
            fresh = words.line_at is not None and (now - words.line_at).total_seconds() <= max(
                params.window_s, interval
            )
            facts["watch_line"] = words.line if fresh else ""
    return facts


def _mean(
    session: Session, asset_id: int, params: agent_probe.Params, now: datetime
) -> float | None:
    return _value(
        session, asset_id, params.metric, params.labels, params.window_s, now, latest=False
    )


def _value(
    session: Session,
    asset_id: int,
    name: str,
    labels: dict[str, str],
    window_s: int,
    now: datetime,
    *,
    latest: bool = False,
    total: bool = False,
) -> float | None:
    """A series' latest value (window 0, or `latest` within the window), its mean over the
    window, or with `total` its sum (None when it has no sample there)."""
    sid = session.scalar(
        select(MetricSeries.id).where(
            MetricSeries.asset_id == asset_id,
            MetricSeries.name == name,
            MetricSeries.labels_key == labels_key(labels),
        )
    )
    if sid is None:
        return None
    since = int((now - timedelta(seconds=window_s)).timestamp())
    if latest and window_s:
        value = session.scalar(
            select(MetricRaw.value)
            .where(MetricRaw.series_id == sid, MetricRaw.ts >= since)
            .order_by(MetricRaw.ts.desc())
            .limit(1)
        )
    elif total:
        value = session.scalar(
            select(func.sum(MetricRaw.value)).where(
                MetricRaw.series_id == sid, MetricRaw.ts >= since
            )
        )
    elif window_s == 0:
        value = session.scalar(
            select(MetricRaw.value)
            .where(MetricRaw.series_id == sid)
            .order_by(MetricRaw.ts.desc())
            .limit(1)
        )
    else:
        value = session.scalar(
            select(func.avg(MetricRaw.value)).where(
                MetricRaw.series_id == sid, MetricRaw.ts >= since
            )
        )
    return float(value) if value is not None else None

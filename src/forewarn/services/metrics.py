"""Metric series: queries at the right resolution, rollups and retention.

Raw samples are kept `raw_days` (2), 5-minute rollups `rollup_5m_days` (30) and 1-hour
rollups `rollup_1h_days` (730). A query reads the finest table that still covers its range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, text
from sqlalchemy.orm import Session

from forewarn.services.context import Context
from forewarn.services.errors import invalid
from forewarn.services.ingest import ROLLUP_LOW_WATER
from forewarn.services.scope import Actor, get_in_scope
from forewarn.store.models import (
    Asset,
    CheckResult,
    KeyValue,
    MetricRaw,
    MetricRollup1h,
    MetricRollup5m,
    MetricSeries,
)

ROLLUP_DONE = "rollup_done"
# Samples may arrive this late (an agent's interval plus its send) and still be rolled up
# on the first pass; later ones go through the low-water mark.
LATENESS = 180
MAX_POINTS = 2000


@dataclass(frozen=True)
class Retention:
    raw_days: int = 2
    rollup_5m_days: int = 30
    rollup_1h_days: int = 730

    @classmethod
    def of(cls, ctx: Context) -> Retention:
        """The retention configured by FOREWARN_RETENTION_* settings."""
        s = ctx.settings
        return cls(s.retention_raw_days, s.retention_5m_days, s.retention_1h_days)


# ---- queries ---------------------------------------------------------------------------------


def series_of(ctx: Context, actor: Actor, asset_id: int) -> list[dict[str, Any]]:
    with ctx.db.read() as session:
        get_in_scope(session, actor, Asset, asset_id)
        rows = session.execute(
            select(MetricSeries.id, MetricSeries.name, MetricSeries.labels)
            .where(MetricSeries.asset_id == asset_id)
            .order_by(MetricSeries.name, MetricSeries.labels_key)
        )
        return [{"id": i, "name": n, "labels": labels} for i, n, labels in rows]


def _source(start: int, step: int, now: int, retention: Retention) -> tuple[Any, int]:
    """The table and its native resolution that can answer from `start` at `step`."""
    if step < 300 and start >= now - retention.raw_days * 86400:
        return MetricRaw, 1
    if step < 3600 and start >= now - retention.rollup_5m_days * 86400:
        return MetricRollup5m, 300
    return MetricRollup1h, 3600


def query(
    ctx: Context,
    actor: Actor,
    asset_id: int,
    name: str,
    start: datetime,
    end: datetime,
    step: int | None = None,
) -> dict[str, Any]:
    """Each series of that metric on the asset, averaged into `step`-second buckets.

    Without a step, one is chosen so a chart gets at most a few hundred points.
    """
    t0, t1 = int(start.timestamp()), int(end.timestamp())
    if t1 <= t0:
        raise invalid("'to' must be after 'from'")
    step = step or max(60, (t1 - t0) // 300)
    if (t1 - t0) // step > MAX_POINTS:
        raise invalid(f"at most {MAX_POINTS} points per series: use a larger step")
    now = int(ctx.clock.now().timestamp())
    table, native = _source(t0, step, now, Retention.of(ctx))
    step = max(step, native)
    bucket = (table.ts // step) * step
    avg: ColumnElement[Any]
    if native == 1:
        avg, lo, hi = func.avg(table.value), func.min(table.value), func.max(table.value)
    else:
        avg = func.sum(table.avg * table.count) / func.sum(table.count)
        lo, hi = func.min(table.min), func.max(table.max)
    with ctx.db.read() as session:
        get_in_scope(session, actor, Asset, asset_id)
        series = session.execute(
            select(MetricSeries.id, MetricSeries.labels).where(
                MetricSeries.asset_id == asset_id, MetricSeries.name == name
            )
        ).all()
        out = []
        for sid, labels in series:
            rows = session.execute(
                select(bucket.label("b"), avg, lo, hi)
                .where(table.series_id == sid, table.ts >= t0, table.ts < t1)
                .group_by(text("b"))
                .order_by(text("b"))
            )
            points = [[int(b), float(avg), float(lo), float(hi)] for b, avg, lo, hi in rows]
            out.append({"labels": labels, "points": points})
    resolution = {1: "raw", 300: "5m", 3600: "1h"}[native]
    return {"name": name, "step": step, "resolution": resolution, "series": out}


# ---- rollups ---------------------------------------------------------------------------------


def _state(session: Session, key: str) -> int | None:
    row = session.get(KeyValue, key)
    return int(row.value) if row is not None and row.value else None


def _set_state(session: Session, key: str, value: int | None) -> None:
    row = session.get(KeyValue, key)
    stored = "" if value is None else str(value)
    if row is None:
        session.add(KeyValue(key=key, value=stored))
    else:
        row.value = stored


def _upsert_rollup(session: Session, target: str, select_sql: str, params: dict[str, int]) -> None:
    conflict = "ON CONFLICT (series_id, ts) DO UPDATE SET min = excluded.min, max = excluded.max, avg = excluded.avg, count = excluded.count"  # noqa: E501
    session.execute(
        text(f"INSERT INTO {target} (series_id, ts, min, max, avg, count) {select_sql} {conflict}"),
        params,
    )


def rollup(ctx: Context) -> tuple[int, int]:
    """Roll raw samples into 5-minute and 1-hour buckets up to now minus LATENESS.

    Recomputes from the oldest sample written since the last pass (late data from an agent
    that was offline) or from where the last pass ended. Answers the range it covered.
    """
    now = int(ctx.clock.now().timestamp()) - LATENESS
    with ctx.db.transaction() as session:
        done = _state(session, ROLLUP_DONE)
        low = _state(session, ROLLUP_LOW_WATER)
        if done is None:
            first = session.scalar(select(func.min(MetricRaw.ts)))
            done = first if first is not None else now
        start = min(done, low) if low is not None else done
        start5, end5 = start - start % 300, now - now % 300
        if end5 > start5:
            _upsert_rollup(
                session,
                "metric_5m",
                "SELECT series_id, (ts / 300) * 300 AS b, MIN(value), MAX(value), AVG(value), "
                "COUNT(*) FROM metric_raw WHERE ts >= :a AND ts < :b GROUP BY series_id, b",
                {"a": start5, "b": end5},
            )
            # The hour holding end5 is partial; the next pass starts inside it and redoes it.
            _upsert_rollup(
                session,
                "metric_1h",
                "SELECT series_id, (ts / 3600) * 3600 AS b, MIN(min), MAX(max), "
                "SUM(avg * count) / SUM(count), SUM(count) FROM metric_5m "
                "WHERE ts >= :a AND ts < :b GROUP BY series_id, b",
                {"a": start5 - start5 % 3600, "b": end5},
            )
            _set_state(session, ROLLUP_DONE, end5)
        _set_state(session, ROLLUP_LOW_WATER, None)
        return start5, end5


def enforce_retention(ctx: Context, retention: Retention | None = None) -> dict[str, int]:
    """Delete what is older than each table keeps; answers rows deleted per table."""
    r = retention or Retention.of(ctx)
    now = ctx.clock.now()
    cut = {
        "metric_raw": int((now - timedelta(days=r.raw_days)).timestamp()),
        "metric_5m": int((now - timedelta(days=r.rollup_5m_days)).timestamp()),
        "metric_1h": int((now - timedelta(days=r.rollup_1h_days)).timestamp()),
        # Raw check results live as long as raw samples; uptime reads the timeline instead.
        "check_results": int((now - timedelta(days=r.raw_days)).timestamp()),
    }
    deleted = {}
    with ctx.db.transaction() as session:
        for model in (MetricRaw, MetricRollup5m, MetricRollup1h, CheckResult):
            table = model.__tablename__
            result = session.execute(delete(model).where(model.ts < cut[table]))
            deleted[table] = int(result.rowcount or 0)  # type: ignore[attr-defined]
    return deleted

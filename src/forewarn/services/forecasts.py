"""Forecast checks on the server: read an asset's series, let probes.forecast judge them.

The estimators read half-hour means built from the 5-minute rollups: a week is 336 points
per series whatever the agent's interval, which keeps a run over thousands of volumes cheap,
and averaging first takes the sampling noise out before the fit (the trend is untouched).
Each point sits at the count-weighted mean time of the samples it holds, so the half hour
still being filled is placed where its data is, not at its start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Float, cast, func, select, text
from sqlalchemy.orm import Session

from forewarn.domain.observation import Result, Status
from forewarn.probes import forecast as forecast_probe
from forewarn.services import checks
from forewarn.services.context import Context
from forewarn.services.schemas import CheckCreate
from forewarn.services.scope import Actor, get_in_scope
from forewarn.store.models import Asset, Check, CheckStateRow, MetricRollup5m, MetricSeries

if TYPE_CHECKING:
    from forewarn.services.poller import Claimed

BUCKET = 1800  # seconds per point handed to the estimators


def judge(session: Session, c: Claimed, now: datetime) -> Result:
    try:
        params = forecast_probe.validate(c.target, c.params)
    except ValueError as exc:
        return Result(Status.UNKNOWN, f"bad check definition: {exc}")
    t = now.timestamp()
    series = [
        forecast_probe.Series(labels, points_of(session, sid, t - params.window_days * 86_400))
        for sid, labels in matching_series(session, c.asset_id, params)
    ]
    st = session.get(CheckStateRow, c.check_id)
    previous = forecast_probe.previous_states(st.details if st is not None else "")
    return forecast_probe.evaluate(params, series, t, previous)


class Selects(Protocol):
    """What picks an asset's series: a metric name and labels they must carry (the forecast
    and anomaly checks' params both do)."""

    @property
    def metric(self) -> str: ...

    @property
    def labels(self) -> dict[str, str]: ...


def matching_series(
    session: Session, asset_id: int, params: Selects
) -> list[tuple[int, dict[str, str]]]:
    """The asset's series of the metric whose labels include all of `params.labels`."""
    rows = session.execute(
        select(MetricSeries.id, MetricSeries.labels)
        .where(MetricSeries.asset_id == asset_id, MetricSeries.name == params.metric)
        .order_by(MetricSeries.labels_key)
    )
    out = []
    for sid, labels in rows:
        have: dict[str, Any] = labels if isinstance(labels, dict) else {}
        if all(str(have.get(k)) == v for k, v in params.labels.items()):
            out.append((int(sid), {str(k): str(v) for k, v in have.items()}))
    return out


def points_of(session: Session, series_id: int, since: float) -> list[tuple[float, float]]:
    """Half-hour means of a series from `since`: (mean sample time, mean value)."""
    r = MetricRollup5m
    bucket = (r.ts // BUCKET) * BUCKET
    weight = func.sum(r.count)
    # Floats before multiplying: epoch seconds times a count overflows a 32-bit integer.
    mean_t = func.sum((cast(r.ts, Float) + 150.0) * r.count) / weight
    mean_v = func.sum(r.avg * r.count) / weight
    rows = session.execute(
        select(bucket.label("b"), mean_t, mean_v)
        .where(r.series_id == series_id, r.ts >= int(since))
        .group_by(text("b"))
        .order_by(text("b"))
    )
    return [(float(t), float(v)) for _, t, v in rows if t is not None and v is not None]


# Every machine with an agent gets these at enrolment: the forecasts most worth having
# without anyone asking (a policy check of the same name replaces one, e.g. to change its
# lead times; deleting one is respected until the machine enrols again).
DEFAULT_CHECKS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("Disk space forecast", {}),
    ("Inode forecast", {"metric": "disk.inodes_used_percent"}),
    ("Memory forecast", {"metric": "mem.available_bytes"}),
)
# Hourly is plenty for a forecast over a week; one result decides (no retries to wait for).
DEFAULT_TIMING = {"interval_s": 3600, "max_attempts": 1, "retry_interval_s": 60}


def ensure_default_checks(session: Session, ctx: Context, asset: Asset) -> list[Check]:
    """Add the default forecast checks an asset does not have yet (by name); answer them."""
    have = set(session.scalars(select(Check.name).where(Check.asset_id == asset.id)))
    added = []
    for name, params in DEFAULT_CHECKS:
        if name in have:
            continue
        data = CheckCreate(
            asset_id=asset.id, name=name, type="forecast", params=params, **DEFAULT_TIMING
        )
        added.append(checks.add(session, ctx, asset, data, "default"))
    return added


@dataclass(frozen=True)
class SeriesView:
    """One series of a forecast check as its page shows it: the history the estimators
    read, where the deciding estimate says it is heading, and the figures of both."""

    name: str
    state: str
    sentence: str
    unit: str
    threshold: float
    points: list[tuple[float, float]]
    line: list[tuple[float, float]]  # from now to the estimated date (or the chart's end)
    band: list[tuple[float, float, float]]  # the range, as values over the same times
    estimates: list[dict[str, Any]]
    chosen: str  # the method of the estimate that decides


def view(ctx: Context, actor: Actor, check_id: int) -> list[SeriesView]:
    """The forecast check's series, worst first, as they were judged at its last run."""
    with ctx.db.read() as session:
        check = get_in_scope(session, actor, Check, check_id)
        if check.type != "forecast":
            return []
        try:
            params = forecast_probe.validate(check.target, check.params)
        except ValueError:
            return []
        st = session.get(CheckStateRow, check_id)
        judged = judged_series(st.details if st is not None else "")
        now = ctx.clock.now().timestamp()
        since = now - params.window_days * 86_400
        by_key = {
            forecast_probe.series_key(labels): points_of(session, sid, since)
            for sid, labels in matching_series(session, check.asset_id, params)
        }
    unit = params.known.unit if params.known else ""
    out = []
    for fig in judged:
        points = by_key.get(str(fig.get("key")), [])
        line, band = _heading(fig, now, params.window_days * 86_400)
        out.append(
            SeriesView(
                name=str(fig.get("name", "")),
                state=str(fig.get("state", "unknown")),
                sentence=str(fig.get("sentence", "")),
                unit=unit,
                threshold=float(fig.get("threshold", params.limit())),
                points=points,
                line=line,
                band=band,
                estimates=list(fig.get("estimates", [])),
                chosen=str(fig.get("chosen", "")),
            )
        )
    return out


def judged_series(details: str) -> list[dict[str, Any]]:
    """The per-series figures a passive check (forecast, anomaly) left in its details."""
    try:
        data = json.loads(details) if details else {}
    except ValueError:
        return []
    rows = data.get("series") if isinstance(data, dict) else None
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def _heading(
    fig: dict[str, Any], now: float, horizon: float
) -> tuple[list[tuple[float, float]], list[tuple[float, float, float]]]:
    """The dashed line from the current value to the limit at the estimated date, shown at
    most `horizon` ahead, and the band between the range's fast and slow ends."""
    chosen = next(
        (e for e in fig.get("estimates", []) if e.get("method") == fig.get("chosen")), None
    )
    if None in (fig.get("current"), fig.get("threshold"), fig.get("eta"), chosen):
        return [], []
    current, limit, eta = float(fig["current"]), float(fig["threshold"]), float(fig["eta"])
    assert chosen is not None
    days = chosen.get("days")
    if not days or days <= 0:
        return [], []
    per_s = (limit - current) / (days * 86_400)
    end = min(eta, now + horizon)
    line = [(now, current), (end, current + per_s * (end - now))]

    def at(d: float | None, t: float) -> float:
        if not d:  # the slow end never arrives: flat
            return current
        return current + (limit - current) / (d * 86_400) * (t - now)

    lo_d, hi_d = chosen.get("low_days"), chosen.get("high_days")
    band = []
    for i in range(9):
        t = now + (end - now) * i / 8
        a, b = at(lo_d, t), at(hi_d, t)
        band.append((t, min(a, b), max(a, b)))
    return line, band

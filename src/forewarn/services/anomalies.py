"""Anomaly checks on the server: read an asset's series, let probes.anomaly judge them.

The baseline comes from the 1-hour roll-ups (kept two years, so a 12-week horizon is always
there) in the organization's time zone; the judged value is the mean of the raw samples of
the last `window_s` seconds. A baseline only changes when an hour ends, so each series'
baseline is built once per hour and check and kept in this process: a run over thousands
of checks reads the horizon once an hour, and a few raw rows per check otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forewarn.domain import forecast as fc
from forewarn.domain.observation import Result, Status
from forewarn.probes import anomaly as anomaly_probe
from forewarn.services.context import Context
from forewarn.services.forecasts import judged_series, matching_series
from forewarn.services.scope import Actor, get_in_scope
from forewarn.store.models import (
    Asset,
    Check,
    CheckStateRow,
    MetricRaw,
    MetricRollup1h,
    MetricRollup5m,
    Organization,
)

if TYPE_CHECKING:
    from forewarn.services.poller import Claimed

HOUR = 3600
CHART_DAYS = 7
CHART_STEP = 900  # seconds between the band's points on the check page


def judge(session: Session, c: Claimed, now: datetime) -> Result:
    try:
        params = anomaly_probe.validate(c.target, c.params)
    except ValueError as exc:
        return Result(Status.UNKNOWN, f"bad check definition: {exc}")
    tz = org_timezone(session, c.asset_id)
    t = now.timestamp()
    # The baseline ends where the judged window begins: an hour the window reaches into is
    # never part of what the window is judged against.
    series = [
        anomaly_probe.Series(
            labels,
            learned(session, c.check_id, sid, params, tz, t - params.window_s),
            window(session, sid, t, params.window_s),
        )
        for sid, labels in matching_series(session, c.asset_id, params)
    ]
    return anomaly_probe.evaluate(params, series, t)


def org_timezone(session: Session, asset_id: int) -> str:
    tz = session.scalar(
        select(Organization.timezone)
        .join(Asset, Asset.org_id == Organization.id)
        .where(Asset.id == asset_id)
    )
    return tz or "UTC"


class _HourCache:
    """Baselines built this hour, keyed by database, check, series and definition. A new
    hour empties it: every baseline is due for a rebuild then anyway."""

    LIMIT = 200_000  # a bound on memory whatever happens (≈ 3 kB each)

    def __init__(self) -> None:
        self.hour = 0
        self.items: dict[tuple[Any, ...], anomaly_probe.Learned] = {}

    def get(self, hour: int, key: tuple[Any, ...]) -> anomaly_probe.Learned | None:
        if hour != self.hour:
            self.hour, self.items = hour, {}
        return self.items.get(key)

    def put(self, key: tuple[Any, ...], value: anomaly_probe.Learned) -> None:
        if len(self.items) >= self.LIMIT:
            self.items.clear()
        self.items[key] = value


_cache = _HourCache()


def learned(
    session: Session,
    check_id: int,
    series_id: int,
    params: anomaly_probe.Params,
    tz: str,
    now: float,
) -> anomaly_probe.Learned:
    """The series' baseline up to the start of the hour `now` falls in (cached for it)."""
    hour = int(now // HOUR) * HOUR
    # The database's URL is part of the key: tests (and a process serving several
    # databases) reuse check and series ids.
    key = (_database(session), check_id, series_id, params.model_dump_json(), tz)
    got = _cache.get(hour, key)
    if got is None:
        since = hour - params.horizon_weeks * fc.WEEK - HOUR
        got = anomaly_probe.learn(hours_of(session, series_id, since, hour), tz, hour, params)
        _cache.put(key, got)
    return got


def _database(session: Session) -> str:
    bind = session.get_bind()
    return str(bind.engine.url)


def hours_of(
    session: Session, series_id: int, since: float, until: float
) -> list[anomaly_probe.Hour]:
    r = MetricRollup1h
    rows = session.execute(
        select(r.ts, r.avg, r.min, r.max, r.count)
        .where(r.series_id == series_id, r.ts >= int(since), r.ts < int(until))
        .order_by(r.ts)
    )
    return [
        anomaly_probe.Hour(float(ts), float(avg), float(lo), float(hi), int(n))
        for ts, avg, lo, hi, n in rows
    ]


def window(
    session: Session, series_id: int, now: float, seconds: int
) -> anomaly_probe.Window | None:
    """The mean and count of the raw samples in (now - seconds, now]."""
    mean, count = session.execute(
        select(func.avg(MetricRaw.value), func.count()).where(
            MetricRaw.series_id == series_id,
            MetricRaw.ts > int(now - seconds),
            MetricRaw.ts <= int(now),
        )
    ).one()
    return anomaly_probe.Window(float(mean), int(count)) if count else None


@dataclass(frozen=True)
class SeriesView:
    """One series of an anomaly check as its page shows it: the last week of 5-minute
    means, the band the current baseline expects over the same hours, and the figures of
    the last judgement."""

    name: str
    unit: str
    state: str
    sentence: str
    figures: dict[str, Any]
    points: list[tuple[float, float]]
    expected: list[tuple[float, float]]
    band: list[tuple[float, float, float]]


def view(ctx: Context, actor: Actor, check_id: int) -> list[SeriesView]:
    """The anomaly check's series, worst first, as they were judged at its last run."""
    with ctx.db.read() as session:
        check = get_in_scope(session, actor, Check, check_id)
        if check.type != "anomaly":
            return []
        try:
            params = anomaly_probe.validate(check.target, check.params)
        except ValueError:
            return []
        st = session.get(CheckStateRow, check_id)
        judged = {str(f.get("key")): f for f in judged_series(st.details if st else "")}
        tz = org_timezone(session, check.asset_id)
        now = ctx.clock.now().timestamp()
        since = now - CHART_DAYS * fc.DAY
        out = []
        for sid, labels in matching_series(session, check.asset_id, params):
            fig = judged.get(anomaly_probe.series_key(labels), {})
            base = learned(session, check.id, sid, params, tz, now - params.window_s)
            samples = int(fig.get("samples") or max(1, params.window_s // 300))
            expected, band = _band(params, base, since, now, samples)
            out.append(
                SeriesView(
                    name=str(fig.get("name") or anomaly_probe.series_name(params, labels)),
                    unit=unit_of(params.metric),
                    state=str(fig.get("state", "unknown")),
                    sentence=str(fig.get("sentence", "")),
                    figures=fig,
                    points=points_of(session, sid, since),
                    expected=expected,
                    band=band,
                )
            )
    out.sort(key=lambda v: (v.state == "ok", v.name))
    return out


def unit_of(metric: str) -> str:
    """The chart's unit from the metric's name, as the agent names them."""
    if metric.endswith("percent"):
        return "%"
    return "B" if metric.endswith("bytes") else ""


def points_of(session: Session, series_id: int, since: float) -> list[tuple[float, float]]:
    """5-minute means from `since`, each at the middle of its bucket."""
    r = MetricRollup5m
    rows = session.execute(
        select(r.ts, r.avg).where(r.series_id == series_id, r.ts >= int(since)).order_by(r.ts)
    )
    return [(float(ts) + 150.0, float(v)) for ts, v in rows]


def _band(
    params: anomaly_probe.Params,
    base: anomaly_probe.Learned,
    since: float,
    until: float,
    samples: int,
) -> tuple[list[tuple[float, float]], list[tuple[float, float, float]]]:
    """The expectation and band of each hour of the week laid over [since, until]; hours
    without enough history are left out (the chart shows a gap)."""
    expected, band = [], []
    t = since - since % CHART_STEP
    while t <= until:
        slot = fc.hour_of_week(t, base.baseline.tz)
        rule = anomaly_probe.band_rule(params, base, slot, samples)
        j = fc.judge(base.baseline, t, 0.0, rule)
        if j.expected is not None and j.low is not None and j.high is not None:
            expected.append((t, j.expected))
            band.append((t, j.low, j.high))
        t += CHART_STEP
    return expected, band

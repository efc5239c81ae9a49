"""The asset page's resource charts: the time range from the URL, the metrics, the SVGs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from forewarn.reports.charts import ChartSeries, Threshold, line_chart
from forewarn.services import metrics
from forewarn.services.context import Context
from forewarn.services.scope import Actor

# Drawn at about the size a chart gets in a three-column grid, so text reads at 1:1 there
# and still at about 10 px on a phone.
WIDTH, HEIGHT = 380, 190
DISK_WARNING = 90.0
SKEW = 60


@dataclass(frozen=True)
class TimeRange:
    key: str
    label: str
    seconds: int
    # About 300 points per chart; under 300 s the raw samples answer, so the latest minute shows.
    step: int
    words: str


RANGES: dict[str, TimeRange] = {
    r.key: r
    for r in (
        TimeRange("1h", "1 h", 3600, 60, "the last hour"),
        TimeRange("6h", "6 h", 6 * 3600, 120, "the last 6 hours"),
        TimeRange("24h", "24 h", 86400, 240, "the last 24 hours"),
        TimeRange("7d", "7 d", 7 * 86400, 1800, "the last 7 days"),
        TimeRange("30d", "30 d", 30 * 86400, 7200, "the last 30 days"),
    )
}
DEFAULT_RANGE = "24h"


def read_range(value: str | None) -> TimeRange:
    """The range the URL asks for; anything unknown is the default, never an error."""
    return RANGES.get((value or "").strip().lower(), RANGES[DEFAULT_RANGE])


def range_url(asset_id: int, span: TimeRange, tab: str) -> str:
    fields = {"tab": tab if tab != "overview" else "", "range": span.key}
    query = urlencode({k: v for k, v in fields.items() if v and v != DEFAULT_RANGE})
    return f"/assets/{asset_id}" + (f"?{query}" if query else "")


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    svg: Markup


@dataclass(frozen=True)
class Resources:
    charts: list[Chart]
    step: int
    span: TimeRange


def step_text(seconds: int) -> str:
    if seconds < 3600:
        return f"{max(1, seconds // 60)} min"
    return f"{seconds // 3600} h"


class _Window:
    """One range's queries for one asset."""

    def __init__(self, ctx: Context, actor: Actor, asset_id: int, span: TimeRange) -> None:
        self.ctx, self.actor, self.asset_id, self.span = ctx, actor, asset_id, span
        self.now = ctx.clock.now()
        self.start = self.now - timedelta(seconds=span.seconds)
        self.step = span.step
        self.latest = self.now.timestamp()

    @property
    def x_range(self) -> tuple[float, float]:
        return self.start.timestamp(), self.latest

    def series(self, name: str) -> list[dict[str, Any]]:
        # The query's end is exclusive, and an agent's clock may run a little ahead of ours:
        # ask a minute past now so the latest sample is drawn.
        end = self.now + timedelta(seconds=SKEW)
        found = metrics.query(
            self.ctx, self.actor, self.asset_id, name, self.start, end, self.span.step
        )
        self.step = max(self.step, int(found["step"]))
        for s in found["series"]:
            if s["points"]:
                self.latest = max(self.latest, float(s["points"][-1][0]))
        return list(found["series"])


def _chart(
    window: _Window,
    key: str,
    title: str,
    series: Sequence[ChartSeries],
    *,
    unit: str,
    tz: str,
    known: bool,
    **options: Any,
) -> Chart:
    svg = line_chart(
        series,
        width=WIDTH,
        height=HEIGHT,
        unit=unit,
        tz=tz,
        title=title,
        x_range=window.x_range,
        step=window.step,
        key=f"chart-{key}",
        empty_text=f"No data in {window.span.words}" if known else "No data yet",
        **options,
    )
    # The renderer escapes every text it draws.
    return Chart(key, title, Markup(svg))


def _single(rows: list[dict[str, Any]], label: str) -> list[ChartSeries]:
    return [ChartSeries.from_rows(label, s["points"]) for s in rows[:1]]


def _by_label(rows: list[dict[str, Any]], label: str) -> list[ChartSeries]:
    ordered = sorted(rows, key=lambda s: (s["labels"].get(label, "") != "/", s["labels"]))
    return [ChartSeries.from_rows(s["labels"].get(label, "?"), s["points"]) for s in ordered]


def _total(rows: list[dict[str, Any]], label: str) -> ChartSeries:
    """One series summing all of them per time bucket (every interface's traffic)."""
    sums: dict[float, float] = defaultdict(float)
    for s in rows:
        for point in s["points"]:
            sums[point[0]] += point[1]
    return ChartSeries(label, sorted(sums.items()))


def resources(
    ctx: Context,
    actor: Actor,
    asset_id: int,
    span: TimeRange,
    tz: str,
    cpu_threads: int | None = None,
) -> Resources:
    """The five charts of the asset page for this time range, in the organization's zone."""
    w = _Window(ctx, actor, asset_id, span)
    cpu, mem, disks = (
        w.series("cpu.percent"),
        w.series("mem.used_percent"),
        w.series("disk.used_percent"),
    )
    rx, tx = w.series("net.rx_bytes_per_s"), w.series("net.tx_bytes_per_s")
    loads = [(w.series(f"load.{n}"), f"{n} min") for n in (1, 5, 15)]
    percent: dict[str, Any] = {"unit": "%", "tz": tz, "y_min": 0, "y_max": 100}
    charts = [
        _chart(w, "cpu", "CPU used", _single(cpu, "CPU"), known=bool(cpu), **percent),
        _chart(w, "memory", "Memory used", _single(mem, "Memory"), known=bool(mem), **percent),
        _chart(
            w,
            "disks",
            "Disk space used",
            _by_label(disks, "mount"),
            known=bool(disks),
            threshold=Threshold(DISK_WARNING, "Warning"),
            **percent,
        ),
        _chart(
            w,
            "network",
            "Network traffic",
            [_total(rx, "Received"), _total(tx, "Sent")] if rx or tx else [],
            unit="B/s",
            tz=tz,
            known=bool(rx or tx),
        ),
        _chart(
            w,
            "load",
            "Load average",
            [
                ChartSeries.from_rows(label, rows[0]["points"], band=False)
                for rows, label in loads
                if rows
            ],
            unit="",
            tz=tz,
            known=any(rows for rows, _ in loads),
            threshold=Threshold(cpu_threads, "CPU threads") if cpu_threads else None,
        ),
    ]
    return Resources(charts, w.step, span)

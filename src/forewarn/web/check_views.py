"""What the check pages show: state words, the worst-first order, the timeline's wording,
the asset's and the organization's lists of checks, and the response-time chart."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from markupsafe import Markup

from forewarn.domain.maintenance import covers as maintenance_covers
from forewarn.domain.observation import Status
from forewarn.probes import anomaly as anomaly_probe
from forewarn.probes import forecast as forecast_probe
from forewarn.reports.charts import ChartSeries, Forecast, Threshold, line_chart
from forewarn.services import anomalies, assets, checks, forecasts, maintenance, metrics
from forewarn.services.context import Context
from forewarn.services.pagination import MAX_LIMIT, Page
from forewarn.services.schemas import AssetFilter, AssetOut, CheckEventOut, CheckOut, MaintenanceOut
from forewarn.services.scope import Actor
from forewarn.web.check_form import type_label
from forewarn.web.check_uptime import percent_text

# The words of every state a check can show; the palette classes are state-<key>.
STATE_WORDS: dict[str, str] = {
    "ok": "OK",
    "warning": "Warning",
    "critical": "Critical",
    "unknown": "Unknown",
    "unreachable": "Unreachable",
    "pending": "Pending",
    "disabled": "Disabled",
    "maintenance": "Maintenance",
}
# Worst first: what is broken, then what cannot be told, then what is degrading.
_RANK = {
    "critical": 0,
    "unknown": 1,
    "unreachable": 1,
    "warning": 2,
    "pending": 3,
    "ok": 4,
    "disabled": 5,
}
_QUIET = {
    "maintenance": "not notified: maintenance",
    "soft": "not notified: not yet confirmed",
    "flapping": "not notified: flapping",
    "unreachable": "not notified: parent down",
}
_KINDS = {
    "hard": "Confirmed",
    "soft": "Seen",
    "flapping_started": "Flapping started",
    "flapping_stopped": "Flapping stopped",
}
# A problems page lists at most this many checks; beyond, it says how to narrow down.
PROBLEMS_SHOWN = 2000
EVENTS_PAGE = 25
# About the size the chart gets beside the uptime on a wide screen: text reads at 1:1 there.
CHART_WIDTH, CHART_HEIGHT = 420, 210
# Types whose probe measures a response time.
TIMED = ("ping", "tcp", "http", "dns")


def state_word(display: str) -> str:
    return STATE_WORDS.get(display, display.capitalize())


def status_word(value: int) -> str:
    """A timeline's status number (0-3) as its word."""
    try:
        return state_word(Status(value).label)
    except ValueError:
        return str(value)


def status_key(value: int) -> str:
    try:
        return Status(value).label
    except ValueError:
        return "unknown"


def rank(display: str) -> int:
    return _RANK.get(display, 1)


def worst_first(found: list[CheckOut]) -> list[CheckOut]:
    """Worst state first; within a state, the longest-standing first."""
    return sorted(
        found,
        key=lambda c: (
            rank(c.state.display),
            c.state.since.timestamp() if c.state.since else float("inf"),
            c.name.lower(),
        ),
    )


def event_kind(event: CheckEventOut) -> str:
    return _KINDS.get(event.kind, event.kind.replace("_", " ").capitalize())


def quiet_text(event: CheckEventOut) -> str:
    """Why a change was not notified, or '' when it was (or could have been)."""
    if not event.quiet:
        return ""
    return _QUIET.get(event.quiet, f"not notified: {event.quiet}")


def attempt_text(check: CheckOut) -> str:
    """'hard' or 'soft, attempt 2 of 3', for problems; '' for OK and pending."""
    st = check.state
    if st.display in ("ok", "pending", "disabled"):
        return ""
    if st.is_hard:
        return "confirmed"
    return f"attempt {st.attempt} of {check.max_attempts}"


def duration_text(ms: float) -> str:
    if ms <= 0:
        return "—"
    if ms < 1000:
        return f"{ms:.0f} ms"
    return f"{ms / 1000:.2f} s"


def seconds_text(seconds: float) -> str:
    """An interval as people say it: '60 s', '5 min', '1 h 30 min', '1 d'."""
    s = int(seconds)
    if s < 120 or s % 60:
        return f"{seconds:g} s"
    minutes = s // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


def _all(fetch: Any, limit: int = PROBLEMS_SHOWN) -> Iterator[Any]:
    """Every item of a paginated service list, up to `limit`."""
    cursor: str | None = None
    seen = 0
    while True:
        page: Page[Any] = fetch(cursor)
        for item in page.items:
            yield item
            seen += 1
            if seen >= limit:
                return
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def asset_checks(ctx: Context, actor: Actor, asset_id: int) -> list[CheckOut]:
    """The asset's checks, worst first."""
    found = _all(
        lambda cursor: checks.list_(ctx, actor, asset_id=asset_id, limit=MAX_LIMIT, cursor=cursor)
    )
    return worst_first(list(found))


def org_checks(ctx: Context, actor: Actor, org_id: int) -> list[CheckOut]:
    found = _all(
        lambda cursor: checks.list_(ctx, actor, org_id=org_id, limit=MAX_LIMIT, cursor=cursor)
    )
    return list(found)


def problems(ctx: Context, actor: Actor, org_id: int) -> list[CheckOut]:
    """Every check of the organization that is not OK now, worst first."""
    found = _all(
        lambda cursor: checks.list_(
            ctx, actor, org_id=org_id, problems=True, limit=MAX_LIMIT, cursor=cursor
        )
    )
    return worst_first([c for c in found if c.state.display not in ("ok", "pending")])


def org_assets(ctx: Context, actor: Actor, org_id: int) -> dict[int, AssetOut]:
    """The organization's assets, by id."""
    found = _all(
        lambda cursor: assets.list_(
            ctx, actor, AssetFilter(org_id=org_id), limit=MAX_LIMIT, cursor=cursor
        ),
        limit=100_000,
    )
    return {a.id: a for a in found}


def asset_names(ctx: Context, actor: Actor, org_id: int) -> dict[int, str]:
    return {i: a.name for i, a in org_assets(ctx, actor, org_id).items()}


def asset_name(names: dict[int, str], asset_id: int) -> str:
    return names.get(asset_id, f"asset {asset_id}")


def parent_options(
    ctx: Context, actor: Actor, org_id: int, exclude: int | None = None
) -> list[tuple[str, str]]:
    """The organization's checks a check may depend on, by asset then name."""
    found = [c for c in org_checks(ctx, actor, org_id) if c.id != exclude]
    names = asset_names(ctx, actor, org_id)
    found.sort(key=lambda c: (asset_name(names, c.asset_id).lower(), c.name.lower()))
    options = [("", "None: this check stands alone")]
    return options + [(str(c.id), f"{asset_name(names, c.asset_id)} · {c.name}") for c in found]


def covers(window: MaintenanceOut, asset: AssetOut) -> bool:
    """The services' rule (domain.maintenance.covers), for a window and asset as shown."""
    return maintenance_covers(window.site_id, window.asset_id, asset.site_id, asset.id)


def active_windows(ctx: Context, actor: Actor, asset: AssetOut) -> list[MaintenanceOut]:
    """Maintenance windows covering the asset right now."""
    windows = maintenance.list_(ctx, actor, asset.org_id)
    return [w for w in windows if w.active_now and covers(w, asset)]


# ---- the response-time chart --------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseChart:
    svg: Markup
    has_data: bool
    what: str


def _threshold(check: CheckOut, scale: float) -> Threshold | None:
    """The warning level when it is one plain number (a Nagios range like '0.5')."""
    raw = check.params.get("warn_time", check.params.get("warn"))
    if check.type == "ping":
        raw = str(check.params.get("warn", "100,20%")).split(",")[0]
    try:
        return Threshold(float(str(raw)) * scale, "Warning")
    except ValueError:
        return None


def response_chart(ctx: Context, actor: Actor, check: CheckOut, tz: str) -> ResponseChart:
    """Response times over the last 24 hours, in milliseconds."""
    now = ctx.clock.now()
    start = now - timedelta(hours=24)
    # Ping reports its average round trip in ms; the other probes their time in seconds.
    name, scale = ("check.rta", 1.0) if check.type == "ping" else ("check.time", 1000.0)
    # Under 300 s a step reads the raw samples (kept two days), so the latest run shows.
    end = now + timedelta(minutes=1)
    found = metrics.query(ctx, actor, check.asset_id, name, start, end, 240)
    rows = [s for s in found["series"] if s["labels"].get("check") == str(check.id)]
    points = rows[0]["points"] if rows else []
    series = [ChartSeries.from_rows("Response time", points, scale=scale)] if points else []
    svg = line_chart(
        series,
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        unit="ms",
        y_min=0,
        tz=tz,
        title="Response time",
        x_range=(start.timestamp(), now.timestamp()),
        step=float(found["step"]),
        threshold=_threshold(check, scale),
        key=f"check-{check.id}-time",
        empty_text="No response times in the last 24 hours",
    )
    what = f"the average over {int(found['step']) // 60} min"
    return ResponseChart(Markup(svg), bool(points), what)


@dataclass(frozen=True)
class ForecastChart:
    series: forecasts.SeriesView
    svg: Markup


def forecast_charts(ctx: Context, actor: Actor, check: CheckOut, tz: str) -> list[ForecastChart]:
    """Each series of a forecast check: its history, the limit, and where it is heading."""
    out = []
    for i, v in enumerate(forecasts.view(ctx, actor, check.id)):
        history = [ChartSeries(v.name, v.points)] if v.points else []
        heading = Forecast(v.line, v.band, label="Forecast") if v.line else None
        ends = [t for t, _ in v.points] + [t for t, _ in v.line]
        svg = line_chart(
            history,
            width=CHART_WIDTH * 2,
            height=CHART_HEIGHT,
            unit=v.unit,
            y_min=0 if v.unit in ("B", "%") else None,
            threshold=Threshold(v.threshold, "limit"),
            forecast=heading,
            tz=tz,
            title=v.name,
            x_range=(min(ends), max(ends)) if ends else None,
            step=forecasts.BUCKET,
            key=f"check-{check.id}-forecast-{i}",
            empty_text="No history for this series yet",
        )
        out.append(ForecastChart(v, Markup(svg)))
    return out


@dataclass(frozen=True)
class AnomalyChart:
    series: anomalies.SeriesView
    svg: Markup


def anomaly_charts(ctx: Context, actor: Actor, check: CheckOut, tz: str) -> list[AnomalyChart]:
    """Each series of an anomaly check: its last week against the band its baseline expects."""
    out = []
    for i, v in enumerate(anomalies.view(ctx, actor, check.id)):
        lines = [ChartSeries(v.name, v.points)] if v.points else []
        if v.band:
            band = v.band
            if v.unit == "%":  # k sigma can reach past what a share can be: draw what can happen
                band = [(t, max(lo, 0.0), min(hi, 100.0)) for t, lo, hi in band]
            lines.append(ChartSeries("Usual for the hour", v.expected, band))
        now = ctx.clock.now().timestamp()
        svg = line_chart(
            lines,
            width=CHART_WIDTH * 2,
            height=CHART_HEIGHT,
            unit=v.unit,
            y_min=0 if v.unit == "%" or all(p >= 0 for _, p in v.points) else None,
            tz=tz,
            title=v.name,
            x_range=(now - anomalies.CHART_DAYS * 86_400, now),
            key=f"check-{check.id}-anomaly-{i}",
            empty_text="No history for this series yet",
        )
        out.append(AnomalyChart(v, Markup(svg)))
    return out


def anomaly_value(v: object) -> str:
    """A figure of an anomaly judgement as the message writes it ('—' when there is none)."""
    return anomaly_probe.number(float(v)) if isinstance(v, int | float) else "—"


def forecast_rate(rate: float | None, unit: str) -> str:
    """A rate per day in the series' unit: '-3.1 GB', '+0.4 points'."""
    if rate is None:
        return "—"
    return ("+" if rate >= 0 else "-") + forecast_probe.amount(abs(rate), unit)


def heartbeat_commands(url: str) -> list[tuple[str, str]]:
    """What a job runs: curl with a timeout and retries, so a slow network never hangs it."""
    curl = "curl -fsS -m 10 --retry 3"
    return [
        ("Success, at the end of the job", f"{curl} {url}"),
        ("Start, to time the run (optional)", f"{curl} {url}/start"),
        ("Failure, when the job knows it failed", f"{curl} {url}/fail"),
    ]


def helpers() -> dict[str, Any]:
    """Names the check templates use."""
    return {
        "state_word": state_word,
        "status_word": status_word,
        "status_key": status_key,
        "type_label": type_label,
        "attempt_text": attempt_text,
        "duration_text": duration_text,
        "seconds_text": seconds_text,
        "event_kind": event_kind,
        "quiet_text": quiet_text,
        "percent_text": percent_text,
        "forecast_rate": forecast_rate,
        "anomaly_value": anomaly_value,
    }

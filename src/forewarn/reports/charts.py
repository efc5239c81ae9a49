"""SVG line charts: data in, an SVG string out. Shared by the dashboard and the PDF reports.

Pure on purpose: no web, database or clock. Times are Unix epoch seconds and are shown in the
time zone given. The SVG uses presentation attributes only (no <style>, no inline style), so
a strict Content-Security-Policy and WeasyPrint both render it as drawn, and it carries its own
accessible name (<title>) and description (<desc>). Hovering a point shows its value through
a <title> on a small invisible circle: no script needed.
"""

from __future__ import annotations

import html
import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Series colours: distinct from one another and from the state palette (ok, warning,
# critical, unknown, maintenance), each at least 3:1 against white as lines need.
PALETTE = (
    "#1f58c7",  # blue
    "#c2255c",  # raspberry
    "#0b7285",  # teal
    "#d9480f",  # orange
    "#5f3dc4",  # indigo
    "#5c7f00",  # olive
    "#495057",  # slate
    "#a61e4d",  # wine
)
THRESHOLD_COLOUR = "#8a5300"  # the warning colour: a threshold is where a warning starts
TEXT = "#4f5b6e"
GRID = "#e3e7ee"
AXIS = "#b8c0cc"
FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica Neue, Arial, sans-serif"
FONT_SIZE = 11
# A line stops where samples stop for longer than this many steps (an outage, a reboot).
GAP_STEPS = 2.5
# Hover targets per chart: enough to read the shape, few enough to keep pages light.
MAX_HIT_TARGETS = 240

_BYTE_NAMES = ("B", "KB", "MB", "GB", "TB", "PB")
_TIME_STEPS = (
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
    172800,
    604800,
    1209600,
    2419200,
)
# Characters XML 1.0 does not allow, whatever the escaping.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_KEY = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class ChartSeries:
    """One line: (epoch seconds, value) points, and optionally each point's low and high."""

    label: str
    points: Sequence[tuple[float, float]]
    band: Sequence[tuple[float, float, float]] = ()

    @classmethod
    def from_rows(
        cls, label: str, rows: Iterable[Sequence[float]], *, band: bool = True, scale: float = 1.0
    ) -> ChartSeries:
        """From rows of (ts, average, minimum, maximum), as the metrics query answers them."""
        listed = list(rows)
        points = [(float(r[0]), float(r[1]) * scale) for r in listed]
        bands = [(float(r[0]), float(r[2]) * scale, float(r[3]) * scale) for r in listed]
        return cls(label, points, bands if band else ())


@dataclass(frozen=True)
class Threshold:
    """A level worth seeing (where a warning starts), drawn as a dashed line with its label."""

    value: float
    label: str = ""


@dataclass(frozen=True)
class Forecast:
    """Where a series is heading: a dashed line, and the range it may fall in."""

    points: Sequence[tuple[float, float]]
    band: Sequence[tuple[float, float, float]] = ()
    label: str = "Forecast"


@dataclass(frozen=True)
class _Axis:
    lo: float
    hi: float
    ticks: list[tuple[float, str]]


@dataclass(frozen=True)
class _Frame:
    """The plot area inside the SVG and the data ranges it maps."""

    x0: float
    x1: float
    y0: float
    y1: float
    t0: float
    t1: float
    lo: float
    hi: float

    def x(self, t: float) -> float:
        return self.x0 + (t - self.t0) / (self.t1 - self.t0) * (self.x1 - self.x0)

    def y(self, v: float) -> float:
        v = min(max(v, self.lo), self.hi)
        return self.y1 - (v - self.lo) / (self.hi - self.lo) * (self.y1 - self.y0)


# ---- text and numbers -------------------------------------------------------------------------


def _esc(text: str) -> str:
    return html.escape(_NOT_XML.sub("", text), quote=True)


def _text_width(text: str, size: float = FONT_SIZE) -> float:
    # An estimate: no font metrics here, and a little slack costs nothing.
    return len(text) * size * 0.6


def _trim(number: str) -> str:
    return number.rstrip("0").rstrip(".") if "." in number else number


def _short(value: float) -> str:
    """About three significant digits: 0.42, 4.2, 42, 420."""
    magnitude = abs(value)
    if magnitude >= 100 or magnitude == 0:
        return f"{value:.0f}"
    if magnitude >= 10:
        return _trim(f"{value:.1f}")
    return _trim(f"{value:.2f}")


def _byte_scale(magnitude: float) -> tuple[float, str]:
    k = 0
    while magnitude >= 1024 and k < len(_BYTE_NAMES) - 1:
        magnitude /= 1024
        k += 1
    return 1024.0**k, _BYTE_NAMES[k]


def _is_bytes(unit: str) -> bool:
    return unit in ("B", "B/s")


def _suffix(unit: str, name: str = "") -> str:
    if _is_bytes(unit):
        return f" {name}{unit[1:]}"
    if not unit:
        return ""
    return unit if unit.startswith("/") else f" {unit}"


def format_value(value: float, unit: str) -> str:
    """A value as people read it: '42 %', '1.2 MB/s', '3.5 GB', '0.75'.

    `unit` is '%', 'B' (bytes, shown in binary multiples), 'B/s', '' or any other suffix.
    """
    if _is_bytes(unit):
        factor, name = _byte_scale(abs(value))
        return _short(value / factor) + _suffix(unit, name)
    return _short(value) + _suffix(unit)


# ---- axes -------------------------------------------------------------------------------------


def _nice_step(raw: float) -> float:
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    base = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * base >= raw * (1 - 1e-9):
            return m * base
    return 10 * base


def _decimals(step: float) -> int:
    decimals = 0
    while decimals < 6 and abs(round(step, decimals) - step) > step * 1e-6:
        decimals += 1
    return decimals


def value_axis(
    lo: float, hi: float, unit: str, *, fixed_lo: bool, fixed_hi: bool, target: int = 5
) -> tuple[float, float, list[tuple[float, str]]]:
    """Round tick values between lo and hi, labelled with the unit.

    Byte units are scaled first (KB, MB, GB) so the ticks are round in the unit shown.
    Ends not fixed by the caller are widened to the next tick.
    """
    if hi <= lo:
        hi = lo + (1024.0 if _is_bytes(unit) else 1.0)
    factor, name = _byte_scale(max(abs(lo), abs(hi))) if _is_bytes(unit) else (1.0, "")
    slo, shi = lo / factor, hi / factor
    step = _nice_step((shi - slo) / max(1, target - 1))
    if not fixed_hi:
        shi = math.ceil(shi / step - 1e-9) * step
    if not fixed_lo:
        slo = math.floor(slo / step + 1e-9) * step
    if shi <= slo:  # a span too small for any step (5e-324 rounds down to 0): one step
        shi = slo + step
    decimals = _decimals(step)
    ticks = []
    k = math.ceil(slo / step - 1e-9)
    while k * step <= shi + step * 1e-9:
        scaled = k * step
        number = "0" if abs(scaled) < step * 1e-9 else f"{scaled:.{decimals}f}"
        label = number + _suffix(unit, name)
        ticks.append((scaled * factor, label))
        k += 1
    return slo * factor, shi * factor, ticks


def _zone(tz: str | tzinfo) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _zone_name(tz: str | tzinfo) -> str:
    return str(getattr(tz, "key", tz)) if not isinstance(tz, str) else tz


def _moment(ts: float, zone: tzinfo) -> str:
    local = datetime.fromtimestamp(ts, zone)
    return f"{local.day} {local:%b %H:%M}"


def time_ticks(t0: float, t1: float, tz: str | tzinfo, max_ticks: int) -> list[tuple[float, str]]:
    """Ticks at round local times (every 15 min, 3 h, day, week...) with their labels."""
    zone = _zone(tz)
    span = t1 - t0
    step = next((s for s in _TIME_STEPS if span / s <= max_ticks), _TIME_STEPS[-1])
    ticks: list[tuple[float, str]] = []
    if step < 86400:
        offset = (datetime.fromtimestamp(t0, zone).utcoffset() or timedelta()).total_seconds()
        t = math.ceil((t0 + offset) / step) * step - offset
        while t <= t1:
            local = datetime.fromtimestamp(t, zone)
            midnight = local.hour == 0 and local.minute == 0
            ticks.append((t, f"{local:%a} {local.day}" if midnight else f"{local:%H:%M}"))
            t += step
        return ticks
    day = datetime.fromtimestamp(t0, zone).date()
    while True:
        at = datetime.combine(day, time(), tzinfo=zone).timestamp()
        if at > t1:
            return ticks
        if at >= t0:
            local = datetime.fromtimestamp(at, zone)
            ticks.append((at, f"{local.day} {local:%b}"))
        day += timedelta(days=step // 86400 if at >= t0 else 1)


# ---- series geometry --------------------------------------------------------------------------


def _gap_limit(points: Sequence[tuple[float, ...]], step: float | None) -> float:
    """How far apart two samples may be and still be joined by a line."""
    diffs = [b[0] - a[0] for a, b in pairwise(points) if b[0] > a[0]]
    typical = statistics.median(diffs) if diffs else 0.0
    return GAP_STEPS * max(step or 0.0, typical)


def segments(
    points: Sequence[tuple[float, ...]], step: float | None = None
) -> list[list[tuple[float, ...]]]:
    """The runs of points a line may join; an outage longer than 2.5 steps splits them."""
    ordered = sorted(points, key=lambda p: p[0])
    limit = _gap_limit(ordered, step)
    runs: list[list[tuple[float, ...]]] = []
    for point in ordered:
        if runs and point[0] - runs[-1][-1][0] <= limit:
            runs[-1].append(point)
        else:
            runs.append([point])
    return runs


def _path(frame: _Frame, run: Sequence[tuple[float, ...]]) -> str:
    return "M" + " L".join(f"{frame.x(p[0]):.1f} {frame.y(p[1]):.1f}" for p in run)


def _band_path(frame: _Frame, run: Sequence[tuple[float, ...]]) -> str:
    upper = [f"{frame.x(p[0]):.1f} {frame.y(p[2]):.1f}" for p in run]
    lower = [f"{frame.x(p[0]):.1f} {frame.y(p[1]):.1f}" for p in reversed(run)]
    return "M" + " L".join(upper + lower) + " Z"


def _hit_indices(count: int, values: Sequence[float], cap: int) -> list[int]:
    """Evenly spread points to hover, always with the latest and the highest."""
    if count <= cap:
        return list(range(count))
    stride = math.ceil(count / cap)
    chosen = set(range(0, count, stride))
    chosen.add(count - 1)
    chosen.add(max(range(count), key=lambda i: values[i]))
    return sorted(chosen)


# ---- drawing ----------------------------------------------------------------------------------


def _colour(i: int) -> tuple[str, str]:
    """Colour and dash pattern of the i-th series; past the palette, dashes tell them apart."""
    dash = "" if i < len(PALETTE) else ' stroke-dasharray="6 3"'
    return PALETTE[i % len(PALETTE)], dash


def _legend(
    labels: list[tuple[str, str, str]], width: float, left: float
) -> tuple[list[str], float]:
    """Legend items (label, colour, dash) wrapped into rows; answers the SVG and its height."""
    out: list[str] = []
    x, y, row = left, 12.0, 16.0
    for label, colour, dash in labels:
        item = 22 + _text_width(label) + 14
        if x > left and x + item > width - 8:
            x, y = left, y + row
        out.append(
            f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 16:.1f}" y2="{y - 4:.1f}" '
            f'stroke="{colour}" stroke-width="2.5"{dash}/>'
            f'<text x="{x + 21:.1f}" y="{y:.1f}" fill="#1c2333">{_esc(label)}</text>'
        )
        x += item
    return out, y + 8


def _describe(
    title: str,
    series: Sequence[ChartSeries],
    unit: str,
    t0: float,
    t1: float,
    tz: str | tzinfo,
    threshold: Threshold | None,
) -> str:
    zone = _zone(tz)
    parts = [f"{title or 'Chart'}, {_moment(t0, zone)} to {_moment(t1, zone)} ({_zone_name(tz)})."]
    for s in series[:12]:
        values = [p[1] for p in s.points]
        if not values:
            parts.append(f"{s.label}: no data.")
            continue
        latest, low, high = values[-1], min(values), max(values)
        parts.append(
            f"{s.label}: latest {format_value(latest, unit)}, lowest {format_value(low, unit)}, "
            f"highest {format_value(high, unit)}."
        )
    if threshold is not None:
        parts.append(f"Threshold {threshold.label or ''} at {format_value(threshold.value, unit)}.")
    return " ".join(p.replace("  ", " ") for p in parts)


def _open_svg(key: str, width: int, height: int, title: str, desc: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{key}-title {key}-desc" '
        f'font-family="{FONT}" font-size="{FONT_SIZE}">',
        f'<title id="{key}-title">{_esc(title or "Chart")}</title>',
        f'<desc id="{key}-desc">{_esc(desc)}</desc>',
    ]


def empty_chart(
    *, width: int, height: int, title: str = "", text: str = "No data yet", key: str = "chart"
) -> str:
    """The friendly stand-in when there is nothing to draw yet."""
    key = _safe_key(key)
    parts = _open_svg(key, width, height, title, f"{title}: {text}" if title else text)
    parts.append(
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" rx="6" fill="#fafbfc" '
        f'stroke="{AXIS}" stroke-dasharray="4 3"/>'
        f'<text x="{width / 2:.1f}" y="{height / 2 + 4:.1f}" text-anchor="middle" fill="{TEXT}" '
        f'font-size="13">{_esc(text)}</text></svg>'
    )
    return "".join(parts)


def _safe_key(key: str) -> str:
    return _KEY.sub("-", key.lower()).strip("-") or "chart"


def line_chart(
    series: Sequence[ChartSeries],
    *,
    width: int,
    height: int,
    unit: str,
    y_min: float | None = None,
    y_max: float | None = None,
    threshold: Threshold | None = None,
    forecast: Forecast | None = None,
    tz: str | tzinfo = "UTC",
    title: str = "",
    x_range: tuple[float, float] | None = None,
    step: float | None = None,
    key: str = "chart",
    empty_text: str = "No data yet",
) -> str:
    """An SVG line chart of `series` against time.

    `unit` labels the values ('%', 'B/s', 'B', or any suffix). `x_range` fixes the time span
    shown (the period asked for, even where no data is); `step` is the sampling interval,
    used to tell a gap from a normal spacing. A legend appears when there are several series
    or a forecast; `key` makes the element ids unique when several charts share a page.
    """
    key = _safe_key(key)
    drawn = [s for s in series if s.points]
    if not drawn and not (forecast and forecast.points):
        return empty_chart(width=width, height=height, title=title, text=empty_text, key=key)
    forecast_points = list(forecast.points) if forecast else []
    times = [p[0] for s in drawn for p in s.points] + [p[0] for p in forecast_points]
    t0, t1 = x_range if x_range else (min(times), max(times))
    if forecast_points and not x_range:
        t1 = max(t1, max(p[0] for p in forecast_points))
    if t1 <= t0:
        t0, t1 = t0 - 1800, t1 + 1800

    values = [p[1] for s in drawn for p in s.points]
    values += [b for s in drawn for b in (x for p in s.band for x in p[1:])]
    values += [p[1] for p in forecast_points]
    values += [x for p in (forecast.band if forecast else ()) for x in p[1:]]
    if threshold is not None:
        values.append(threshold.value)
    lo = y_min if y_min is not None else min(0.0, min(values))
    hi = y_max if y_max is not None else max(values)
    lo, hi, y_ticks = value_axis(
        lo, hi, unit, fixed_lo=y_min is not None, fixed_hi=y_max is not None
    )

    legend_items = [(s.label, *_colour(i)) for i, s in enumerate(drawn)]
    if forecast_points:
        legend_items.append(
            (forecast.label if forecast else "", _colour(0)[0], ' stroke-dasharray="5 4"')
        )
    left = 10 + max(_text_width(label) for _, label in y_ticks)
    legend_svg: list[str] = []
    top = 10.0
    if len(legend_items) > 1:
        legend_svg, top = _legend(legend_items, width, left)
    frame = _Frame(left, width - 12.0, top, height - 22.0, t0, t1, lo, hi)

    desc = _describe(title, drawn, unit, t0, t1, tz, threshold)
    parts = _open_svg(key, width, height, title, desc)
    parts += _grid(frame, y_ticks, tz)
    if threshold is not None and lo <= threshold.value <= hi:
        parts.append(_threshold(frame, threshold, unit))
    parts += legend_svg
    for i, s in enumerate(drawn):
        colour, dash = _colour(i)
        parts += _series(frame, s, colour, dash, step)
    if forecast and forecast_points:
        parts += _forecast(frame, forecast, _colour(0)[0], step)
    cap = max(24, MAX_HIT_TARGETS // max(1, len(drawn)))
    zone = _zone(tz)
    for i, s in enumerate(drawn):
        parts += _hits(frame, s, _colour(i)[0], unit, zone, cap)
    parts.append("</svg>")
    return "".join(parts)


def _grid(frame: _Frame, y_ticks: list[tuple[float, str]], tz: str | tzinfo) -> list[str]:
    out = ['<g class="chart-axes">']
    for value, label in y_ticks:
        y = frame.y(value)
        out.append(
            f'<line x1="{frame.x0:.1f}" y1="{y:.1f}" x2="{frame.x1:.1f}" y2="{y:.1f}" '
            f'stroke="{AXIS if value == frame.lo else GRID}" stroke-width="1"/>'
            f'<text x="{frame.x0 - 6:.1f}" y="{y + 3.5:.1f}" text-anchor="end" '
            f'fill="{TEXT}">{_esc(label)}</text>'
        )
    max_ticks = max(2, int((frame.x1 - frame.x0) // 64))
    full_width = frame.x1 + 12
    for t, label in time_ticks(frame.t0, frame.t1, tz, max_ticks):
        x = frame.x(t)
        half = _text_width(label) / 2
        centre = min(max(x, half + 1), full_width - half - 1)
        out.append(
            f'<line x1="{x:.1f}" y1="{frame.y1:.1f}" x2="{x:.1f}" y2="{frame.y1 + 4:.1f}" '
            f'stroke="{AXIS}"/>'
            f'<text x="{centre:.1f}" y="{frame.y1 + 16:.1f}" text-anchor="middle" '
            f'fill="{TEXT}">{_esc(label)}</text>'
        )
    out.append("</g>")
    return out


def _threshold(frame: _Frame, threshold: Threshold, unit: str) -> str:
    y = frame.y(threshold.value)
    shown = format_value(threshold.value, unit)
    label = f"{threshold.label} {shown}" if threshold.label else shown
    return (
        f'<g class="chart-threshold"><line x1="{frame.x0:.1f}" y1="{y:.1f}" x2="{frame.x1:.1f}" '
        f'y2="{y:.1f}" stroke="{THRESHOLD_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"/>'
        f'<text x="{frame.x1 - 2:.1f}" y="{y - 4:.1f}" text-anchor="end" '
        f'fill="{THRESHOLD_COLOUR}" font-weight="600">{_esc(label)}</text></g>'
    )


def _series(frame: _Frame, s: ChartSeries, colour: str, dash: str, step: float | None) -> list[str]:
    out = [f'<g class="chart-series" data-label="{_esc(s.label)}">']
    if s.band:
        for run in segments(s.band, step):
            if len(run) > 1:
                out.append(
                    f'<path d="{_band_path(frame, run)}" fill="{colour}" fill-opacity="0.12"/>'
                )
    for run in segments(s.points, step):
        if len(run) == 1:
            p = run[0]
            out.append(
                f'<circle cx="{frame.x(p[0]):.1f}" cy="{frame.y(p[1]):.1f}" r="2" fill="{colour}"/>'
            )
        else:
            out.append(
                f'<path d="{_path(frame, run)}" fill="none" stroke="{colour}" stroke-width="2" '
                f'stroke-linejoin="round" stroke-linecap="round"{dash}/>'
            )
    out.append("</g>")
    return out


def _forecast(frame: _Frame, forecast: Forecast, colour: str, step: float | None) -> list[str]:
    out = ['<g class="chart-forecast">']
    for run in segments(forecast.band, step):
        if len(run) > 1:
            out.append(f'<path d="{_band_path(frame, run)}" fill="{colour}" fill-opacity="0.08"/>')
    for run in segments(forecast.points, step):
        if len(run) > 1:
            out.append(
                f'<path d="{_path(frame, run)}" fill="none" stroke="{colour}" stroke-width="2" '
                'stroke-dasharray="5 4"/>'
            )
    out.append("</g>")
    return out


def _hits(
    frame: _Frame, s: ChartSeries, colour: str, unit: str, zone: tzinfo, cap: int
) -> list[str]:
    """Invisible circles on the points; each one's <title> is what hovering shows."""
    ranges = {p[0]: (p[1], p[2]) for p in s.band}
    points = sorted(s.points)
    out = ['<g class="chart-hits">']
    for i in _hit_indices(len(points), [p[1] for p in points], cap):
        t, v = points[i]
        text = f"{s.label}: {format_value(v, unit)} at {_moment(t, zone)}"
        if t in ranges and ranges[t][0] != ranges[t][1]:
            low, high = ranges[t]
            text += f" (range {format_value(low, unit)} to {format_value(high, unit)})"
        out.append(
            f'<circle class="chart-hit" cx="{frame.x(t):.1f}" cy="{frame.y(v):.1f}" r="5" '
            f'fill="{colour}" fill-opacity="0" pointer-events="all"><title>{_esc(text)}</title>'
            "</circle>"
        )
    out.append("</g>")
    return out


# ---- bars -------------------------------------------------------------------------------------


def bar_chart(
    bars: Sequence[tuple[str, float | None]],
    *,
    width: int,
    height: int,
    unit: str,
    y_min: float | None = None,
    y_max: float | None = None,
    title: str = "",
    key: str = "chart",
    empty_text: str = "No data yet",
    colour: str = PALETTE[0],
) -> str:
    """An SVG bar chart: one bar per (label, value), in order; None draws no bar (nothing to
    judge that day), which is not the same as a bar of 0.

    Same conventions as line_chart: presentation attributes only, a <title> and <desc>, and
    each bar's value in its own <title> for hovering. Labels are thinned to fit.
    """
    key = _safe_key(key)
    values = [v for _, v in bars if v is not None]
    if not values:
        return empty_chart(width=width, height=height, title=title, text=empty_text, key=key)
    lo = y_min if y_min is not None else min(0.0, min(values))
    hi = y_max if y_max is not None else max(values)
    lo, hi, y_ticks = value_axis(
        lo, hi, unit, fixed_lo=y_min is not None, fixed_hi=y_max is not None
    )
    left = 10 + max(_text_width(label) for _, label in y_ticks)
    frame = _Frame(left, width - 12.0, 10.0, height - 22.0, 0.0, float(len(bars)), lo, hi)
    slot = (frame.x1 - frame.x0) / len(bars)
    longest = max(_text_width(label) for label, _ in bars) + 6
    every = max(1, math.ceil(longest / slot)) if slot > 0 else 1

    low, high = min(values), max(values)
    desc = (
        f"{title or 'Chart'}: {len(bars)} bars from {bars[0][0]} to {bars[-1][0]}; "
        f"lowest {format_value(low, unit)}, highest {format_value(high, unit)}."
    )
    parts = _open_svg(key, width, height, title, desc)
    parts.append('<g class="chart-axes">')
    for value, label in y_ticks:
        y = frame.y(value)
        parts.append(
            f'<line x1="{frame.x0:.1f}" y1="{y:.1f}" x2="{frame.x1:.1f}" y2="{y:.1f}" '
            f'stroke="{AXIS if value == frame.lo else GRID}" stroke-width="1"/>'
            f'<text x="{frame.x0 - 6:.1f}" y="{y + 3.5:.1f}" text-anchor="end" '
            f'fill="{TEXT}">{_esc(label)}</text>'
        )
    for i, (label, _) in enumerate(bars):
        if i % every == 0:
            x = frame.x0 + (i + 0.5) * slot
            parts.append(
                f'<text x="{x:.1f}" y="{frame.y1 + 16:.1f}" text-anchor="middle" '
                f'fill="{TEXT}">{_esc(label)}</text>'
            )
    parts.append("</g>")
    parts.append(f'<g class="chart-bars" fill="{colour}">')
    base = frame.y(max(lo, min(0.0, hi)))
    gap = min(2.0, slot * 0.2)
    for i, (label, amount) in enumerate(bars):
        if amount is None:
            continue
        top = frame.y(amount)
        y, h = min(top, base), abs(base - top)
        if h < 0.5:
            continue  # a bar of nothing: the axis already says 0
        parts.append(
            f'<rect class="chart-bar" x="{frame.x0 + i * slot + gap / 2:.1f}" y="{y:.1f}" '
            f'width="{max(0.5, slot - gap):.1f}" height="{h:.1f}">'
            f"<title>{_esc(f'{label}: {format_value(amount, unit)}')}</title></rect>"
        )
    parts.append("</g></svg>")
    return "".join(parts)

"""The monthly client report on paper: its JSON document (services.monthly_report) in, HTML
and PDF out. Reads nothing but the document, so a report stored months ago prints the same."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from forewarn.reports import charts, formatting
from forewarn.reports.render import html_to_pdf, render_html

TEMPLATE = "monthly.html"
WIDTH = 640
HEIGHT = 170
SEVERITY_WORDS = {
    "critical": "Critical",
    "high": "High",
    "warning": "Warning",
    "medium": "Medium",
    "low": "Low",
    "info": "Info",
}


def _day(iso: str) -> str:
    return str(int(iso[8:10]))


def _twelve_months(month: str, trend: list[dict[str, Any]]) -> list[tuple[str, float | None]]:
    """A year of slots ending with the report's month, so one score is a bar in a year, not a
    wall; months without a score stay empty."""
    scores = {t["period"]: t["health_score"] for t in trend}
    year, mon = int(month[:4]), int(month[5:])
    out: list[tuple[str, float | None]] = []
    for _ in range(12):
        key = f"{year:04d}-{mon:02d}"
        out.append((key, scores.get(key)))
        year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return out[::-1]


def chart_svgs(doc: dict[str, Any]) -> dict[str, Markup]:
    """The report's charts as inline SVG. Safe to mark: charts escape every text they draw."""
    uptime = doc["uptime"]["daily"]
    alerts = doc["alerts"]["daily"]
    trend = doc["risk_trend"]
    judged = [d["percent"] for d in uptime if d["percent"] is not None]
    low = min(judged, default=100.0)
    return {
        "uptime": Markup(
            charts.bar_chart(
                [(_day(d["date"]), d["percent"]) for d in uptime],
                width=WIDTH,
                height=HEIGHT,
                unit="%",
                # Uptime lives near the top: start the axis where the worst day is visible.
                y_min=0.0 if low < 90 else (90.0 if low < 99 else 99.0),
                y_max=100.0,
                title="Uptime per day",
                key="uptime-daily",
                empty_text="No check results this month",
            )
        ),
        "alerts": Markup(
            charts.bar_chart(
                [(_day(d["date"]), float(d["raised"])) for d in alerts],
                width=WIDTH,
                height=HEIGHT,
                unit="",
                y_min=0.0,
                # Counts: whole ticks, at least 0 to 4.
                y_max=float(max([4, *(d["raised"] for d in alerts)])),
                title="Alerts raised per day",
                key="alerts-daily",
                empty_text="No alerts this month",
                colour=charts.PALETTE[1],
            )
        ),
        "trend": Markup(
            charts.bar_chart(
                _twelve_months(doc["period"]["month"], trend),
                width=WIDTH,
                height=HEIGHT,
                unit="",
                y_min=0.0,
                y_max=100.0,
                title="Health score month by month",
                key="risk-trend",
                empty_text="No score yet",
                colour=charts.PALETTE[2],
            )
        ),
    }


def html(doc: dict[str, Any]) -> str:
    """The report as one self-contained HTML document (styles inline, charts inline SVG)."""
    return render_html(TEMPLATE, doc=doc, charts=chart_svgs(doc), severity_words=SEVERITY_WORDS)


def pdf(doc: dict[str, Any]) -> bytes:
    return html_to_pdf(html(doc))


# ---- the message that carries it ----------------------------------------------------------------


def _trend_line(trend: list[dict[str, Any]], key: str, name: str) -> str | None:
    """'Health score: 78 (74 in 2026-09, up 4)'; None when no month has the figure."""
    scored = [r for r in trend if r.get(key) is not None]
    if not scored:
        return None
    last = scored[-1]
    line = f"{name}: {formatting.number(last[key])}"
    if len(scored) > 1:
        before = scored[-2]
        change = float(last[key]) - float(before[key])
        moved = "unchanged" if change == 0 else f"{'up' if change > 0 else 'down'} "
        if change:
            moved += formatting.number(abs(change))
        line += f" ({formatting.number(before[key])} in {before['period']}, {moved})"
    return line


def message(doc: dict[str, Any], link: str) -> tuple[str, str]:
    """The title and short text body of the mail (or chat message) that carries the report:
    the headline, uptime, MTTA/MTTR, patch compliance, the risk trend and a link to it."""
    org = (doc.get("org") or {}).get("name", "")
    period = doc.get("period") or {}
    u, t = doc.get("uptime") or {}, doc.get("tickets") or {}
    pt = doc.get("patching") or {}
    trend = doc.get("risk_trend") or []
    title = f"{org}: IT report for {period.get('label', period.get('month', ''))}"
    lines = [str((doc.get("headline") or {}).get("text", ""))]
    if doc.get("no_data"):
        lines.append(str(doc.get("no_data_reason") or ""))
    lines += [
        "",
        f"Uptime: {formatting.percent(u.get('percent'), 2)}",
        f"Time to acknowledge (MTTA): {formatting.duration(t.get('mtta_s'))}",
        f"Time to resolve (MTTR): {formatting.duration(t.get('mttr_s'))}",
        f"Patch compliance: {formatting.percent(pt.get('compliance'))}",
    ]
    risk = [
        line
        for line in (
            _trend_line(trend, "health_score", "Health score"),
            _trend_line(trend, "assessment_score", "Assessment score"),
        )
        if line
    ]
    lines += ["Risk trend: " + "; ".join(risk) if risk else "Risk trend: no score yet"]
    lines += ["", f"The full report: {link}"]
    return title, "\n".join(lines)

"""The monthly report's pure parts: bar charts (valid SVG, honest empty days, escaped text),
the one way numbers print, and months."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from forewarn.reports import formatting
from forewarn.reports.charts import bar_chart
from forewarn.services.errors import ServiceError
from forewarn.services.monthly_report import last_month, period_of

SVG = "{http://www.w3.org/2000/svg}"


def _bars(svg: str) -> list[ET.Element]:
    return [r for r in ET.fromstring(svg).iter(f"{SVG}rect") if r.get("class") == "chart-bar"]


def test_a_bar_per_value_none_draws_nothing_and_the_tallest_reaches_the_top() -> None:
    svg = bar_chart(
        [("1", 100.0), ("2", None), ("3", 50.0), ("4", 0.0)],
        width=400,
        height=150,
        unit="%",
        y_min=0,
        y_max=100,
        title="Uptime per day",
    )
    bars = _bars(svg)
    assert [b.find(f"{SVG}title").text for b in bars] == ["1: 100 %", "3: 50 %"]  # type: ignore[union-attr]
    full, half = (float(b.get("height", "0")) for b in bars)
    assert full == pytest.approx(2 * half, rel=0.01)
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text == "Uptime per day"  # type: ignore[union-attr]
    assert "lowest 0 %, highest 100 %" in (root.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]


def test_bar_chart_text_is_escaped_and_nothing_to_draw_says_so() -> None:
    svg = bar_chart([("<b>", 1.0)], width=200, height=100, unit="", title='"x" & <y>')
    root = ET.fromstring(svg)  # still valid XML
    assert root.find(f"{SVG}title").text == '"x" & <y>'  # type: ignore[union-attr]
    assert "<b>" not in svg
    empty = bar_chart([("1", None)], width=200, height=100, unit="", empty_text="No alerts")
    assert "No alerts" in empty and not _bars(empty)


@given(st.lists(st.one_of(st.none(), st.floats(0, 1e6)), min_size=1, max_size=62))
@example([5e-324])  # found by hypothesis: the axis rounded to 0..0 and y() divided by zero
def test_any_bars_give_valid_svg_inside_the_frame(values: list[float | None]) -> None:
    svg = bar_chart([(str(i), v) for i, v in enumerate(values)], width=300, height=120, unit="")
    root = ET.fromstring(svg)
    assert root.get("viewBox") == "0 0 300 120"
    for bar in _bars(svg):
        x, y = float(bar.get("x", "0")), float(bar.get("y", "0"))
        w, h = float(bar.get("width", "0")), float(bar.get("height", "0"))
        assert x >= 0 and x + w <= 300.5 and y >= 0 and y + h <= 120


@pytest.mark.parametrize(
    ("call", "shown"),
    [
        (lambda: formatting.number(1234567), "1,234,567"),
        (lambda: formatting.number(None), "—"),
        (lambda: formatting.percent(99.5967, 2), "99.60 %"),
        (lambda: formatting.percent(100.0, 2), "100 %"),
        (lambda: formatting.share(0.5), "50 %"),
        (lambda: formatting.duration(45), "45 s"),
        (lambda: formatting.duration(360), "6 min"),
        (lambda: formatting.duration(2 * 3600 + 600), "2 h 10 min"),
        (lambda: formatting.duration(3 * 86400 + 4 * 3600 + 59), "3 d 4 h"),
        (lambda: formatting.money(12345.4, "EUR"), "€12,345"),
        (lambda: formatting.money(-900, "CHF"), "-CHF 900"),
        (lambda: formatting.money(1500, "usd"), "$1,500"),
    ],
)
def test_numbers_print_one_way(call: object, shown: str) -> None:
    assert call() == shown  # type: ignore[operator]


NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_a_month_is_counted_on_the_organizations_clocks() -> None:
    p = period_of("2026-10", "Europe/Berlin", NOW)
    assert p.start == datetime(2026, 9, 30, 22, 0, tzinfo=UTC)
    assert p.end == datetime(2026, 10, 31, 23, 0, tzinfo=UTC) and not p.partial
    assert len(p.days()) == 31 and p.label == "October 2026"
    running = period_of("2026-11", "Europe/Berlin", NOW)
    assert running.partial and running.end == NOW
    # 1 Nov 01:00 UTC is still October in New York.
    early = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
    assert last_month("America/New_York", early) == "2026-09"
    assert last_month("Europe/Berlin", early) == "2026-10"
    assert last_month("UTC", datetime(2027, 1, 1, tzinfo=UTC)) == "2026-12"


@pytest.mark.parametrize(
    "text", ["2026-10\n", " 2026-10", "2026-10 ", "2026\u201310", "\uff12026-10"]
)
def test_a_month_with_anything_around_it_is_refused(text: str) -> None:
    with pytest.raises(ServiceError):
        period_of(text, "UTC", NOW)


@given(st.text(max_size=12))
def test_anything_but_a_past_month_is_refused(text: str) -> None:
    try:
        p = period_of(text, "UTC", NOW)
    except ServiceError as refused:
        assert refused.status == 422
    else:
        assert len(text) == 7 and p.first <= NOW.date()

"""The one SVG chart renderer: valid XML, honest gaps, readable ticks, the threshold drawn."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from forewarn.reports.charts import (
    ChartSeries,
    Forecast,
    Threshold,
    format_value,
    line_chart,
    segments,
    time_ticks,
    value_axis,
)

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC).timestamp()


def minutes(values: list[float | None], start: float = T0) -> list[tuple[float, float]]:
    """One point a minute; None leaves that minute out."""
    return [(start + 60 * i, v) for i, v in enumerate(values) if v is not None]


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def series_paths(root: ET.Element) -> list[ET.Element]:
    groups = root.iter(f"{SVG}g")
    lines = [g for g in groups if g.get("class") == "chart-series"]
    return [p for g in lines for p in g.iter(f"{SVG}path") if p.get("fill") == "none"]


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_chart_is_valid_xml_with_title_desc_and_hover() -> None:
    svg = line_chart(
        [ChartSeries("CPU", minutes([10, 20, 30]))],
        width=400,
        height=200,
        unit="%",
        y_min=0,
        y_max=100,
        tz="Europe/Berlin",
        title="CPU",
        key="cpu",
    )
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "cpu-title cpu-desc"
    assert root.find(f"{SVG}title").text == "CPU"
    desc = root.find(f"{SVG}desc").text or ""
    assert "latest 30 %" in desc and "highest 30 %" in desc and "Europe/Berlin" in desc
    hovers = [c.find(f"{SVG}title").text for c in root.iter(f"{SVG}circle") if c.get("class")]
    # 09:02 UTC is 10:02 in Berlin: hover text is in the organization's zone.
    assert "CPU: 30 % at 2 Nov 10:02" in hovers
    assert "style" not in svg  # CSP-safe: presentation attributes only


def test_all_text_is_escaped() -> None:
    label = "<script>alert(\"x\")</script> & 'q' \x01"
    svg = line_chart(
        [ChartSeries(label, minutes([1, 2])), ChartSeries("b", minutes([3, 4]))],
        width=400,
        height=200,
        unit="",
        title=label,
        threshold=Threshold(3, label),
    )
    root = parse(svg)
    assert "<script>" not in svg
    assert any("<script>" in t for t in texts(root))  # shown as text, not markup


def test_outage_longer_than_two_and_a_half_steps_breaks_the_line() -> None:
    steady = minutes([5.0] * 10 + [None] * 10 + [6.0] * 10)
    root = parse(line_chart([ChartSeries("cpu", steady)], width=400, height=200, unit="%", step=60))
    assert len(series_paths(root)) == 2
    # One missed sample (2 minutes apart) is within 2.5 steps: still one line; two are not.
    short = minutes([5.0] * 10 + [None] + [6.0] * 10)
    root = parse(line_chart([ChartSeries("cpu", short)], width=400, height=200, unit="%", step=60))
    assert len(series_paths(root)) == 1
    assert len(segments(minutes([5.0] * 10 + [None] * 2 + [6.0] * 10), step=60)) == 2


def test_gap_is_measured_against_the_sampling_not_only_the_step() -> None:
    # Samples every 5 minutes queried at a 1-minute step are a line, not loose dots.
    sparse = [(T0 + 300 * i, 1.0) for i in range(10)]
    assert len(segments(sparse, step=60)) == 1
    with_hole = sparse[:4] + sparse[8:]
    assert len(segments(with_hole, step=60)) == 2


def test_byte_ticks_are_round_in_the_unit_shown() -> None:
    _, hi, ticks = value_axis(0, 3.4 * 1024**2, "B/s", fixed_lo=True, fixed_hi=False)
    assert [label for _, label in ticks] == ["0 MB/s", "1 MB/s", "2 MB/s", "3 MB/s", "4 MB/s"]
    assert hi == 4 * 1024**2
    _, _, ticks = value_axis(0, 7.2 * 1024**3, "B", fixed_lo=True, fixed_hi=False)
    assert [label for _, label in ticks] == ["0 GB", "2 GB", "4 GB", "6 GB", "8 GB"]
    _, _, ticks = value_axis(0, 900, "B/s", fixed_lo=True, fixed_hi=False)
    assert ticks[-1][1] == "1000 B/s"
    _, _, ticks = value_axis(0, 100, "%", fixed_lo=True, fixed_hi=True)
    assert [label for _, label in ticks] == ["0 %", "25 %", "50 %", "75 %", "100 %"]


def test_chart_of_bytes_per_second_labels_its_axis() -> None:
    rates = [(t, v * 1024) for t, v in minutes([100, 800, 2500, 300])]
    root = parse(line_chart([ChartSeries("rx", rates)], width=400, height=200, unit="B/s"))
    labels = texts(root)
    assert {"0 MB/s", "1 MB/s", "2 MB/s", "3 MB/s"} <= set(labels)


@pytest.mark.parametrize(
    "value, unit, shown",
    [
        (42.0, "%", "42 %"),
        (1.5 * 1024**2, "B/s", "1.5 MB/s"),
        (3.5 * 1024**3, "B", "3.5 GB"),
        (512, "B", "512 B"),
        (0.753, "", "0.75"),
        (12.34, "ms", "12.3 ms"),
    ],
)
def test_format_value(value: float, unit: str, shown: str) -> None:
    assert format_value(value, unit) == shown


def test_threshold_is_a_dashed_line_with_its_label() -> None:
    svg = line_chart(
        [ChartSeries("/", minutes([40, 41])), ChartSeries("/home", minutes([70, 72]))],
        width=400,
        height=200,
        unit="%",
        y_max=100,
        threshold=Threshold(90, "Warning at"),
    )
    root = parse(svg)
    group = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "chart-threshold")
    line = group.find(f"{SVG}line")
    assert line is not None and line.get("stroke-dasharray")
    assert group.find(f"{SVG}text").text == "Warning at 90 %"
    # Several series: a legend names each.
    assert "/" in texts(root) and "/home" in texts(root)


def test_threshold_above_the_data_widens_the_axis() -> None:
    root = parse(
        line_chart(
            [ChartSeries("load", minutes([0.2, 0.4]))],
            width=400,
            height=200,
            unit="",
            threshold=Threshold(4, "4 CPU threads"),
        )
    )
    assert any(g.get("class") == "chart-threshold" for g in root.iter(f"{SVG}g"))


def test_no_data_gives_a_friendly_chart() -> None:
    for series in ([], [ChartSeries("cpu", [])]):
        root = parse(line_chart(series, width=400, height=200, unit="%", title="CPU"))
        assert "No data yet" in texts(root)
        assert root.find(f"{SVG}title").text == "CPU"


def test_forecast_is_dashed_and_in_the_legend() -> None:
    history = minutes([50, 55, 60])
    ahead = Forecast(
        [(T0 + 120, 60), (T0 + 86400, 95)],
        band=[(T0 + 120, 60, 60), (T0 + 86400, 85, 100)],
        label="Forecast",
    )
    root = parse(
        line_chart([ChartSeries("/", history)], width=400, height=200, unit="%", forecast=ahead)
    )
    group = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "chart-forecast")
    assert any(p.get("stroke-dasharray") for p in group.iter(f"{SVG}path"))
    assert "Forecast" in texts(root)


def test_time_ticks_fall_on_round_local_times() -> None:
    # India is 5 h 30 min ahead of UTC: ticks are on its whole hours, not UTC's.
    ticks = time_ticks(T0, T0 + 6 * 3600, "Asia/Kolkata", max_ticks=6)
    assert [label for _, label in ticks] == ["15:00", "16:00", "17:00", "18:00", "19:00", "20:00"]
    week = time_ticks(T0, T0 + 7 * 86400, "Europe/Berlin", max_ticks=8)
    assert [label for _, label in week][:2] == ["3 Nov", "4 Nov"]
    # Midnight within a day's range reads as the day.
    day = time_ticks(T0, T0 + 86400, "UTC", max_ticks=6)
    assert "Tue 3" in [label for _, label in day]


def test_hover_targets_are_capped_but_keep_the_peak() -> None:
    values: list[float | None] = [1.0] * 2000
    values[1234] = 99.0
    root = parse(line_chart([ChartSeries("cpu", minutes(values))], width=400, height=200, unit="%"))
    hits = [c for c in root.iter(f"{SVG}circle") if c.get("class") == "chart-hit"]
    assert len(hits) <= 250
    assert any("99 %" in (c.find(f"{SVG}title").text or "") for c in hits)

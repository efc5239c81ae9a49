"""The short text that carries a monthly report (reports.monthly.message): pure, from the
stored document alone, whatever figures it lacks."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from forewarn.reports import formatting
from forewarn.reports.monthly import message

score = st.one_of(st.none(), st.integers(0, 100))
months = st.lists(
    st.tuples(st.integers(2020, 2030), st.integers(1, 12)), min_size=0, max_size=12, unique=True
).map(sorted)


@given(
    months=months,
    scores=st.lists(score, min_size=12, max_size=12),
    uptime=st.one_of(st.none(), st.floats(0, 100)),
    mtta=st.one_of(st.none(), st.integers(0, 10**7)),
)
def test_the_trend_line_states_the_last_two_scores_and_the_change(
    months: list[tuple[int, int]], scores: list[int | None], uptime: float | None, mtta: int | None
) -> None:
    trend = [
        {"period": f"{y:04d}-{m:02d}", "health_score": s, "assessment_score": None}
        for (y, m), s in zip(months, scores, strict=False)
    ]
    doc: dict[str, Any] = {
        "org": {"name": "Acme"},
        "period": {"label": "October 2026"},
        "headline": {"text": "No problems needed a ticket this month."},
        "uptime": {"percent": uptime},
        "tickets": {"mtta_s": mtta, "mttr_s": None},
        "risk_trend": trend,
    }
    title, body = message(doc, "https://fw.example/reports/1/pdf")
    assert title == "Acme: IT report for October 2026"
    lines = body.splitlines()
    assert lines[0] == "No problems needed a ticket this month."
    assert lines[-1] == "The full report: https://fw.example/reports/1/pdf"
    assert f"Uptime: {formatting.percent(uptime, 2)}" in lines
    assert f"Time to acknowledge (MTTA): {formatting.duration(mtta)}" in lines
    [risk] = [line for line in lines if line.startswith("Risk trend: ")]
    scored = [r for r in trend if r["health_score"] is not None]
    if not scored:
        assert risk == "Risk trend: no score yet"
        return
    last = scored[-1]
    assert risk.startswith(f"Risk trend: Health score: {last['health_score']}")
    if len(scored) == 1:
        assert "(" not in risk
        return
    before = scored[-2]
    change = last["health_score"] - before["health_score"]
    found = re.search(r"\((\d+) in (\d{4}-\d{2}), (up|down) (\d+)\)|, unchanged\)", risk)
    assert found, risk
    if change == 0:
        assert risk.endswith(", unchanged)")
    else:
        assert found[1] == str(before["health_score"]) and found[2] == before["period"]
        assert found[3] == ("up" if change > 0 else "down") and int(found[4]) == abs(change)


def test_an_empty_document_still_reads() -> None:
    _, body = message({}, "/reports/1/pdf")
    assert "Patch compliance: —" in body and "Risk trend: no score yet" in body

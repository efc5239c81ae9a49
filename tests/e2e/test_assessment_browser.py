"""The assessment report's HTML in a real browser: its figures as the JSON has them, the
36-month budget drawn as bars, no sideways spill on A4, and nothing asked of the network."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser

from forewarn.domain.clock import ManualClock
from forewarn.reports import assessment as paper
from forewarn.reports import formatting
from forewarn.services import assessments
from forewarn.services.context import Context
from forewarn.services.scope import SYSTEM
from tests.e2e.test_browser import CHROMIUM

# The monthly report's browser fixture and pixel counter, shared rather than copied.
from tests.e2e.test_report_browser import BAR_BLUE, _share_of, browser  # noqa: F401
from tests.integration.test_assessment_documents import WORKED_EXAMPLE, worked_example_clinic

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


# The document is the same on both engines; one browser run is enough.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_assessment_report_shows_its_figures_and_draws_the_budget(
    ctx: Context,
    clock: ManualClock,
    browser: Browser,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    clinic = worked_example_clinic(ctx, clock)
    doc = assessments.run(ctx, SYSTEM, clinic.org).document
    path = tmp_path / "assessment.html"
    path.write_text(paper.html(assessments.readable(doc)), encoding="utf-8")

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(5000)
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(path.as_uri())

    score = formatting.number(doc["scores"]["overall"]["score"])
    assert page.locator("#fig-score .value").inner_text().startswith(score)
    outage = page.locator("#fig-outage .value").inner_text()
    assert outage == f"{formatting.money(WORKED_EXAMPLE, 'USD')}{paper.DEFAULT_MARK}"
    first = doc["risks"]["risks"][0]
    assert page.locator(f"#risk-{first['scenario']}").inner_text().startswith(first["title"])

    chart = page.locator('svg[aria-labelledby^="tech-budget-title"]')
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    drawn = [m for m in doc["plan"]["technology"]["months"] if m["total"] > 0]
    # A bar for each month with spending (the clinic: three); the other months stay empty.
    assert len(drawn) == 3 and page.locator("#technology rect.chart-bar").count() == len(drawn)
    shot = chart.screenshot()
    assert _share_of(shot, BAR_BLUE) > 0.005, "the budget bars were not drawn"

    for media, width in (("screen", 375), ("print", 794)):  # a phone; A4 at 96 dpi
        page.set_viewport_size({"width": width, "height": 900})
        page.emulate_media(media=media)  # type: ignore[arg-type]
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (media, width, overflow)
    page.screenshot(full_page=True, path=str(tmp_path / "assessment-print.png"))
    if keep := os.environ.get("FOREWARN_KEEP_SCREENSHOTS"):
        shutil.copy(tmp_path / "assessment-print.png", Path(keep) / "assessment-print.png")
    # Only the file itself: no font, image or script fetched from anywhere.
    assert requests == [path.as_uri()], requests
    assert errors == []
    assert Image.open(io.BytesIO(shot)).width >= 300

"""The monthly report's HTML in a real browser: it draws its charts, fits the page, prints
to A4 without spilling sideways, and asks the network for nothing."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, sync_playwright

from forewarn.reports import formatting
from forewarn.reports import monthly as paper
from forewarn.services import monthly_report
from forewarn.services.context import Context
from forewarn.services.scope import SYSTEM
from tests.conftest import make_org
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.integration.test_reports import seed_october

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]
BAR_BLUE = (0x1F, 0x58, 0xC7)  # charts.PALETTE[0], the uptime bars


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


def _share_of(png: bytes, colour: tuple[int, int, int]) -> float:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    raw = image.tobytes()
    pixels = [raw[i : i + 3] for i in range(0, len(raw), 3)]
    near = sum(1 for p in pixels if all(abs(a - b) <= 8 for a, b in zip(p, colour, strict=True)))
    return near / len(pixels)


# The document is the same on both engines; one browser run is enough.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_report_draws_its_charts_fits_and_fetches_nothing(
    ctx: Context, browser: Browser, tmp_path: Path
) -> None:
    org = make_org(ctx, "Kilo Kitchens", timezone="Europe/Berlin", currency="EUR")
    seed_october(ctx, org)
    doc = monthly_report.generate(ctx, SYSTEM, org, "2026-10").document
    path = tmp_path / "report.html"
    path.write_text(paper.html(doc), encoding="utf-8")

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(5000)
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(path.as_uri())

    assert page.locator("#headline").inner_text() == doc["headline"]["text"]
    assert page.locator("#fig-uptime .value").inner_text() == formatting.percent(
        doc["uptime"]["percent"], 2
    )
    assert page.locator("#fig-proactive .value").inner_text() == "50 %"
    for key in ("uptime-daily", "alerts-daily", "risk-trend"):
        box = page.locator(f'svg[aria-labelledby^="{key}-title"]').bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100, key
    # 31 days of uptime bars, one of them short (the 10th, 87.5 %).
    assert page.locator("#uptime rect.chart-bar").count() == 31

    chart = page.locator('svg[aria-labelledby^="uptime-daily-title"]').screenshot()
    assert _share_of(chart, BAR_BLUE) > 0.2, "the uptime bars were not drawn"
    shot = page.screenshot(full_page=True, path=str(tmp_path / "report-1280.png"))
    assert Image.open(io.BytesIO(shot)).width == 1280

    for media, width in (("screen", 375), ("print", 794)):  # a phone; A4 at 96 dpi
        page.set_viewport_size({"width": width, "height": 900})
        page.emulate_media(media=media)  # type: ignore[arg-type]
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (media, width, overflow)
    page.screenshot(full_page=True, path=str(tmp_path / "report-print.png"))
    if keep := os.environ.get("FOREWARN_KEEP_SCREENSHOTS"):
        shutil.copy(tmp_path / "report-1280.png", Path(keep) / "report-1280.png")

    assert requests == [path.as_uri()], requests
    assert errors == []

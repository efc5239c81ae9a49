"""The assessment as documents: the full report and the one-page executive summary rendered
to PDF by WeasyPrint and read back with pdftotext and pdfinfo (poppler-utils), their figures
checked against the JSON they came from, the reference's worked example carried through the
whole path, an old /1 snapshot, an organization with no data, and the downloads through the
API, the pages and the CLI."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from forewarn.domain.clock import ManualClock
from forewarn.reports import assessment as paper
from forewarn.reports import formatting
from forewarn.services import assessments
from forewarn.services.context import Context
from forewarn.services.scope import SYSTEM
from forewarn.store.models import Asset, Organization
from tests.conftest import make_org, make_person
from tests.integration.test_assessment import Clinic, build_clinic
from tests.integration.test_reports import needs_pdftotext, pdf_text
from tests.integration.test_web import login

# reference/assessment.md, "Downtime cost": 35 people, 6 M revenue, an 8-hour outage, 80 % of
# work blocked, 50 % of revenue affected, 12 IT hours at 150: 10,226 + 11,538 + 1,800.
WORKED_EXAMPLE = 23_564
DASH = "\N{EN DASH}"  # between the two ends of a money range


def pdf_pages(data: bytes, tmp_path: Path) -> int:
    path = tmp_path / "pages.pdf"
    path.write_bytes(data)
    done = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    found = re.search(r"^Pages:\s+(\d+)$", done.stdout, re.MULTILINE)
    assert found, done.stdout
    return int(found.group(1))


def pdf_lines(data: bytes, tmp_path: Path) -> list[str]:
    """The PDF's lines as laid out on the page (pdftotext -layout), spaces squeezed out, so
    a table row reads as one line whatever its column widths."""
    path = tmp_path / "layout.pdf"
    path.write_bytes(data)
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [re.sub(r"\s+", "", line) for line in done.stdout.splitlines()]


def has_row(lines: list[str], *cells: str) -> bool:
    """Some line holds every cell, in this order."""
    wanted = [re.sub(r"\s+", "", c) for c in cells]
    for line in lines:
        at = 0
        for cell in wanted:
            at = line.find(cell, at)
            if at < 0:
                break
            at += len(cell)
        else:
            return True
    return False


needs_pdfinfo = pytest.mark.skipif(
    shutil.which("pdfinfo") is None, reason="pdfinfo (poppler-utils) is not installed"
)


def worked_example_clinic(ctx: Context, clock: ManualClock) -> Clinic:
    """The test clinic (35 people, the default hourly cost) with the reference's 6 M revenue
    over 2,080 business hours (40 a week), and purchase dates, so the technology plan has
    something to budget."""
    clinic = build_clinic(ctx, clock)
    with ctx.db.transaction() as s:
        org = s.get(Organization, clinic.org)
        assert org is not None
        org.annual_revenue = Decimal(6_000_000)
        org.business_hours = {"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:00"}
        s.get(Asset, clinic.srv).purchase_date = date(2021, 6, 1)  # type: ignore[union-attr]
        s.get(Asset, clinic.lap).purchase_date = date(2023, 1, 15)  # type: ignore[union-attr]
        s.get(Asset, clinic.pc).purchase_date = date(2019, 3, 1)  # type: ignore[union-attr]
    return clinic


def _m(amount: float) -> str:
    return formatting.money(amount, "USD")


@needs_pdftotext
def test_the_reports_print_the_figures_of_the_json_and_the_worked_example(
    ctx: Context, clock: ManualClock, tmp_path: Path
) -> None:
    clinic = worked_example_clinic(ctx, clock)
    first = assessments.run(ctx, SYSTEM, clinic.org)
    clock.advance(days=1)
    found = assessments.run(ctx, SYSTEM, clinic.org)
    doc = found.document
    # The worked example through the whole path: the org's own inputs and the defaults.
    assert doc["cost_inputs"]["people"] == 35 and doc["cost_inputs"]["annual_revenue"] == 6e6
    outage = doc["outage"]
    assert (outage["labour"]["amount"], outage["revenue"]["amount"]) == (10_226, 11_538)
    assert (outage["recovery"]["amount"], outage["total"]) == (1_800, WORKED_EXAMPLE)
    assert "hourly_cost" in outage["defaults"]  # 45.65 is BLS's figure, not the clinic's

    full_pdf = assessments.pdf_of(ctx, SYSTEM, found.id)[1]
    summary_pdf = assessments.summary_pdf_of(ctx, SYSTEM, found.id)[1]
    text, rows = pdf_text(full_pdf, tmp_path), pdf_lines(full_pdf, tmp_path)
    summary, summary_rows = pdf_text(summary_pdf, tmp_path), pdf_lines(summary_pdf, tmp_path)
    html = assessments.html_of(ctx, SYSTEM, found.id)[1]
    worked = f"{_m(WORKED_EXAMPLE)}{paper.DEFAULT_MARK}"  # marked: it rests on defaults
    assert has_row(rows, "An 8-hour outage costs", worked)
    assert has_row(rows, "Idle work: 35 people", "45.65", "$10,226")
    assert has_row(rows, "Lost revenue: $6,000,000", "2,080", "$11,538")
    assert has_row(rows, "Recovery: 12 IT hours", "$1,800")
    assert "WHAT AN 8-HOUR OUTAGE COSTS" in text  # the summary box too
    assert "AN 8-HOUR OUTAGE COSTS" in summary and worked in summary
    for shown in (text, summary):
        assert "Rests on default figures" in shown and "45.65 USD" in shown
    assert f'{_m(WORKED_EXAMPLE)}<span class="mark"' in html

    overall = doc["scores"]["overall"]
    assert overall["score"] is not None
    number, share = formatting.number, formatting.share
    assert has_row(rows, "Overall", number(overall["score"]), share(overall["coverage"]))
    assert f"{number(overall['score'])} / 100" in summary
    for area in doc["scores"]["functions"]:  # each area with its coverage beside it
        assert has_row(rows, area["name"], number(area["score"]), share(area["coverage"]))

    # Every risk with its money range, marked (the clinic's hourly cost is a default).
    risks = doc["risks"]["risks"]
    assert risks
    for r in risks:
        loss = r["annual_loss_exposure"]
        assert f"{_m(loss['p10'])} {DASH} {_m(loss['p90'])}{paper.DEFAULT_MARK}" in text, r["title"]
    costliest = max(risks, key=lambda r: r["annual_loss_exposure"]["p50"])
    loss = costliest["annual_loss_exposure"]
    assert has_row(
        summary_rows,
        costliest["level"],
        _m(loss["p50"]),
        f"{_m(loss['p10'])}{DASH}{_m(loss['p90'])}",
    )
    assert costliest["title"] in summary

    # The plan's first year and its 36 months, as the JSON has them.
    technology = doc["plan"]["technology"]
    first_year = sum(m["total"] for m in technology["months"][:12])
    assert first_year > 0 and first_year == paper.next_twelve_months(doc)
    assert has_row(rows, "Next 12 months", _m(first_year))
    assert "TECHNOLOGY BUDGET, NEXT 12 MONTHS" in summary and _m(first_year) in summary
    assert has_row(rows, "All 36 months", _m(technology["total"]))
    assert 'aria-labelledby="tech-budget-title' in html  # the budget as a bar chart
    first_30 = [a for a in doc["plan"]["actions"]["actions"] if a["period"] == "30"]
    assert first_30 and first_30[0]["title"] in summary
    assert "First 30 days" in text and "The first 30 days" in summary

    # The comparison, the hidden gaps, evidence of a failed item, context with its source.
    assert f"against assessment {first.id}" in text
    assert "backup fails every Monday" in text  # the recurring problem
    assert "FAIL: lap01" in text  # the evidence line of 4.5
    assert "Verizon Data Breach Investigations Report, 2025" in text


@needs_pdfinfo
def test_the_executive_summary_is_one_page(
    ctx: Context, clock: ManualClock, tmp_path: Path
) -> None:
    clinic = worked_example_clinic(ctx, clock)
    assessments.run(ctx, SYSTEM, clinic.org)
    found = assessments.run(ctx, SYSTEM, clinic.org)  # with a comparison
    assert pdf_pages(assessments.summary_pdf_of(ctx, SYSTEM, found.id)[1], tmp_path) == 1
    assert pdf_pages(assessments.pdf_of(ctx, SYSTEM, found.id)[1], tmp_path) > 2


def _as_v1(doc: dict[str, Any]) -> dict[str, Any]:
    """A snapshot as the first format stored it: no register, no plans, no outage."""
    old = {k: v for k, v in doc.items() if k != "outage"}
    old.update(schema="forewarn.assessment/1", risks=[], plan={})
    if old.get("comparison"):
        old["comparison"] = {k: v for k, v in old["comparison"].items() if k != "risks"}
    return old


@needs_pdftotext
def test_an_old_snapshot_still_renders_and_compares(
    client: TestClient, ctx: Context, clock: ManualClock, tmp_path: Path
) -> None:
    clinic = build_clinic(ctx, clock)
    first = assessments.run(ctx, SYSTEM, clinic.org)
    with ctx.db.transaction() as s:  # stored before the register existed
        from forewarn.store.models import Assessment

        row = s.get(Assessment, first.id)
        assert row is not None
        row.document, row.version = _as_v1(row.document), 1
    text = pdf_text(assessments.pdf_of(ctx, SYSTEM, first.id)[1], tmp_path)
    assert "made before Forewarn priced risks (format forewarn.assessment/1)" in text
    assert f"Overall {formatting.number(first.score)}" in text
    summary = pdf_text(assessments.summary_pdf_of(ctx, SYSTEM, first.id)[1], tmp_path)
    assert "made before Forewarn priced risks" in summary

    clock.advance(days=1)
    second = assessments.run(ctx, SYSTEM, clinic.org)
    assert second.document["comparison"]["previous"]["id"] == first.id
    assert second.document["comparison"]["risks"] is None  # nothing to compare levels with
    assert (
        "the earlier assessment has no risk register"
        in assessments.html_of(ctx, SYSTEM, second.id)[1]
    )

    tech = make_person(ctx, "tech-old", roles={clinic.org: "technician"})
    login(client, tech.username)
    page = client.get(f"/assessments/{first.id}")
    assert page.status_code == 200 and "before Forewarn priced risks" in page.text


@needs_pdftotext
def test_an_organization_with_no_data_gets_documents_that_say_so(
    ctx: Context, tmp_path: Path
) -> None:
    empty = make_org(ctx, "Empty Co", employees=10)
    found = assessments.run(ctx, SYSTEM, empty)
    text = pdf_text(assessments.pdf_of(ctx, SYSTEM, found.id)[1], tmp_path)
    summary = pdf_text(assessments.summary_pdf_of(ctx, SYSTEM, found.id)[1], tmp_path)
    for shown in (text, summary):
        assert "No data: no score." in shown and "No assets recorded" in shown
        assert "no score" in shown.lower()
        assert not re.search(r"\d+ / 100", shown)  # no figure dressed up as a score


def test_downloads_through_the_api(client: TestClient, ctx: Context, clock: ManualClock) -> None:
    clinic = worked_example_clinic(ctx, clock)
    ours = make_person(ctx, "viewer-clinic", roles={clinic.org: "viewer"})
    other = make_person(ctx, "tech-other", roles={make_org(ctx, "Other Co"): "technician"})
    found = assessments.run(ctx, SYSTEM, clinic.org)
    for path, media, name in (
        ("pdf", "application/pdf", f"forewarn-{clinic.org}-assessment-{found.id}.pdf"),
        ("summary.pdf", "application/pdf", f"forewarn-{clinic.org}-summary-{found.id}.pdf"),
        ("html", "text/html; charset=utf-8", f"forewarn-{clinic.org}-assessment-{found.id}.html"),
    ):
        got = client.get(f"/api/v1/assessments/{found.id}/{path}", headers=ours.headers)
        assert got.status_code == 200, got.text
        assert got.headers["content-type"] == media
        assert f'filename="{name}"' in got.headers["content-disposition"]
        assert got.headers["content-security-policy"].startswith("default-src 'none'")
        if media == "application/pdf":
            assert got.content.startswith(b"%PDF-")
        else:
            assert _m(WORKED_EXAMPLE) in got.text
    # Another organization's technician gets nothing (test_tenancy covers every route).
    refused = client.get(f"/api/v1/assessments/{found.id}/pdf", headers=other.headers)
    assert refused.status_code == 404


def test_the_detail_page_shows_risks_plans_and_the_download_links(
    client: TestClient, ctx: Context, clock: ManualClock
) -> None:
    clinic = worked_example_clinic(ctx, clock)
    found = assessments.run(ctx, SYSTEM, clinic.org)
    doc = found.document
    tech = make_person(ctx, "tech-page", roles={clinic.org: "technician"})
    login(client, tech.username)
    page = client.get(f"/assessments/{found.id}")
    assert page.status_code == 200
    body = page.text
    assert 'id="risks"' in body and 'id="plan"' in body and 'id="technology"' in body
    top = doc["risks"]["risks"][0]
    loss = top["annual_loss_exposure"]
    assert escape(top["title"]) in body and _m(loss["p10"]) in body and _m(loss["p90"]) in body
    assert _m(WORKED_EXAMPLE) in body and "default" in body
    assert escape(doc["plan"]["actions"]["actions"][0]["title"]) in body
    for link in ("pdf", "summary.pdf", "html"):
        assert f'href="/assessments/{found.id}/{link}"' in body
    got = client.get(f"/assessments/{found.id}/summary.pdf")
    assert got.status_code == 200 and got.content.startswith(b"%PDF-")
    got = client.get(f"/assessments/{found.id}/html")
    assert got.status_code == 200 and "IT risk assessment" in got.text
    assert client.get(f"/assessments/{found.id}/nope").status_code == 404

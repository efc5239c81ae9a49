"""Client reports: generate an organization's monthly report, list them, download one as
JSON, HTML or PDF (both rendered on request from the stored JSON)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from forewarn.api.deps import Caller, Ctx, IdPath
from forewarn.reports import download
from forewarn.services import monthly_report, report_sending
from forewarn.services.monthly_report import ReportList, ReportOut, ReportRequest
from forewarn.services.report_sending import RecipientsIn, RecipientsOut, SendOut

router = APIRouter(prefix="/api/v1", tags=["reports"])


def attachment(content: bytes | str, ext: str, name: str) -> Response:
    return Response(content, media_type=download.MEDIA_TYPES[ext], headers=download.headers(name))


@router.post("/orgs/{org_id}/reports/monthly", response_model=ReportOut, status_code=201)
def generate_monthly(org_id: IdPath, body: ReportRequest, ctx: Ctx, actor: Caller) -> ReportOut:
    """Build the organization's report for `period` (YYYY-MM, its own time zone) and store it,
    replacing an earlier one of the same month. Technicians and above; a malformed month or
    one still to come is refused with the reason."""
    return monthly_report.generate(ctx, actor, org_id, body.period)


@router.get("/orgs/{org_id}/reports", response_model=ReportList)
def list_reports(org_id: IdPath, ctx: Ctx, actor: Caller) -> ReportList:
    """The organization's stored reports, newest month first (without their documents)."""
    return monthly_report.list_(ctx, actor, org_id)


@router.get("/reports/{report_id}", response_model=ReportOut)
def get_report(report_id: IdPath, ctx: Ctx, actor: Caller) -> ReportOut:
    """One stored report with its canonical JSON document (schema forewarn.monthly-report/1)."""
    return monthly_report.get(ctx, actor, report_id)


@router.get("/reports/{report_id}/html", response_class=Response)
def report_html(report_id: IdPath, ctx: Ctx, actor: Caller) -> Response:
    """The report as one self-contained HTML document, as a download."""
    report, text = monthly_report.html_of(ctx, actor, report_id)
    return attachment(text, "html", monthly_report.file_name(report, "html"))


@router.get("/reports/{report_id}/pdf", response_class=Response)
def report_pdf(report_id: IdPath, ctx: Ctx, actor: Caller) -> Response:
    """The report printed to PDF (A4) from its stored JSON."""
    report, data = monthly_report.pdf_of(ctx, actor, report_id)
    return attachment(data, "pdf", monthly_report.file_name(report, "pdf"))


@router.get("/orgs/{org_id}/reports/recipients", response_model=RecipientsOut)
def get_recipients(org_id: IdPath, ctx: Ctx, actor: Caller) -> RecipientsOut:
    """The organization's channels that receive its monthly report."""
    return report_sending.get_recipients(ctx, actor, org_id)


@router.put("/orgs/{org_id}/reports/recipients", response_model=RecipientsOut)
def set_recipients(org_id: IdPath, body: RecipientsIn, ctx: Ctx, actor: Caller) -> RecipientsOut:
    """Choose which of the organization's own channels receive its monthly report (replacing
    the earlier choice). Technicians and above; a channel of another organization, the
    provider's or a deleted one is refused with the reason and nothing changes."""
    return report_sending.set_recipients(ctx, actor, org_id, body)


@router.post("/reports/{report_id}/send", response_model=SendOut, status_code=202)
def send_report(report_id: IdPath, ctx: Ctx, actor: Caller) -> SendOut:
    """Send a stored report again to the current recipients (generating a month sends it once;
    this sends it once more). The deliveries show in the delivery log."""
    return report_sending.send_again(ctx, actor, report_id)

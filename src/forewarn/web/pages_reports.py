"""Client reports: an organization's monthly reports with their downloads (JSON, HTML, PDF),
and a form where technicians generate one. A client's own viewers read and download theirs."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.domain.inventory import Role
from forewarn.reports import download
from forewarn.services import monthly_report, notify, orgs, report_sending
from forewarn.services.errors import not_found
from forewarn.web.flash import add_flash
from forewarn.web.forms import attempt, error_text, text, texts
from forewarn.web.render import page, see_other
from forewarn.web.session import PostedForm, SignedIn, WebId, get_ctx

router = APIRouter(include_in_schema=False)


@router.get("/orgs/{org_id}/reports")
def reports_page(request: Request, org_id: WebId, user: SignedIn) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    now = ctx.clock.now()
    return page(
        request,
        "reports/list.html",
        user,
        section="overview",
        org=org,
        tz=org.timezone,
        reports=monthly_report.list_(ctx, actor, org_id).items,
        last_month=monthly_report.last_month(org.timezone, now),
        this_month=monthly_report.this_month(org.timezone, now),
        may_generate=actor.can(org_id, Role.TECHNICIAN),
        channels=[c for c in notify.list_channels(ctx, actor, org_id) if c.org_id == org_id],
        recipients={
            c.channel_id for c in report_sending.get_recipients(ctx, actor, org_id).channels
        },
    )


@router.post("/orgs/{org_id}/reports/monthly")
def generate(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx = get_ctx(request)
    response = see_other(f"/orgs/{org_id}/reports")
    period = text(form, "period").strip()
    done, errors = attempt(lambda: monthly_report.generate(ctx, user.actor, org_id, period))
    if done is None:
        add_flash(ctx, response, error_text(errors), "warning")
        return response
    add_flash(ctx, response, f"Report for {done.document['period']['label']} generated.")
    return response


@router.post("/orgs/{org_id}/reports/recipients")
def choose_recipients(
    request: Request, org_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    """The "Monthly report" section: which of the organization's channels receive it."""
    ctx = get_ctx(request)
    response = see_other(f"/orgs/{org_id}/reports")

    def save() -> report_sending.RecipientsOut:
        chosen = report_sending.RecipientsIn.model_validate({"channels": texts(form, "channel")})
        return report_sending.set_recipients(ctx, user.actor, org_id, chosen)

    done, errors = attempt(save)
    if done is None:
        add_flash(ctx, response, error_text(errors), "warning")
        return response
    names = ", ".join(c.name for c in done.channels)
    said = f"The monthly report goes to {names}." if names else "Nobody receives the report now."
    add_flash(ctx, response, said)
    return response


@router.post("/reports/{report_id}/send")
def send_again(request: Request, report_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    """Send a stored report once more to the current recipients."""
    ctx = get_ctx(request)
    report = monthly_report.get(ctx, user.actor, report_id)
    response = see_other(f"/orgs/{report.org_id}/reports")
    done, errors = attempt(lambda: report_sending.send_again(ctx, user.actor, report_id))
    if done is None:
        add_flash(ctx, response, error_text(errors), "warning")
        return response
    plural = "" if done.queued == 1 else "s"
    add_flash(ctx, response, f"Report for {report.period} queued to {done.queued} channel{plural}.")
    return response


@router.get("/reports/{report_id}/{fmt}")
def download_report(request: Request, report_id: WebId, fmt: str, user: SignedIn) -> Response:
    """The stored report as JSON, or rendered from it as HTML or PDF, as a download."""
    ctx, actor = get_ctx(request), user.actor
    content: bytes | str
    if fmt == "pdf":
        report, content = monthly_report.pdf_of(ctx, actor, report_id)
    elif fmt == "html":
        report, content = monthly_report.html_of(ctx, actor, report_id)
    elif fmt == "json":
        report = monthly_report.get(ctx, actor, report_id)
        content = json.dumps(report.document, indent=2, ensure_ascii=False)
    else:
        raise not_found("download")
    name = monthly_report.file_name(report, fmt)
    return Response(content, media_type=download.MEDIA_TYPES[fmt], headers=download.headers(name))

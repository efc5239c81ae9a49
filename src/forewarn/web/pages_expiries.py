"""An organization's upcoming dates: certificates, warranties, end of life, backups."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.services import expiries, orgs
from forewarn.web import findings_views
from forewarn.web.render import page
from forewarn.web.session import SignedIn, WebId, get_ctx

router = APIRouter(include_in_schema=False)

KIND_LABELS = {
    "certificate": "Certificate",
    "warranty": "Warranty",
    "os_eol": "Operating system",
    "software_eol": "Software",
    "backup": "Backup",
}


def days_words(days: int | None) -> str:
    if days is None:
        return "passed"
    if days < 0:
        return f"{-days} days ago" if days < -1 else "yesterday"
    if days == 0:
        return "today"
    return "tomorrow" if days == 1 else f"in {days} days"


@router.get("/orgs/{org_id}/expiries")
def expiries_page(request: Request, org_id: WebId, user: SignedIn) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    items = expiries.upcoming(ctx, actor, org_id)
    return page(
        request,
        "findings/expiries.html",
        user,
        section="overview",
        org=org,
        tz=org.timezone,
        items=items,
        kind_label=lambda k: KIND_LABELS.get(k, k),
        days_words=days_words,
        severity=findings_views.severity,
    )

"""An organization's findings: risks that persist until someone deals with them."""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.services import findings, orgs
from forewarn.services.errors import ServiceError
from forewarn.services.findings import FindingStatus
from forewarn.web import discovery_views, findings_views
from forewarn.web.check_views import org_assets
from forewarn.web.render import page
from forewarn.web.session import SignedIn, WebId, get_ctx

router = APIRouter(include_in_schema=False)


@router.get("/orgs/{org_id}/findings")
def findings_page(request: Request, org_id: WebId, user: SignedIn) -> Response:
    """Newest first; ?status=open|resolved|accepted|all (open by default) and ?cursor=."""
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    status = findings_views.read_status(request.query_params.get("status"))
    chosen = None if status == "all" else cast(FindingStatus, status)
    cursor = request.query_params.get("cursor", "").strip()[:200] or None
    try:
        found = findings.list_findings(
            ctx, actor, org_id=org_id, status=chosen, limit=findings_views.PAGE_SIZE, cursor=cursor
        )
    except ServiceError as exc:
        if exc.status != 422 or cursor is None:
            raise
        # A cursor we never gave out (edited by hand): start from the newest instead.
        cursor = None
        found = findings.list_findings(
            ctx, actor, org_id=org_id, status=chosen, limit=findings_views.PAGE_SIZE
        )
    about_devices = any(findings_views.device_id(f) for f in found.items)
    devices = discovery_views.org_devices(ctx, actor, org_id) if about_devices else []
    return page(
        request,
        "findings/list.html",
        user,
        section="overview",
        org=org,
        tz=org.timezone,
        findings=found.items,
        current=status,
        statuses=findings_views.STATUSES,
        status_url=findings_views.status_url,
        older_url=(
            findings_views.status_url(org_id, status, found.next_cursor)
            if found.next_cursor
            else None
        ),
        newest_url=findings_views.status_url(org_id, status) if cursor else None,
        severity=findings_views.severity,
        rule_label=findings_views.rule_label,
        evidence_summary=findings_views.evidence_summary,
        device_id=findings_views.device_id,
        # Links only to devices still listed (a deleted network takes its devices along).
        known_devices={d.id for d in devices},
        asset_names=(
            {i: a.name for i, a in org_assets(ctx, actor, org_id).items()}
            if any(f.asset_id for f in found.items)
            else {}
        ),
        has_networks=bool(discovery_views.networks(ctx, actor, org_id)),
    )

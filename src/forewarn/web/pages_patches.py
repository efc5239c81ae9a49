"""Patches: every client's compliance (/patches), and an organization's machines with their
pending updates, worst first (/orgs/{id}/patches)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.services import orgs, patching
from forewarn.web.render import NAV, NavItem, page
from forewarn.web.session import SignedIn, WebId, get_ctx

router = APIRouter(include_in_schema=False)

if not any(item.href == "/patches" for item in NAV):
    NAV.append(NavItem("patches", "Patches", "/patches"))


def compliance_state(percent: float | None) -> str:
    """The palette state of a compliance figure: the health score's bands."""
    if percent is None:
        return "unknown"
    return "ok" if percent >= 90 else "warning" if percent >= 65 else "critical"


@router.get("/orgs/{org_id}/patches")
def patches_page(request: Request, org_id: WebId, user: SignedIn) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    found = patching.org_patches(ctx, actor, org_id)
    return page(
        request,
        "patches/org.html",
        user,
        section="overview",
        org=org,
        tz=org.timezone,
        patches=found,
        compliance_state=compliance_state,
    )


@router.get("/patches")
def overview_page(request: Request, user: SignedIn) -> Response:
    found = patching.overview(get_ctx(request), user.actor)
    return page(
        request,
        "patches/overview.html",
        user,
        section="patches",
        overview=found,
        compliance_state=compliance_state,
    )

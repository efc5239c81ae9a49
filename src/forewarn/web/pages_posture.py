"""An organization's security posture: each assessed machine's score, worst first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.services import orgs, posture
from forewarn.web.render import page
from forewarn.web.session import SignedIn, WebId, get_ctx

router = APIRouter(include_in_schema=False)


def score_state(score: int | None) -> str:
    """The palette state of a posture score: the same bands as the health score's."""
    if score is None:
        return "unknown"
    return "ok" if score >= 90 else "warning" if score >= 65 else "critical"


@router.get("/orgs/{org_id}/posture")
def posture_page(request: Request, org_id: WebId, user: SignedIn) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    found = posture.org_posture(ctx, actor, org_id)
    return page(
        request,
        "posture/org.html",
        user,
        section="overview",
        org=org,
        tz=org.timezone,
        posture=found,
        score_state=score_state,
    )

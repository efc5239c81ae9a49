"""An organization's security posture: each assessed machine's score, worst first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.domain import health
from forewarn.services import orgs, posture
from forewarn.web.render import page
from forewarn.web.session import SignedIn, WebId, get_ctx

router = APIRouter(include_in_schema=False)


def score_state(score: float | None) -> str:
    """The palette state of a posture score: the health score's bands (docs/health.md)."""
    return "unknown" if score is None else health.band(score)[0]


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

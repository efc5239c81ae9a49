"""An organization's problems: every check that is not OK now, worst first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.services import maintenance, orgs
from forewarn.services.context import Context
from forewarn.services.schemas import OrgOut
from forewarn.services.scope import Actor
from forewarn.web import check_views
from forewarn.web.render import fragment, page, wants_fragment
from forewarn.web.session import SignedIn, WebId, get_ctx

router = APIRouter(include_in_schema=False)


def _problems(ctx: Context, actor: Actor, org: OrgOut) -> dict[str, Any]:
    found = check_views.problems(ctx, actor, org.id)
    org_assets = check_views.org_assets(ctx, actor, org.id) if found else {}
    windows = [w for w in maintenance.list_(ctx, actor, org.id) if w.active_now]
    in_maintenance = {
        c.id
        for c in found
        if c.asset_id in org_assets
        and any(check_views.covers(w, org_assets[c.asset_id]) for w in windows)
    }
    return {
        "org": org,
        "tz": org.timezone,
        "problems": found,
        "asset_names": {i: a.name for i, a in org_assets.items()},
        "in_maintenance": in_maintenance,
        "counts": _counts(found),
        # All clear: say how many checks are behind that, so "no checks" never reads as "fine".
        "checked": 0 if found else len(check_views.org_checks(ctx, actor, org.id)),
        **check_views.helpers(),
    }


def _counts(found: list[Any]) -> list[tuple[str, int]]:
    """How many of each state, worst first: [('critical', 2), ('warning', 1)]."""
    counted: dict[str, int] = {}
    for c in found:
        counted[c.state.display] = counted.get(c.state.display, 0) + 1
    return sorted(counted.items(), key=lambda kv: check_views.rank(kv[0]))


@router.get("/orgs/{org_id}/problems")
def org_problems(request: Request, org_id: WebId, user: SignedIn) -> Response:
    """What needs someone now; htmx refreshes the table (#problems) every 10 s."""
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    data = _problems(ctx, actor, org)
    if wants_fragment(request, "problems"):
        return fragment(request, "checks/_problems.html", user, **data)
    return page(request, "checks/problems.html", user, section="overview", **data)


@router.get("/orgs/{org_id}/problems/count")
def problem_count(request: Request, org_id: WebId, user: SignedIn) -> Response:
    """The organization page's problems button, with the count and the worst state."""
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    found = check_views.problems(ctx, actor, org_id)
    return fragment(
        request,
        "checks/_problem_count.html",
        user,
        org=org,
        count=len(found),
        worst=found[0].state.display if found else "ok",
        **check_views.helpers(),
    )

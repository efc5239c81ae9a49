from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from forewarn.api.deps import Caller, Ctx, Cursor, IdPath, Limit, SearchQuery
from forewarn.api.pages import PageOut, page_out
from forewarn.services import health, orgs
from forewarn.services.health import DEFAULT_TOP, MAX_TOP, OrgHealthOut
from forewarn.services.schemas import OrgCreate, OrgOut, OrgUpdate

router = APIRouter(prefix="/api/v1/orgs", tags=["organizations"])


@router.get("", response_model=PageOut[OrgOut])
def list_orgs(
    ctx: Ctx, actor: Caller, q: SearchQuery = None, limit: Limit = 50, cursor: Cursor = None
) -> PageOut[OrgOut]:
    return page_out(orgs.list_(ctx, actor, q=q, limit=limit, cursor=cursor))


@router.post("", response_model=OrgOut, status_code=201)
def create_org(body: OrgCreate, ctx: Ctx, actor: Caller) -> OrgOut:
    return orgs.create(ctx, actor, body)


@router.get("/{org_id}", response_model=OrgOut)
def get_org(org_id: IdPath, ctx: Ctx, actor: Caller) -> OrgOut:
    return orgs.get(ctx, actor, org_id)


@router.get("/{org_id}/health", response_model=OrgHealthOut, tags=["health scores"])
def get_org_health(
    org_id: IdPath,
    ctx: Ctx,
    actor: Caller,
    top: Annotated[
        int, Query(ge=0, le=MAX_TOP, description="how many of the costliest items to list")
    ] = DEFAULT_TOP,
) -> OrgHealthOut:
    """The organization's health score (0-100; null without assets), the items that cost it
    the most (each with its `impact` in points), and every asset's score, worst first, with
    its worst items. See docs/health.md for the formula."""
    return health.org_health(ctx, actor, org_id, top)


@router.patch("/{org_id}", response_model=OrgOut)
def update_org(org_id: IdPath, body: OrgUpdate, ctx: Ctx, actor: Caller) -> OrgOut:
    return orgs.update(ctx, actor, org_id, body)


@router.delete("/{org_id}", status_code=204)
def delete_org(org_id: IdPath, ctx: Ctx, actor: Caller) -> None:
    orgs.delete(ctx, actor, org_id)

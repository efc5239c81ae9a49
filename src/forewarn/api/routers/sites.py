from __future__ import annotations

from fastapi import APIRouter

from forewarn.api.deps import Caller, Ctx, Cursor, IdPath, IdQuery, Limit, SearchQuery
from forewarn.api.pages import PageOut, page_out
from forewarn.services import sites
from forewarn.services.schemas import SiteCreate, SiteOut, SiteUpdate

router = APIRouter(prefix="/api/v1/sites", tags=["sites"])


@router.get("", response_model=PageOut[SiteOut])
def list_sites(
    ctx: Ctx,
    actor: Caller,
    org_id: IdQuery = None,
    q: SearchQuery = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[SiteOut]:
    return page_out(sites.list_(ctx, actor, org_id=org_id, q=q, limit=limit, cursor=cursor))


@router.post("", response_model=SiteOut, status_code=201)
def create_site(body: SiteCreate, ctx: Ctx, actor: Caller) -> SiteOut:
    return sites.create(ctx, actor, body)


@router.get("/{site_id}", response_model=SiteOut)
def get_site(site_id: IdPath, ctx: Ctx, actor: Caller) -> SiteOut:
    return sites.get(ctx, actor, site_id)


@router.patch("/{site_id}", response_model=SiteOut)
def update_site(site_id: IdPath, body: SiteUpdate, ctx: Ctx, actor: Caller) -> SiteOut:
    return sites.update(ctx, actor, site_id, body)


@router.delete("/{site_id}", status_code=204)
def delete_site(site_id: IdPath, ctx: Ctx, actor: Caller) -> None:
    sites.delete(ctx, actor, site_id)

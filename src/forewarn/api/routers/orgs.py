from __future__ import annotations

from fastapi import APIRouter

from forewarn.api.deps import Caller, Ctx, Cursor, IdPath, Limit, SearchQuery
from forewarn.api.pages import PageOut, page_out
from forewarn.services import orgs
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


@router.patch("/{org_id}", response_model=OrgOut)
def update_org(org_id: IdPath, body: OrgUpdate, ctx: Ctx, actor: Caller) -> OrgOut:
    return orgs.update(ctx, actor, org_id, body)


@router.delete("/{org_id}", status_code=204)
def delete_org(org_id: IdPath, ctx: Ctx, actor: Caller) -> None:
    orgs.delete(ctx, actor, org_id)

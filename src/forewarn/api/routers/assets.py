from __future__ import annotations

from fastapi import APIRouter

from forewarn.api.deps import Caller, Ctx, Cursor, IdPath, IdQuery, Limit, SearchQuery
from forewarn.api.pages import PageOut, page_out
from forewarn.domain.inventory import AssetKind
from forewarn.services import assets, health
from forewarn.services.health import AssetScoreOut
from forewarn.services.schemas import AssetCreate, AssetFilter, AssetOut, AssetUpdate

router = APIRouter(prefix="/api/v1/assets", tags=["assets"])


@router.get("", response_model=PageOut[AssetOut])
def list_assets(
    ctx: Ctx,
    actor: Caller,
    org_id: IdQuery = None,
    site_id: IdQuery = None,
    kind: AssetKind | None = None,
    tag: SearchQuery = None,
    q: SearchQuery = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[AssetOut]:
    """Filter by organization, site, kind, tag, or text in name, host name and owner."""
    filt = AssetFilter(org_id=org_id, site_id=site_id, kind=kind, tag=tag, q=q)
    return page_out(assets.list_(ctx, actor, filt, limit=limit, cursor=cursor))


@router.post("", response_model=AssetOut, status_code=201)
def create_asset(body: AssetCreate, ctx: Ctx, actor: Caller) -> AssetOut:
    return assets.create(ctx, actor, body)


@router.get("/{asset_id}", response_model=AssetOut)
def get_asset(asset_id: IdPath, ctx: Ctx, actor: Caller) -> AssetOut:
    return assets.get(ctx, actor, asset_id)


@router.get("/{asset_id}/health", response_model=AssetScoreOut, tags=["health scores"])
def get_asset_health(asset_id: IdPath, ctx: Ctx, actor: Caller) -> AssetScoreOut:
    """The asset's health score (0-100) and every item that lowers it, largest first; each
    item names its evidence (a check, an alert, a finding, the agent). See docs/health.md."""
    return health.asset_health(ctx, actor, asset_id)


@router.patch("/{asset_id}", response_model=AssetOut)
def update_asset(asset_id: IdPath, body: AssetUpdate, ctx: Ctx, actor: Caller) -> AssetOut:
    return assets.update(ctx, actor, asset_id, body)


@router.delete("/{asset_id}", status_code=204)
def delete_asset(asset_id: IdPath, ctx: Ctx, actor: Caller) -> None:
    assets.delete(ctx, actor, asset_id)

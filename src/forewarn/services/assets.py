"""Assets: every device, website and service an organization depends on."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from forewarn.domain.inventory import Role
from forewarn.services import audit, policies
from forewarn.services.context import Context
from forewarn.services.errors import invalid
from forewarn.services.pagination import Page, paginate
from forewarn.services.rows import apply_changes, flush_or_conflict
from forewarn.services.schemas import AssetCreate, AssetFilter, AssetOut, AssetUpdate
from forewarn.services.scope import Actor, get_in_scope, get_org_in_scope, scoped
from forewarn.store.models import Asset, AssetTag, Site

_CLASH = "this organization already has an asset of that name"
_NULLABLE = {"site_id", "purchase_date", "warranty_end"}


def _check_site(session: Session, org_id: int, site_id: int | None) -> None:
    if site_id is None:
        return
    site = session.get(Site, site_id)
    if site is None or site.org_id != org_id:
        raise invalid(
            "site_id names no site of this organization",
            [{"loc": ["body", "site_id"], "msg": "no such site in this organization"}],
        )


def _set_tags(asset: Asset, tags: list[str]) -> None:
    # Keep the rows that stay: deleting and re-adding the same key in one flush clashes.
    kept = [row for row in asset.tag_rows if row.tag in tags]
    have = {row.tag for row in kept}
    asset.tag_rows = sorted(
        kept + [AssetTag(tag=t) for t in tags if t not in have], key=lambda row: row.tag
    )


def add_asset(session: Session, ctx: Context, actor: Actor, data: AssetCreate) -> Asset:
    """Insert one asset inside the caller's unit of work (shared with the CSV import)."""
    _check_site(session, data.org_id, data.site_id)
    now = ctx.clock.now()
    asset = Asset(
        **data.model_dump(exclude={"tags"}),
        tag_rows=[AssetTag(tag=t) for t in data.tags],
        created_at=now,
        updated_at=now,
    )
    session.add(asset)
    flush_or_conflict(session, _CLASH)
    policies.sync(session, ctx, [asset.id])
    audit.record(
        session,
        ctx.clock,
        actor,
        "asset.create",
        entity="asset",
        entity_id=asset.id,
        org_id=asset.org_id,
        after=audit.snapshot(asset),
    )
    return asset


def create(ctx: Context, actor: Actor, data: AssetCreate) -> AssetOut:
    with ctx.db.transaction() as session:
        get_org_in_scope(session, actor, data.org_id, Role.TECHNICIAN)
        return AssetOut.model_validate(add_asset(session, ctx, actor, data))


def get(ctx: Context, actor: Actor, asset_id: int) -> AssetOut:
    with ctx.db.read() as session:
        return AssetOut.model_validate(get_in_scope(session, actor, Asset, asset_id))


def list_(
    ctx: Context, actor: Actor, filt: AssetFilter, *, limit: int = 50, cursor: str | None = None
) -> Page[AssetOut]:
    stmt = scoped(select(Asset), actor, Asset.org_id)
    if filt.org_id is not None:
        stmt = stmt.where(Asset.org_id == filt.org_id)
    if filt.site_id is not None:
        stmt = stmt.where(Asset.site_id == filt.site_id)
    if filt.kind is not None:
        stmt = stmt.where(Asset.kind == filt.kind.value)
    if filt.tag:
        tagged = select(AssetTag.asset_id).where(AssetTag.tag == filt.tag.strip().lower())
        stmt = stmt.where(Asset.id.in_(tagged))
    if filt.q:
        needle = filt.q.lower()
        stmt = stmt.where(
            or_(
                func.lower(Asset.name).contains(needle, autoescape=True),
                func.lower(Asset.hostname).contains(needle, autoescape=True),
                func.lower(Asset.owner).contains(needle, autoescape=True),
            )
        )
    with ctx.db.read() as session:
        page = paginate(session, stmt, Asset.id, limit, cursor)
        return Page([AssetOut.model_validate(a) for a in page.items], page.next_cursor)


def tags_in_use(ctx: Context, actor: Actor, org_id: int) -> list[str]:
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id)
        stmt = (
            select(AssetTag.tag)
            .join(Asset, Asset.id == AssetTag.asset_id)
            .where(Asset.org_id == org_id)
            .distinct()
            .order_by(AssetTag.tag)
        )
        return list(session.scalars(stmt))


def update(ctx: Context, actor: Actor, asset_id: int, data: AssetUpdate) -> AssetOut:
    changes = data.model_dump(exclude_unset=True)
    with ctx.db.transaction() as session:
        asset = get_in_scope(session, actor, Asset, asset_id, Role.TECHNICIAN)
        before = audit.snapshot(asset)
        if "site_id" in changes:
            _check_site(session, asset.org_id, changes["site_id"])
        if changes.get("tags") is not None:
            _set_tags(asset, changes.pop("tags"))
        retag = data.tags is not None or "site_id" in changes or "hostname" in changes
        apply_changes(asset, changes, nullable=_NULLABLE)
        asset.updated_at = ctx.clock.now()
        flush_or_conflict(session, _CLASH)
        if retag:
            # Site, tags and host name decide which policy checks apply and their targets.
            policies.sync(session, ctx, [asset.id])
        audit.record(
            session,
            ctx.clock,
            actor,
            "asset.update",
            entity="asset",
            entity_id=asset.id,
            org_id=asset.org_id,
            before=before,
            after=audit.snapshot(asset),
        )
        return AssetOut.model_validate(asset)


def delete(ctx: Context, actor: Actor, asset_id: int) -> None:
    with ctx.db.transaction() as session:
        asset = get_in_scope(session, actor, Asset, asset_id, Role.TECHNICIAN)
        before = audit.snapshot(asset)
        session.delete(asset)
        session.flush()
        audit.record(
            session,
            ctx.clock,
            actor,
            "asset.delete",
            entity="asset",
            entity_id=asset_id,
            org_id=before["org_id"],
            before=before,
        )

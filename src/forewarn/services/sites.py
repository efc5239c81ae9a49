"""Sites: the places an organization works from."""

from __future__ import annotations

from sqlalchemy import func, select

from forewarn.domain.inventory import Role
from forewarn.services import audit
from forewarn.services.context import Context
from forewarn.services.pagination import Page, paginate
from forewarn.services.rows import apply_changes, flush_or_conflict
from forewarn.services.schemas import SiteCreate, SiteOut, SiteUpdate
from forewarn.services.scope import Actor, get_in_scope, get_org_in_scope, scoped
from forewarn.store.models import Site

_CLASH = "this organization already has a site of that name"


def create(ctx: Context, actor: Actor, data: SiteCreate) -> SiteOut:
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        get_org_in_scope(session, actor, data.org_id, Role.TECHNICIAN)
        site = Site(**data.model_dump(), created_at=now, updated_at=now)
        session.add(site)
        flush_or_conflict(session, _CLASH)
        audit.record(
            session,
            ctx.clock,
            actor,
            "site.create",
            entity="site",
            entity_id=site.id,
            org_id=site.org_id,
            after=audit.snapshot(site),
        )
        return SiteOut.model_validate(site)


def get(ctx: Context, actor: Actor, site_id: int) -> SiteOut:
    with ctx.db.read() as session:
        return SiteOut.model_validate(get_in_scope(session, actor, Site, site_id))


def list_(
    ctx: Context,
    actor: Actor,
    *,
    org_id: int | None = None,
    q: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[SiteOut]:
    stmt = scoped(select(Site), actor, Site.org_id)
    if org_id is not None:
        stmt = stmt.where(Site.org_id == org_id)
    if q:
        stmt = stmt.where(func.lower(Site.name).contains(q.lower(), autoescape=True))
    with ctx.db.read() as session:
        page = paginate(session, stmt, Site.id, limit, cursor)
        return Page([SiteOut.model_validate(s) for s in page.items], page.next_cursor)


def update(ctx: Context, actor: Actor, site_id: int, data: SiteUpdate) -> SiteOut:
    with ctx.db.transaction() as session:
        site = get_in_scope(session, actor, Site, site_id, Role.TECHNICIAN)
        before = audit.snapshot(site)
        apply_changes(site, data.model_dump(exclude_unset=True))
        site.updated_at = ctx.clock.now()
        flush_or_conflict(session, _CLASH)
        audit.record(
            session,
            ctx.clock,
            actor,
            "site.update",
            entity="site",
            entity_id=site.id,
            org_id=site.org_id,
            before=before,
            after=audit.snapshot(site),
        )
        return SiteOut.model_validate(site)


def delete(ctx: Context, actor: Actor, site_id: int) -> None:
    """Removes the site; its assets stay in the organization without a site."""
    with ctx.db.transaction() as session:
        site = get_in_scope(session, actor, Site, site_id, Role.ADMIN)
        before = audit.snapshot(site)
        session.delete(site)
        session.flush()
        audit.record(
            session,
            ctx.clock,
            actor,
            "site.delete",
            entity="site",
            entity_id=site_id,
            org_id=before["org_id"],
            before=before,
        )

"""Organizations: the client businesses a provider looks after."""

from __future__ import annotations

from datetime import time
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from forewarn.domain.inventory import Role, slugify
from forewarn.domain.routing import BusinessHours
from forewarn.services import audit
from forewarn.services.context import Context
from forewarn.services.errors import conflict, not_found
from forewarn.services.pagination import Page, paginate
from forewarn.services.rows import apply_changes, flush_or_conflict
from forewarn.services.schemas import MAX_ID, OrgCreate, OrgOut, OrgSummary, OrgUpdate
from forewarn.services.scope import Actor, get_org_in_scope, require_owner, scoped
from forewarn.store.models import Asset, Organization, Site


def _free_slug(session: Session, wanted: str, exclude_id: int | None = None) -> bool:
    stmt = select(Organization.id).where(Organization.slug == wanted)
    if exclude_id is not None:
        stmt = stmt.where(Organization.id != exclude_id)
    return session.scalar(stmt) is None


def _unique_slug(session: Session, name: str) -> str:
    base = slugify(name)
    slug, n = base, 2
    while not _free_slug(session, slug):
        slug = f"{base[:60]}-{n}"
        n += 1
    return slug


def create(ctx: Context, actor: Actor, data: OrgCreate) -> OrgOut:
    require_owner(actor)
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        if data.slug is not None and not _free_slug(session, data.slug):
            raise conflict(f"slug {data.slug!r} is taken")
        values = data.model_dump(exclude={"slug", "business_hours"})
        org = Organization(
            **values,
            slug=data.slug or _unique_slug(session, data.name),
            business_hours=data.business_hours.model_dump(),
            created_at=now,
            updated_at=now,
        )
        session.add(org)
        flush_or_conflict(session, "an organization with this slug exists")
        audit.record(
            session,
            ctx.clock,
            actor,
            "org.create",
            entity="organization",
            entity_id=org.id,
            org_id=org.id,
            after=audit.snapshot(org),
        )
        return OrgOut.model_validate(org)


def get(ctx: Context, actor: Actor, org_id: int) -> OrgOut:
    with ctx.db.read() as session:
        return OrgOut.model_validate(get_org_in_scope(session, actor, org_id))


def resolve_ref(ctx: Context, actor: Actor, ref: str) -> OrgOut:
    """The organization a person named on a command line: by id when all digits, else by slug."""
    ref = ref.strip()
    with ctx.db.read() as session:
        if ref.isdigit():
            # Beyond the id range nothing can match; a lookup would only upset PostgreSQL.
            org_id = int(ref) if int(ref) <= MAX_ID else None
        else:
            org_id = session.scalar(select(Organization.id).where(Organization.slug == ref))
        if org_id is None:
            raise not_found("organization")
        return OrgOut.model_validate(get_org_in_scope(session, actor, org_id))


def list_(
    ctx: Context, actor: Actor, *, q: str | None = None, limit: int = 50, cursor: str | None = None
) -> Page[OrgOut]:
    stmt = scoped(select(Organization), actor, Organization.id)
    if q:
        needle = q.lower()
        stmt = stmt.where(
            or_(
                func.lower(Organization.name).contains(needle, autoescape=True),
                Organization.slug.contains(needle, autoescape=True),
            )
        )
    with ctx.db.read() as session:
        page = paginate(session, stmt, Organization.id, limit, cursor)
        return Page([OrgOut.model_validate(o) for o in page.items], page.next_cursor)


def _with_counts() -> Select[Organization, Any, Any]:
    assets = select(Asset.org_id, func.count().label("n")).group_by(Asset.org_id).subquery("a")
    sites = select(Site.org_id, func.count().label("n")).group_by(Site.org_id).subquery("s")
    return (
        select(Organization, func.coalesce(sites.c.n, 0), func.coalesce(assets.c.n, 0))
        .outerjoin(sites, sites.c.org_id == Organization.id)
        .outerjoin(assets, assets.c.org_id == Organization.id)
    )


def overview(ctx: Context, actor: Actor, q: str | None = None) -> list[OrgSummary]:
    """Every organization the actor sees, by name, with site and asset counts."""
    stmt = scoped(_with_counts(), actor, Organization.id).order_by(func.lower(Organization.name))
    if q:
        stmt = stmt.where(func.lower(Organization.name).contains(q.lower(), autoescape=True))
    with ctx.db.read() as session:
        return [
            OrgSummary(org=OrgOut.model_validate(o), sites=ns, assets=na)
            for o, ns, na in session.execute(stmt)
        ]


def summary(ctx: Context, actor: Actor, org_id: int) -> OrgSummary:
    """One organization with its site and asset counts (what deleting it would remove)."""
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id)
        org, n_sites, n_assets = session.execute(
            _with_counts().where(Organization.id == org_id)
        ).one()
        return OrgSummary(org=OrgOut.model_validate(org), sites=n_sites, assets=n_assets)


def update(ctx: Context, actor: Actor, org_id: int, data: OrgUpdate) -> OrgOut:
    changes = data.model_dump(exclude_unset=True)
    with ctx.db.transaction() as session:
        org = get_org_in_scope(session, actor, org_id, Role.ADMIN)
        before = audit.snapshot(org)
        if changes.get("slug") and not _free_slug(session, changes["slug"], org.id):
            raise conflict(f"slug {changes['slug']!r} is taken")
        apply_changes(org, changes, nullable={"annual_revenue"})
        org.updated_at = ctx.clock.now()
        flush_or_conflict(session, "an organization with this slug exists")
        audit.record(
            session,
            ctx.clock,
            actor,
            "org.update",
            entity="organization",
            entity_id=org.id,
            org_id=org.id,
            before=before,
            after=audit.snapshot(org),
        )
        return OrgOut.model_validate(org)


def delete(ctx: Context, actor: Actor, org_id: int) -> None:
    with ctx.db.transaction() as session:
        org = get_org_in_scope(session, actor, org_id, Role.ADMIN)
        require_owner(actor)
        before = audit.snapshot(org)
        session.delete(org)
        session.flush()
        audit.record(
            session,
            ctx.clock,
            actor,
            "org.delete",
            entity="organization",
            entity_id=org_id,
            before=before,
        )


def business_hours(org: Organization) -> BusinessHours | None:
    """The organization's opening hours in its time zone, for routing alerts and counting
    SLAs; None when it has none that make sense (then it is open around the clock)."""
    bh = org.business_hours or {}
    try:
        end = bh.get("end", "17:00")
        return BusinessHours(
            days=frozenset(int(d) for d in bh.get("days", [])),
            start=time.fromisoformat(bh.get("start", "08:00")),
            # "24:00" (the form allows it) is the next midnight: a span that ends at 00:00.
            end=time(0) if end == "24:00" else time.fromisoformat(end),
            tz=org.timezone or "UTC",
        )
    except (ValueError, TypeError):
        return None

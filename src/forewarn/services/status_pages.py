"""Status pages: an organization's opt-in public page of chosen checks and incident notes.

The public view says only what a client's staff or customers should see: a label per
service, its state in plain words, 90 days of daily uptime (maintenance excluded) and the
notes the provider wrote. Never asset names, targets or messages.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from forewarn.domain.inventory import Role
from forewarn.domain.observation import Status
from forewarn.services import audit, checks, maintenance
from forewarn.services.context import Context
from forewarn.services.errors import invalid, not_found
from forewarn.services.schemas import (
    DayBar,
    PublicItem,
    PublicStatus,
    StatusItem,
    StatusNoteCreate,
    StatusNoteOut,
    StatusNoteUpdate,
    StatusPageOut,
    StatusPageUpdate,
)
from forewarn.services.scope import Actor, get_org_in_scope
from forewarn.store.models import (
    Asset,
    Check,
    CheckStateRow,
    Organization,
    StatusNote,
    StatusPage,
)

DAYS = 90
_WORST = ["operational", "unknown", "maintenance", "degraded", "down"]


def _page(session: Session, org_id: int, now: datetime) -> StatusPage:
    page = session.scalars(select(StatusPage).where(StatusPage.org_id == org_id)).first()
    if page is None:
        page = StatusPage(
            org_id=org_id,
            slug=secrets.token_urlsafe(12),
            title="Service status",
            published=False,
            items=[],
            created_at=now,
            updated_at=now,
        )
        session.add(page)
        session.flush()
    return page


def _out(session: Session, page: StatusPage) -> StatusPageOut:
    notes = session.scalars(
        select(StatusNote).where(StatusNote.page_id == page.id).order_by(StatusNote.at.desc())
    ).all()
    return StatusPageOut(
        org_id=page.org_id,
        slug=page.slug,
        title=page.title,
        published=page.published,
        items=[StatusItem.model_validate(i) for i in page.items],
        public_path=f"/status/{page.slug}",
        notes=[StatusNoteOut.model_validate(n) for n in notes],
    )


def get(ctx: Context, actor: Actor, org_id: int) -> StatusPageOut:
    with ctx.db.transaction() as session:
        get_org_in_scope(session, actor, org_id)
        return _out(session, _page(session, org_id, ctx.clock.now()))


def update(ctx: Context, actor: Actor, org_id: int, data: StatusPageUpdate) -> StatusPageOut:
    with ctx.db.transaction() as session:
        get_org_in_scope(session, actor, org_id, Role.ADMIN)
        page = _page(session, org_id, ctx.clock.now())
        before = audit.snapshot(page)
        if data.items is not None:
            ids = [i.check_id for i in data.items]
            if len(set(ids)) != len(ids):
                raise invalid("each check appears once on a status page")
            found = set(
                session.scalars(select(Check.id).where(Check.id.in_(ids), Check.org_id == org_id))
            )
            missing = [i for i in ids if i not in found]
            if missing:
                raise invalid(f"checks not found in this organization: {missing}")
            page.items = [i.model_dump() for i in data.items]
        if data.title is not None:
            page.title = data.title
        if data.published is not None:
            page.published = data.published
        page.updated_at = ctx.clock.now()
        audit.record(
            session,
            ctx.clock,
            actor,
            "status_page.update",
            entity="status_page",
            entity_id=page.id,
            org_id=org_id,
            before=before,
            after=audit.snapshot(page),
        )
        return _out(session, page)


def add_note(ctx: Context, actor: Actor, org_id: int, data: StatusNoteCreate) -> StatusNoteOut:
    with ctx.db.transaction() as session:
        get_org_in_scope(session, actor, org_id, Role.TECHNICIAN)
        page = _page(session, org_id, ctx.clock.now())
        note = StatusNote(page_id=page.id, org_id=org_id, at=ctx.clock.now(), **data.model_dump())
        session.add(note)
        session.flush()
        return StatusNoteOut.model_validate(note)


def update_note(
    ctx: Context, actor: Actor, org_id: int, note_id: int, data: StatusNoteUpdate
) -> StatusNoteOut:
    with ctx.db.transaction() as session:
        get_org_in_scope(session, actor, org_id, Role.TECHNICIAN)
        note = session.get(StatusNote, note_id)
        if note is None or note.org_id != org_id:
            raise not_found("status note")
        for k, v in data.model_dump(exclude_unset=True).items():
            if v is not None:
                setattr(note, k, v)
        session.flush()
        return StatusNoteOut.model_validate(note)


def _state(st: CheckStateRow | None, in_maintenance: bool) -> str:
    if in_maintenance:
        return "maintenance"
    if st is None or st.last_at is None:
        return "unknown"
    if st.unreachable and st.status != int(Status.OK):
        return "down"
    return {
        int(Status.OK): "operational",
        int(Status.WARNING): "degraded",
        int(Status.CRITICAL): "down",
    }.get(st.hard_status, "unknown")  # hard states only: a soft problem is not confirmed


def public(ctx: Context, slug: str) -> PublicStatus:
    """The published page for its link; not found when unpublished or unknown."""
    now = ctx.clock.now()
    with ctx.db.read() as session:
        page = session.scalars(select(StatusPage).where(StatusPage.slug == slug)).first()
        if page is None or not page.published:
            raise not_found("status page")
        org = session.get(Organization, page.org_id)
        tz = org.timezone if org is not None else "UTC"
        windows = maintenance.windows_of(session, [page.org_id])
        items = []
        for item in page.items:
            check = session.get(Check, item["check_id"])
            if check is None or check.org_id != page.org_id:
                continue
            site_id = session.scalar(select(Asset.site_id).where(Asset.id == check.asset_id))
            st = session.get(CheckStateRow, check.id)
            maint = maintenance.active(windows, check.org_id, site_id, check.asset_id, now)
            days = checks.uptime_report_in(session, check, site_id, tz, now, DAYS).days
            up = sum(u.up for _, u in days)
            judged = up + sum(u.down for _, u in days)
            items.append(
                PublicItem(
                    label=item["label"],
                    state=_state(st, maint),
                    uptime_90d=up / judged if judged else None,
                    days=[DayBar(day=d, ratio=u.ratio) for d, u in days],
                )
            )
        recent = now - timedelta(days=DAYS)
        notes = session.scalars(
            select(StatusNote)
            .where(StatusNote.page_id == page.id, StatusNote.at >= recent)
            .order_by(StatusNote.at.desc())
        ).all()
        overall = max((i.state for i in items), key=_WORST.index, default="unknown")
        return PublicStatus(
            title=page.title,
            overall=overall,
            items=items,
            notes=[StatusNoteOut.model_validate(n) for n in notes],
            updated_at=now,
        )

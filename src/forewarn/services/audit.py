"""The audit trail: who did what, when, with the row before and after."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from forewarn.domain.clock import Clock
from forewarn.services.context import Context
from forewarn.services.pagination import Page, paginate_desc
from forewarn.services.schemas import AuditOut
from forewarn.services.scope import Actor
from forewarn.store.models import AuditEvent

# Never copied into the trail.
_SECRET_COLUMNS = {"password_hash", "token_hash"}


def snapshot(row: Any) -> dict[str, Any]:
    """The row's columns as JSON-ready values, secrets left out."""
    out: dict[str, Any] = {}
    for attr in inspect(row).mapper.column_attrs:
        if attr.key in _SECRET_COLUMNS:
            continue
        value = getattr(row, attr.key)
        if isinstance(value, datetime | date):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        out[attr.key] = value
    if hasattr(row, "tags"):
        out["tags"] = list(row.tags)
    return out


def record(
    session: Session,
    clock: Clock,
    actor: Actor,
    action: str,
    *,
    entity: str = "",
    entity_id: int | None = None,
    org_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            at=clock.now(),
            user_id=actor.user_id or None,
            actor=actor.username,
            org_id=org_id,
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=before,
            after=after,
            address=actor.address[:64],
        )
    )


def list_events(
    ctx: Context,
    actor: Actor,
    *,
    org_id: int | None = None,
    action: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[AuditOut]:
    """Newest first. Owners see everything; an organization's admins see its events."""
    stmt = select(AuditEvent)
    if not actor.is_owner:
        stmt = stmt.where(AuditEvent.org_id.in_(actor.admin_of()))
    if org_id is not None:
        stmt = stmt.where(AuditEvent.org_id == org_id)
    if action:
        stmt = stmt.where(AuditEvent.action.startswith(action, autoescape=True))
    with ctx.db.read() as session:
        page = paginate_desc(session, stmt, AuditEvent.id, limit, cursor)
        return Page([AuditOut.model_validate(e) for e in page.items], page.next_cursor)

"""The audit trail: who did what, when, with the row before and after."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from forewarn.domain.clock import Clock
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

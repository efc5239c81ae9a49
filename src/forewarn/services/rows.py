"""Small helpers every use case that writes rows shares."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forewarn.services.errors import conflict, invalid


def flush_or_conflict(session: Session, message: str) -> None:
    """Flush, turning a unique-constraint violation into a 409 that names the clash."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise conflict(message) from exc


def apply_changes(row: Any, changes: dict[str, Any], nullable: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Set the fields a PATCH named; an explicit null is only allowed where a value is optional."""
    refused = [k for k, v in changes.items() if v is None and k not in nullable]
    if refused:
        raise invalid(
            "these fields cannot be empty",
            [{"loc": ["body", k], "msg": "may not be null", "type": "null"} for k in refused],
        )
    for key, value in changes.items():
        setattr(row, key, value)

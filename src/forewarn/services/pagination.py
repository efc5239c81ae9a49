"""Keyset pagination: lists are ordered by id and continue after an opaque cursor."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

from forewarn.services.errors import invalid

T = TypeVar("T")

MAX_LIMIT = 500
AnySelect = Select[*tuple[Any, ...]]


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, value = raw.split(":", 1)
        last_id = int(value)
        if prefix != "id" or last_id < 0:
            raise ValueError(raw)
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise invalid("cursor is not one this server gave out") from exc
    return last_id


def paginate(
    session: Session, stmt: AnySelect, id_column: Any, limit: int, cursor: str | None
) -> Page[Any]:
    """Oldest first: rows with an id above the cursor."""
    _check_limit(limit)
    stmt = stmt.where(id_column > decode_cursor(cursor)).order_by(id_column)
    return _page(list(session.scalars(stmt.limit(limit + 1))), limit)


def paginate_desc(
    session: Session, stmt: AnySelect, id_column: Any, limit: int, cursor: str | None
) -> Page[Any]:
    """Newest first: rows with an id below the cursor (logs and timelines)."""
    _check_limit(limit)
    before = decode_cursor(cursor)
    if before:
        stmt = stmt.where(id_column < before)
    stmt = stmt.order_by(id_column.desc())
    return _page(list(session.scalars(stmt.limit(limit + 1))), limit)


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid(f"limit must be between 1 and {MAX_LIMIT}")


def _page(rows: list[Any], limit: int) -> Page[Any]:
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].id) if more and rows else None)

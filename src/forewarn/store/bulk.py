"""Bulk writes that differ by engine: the way rows are written decides ingest speed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignore(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT rows, skipping any whose key exists (ON CONFLICT DO NOTHING on both engines)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    stmt = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    session.execute(stmt.on_conflict_do_nothing(), list(rows))


def insert_samples(session: Session, rows: Sequence[tuple[int, int, float]]) -> None:
    """(series_id, ts, value) rows into metric_raw through the driver's executemany.

    Sorted by key first: clustered tables (WITHOUT ROWID, the primary key index) take sorted
    rows several times faster. A repeated (series, second) keeps the first value.
    """
    if not rows:
        return
    ordered = sorted(rows)
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        sql = (
            "INSERT INTO metric_raw (series_id, ts, value) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING"
        )
    else:
        sql = "INSERT OR IGNORE INTO metric_raw (series_id, ts, value) VALUES (?, ?, ?)"
    conn.exec_driver_sql(sql, ordered)

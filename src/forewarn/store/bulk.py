"""Bulk writes that differ by engine: the way rows are written decides ingest speed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

# Rows per multi-row INSERT on SQLite (3 parameters each, well under its 32,766 limit).
_CHUNK = 256
_first_two = itemgetter(0, 1)  # a sort key that keeps the given order among equal keys


def dialect_insert(session: Session, table: Any) -> Any:
    """INSERT into `table` (a Table or a mapped class) as the session's engine writes it, with
    its ON CONFLICT clauses (`on_conflict_do_nothing`) on both engines."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignore(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT rows, skipping any whose key exists (ON CONFLICT DO NOTHING on both engines)."""
    if not rows:
        return
    session.execute(dialect_insert(session, table).on_conflict_do_nothing(), list(rows))


def insert_new(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], key: Sequence[str]
) -> set[tuple[Any, ...]]:
    """INSERT rows, skipping any whose key exists; answer the keys of the rows inserted.

    One statement claims and tells apart (ON CONFLICT DO NOTHING ... RETURNING), where a
    SELECT first would cost a round trip and leave a window between the two.
    """
    if not rows:
        return set()
    stmt = dialect_insert(session, table)
    returning = stmt.on_conflict_do_nothing().returning(*(table.c[k] for k in key))
    return {tuple(row) for row in session.execute(returning, list(rows))}


def insert_samples(session: Session, rows: Sequence[tuple[int, int, float]]) -> None:
    """(series_id, ts, value) rows into metric_raw, sorted by key first.

    Clustered tables (WITHOUT ROWID, the primary key index) take sorted rows faster. A
    repeated (series, second) keeps the first value.
    """
    insert_sample_values(session, [x for row in sorted(rows) for x in row])


def insert_sample_values(session: Session, flat: list[float]) -> None:
    """Rows given flat, series_id, ts, value, series_id, ts, ...: no tuple per row.

    A repeated (series, second) keeps the first value. On SQLite the rows go in as
    multi-row INSERTs (`_sqlite_insert_triples`), on PostgreSQL through COPY.
    """
    if not flat:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        _copy_samples(conn, flat)
        return
    _sqlite_insert_triples(conn, "metric_raw (series_id, ts, value)", flat)


def insert_ignore_triples(session: Session, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
    """Rows of a three-column table keyed by its first two columns (values in column order),
    sorted by key first, skipping any whose key exists (a key repeated among `rows` keeps the
    first row given): the raw check results a recorder writes per result. On SQLite as
    multi-row INSERTs on the driver's cursor (as metric samples are): SQLAlchemy's
    executemany of dicts cost ~6 % of the recorder's CPU; on PostgreSQL as `insert_ignore`."""
    if not rows:
        return
    conn = session.connection()
    columns = [c.name for c in table.columns]
    if conn.dialect.name == "postgresql":
        insert_ignore(session, table, [dict(zip(columns, row, strict=True)) for row in rows])
        return
    flat = [x for row in sorted(rows, key=_first_two) for x in row]
    _sqlite_insert_triples(conn, f"{table.name} ({', '.join(columns)})", flat)


def _sqlite_insert_triples(conn: Connection, into: str, flat: list[Any]) -> None:
    """Rows given flat (three values each) as INSERT OR IGNORE of a few fixed sizes, each
    prepared once per connection: an executemany costs a statement step per row (measured:
    71 us per 60-row check-in against 48 us), and preparing a statement of n rows costs
    about as much as running it, so sizes are powers of two and the driver's statement cache
    keeps them."""
    raw = conn.connection.driver_connection
    assert raw is not None  # a live connection inside the transaction
    cur = raw.cursor()
    try:
        start, end = 0, len(flat)
        while start < end:
            rows = min(_CHUNK, 1 << (((end - start) // 3).bit_length() - 1))
            cur.execute(_sqlite_insert(into, rows), flat[start : start + 3 * rows])
            start += 3 * rows
    finally:
        cur.close()


@cache
def _sqlite_insert(into: str, rows: int) -> str:
    values = ",".join(["(?,?,?)"] * rows)
    return f"INSERT OR IGNORE INTO {into} VALUES {values}"


def _copy_samples(conn: Connection, flat: list[float]) -> None:
    """COPY into a per-connection staging table, then one INSERT ... ON CONFLICT DO NOTHING.

    psycopg's executemany sends a statement per row (measured: 720 batches/s, three quarters
    of it there); COPY cannot skip duplicates itself, hence the staging table.
    """
    raw = conn.connection.driver_connection
    assert raw is not None  # a live connection inside the transaction
    with raw.cursor() as cur:
        # Every time, not once per connection: a rolled-back transaction takes the table with it.
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS metric_stage "
            "(series_id integer, ts integer, value double precision) ON COMMIT DELETE ROWS"
        )
        with cur.copy("COPY metric_stage (series_id, ts, value) FROM STDIN") as copy:
            write = copy.write_row
            for i in range(0, len(flat), 3):
                write(flat[i : i + 3])
        cur.execute(
            "INSERT INTO metric_raw (series_id, ts, value) "
            "SELECT series_id, ts, value FROM metric_stage ORDER BY series_id, ts "
            "ON CONFLICT DO NOTHING"
        )
        cur.execute("DELETE FROM metric_stage")


def driver_time(dialect: str) -> Callable[[datetime | None], Any]:
    """Aware UTC datetimes as the driver's own value for a `UTCDateTime` column, for the
    statements below that skip SQLAlchemy's bind processing: naive UTC on PostgreSQL, and on
    SQLite the very text SQLAlchemy stores (always with microseconds: the columns are
    compared as text)."""
    if dialect == "postgresql":
        return _naive_utc
    return _sqlite_time


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC).replace(tzinfo=None)


def _sqlite_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
    # The text without its "+00:00": cheaper than making a naive copy to format (a recorder
    # writes two of these per check result).
    return value.isoformat(" ", "microseconds")[:-6]


def update_by_key(
    session: Session, table: str, key: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """UPDATE table SET columns WHERE key = ..., one tuple of driver values per row (the
    columns' values, then the key): executemany on the driver's cursor.

    SQLAlchemy's executemany processes each bound value in Python (a datetime column goes
    through two type processors): for the check states a poller writes per result that was a
    quarter of the recorder's CPU. Values must be plain: datetimes through `driver_time`.
    """
    if not rows:
        return
    conn = session.connection()
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    sets = ", ".join(f"{c} = {mark}" for c in columns)
    raw = conn.connection.driver_connection
    assert raw is not None  # a live connection inside the transaction
    cur = raw.cursor()
    try:
        cur.executemany(f"UPDATE {table} SET {sets} WHERE {key} = {mark}", rows)
    finally:
        cur.close()


def time_from_driver(dialect: str) -> Callable[[Any], datetime | None]:
    """The driver's value of a `UTCDateTime` column as an aware UTC datetime (the reverse of
    `driver_time`): SQLite answers text, PostgreSQL a naive datetime."""
    return _aware if dialect == "postgresql" else _parse_sqlite_time


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _parse_sqlite_time(value: str | None) -> datetime | None:
    # Parsed with its zone: several times faster than datetime.replace(tzinfo=UTC) after.
    return None if value is None else datetime.fromisoformat(value + "+00:00")


def select_in(session: Session, sql: str, keys: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows of `sql` on the driver's cursor, its `{in}` the list of `keys` as parameters:
    plain values (see `time_from_driver`), without SQLAlchemy's result processing."""
    conn = session.connection()
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    raw = conn.connection.driver_connection
    assert raw is not None  # a live connection inside the transaction
    cur = raw.cursor()
    try:
        cur.execute(sql.replace("{in}", ", ".join([mark] * len(keys))), list(keys))
        return list(cur.fetchall())
    finally:
        cur.close()

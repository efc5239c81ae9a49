"""The migrations build exactly the schema the models describe, on each engine."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from forewarn.services.context import Context
from forewarn.store.migrate import upgrade
from forewarn.store.models import Base


def test_models_and_migrations_agree(ctx: Context) -> None:
    upgrade(ctx.db.url)  # at head already: running again must be a no-op
    with ctx.db.engine.connect() as conn:
        mc = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(mc, Base.metadata)
    assert diff == []
    tables = set(inspect(ctx.db.engine).get_table_names())
    assert {"organizations", "sites", "assets", "users", "audit_events"} <= tables


def test_sqlite_runs_in_wal_mode(ctx: Context) -> None:
    if ctx.db.dialect != "sqlite":
        pytest.skip("journal mode is a SQLite setting")
    with ctx.db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1

"""Shared fixtures: a migrated database on each engine, a service context, an API client.

Tests that touch the database run on SQLite always and on PostgreSQL too when
FOREWARN_TEST_DATABASE_URL names a server where we may create databases (.ci/run sets it).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from forewarn.api.app import create_app
from forewarn.config import Settings
from forewarn.domain.clock import ManualClock
from forewarn.services import orgs, users
from forewarn.services.context import Context
from forewarn.services.schemas import MembershipCreate, OrgCreate, TokenCreate, UserCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.db import Database
from forewarn.store.migrate import upgrade
from forewarn.store.models import Base

PG_URL = os.environ.get("FOREWARN_TEST_DATABASE_URL", "")
ENGINES = ["sqlite", "postgresql"]
PASSWORD = "correct horse battery"


def _pg_url(name: str) -> str:
    url = make_url(PG_URL)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once; each test gets a copy, which is far faster than migrating again."""
    path = tmp_path_factory.mktemp("template") / "forewarn.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set FOREWARN_TEST_DATABASE_URL (.ci/run does)")
    name = f"forewarn_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_pg_url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = _pg_url(name)
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_pg(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "forewarn.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    _truncate_pg(url)
    return url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key="test-secret-key-not-for-production",
        run_jobs=False,
        run_poller=False,
    )


@pytest.fixture
def ctx(settings: Settings, clock: ManualClock) -> Iterator[Context]:
    context = Context(Database(settings.effective_database_url), settings, clock)
    yield context
    context.db.dispose()


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx), raise_server_exceptions=False) as c:
        yield c


@dataclass
class Person:
    """A user with a bearer token, ready to call the API."""

    id: int
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_person(
    ctx: Context,
    username: str,
    *,
    owner: bool = False,
    roles: dict[int, str] | None = None,
) -> Person:
    user = users.create_user(
        ctx, SYSTEM, UserCreate(username=username, password=PASSWORD, is_owner=owner)
    )
    for org_id, role in (roles or {}).items():
        users.create_membership(
            ctx, SYSTEM, MembershipCreate(user_id=user.id, org_id=org_id, role=role)
        )
    token = users.create_token(ctx, SYSTEM, TokenCreate(name="test"), user.id).token
    return Person(user.id, username, token)


def make_org(ctx: Context, name: str, **fields: object) -> int:
    return orgs.create(ctx, SYSTEM, OrgCreate.model_validate({"name": name, **fields})).id


@pytest.fixture
def owner(ctx: Context) -> Person:
    return make_person(ctx, "owner", owner=True)

"""First start: the schema is migrated and there is someone who can log in."""

from __future__ import annotations

import secrets

from forewarn.services import users
from forewarn.services.context import Context
from forewarn.services.schemas import UserCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.migrate import upgrade


def migrate(ctx: Context) -> None:
    upgrade(ctx.db.url)


def ensure_admin(ctx: Context) -> str | None:
    """Create the first owner when nobody exists yet; return the password if we generated it."""
    if users.count_users(ctx):
        return None
    generated = ctx.settings.admin_password is None
    password = ctx.settings.admin_password or secrets.token_urlsafe(12)
    with ctx.db.transaction() as session:
        users.add_user(
            session,
            ctx,
            SYSTEM,
            UserCreate(
                username=ctx.settings.admin_user,
                password=password,
                display_name="Administrator",
                is_owner=True,
            ),
        )
    return password if generated else None

"""Read queries the dashboard needs that no other service answers in one go."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import func, select

from forewarn.domain.inventory import Role
from forewarn.services.context import Context
from forewarn.services.scope import Actor, get_org_in_scope
from forewarn.store.models import Membership, User


class MemberRow(BaseModel):
    """One person in an organization, as the members list shows them."""

    membership_id: int
    user_id: int
    username: str
    display_name: str
    email: str
    role: Role
    is_active: bool
    since: datetime
    last_login_at: datetime | None


def members(ctx: Context, actor: Actor, org_id: int) -> list[MemberRow]:
    """The organization's members with their names and roles; needs the admin role there.

    One query joining memberships to users, so the page need not fetch each user in turn.
    """
    stmt = (
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.org_id == org_id)
        .order_by(func.lower(User.username))
    )
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id, Role.ADMIN)
        return [
            MemberRow(
                membership_id=m.id,
                user_id=u.id,
                username=u.username,
                display_name=u.display_name,
                email=u.email,
                role=Role(m.role),
                is_active=u.is_active,
                since=m.created_at,
                last_login_at=u.last_login_at,
            )
            for m, u in session.execute(stmt)
        ]

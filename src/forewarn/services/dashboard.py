"""Read queries the dashboard needs that no other service answers in one go."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import func, select

from forewarn.domain.inventory import Role
from forewarn.services.context import Context
from forewarn.services.scope import Actor, get_org_in_scope, require_owner
from forewarn.store.models import Membership, Organization, User


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


class OrgRole(BaseModel):
    org_id: int
    org_name: str
    role: Role


class PersonRow(BaseModel):
    """One user account, as the owners' list of people shows it."""

    user_id: int
    username: str
    display_name: str
    email: str
    is_owner: bool
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None
    orgs: list[OrgRole]


def people(ctx: Context, actor: Actor) -> list[PersonRow]:
    """Every account with the organizations it belongs to, by user name; owners only.

    Two queries (users, then memberships joined to organizations) rather than one per user.
    """
    require_owner(actor)
    roles = (
        select(Membership.user_id, Organization.id, Organization.name, Membership.role)
        .join(Organization, Organization.id == Membership.org_id)
        .order_by(func.lower(Organization.name))
    )
    with ctx.db.read() as session:
        by_user: dict[int, list[OrgRole]] = {}
        for user_id, org_id, org_name, role in session.execute(roles):
            by_user.setdefault(user_id, []).append(
                OrgRole(org_id=org_id, org_name=org_name, role=Role(role))
            )
        accounts = session.scalars(select(User).order_by(func.lower(User.username)))
        return [
            PersonRow(
                user_id=u.id,
                username=u.username,
                display_name=u.display_name,
                email=u.email,
                is_owner=u.is_owner,
                is_active=u.is_active,
                created_at=u.created_at,
                last_login_at=u.last_login_at,
                orgs=by_user.get(u.id, []),
            )
            for u in accounts
        ]

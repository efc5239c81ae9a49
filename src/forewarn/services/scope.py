"""The one place that decides which organizations a caller may see and change.

Every query of tenant data is filtered by `org_filter`, and every single-row read by
`get_in_scope`. A row of an organization the caller may not see is reported as not found,
never as forbidden: its existence is not the caller's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false, true
from sqlalchemy.orm import Session

from forewarn.domain.inventory import Role, role_allows
from forewarn.services.errors import forbidden, not_found
from forewarn.store.models import Organization

T = TypeVar("T")
S = TypeVar("S", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True)
class Actor:
    user_id: int
    username: str
    is_owner: bool = False
    roles: dict[int, Role] = field(default_factory=dict)
    address: str = ""

    def role_in(self, org_id: int) -> Role | None:
        if self.is_owner:
            return Role.ADMIN
        return self.roles.get(org_id)

    def admin_of(self) -> list[int]:
        """The organizations whose people and trail this actor manages (owners: see is_owner)."""
        return sorted(org for org, role in self.roles.items() if role == Role.ADMIN)

    def can(self, org_id: int, needed: Role) -> bool:
        held = self.role_in(org_id)
        return held is not None and role_allows(held, needed)


SYSTEM = Actor(user_id=0, username="system", is_owner=True)


def org_filter(actor: Actor, org_column: Any) -> ColumnElement[bool]:
    """A WHERE clause limiting rows to the organizations the actor may see."""
    if actor.is_owner:
        return true()
    if not actor.roles:
        return false()
    clause: ColumnElement[bool] = org_column.in_(sorted(actor.roles))
    return clause


def org_or_provider(actor: Actor, org_column: Any) -> ColumnElement[bool]:
    """Rows of the organizations the actor may see, and the provider's own (org_id NULL:
    channels, routes and silences meant for every organization)."""
    clause: ColumnElement[bool] = org_filter(actor, org_column) | org_column.is_(None)
    return clause


def scoped(stmt: S, actor: Actor, org_column: Any) -> S:
    return stmt.where(org_filter(actor, org_column))


def require(actor: Actor, org_id: int, needed: Role, what: str = "organization") -> None:
    """Not found when the actor cannot see the organization; forbidden when it can but may not."""
    if actor.role_in(org_id) is None:
        raise not_found(what)
    if not actor.can(org_id, needed):
        raise forbidden(f"this needs the {needed.value} role in the organization")


def require_owner(actor: Actor) -> None:
    if not actor.is_owner:
        raise forbidden("only the provider's owners may do this")


def get_in_scope(
    session: Session, actor: Actor, model: type[T], row_id: int, needed: Role = Role.VIEWER
) -> T:
    """Load one tenant row by id, applying the same rule as `require`."""
    row = session.get(model, row_id)
    org_id = getattr(row, "org_id", None) if row is not None else None
    if row is None or org_id is None:
        raise not_found(model.__name__.lower())
    require(actor, org_id, needed, model.__name__.lower())
    return row


def get_org_in_scope(
    session: Session, actor: Actor, org_id: int, needed: Role = Role.VIEWER
) -> Organization:
    org = session.get(Organization, org_id)
    if org is None:
        raise not_found("organization")
    require(actor, org_id, needed)
    return org

"""People: users, their memberships in organizations, invitations and API tokens."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session

from forewarn.domain.inventory import Role
from forewarn.services import audit
from forewarn.services.auth import (
    hash_password,
    hash_secret,
    issue_token,
    lockout_wait,
    note_wrong_password,
    verify_password,
)
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError, forbidden, invalid, not_found, throttled
from forewarn.services.pagination import Page, paginate
from forewarn.services.rows import apply_changes, flush_or_conflict
from forewarn.services.schemas import (
    InvitationAccept,
    InvitationCreate,
    InvitationCreated,
    InvitationOut,
    MembershipCreate,
    MembershipOut,
    MembershipUpdate,
    PasswordChange,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from forewarn.services.scope import (
    SYSTEM,
    Actor,
    get_in_scope,
    get_org_in_scope,
    require_owner,
    scoped,
)
from forewarn.store.models import ApiToken, Invitation, Membership, User

_USERNAME_TAKEN = "that user name is taken"


# ---- users -------------------------------------------------------------------------------------


def _user_filter(actor: Actor) -> ColumnElement[bool]:
    """Owners see everyone; an organization's admins see its members; anyone sees themselves."""
    if actor.is_owner:
        return true()
    members = select(Membership.user_id).where(Membership.org_id.in_(actor.admin_of()))
    return or_(User.id == actor.user_id, User.id.in_(members))


def _visible_user(session: Session, actor: Actor, user_id: int) -> User:
    user = session.scalar(select(User).where(User.id == user_id, _user_filter(actor)))
    if user is None:
        raise not_found("user")
    return user


def assignable(session: Session, user_id: int, org_id: int) -> User:
    """The user, when work of the organization may be given to them: a member, or one of the
    provider's owners; otherwise a 422 naming `assignee_id`."""
    user = session.get(User, user_id)
    member = session.scalar(
        select(Membership.id).where(Membership.user_id == user_id, Membership.org_id == org_id)
    )
    if user is None or not (user.is_owner or member is not None):
        raise invalid(
            "the assignee must be a member of the organization or one of the provider's owners",
            [{"loc": ["body", "assignee_id"], "msg": "not a member of this organization"}],
        )
    return user


def create_user(ctx: Context, actor: Actor, data: UserCreate) -> UserOut:
    require_owner(actor)
    with ctx.db.transaction() as session:
        user = add_user(session, ctx, actor, data)
        return UserOut.model_validate(user)


def add_user(session: Session, ctx: Context, actor: Actor, data: UserCreate) -> User:
    now = ctx.clock.now()
    user = User(
        username=data.username,
        display_name=data.display_name,
        email=data.email,
        password_hash=hash_password(data.password),
        is_owner=data.is_owner,
        created_at=now,
        updated_at=now,
        memberships=[],
    )
    session.add(user)
    flush_or_conflict(session, _USERNAME_TAKEN)
    audit.record(
        session,
        ctx.clock,
        actor,
        "user.create",
        entity="user",
        entity_id=user.id,
        after=audit.snapshot(user),
    )
    return user


def get_user(ctx: Context, actor: Actor, user_id: int) -> UserOut:
    with ctx.db.read() as session:
        return UserOut.model_validate(_visible_user(session, actor, user_id))


def list_users(
    ctx: Context,
    actor: Actor,
    *,
    org_id: int | None = None,
    q: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[UserOut]:
    stmt = select(User).where(_user_filter(actor))
    if org_id is not None:
        stmt = stmt.where(
            User.id.in_(select(Membership.user_id).where(Membership.org_id == org_id))
        )
    if q:
        stmt = stmt.where(func.lower(User.username).contains(q.lower(), autoescape=True))
    with ctx.db.read() as session:
        page = paginate(session, stmt, User.id, limit, cursor)
        return Page([UserOut.model_validate(u) for u in page.items], page.next_cursor)


def update_user(ctx: Context, actor: Actor, user_id: int, data: UserUpdate) -> UserOut:
    changes = data.model_dump(exclude_unset=True)
    with ctx.db.transaction() as session:
        user = _visible_user(session, actor, user_id)
        if not actor.is_owner:
            if user.id != actor.user_id:
                raise forbidden("only owners may change other people's accounts")
            if {"is_owner", "is_active"} & changes.keys():
                raise forbidden("only owners may change who is an owner or active")
        if user.id == actor.user_id and (
            changes.get("is_owner") is False or changes.get("is_active") is False
        ):
            raise invalid("you cannot demote or disable yourself")
        before = audit.snapshot(user)
        if "password" in changes:
            password = changes.pop("password")
            if password is None:
                raise invalid("password may not be null")
            user.password_hash = hash_password(password)
            # A changed password ends every session of that person.
            _end_sessions(session, user.id)
        if changes.get("is_active") is False:
            # Disabled people are refused anyway; ending their sessions keeps a later
            # reactivation from reviving a browser left signed in.
            _end_sessions(session, user.id)
        apply_changes(user, changes)
        user.updated_at = ctx.clock.now()
        session.flush()
        audit.record(
            session,
            ctx.clock,
            actor,
            "user.update",
            entity="user",
            entity_id=user.id,
            before=before,
            after=audit.snapshot(user),
        )
        return UserOut.model_validate(user)


def _end_sessions(session: Session, user_id: int, keep_secret: str | None = None) -> None:
    """Sign the person out of every browser, except the session `keep_secret` belongs to."""
    stmt = sql_delete(ApiToken).where(ApiToken.user_id == user_id, ApiToken.kind == "session")
    if keep_secret:
        stmt = stmt.where(ApiToken.token_hash != hash_secret(keep_secret))
    session.execute(stmt)


_WRONG_PASSWORD = "that is not your current password"


def change_own_password(
    ctx: Context, actor: Actor, data: PasswordChange, *, keep_session: str | None = None
) -> None:
    """A signed-in person replaces their password, proving they know the current one.

    Every other session of theirs ends; the one whose secret is `keep_session` (the browser
    making the change) goes on working. API tokens are left alone: they are revoked one by
    one. A wrong current password is a 422 on `current_password` and counts towards the
    login lockout (429), so a stolen session cannot be used to guess the password.
    """
    wait = lockout_wait(ctx, actor.username, actor.address)
    if wait:
        raise throttled(wait)
    with ctx.db.transaction() as session:
        user = session.get(User, actor.user_id)
        if user is None or not user.is_active:
            raise not_found("user")
        if verify_password(user.password_hash, data.current_password):
            user.password_hash = hash_password(data.new_password)
            user.updated_at = ctx.clock.now()
            _end_sessions(session, user.id, keep_secret=keep_session)
            audit.record(
                session, ctx.clock, actor, "user.password_change", entity="user", entity_id=user.id
            )
            return
    note_wrong_password(ctx, actor, "user.password_change_failed")
    raise invalid(_WRONG_PASSWORD, [{"loc": ["current_password"], "msg": _WRONG_PASSWORD}])


def delete_user(ctx: Context, actor: Actor, user_id: int) -> None:
    require_owner(actor)
    if user_id == actor.user_id:
        raise invalid("you cannot delete yourself")
    with ctx.db.transaction() as session:
        user = _visible_user(session, actor, user_id)
        before = audit.snapshot(user)
        session.delete(user)
        session.flush()
        audit.record(
            session,
            ctx.clock,
            actor,
            "user.delete",
            entity="user",
            entity_id=user_id,
            before=before,
        )


def count_users(ctx: Context) -> int:
    with ctx.db.read() as session:
        return len(session.scalars(select(User.id).limit(1)).all())


# ---- memberships --------------------------------------------------------------------------------


def list_memberships(
    ctx: Context,
    actor: Actor,
    *,
    org_id: int | None = None,
    user_id: int | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[MembershipOut]:
    stmt = scoped(select(Membership), actor, Membership.org_id)
    if not actor.is_owner:
        # Viewers and technicians see only their own membership; admins see their orgs' members.
        stmt = stmt.where(
            or_(Membership.user_id == actor.user_id, Membership.org_id.in_(actor.admin_of()))
        )
    if org_id is not None:
        stmt = stmt.where(Membership.org_id == org_id)
    if user_id is not None:
        stmt = stmt.where(Membership.user_id == user_id)
    with ctx.db.read() as session:
        page = paginate(session, stmt, Membership.id, limit, cursor)
        return Page([MembershipOut.model_validate(m) for m in page.items], page.next_cursor)


def _visible_membership(session: Session, actor: Actor, membership_id: int) -> Membership:
    row = session.get(Membership, membership_id)
    if row is None or not (actor.can(row.org_id, Role.ADMIN) or row.user_id == actor.user_id):
        # Seeing someone's membership in an org you merely view is not your business either.
        raise not_found("membership")
    return row


def get_membership(ctx: Context, actor: Actor, membership_id: int) -> MembershipOut:
    with ctx.db.read() as session:
        return MembershipOut.model_validate(_visible_membership(session, actor, membership_id))


def create_membership(ctx: Context, actor: Actor, data: MembershipCreate) -> MembershipOut:
    with ctx.db.transaction() as session:
        get_org_in_scope(session, actor, data.org_id, Role.ADMIN)
        _visible_user(session, actor, data.user_id)
        row = Membership(**data.model_dump(), created_at=ctx.clock.now())
        session.add(row)
        flush_or_conflict(session, "that user is already a member of this organization")
        audit.record(
            session,
            ctx.clock,
            actor,
            "membership.create",
            entity="membership",
            entity_id=row.id,
            org_id=row.org_id,
            after=audit.snapshot(row),
        )
        return MembershipOut.model_validate(row)


def update_membership(
    ctx: Context, actor: Actor, membership_id: int, data: MembershipUpdate
) -> MembershipOut:
    with ctx.db.transaction() as session:
        row = _visible_membership(session, actor, membership_id)
        if not actor.can(row.org_id, Role.ADMIN):
            raise forbidden("changing roles needs the admin role in the organization")
        before = audit.snapshot(row)
        row.role = data.role.value
        audit.record(
            session,
            ctx.clock,
            actor,
            "membership.update",
            entity="membership",
            entity_id=row.id,
            org_id=row.org_id,
            before=before,
            after=audit.snapshot(row),
        )
        return MembershipOut.model_validate(row)


def delete_membership(ctx: Context, actor: Actor, membership_id: int) -> None:
    """An admin removes someone from an organization; anyone may leave one themselves."""
    with ctx.db.transaction() as session:
        row = _visible_membership(session, actor, membership_id)
        before = audit.snapshot(row)
        session.delete(row)
        session.flush()
        audit.record(
            session,
            ctx.clock,
            actor,
            "membership.delete",
            entity="membership",
            entity_id=membership_id,
            org_id=row.org_id,
            before=before,
        )


# ---- invitations ----------------------------------------------------------------------


def invite(ctx: Context, actor: Actor, data: InvitationCreate) -> InvitationCreated:
    secret = secrets.token_urlsafe(24)
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        get_org_in_scope(session, actor, data.org_id, Role.ADMIN)
        row = Invitation(
            org_id=data.org_id,
            email=data.email,
            role=data.role.value,
            token_hash=hash_secret(secret),
            invited_by=actor.user_id or None,
            created_at=now,
            expires_at=now + timedelta(days=data.expires_in_days),
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            ctx.clock,
            actor,
            "invitation.create",
            entity="invitation",
            entity_id=row.id,
            org_id=row.org_id,
            after=audit.snapshot(row),
        )
        return InvitationCreated(**InvitationOut.model_validate(row).model_dump(), token=secret)


def list_invitations(ctx: Context, actor: Actor, org_id: int) -> list[InvitationOut]:
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id, Role.ADMIN)
        rows = session.scalars(
            select(Invitation).where(Invitation.org_id == org_id).order_by(Invitation.id.desc())
        )
        return [InvitationOut.model_validate(r) for r in rows]


def revoke_invitation(ctx: Context, actor: Actor, invitation_id: int) -> None:
    with ctx.db.transaction() as session:
        row = get_in_scope(session, actor, Invitation, invitation_id, Role.ADMIN)
        before = audit.snapshot(row)
        session.delete(row)
        audit.record(
            session,
            ctx.clock,
            actor,
            "invitation.revoke",
            entity="invitation",
            entity_id=invitation_id,
            org_id=row.org_id,
            before=before,
        )


def _open_invitation(session: Session, ctx: Context, secret: str) -> Invitation:
    row = session.scalar(select(Invitation).where(Invitation.token_hash == hash_secret(secret)))
    if row is None or row.accepted_at is not None or row.expires_at <= ctx.clock.now():
        raise ServiceError(
            "this invitation is unknown, used or expired", status=404, title="Not found"
        )
    return row


def peek_invitation(ctx: Context, secret: str) -> tuple[InvitationOut, str]:
    """The invitation behind a link and its organization's name, for the accept page."""
    with ctx.db.read() as session:
        row = _open_invitation(session, ctx, secret)
        org = get_org_in_scope(session, SYSTEM, row.org_id)
        return InvitationOut.model_validate(row), org.name


def accept_invitation(ctx: Context, secret: str, data: InvitationAccept) -> UserOut:
    with ctx.db.transaction() as session:
        row = _open_invitation(session, ctx, secret)
        invitee = Actor(0, data.username)
        user = add_user(
            session,
            ctx,
            invitee,
            UserCreate(
                username=data.username,
                password=data.password,
                display_name=data.display_name,
                email=row.email,
            ),
        )
        session.add(
            Membership(
                user_id=user.id, org_id=row.org_id, role=row.role, created_at=ctx.clock.now()
            )
        )
        row.accepted_at = ctx.clock.now()
        row.accepted_user_id = user.id
        session.flush()
        session.refresh(user)
        audit.record(
            session,
            ctx.clock,
            Actor(user.id, user.username),
            "invitation.accept",
            entity="invitation",
            entity_id=row.id,
            org_id=row.org_id,
        )
        return UserOut.model_validate(user)


# ---- API tokens -----------------------------------------------------------------------


def create_token(
    ctx: Context, actor: Actor, data: TokenCreate, user_id: int | None = None
) -> TokenCreated:
    """A long-lived bearer token for the caller (or, for an owner, for someone else)."""
    target = user_id or actor.user_id
    with ctx.db.transaction() as session:
        if target != actor.user_id:
            require_owner(actor)
            _visible_user(session, actor, target)
        expires = (
            ctx.clock.now() + timedelta(days=data.expires_in_days) if data.expires_in_days else None
        )
        row, secret = issue_token(
            session, ctx, target, kind="api", name=data.name, expires_at=expires
        )
        audit.record(
            session,
            ctx.clock,
            actor,
            "token.create",
            entity="token",
            entity_id=row.id,
            after=audit.snapshot(row),
        )
        return TokenCreated(**TokenOut.model_validate(row).model_dump(), token=secret)


def _token_filter(actor: Actor) -> ColumnElement[bool]:
    return true() if actor.is_owner else ApiToken.user_id == actor.user_id


def list_tokens(
    ctx: Context,
    actor: Actor,
    *,
    user_id: int | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[TokenOut]:
    """API tokens the actor may see (an owner: everyone's), or only those of `user_id`."""
    stmt = select(ApiToken).where(ApiToken.kind == "api", _token_filter(actor))
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    with ctx.db.read() as session:
        page = paginate(session, stmt, ApiToken.id, limit, cursor)
        return Page([TokenOut.model_validate(t) for t in page.items], page.next_cursor)


def _visible_token(session: Session, actor: Actor, token_id: int) -> ApiToken:
    row = session.scalar(
        select(ApiToken).where(
            ApiToken.id == token_id, ApiToken.kind == "api", _token_filter(actor)
        )
    )
    if row is None:
        raise not_found("token")
    return row


def get_token(ctx: Context, actor: Actor, token_id: int) -> TokenOut:
    with ctx.db.read() as session:
        return TokenOut.model_validate(_visible_token(session, actor, token_id))


def revoke_token(ctx: Context, actor: Actor, token_id: int) -> None:
    with ctx.db.transaction() as session:
        row = _visible_token(session, actor, token_id)
        before = audit.snapshot(row)
        session.delete(row)
        audit.record(
            session,
            ctx.clock,
            actor,
            "token.revoke",
            entity="token",
            entity_id=token_id,
            before=before,
        )


def id_for_username(ctx: Context, username: str) -> int:
    with ctx.db.read() as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
    if user_id is None:
        raise not_found(f"user {username!r}")
    return user_id

"""Passwords, login throttling, bearer tokens and web sessions, and who a credential is."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from forewarn.domain.inventory import Role
from forewarn.services import audit
from forewarn.services.context import Context
from forewarn.services.errors import throttled, unauthorized
from forewarn.services.scope import Actor
from forewarn.store.models import ApiToken, LoginFailure, LoginLockout, User

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so timing does not tell who exists.

    Made on first use: hashing costs ~200 ms, which every command and test paid at import.
    """
    return _hasher.hash("not a real password, only here to spend the time")


TOKEN_PREFIX = "fw_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_secret(secret: str) -> str:
    """Tokens are long random strings: a plain SHA-256 is enough and allows lookup by hash."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def actor_for(user: User, address: str = "") -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        is_owner=user.is_owner,
        roles={m.org_id: Role(m.role) for m in user.memberships},
        address=address,
    )


# ---- throttling -------------------------------------------------------------------------------


def _throttle_keys(username: str, address: str) -> list[str]:
    keys = [f"user:{username.lower()[:200]}"]
    if address:
        keys.append(f"addr:{address[:64]}")
    return keys


def _locked_for(session: Session, keys: list[str], now: datetime) -> int:
    until = session.scalar(
        select(func.max(LoginLockout.until)).where(
            LoginLockout.key.in_(keys), LoginLockout.until > now
        )
    )
    return 0 if until is None else max(1, int((until - now).total_seconds()) + 1)


def _note_failure(ctx: Context, session: Session, keys: list[str], now: datetime) -> bool:
    """Record a failure; lock out any key that reached the limit. True if one was locked."""
    s = ctx.settings
    window_start = now - timedelta(seconds=s.login_window_seconds)
    locked = False
    for key in keys:
        session.add(LoginFailure(key=key, at=now))
        session.flush()
        count = session.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.key == key, LoginFailure.at > window_start)
        )
        if (count or 0) >= s.login_max_failures:
            until = now + timedelta(seconds=s.login_lockout_seconds)
            row = session.get(LoginLockout, key)
            if row is None:
                session.add(LoginLockout(key=key, until=until))
            else:
                row.until = until
            locked = True
    # Old failures tell nothing any more; keep the table small.
    session.execute(delete(LoginFailure).where(LoginFailure.at <= window_start))
    return locked


def lockout_wait(ctx: Context, username: str, address: str = "") -> int:
    """Seconds until this user name and address may try a password again; 0 when they may."""
    with ctx.db.read() as session:
        return _locked_for(session, _throttle_keys(username, address), ctx.clock.now())


def note_wrong_password(ctx: Context, actor: Actor, action: str) -> None:
    """Count a wrong password given by a signed-in person like a failed login, and audit it.

    Without this, a stolen session could guess the account's password without limit.
    """
    keys = _throttle_keys(actor.username, actor.address)
    with ctx.db.transaction() as session:
        locked = _note_failure(ctx, session, keys, ctx.clock.now())
        audit.record(session, ctx.clock, actor, action, entity="user", entity_id=actor.user_id)
        if locked:
            audit.record(session, ctx.clock, actor, "auth.locked_out")


def authenticate(ctx: Context, username: str, password: str, address: str = "") -> User:
    """The active user with these credentials, or 401; 429 while the user or address is locked."""
    now = ctx.clock.now()
    keys = _throttle_keys(username, address)
    anonymous = Actor(user_id=0, username=username[:200], address=address)
    with ctx.db.transaction() as session:
        wait = _locked_for(session, keys, now)
        if wait:
            audit.record(session, ctx.clock, anonymous, "auth.throttled")
    if wait:
        raise throttled(wait)
    with ctx.db.transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        ok = verify_password(user.password_hash if user else _dummy_hash(), password)
        if user is not None and ok and user.is_active:
            user.last_login_at = now
            audit.record(session, ctx.clock, actor_for(user, address), "auth.login")
            return user
        locked = _note_failure(ctx, session, keys, now)
        audit.record(session, ctx.clock, anonymous, "auth.failed")
        if locked:
            audit.record(session, ctx.clock, anonymous, "auth.locked_out")
    raise unauthorized("wrong user name or password")


# ---- tokens and sessions ------------------------------------------------------------------------


def issue_token(
    session: Session,
    ctx: Context,
    user_id: int,
    *,
    kind: str,
    name: str,
    expires_at: datetime | None,
) -> tuple[ApiToken, str]:
    secret = new_secret()
    row = ApiToken(
        user_id=user_id,
        kind=kind,
        name=name,
        token_hash=hash_secret(secret),
        prefix=secret[:10],
        created_at=ctx.clock.now(),
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row, secret


def login(ctx: Context, username: str, password: str, address: str = "") -> str:
    """Check the credentials and hand out a bearer token valid for one session length."""
    user = authenticate(ctx, username, password, address)
    with ctx.db.transaction() as session:
        expires = ctx.clock.now() + timedelta(hours=ctx.settings.session_hours)
        _, secret = issue_token(
            session, ctx, user.id, kind="session", name="login", expires_at=expires
        )
    return secret


def resolve(ctx: Context, secret: str, address: str = "", kinds: tuple[str, ...] = ()) -> Actor:
    """The actor behind a bearer token or session cookie, or 401."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        raise unauthorized("invalid token")
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(secret)))
        if row is None or (kinds and row.kind not in kinds):
            raise unauthorized("invalid token")
        if row.expires_at is not None and row.expires_at <= now:
            raise unauthorized("token expired")
        user = session.get(User, row.user_id)
        if user is None or not user.is_active:
            raise unauthorized("account disabled")
        # Writing on every request would serialize readers on SQLite; a minute is precise enough.
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
            row.last_used_at = now
        return actor_for(user, address)


def logout(ctx: Context, secret: str) -> None:
    with ctx.db.transaction() as session:
        session.execute(delete(ApiToken).where(ApiToken.token_hash == hash_secret(secret)))


def csrf_token(ctx: Context, session_secret: str) -> str:
    """A form token bound to the session: an attacker's page cannot know it."""
    key = ctx.settings.effective_secret_key.encode()
    return hmac.new(key, b"csrf:" + session_secret.encode(), hashlib.sha256).hexdigest()


def csrf_ok(ctx: Context, session_secret: str, token: str) -> bool:
    # Bytes: compare_digest raises on str with non-ASCII characters.
    return hmac.compare_digest(csrf_token(ctx, session_secret).encode(), (token or "").encode())

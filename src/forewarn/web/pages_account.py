"""My account: one's own name and email, password, and API tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.services import orgs, users
from forewarn.services.errors import ServiceError, not_found
from forewarn.services.pagination import MAX_LIMIT
from forewarn.services.schemas import PasswordChange, TokenCreate, TokenCreated, UserUpdate
from forewarn.web.flash import add_flash
from forewarn.web.forms import FieldErrors, attempt, text
from forewarn.web.humanize import relative_time
from forewarn.web.render import page, see_other
from forewarn.web.session import PostedForm, SignedIn, WebId, WebUser, get_ctx

router = APIRouter(include_in_schema=False)

_PROFILE_HINTS = {"email": "An email address like name@example.com, or nothing."}
_PASSWORD_HINTS = {"new_password": "Use at least 10 characters."}
_TOKEN_HINTS = {"expires_in_days": "A whole number of days from 1 to 3650, or nothing."}


def _account_page(
    request: Request,
    user: WebUser,
    *,
    status: int = 200,
    profile: dict[str, str] | None = None,
    profile_errors: FieldErrors | None = None,
    password_errors: FieldErrors | None = None,
    token_values: dict[str, str] | None = None,
    token_errors: FieldErrors | None = None,
    created_token: TokenCreated | None = None,
) -> Response:
    """The account page; each form keeps its own values and messages when it is refused."""
    ctx, actor = get_ctx(request), user.actor
    me = users.get_user(ctx, actor, actor.user_id)
    tokens = users.list_tokens(ctx, actor, user_id=actor.user_id, limit=MAX_LIMIT).items
    names = {s.org.id: s.org.name for s in orgs.overview(ctx, actor)}
    access = sorted(
        ((names.get(m.org_id, f"#{m.org_id}"), m.role) for m in me.memberships),
        key=lambda pair: pair[0].lower(),
    )
    data: dict[str, Any] = {
        "me": me,
        "access": access,
        "tokens": sorted(tokens, key=lambda t: t.created_at, reverse=True),
        "profile": profile or {"display_name": me.display_name, "email": me.email},
        "profile_errors": profile_errors or {},
        "password_errors": password_errors or {},
        "token_values": token_values or {"name": "", "expires_in_days": ""},
        "token_errors": token_errors or {},
        "created_token": created_token,
    }
    return page(request, "account/show.html", user, status=status, section="account", **data)


@router.get("/account")
def show_account(request: Request, user: SignedIn) -> Response:
    return _account_page(request, user)


@router.post("/account/profile")
def update_profile(request: Request, user: SignedIn, form: PostedForm) -> Response:
    ctx = get_ctx(request)
    values = {"display_name": text(form, "display_name"), "email": text(form, "email")}
    updated, errors = attempt(
        lambda: users.update_user(
            ctx, user.actor, user.actor.user_id, UserUpdate.model_validate(values)
        ),
        clash_field="email",
        hints=_PROFILE_HINTS,
    )
    if updated is None:
        return _account_page(request, user, status=422, profile=values, profile_errors=errors)
    response = see_other("/account")
    add_flash(ctx, response, "Saved your name and email.")
    return response


def _wait_text(exc: ServiceError) -> str:
    minutes = max(1, round(int(exc.headers.get("Retry-After", "60")) / 60))
    return f"Too many wrong passwords; try again in {minutes} min."


@router.post("/account/password")
def change_password(request: Request, user: SignedIn, form: PostedForm) -> Response:
    """Replace the password; other browsers are signed out, this one stays signed in."""
    ctx = get_ctx(request)
    new, again = text(form, "new_password"), text(form, "new_password_again")
    # Passwords are never sent back into the page: a refused form asks for them again.
    errors: FieldErrors
    status = 422
    if new != again:
        errors = {"new_password_again": ["The two new passwords differ; type the same twice."]}
    else:
        change = {"current_password": text(form, "current_password"), "new_password": new}
        try:
            _, errors = attempt(
                lambda: users.change_own_password(
                    ctx,
                    user.actor,
                    PasswordChange.model_validate(change),
                    keep_session=user.secret,
                ),
                hints=_PASSWORD_HINTS,
            )
        except ServiceError as exc:
            if exc.status != 429:
                raise
            errors, status = {"current_password": [_wait_text(exc)]}, 429
    if errors:
        return _account_page(request, user, status=status, password_errors=errors)
    response = see_other("/account")
    add_flash(ctx, response, "Password changed. Any other browser you were signed in on is out.")
    return response


@router.post("/account/tokens")
def create_token(request: Request, user: SignedIn, form: PostedForm) -> Response:
    """Create an API token and show its secret, this once: only its hash is kept."""
    ctx = get_ctx(request)
    values = {"name": text(form, "name"), "expires_in_days": text(form, "expires_in_days").strip()}
    created, errors = attempt(
        lambda: users.create_token(
            ctx,
            user.actor,
            TokenCreate.model_validate(
                {"name": values["name"], "expires_in_days": values["expires_in_days"] or None}
            ),
        ),
        hints=_TOKEN_HINTS,
    )
    if created is None:
        return _account_page(request, user, status=422, token_values=values, token_errors=errors)
    return _account_page(request, user, created_token=created)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx = get_ctx(request)
    token = users.get_token(ctx, user.actor, token_id)
    # An owner may see everyone's tokens through the API; this page is about one's own.
    if token.user_id != user.actor.user_id:
        raise not_found("token")
    users.revoke_token(ctx, user.actor, token_id)
    response = see_other("/account#tokens")
    used = token.last_used_at
    when = f"last used {relative_time(used, ctx.clock.now())}" if used else "never used"
    add_flash(
        ctx, response, f"Revoked the token {token.name} ({when}); it no longer works.", "info"
    )
    return response

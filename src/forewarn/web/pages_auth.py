"""Signing in and out, and accepting an invitation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from forewarn.services import auth, users
from forewarn.services.errors import ServiceError
from forewarn.services.schemas import InvitationAccept
from forewarn.web.errors import error_page
from forewarn.web.flash import add_flash
from forewarn.web.forms import FORM_WIDE, FieldErrors, attempt, text
from forewarn.web.render import page
from forewarn.web.session import (
    PostedForm,
    SignedIn,
    UncheckedForm,
    client_address,
    end_session,
    form_token,
    get_ctx,
    optional_user,
    public_form_ok,
    remember_form_token,
    safe_next,
    start_session,
)

router = APIRouter(include_in_schema=False)

InviteToken = Annotated[str, Path(min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]
_STALE_FORM = "This form expired. Please try again."
_INVITE_HINTS = {
    "username": "Use 1 to 64 letters, digits or . _ @ -, starting with a letter or digit.",
    "password": "Use at least 10 characters.",
}


def _login_page(
    request: Request, *, next_path: str, username: str = "", error: str = "", status: int = 200
) -> Response:
    token = form_token(request)
    response = page(
        request,
        "login.html",
        None,
        status=status,
        next_path=next_path,
        username=username,
        error=error,
        form_token=token,
    )
    remember_form_token(request, response, token)
    return response


def _wait_text(exc: ServiceError) -> str:
    seconds = int(exc.headers.get("Retry-After", "60"))
    # The service adds a second for rounding; "5 minutes" reads better than "6" for 301 s.
    minutes = max(1, round(seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed attempts, try again in {minutes} {unit}."


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form; someone already signed in goes straight on."""
    if optional_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_path=safe_next(next))


@router.post("/login")
def login(request: Request, form: UncheckedForm) -> Response:
    """Check the credentials; on success start a session and go where the person was going."""
    username, password = text(form, "username").strip(), text(form, "password")
    next_path = safe_next(text(form, "next"))
    again = {"next_path": next_path, "username": username}
    if not public_form_ok(request, form):
        return _login_page(request, **again, error=_STALE_FORM, status=403)
    if not username or not password or len(username) > 200 or len(password) > 256:
        return _login_page(request, **again, error="Enter your user name and password.")
    try:
        secret = auth.login(get_ctx(request), username, password, client_address(request))
    except ServiceError as exc:
        if exc.status == 429:
            return _login_page(request, **again, error=_wait_text(exc), status=429)
        if exc.status == 401:
            return _login_page(request, **again, error="Wrong user name or password.", status=401)
        raise
    response = RedirectResponse(next_path, status_code=303)
    _replace_session(request, response, secret)
    return response


def _replace_session(request: Request, response: Response, secret: str) -> None:
    """Start the new session; a session this browser held before is revoked, not orphaned."""
    previous = optional_user(request)
    if previous is not None:
        auth.logout(get_ctx(request), previous.secret)
    start_session(request, response, secret)


@router.post("/logout")
def logout(request: Request, user: SignedIn, form: PostedForm) -> Response:
    """Revoke the session on the server, not only forget the cookie."""
    ctx = get_ctx(request)
    auth.logout(ctx, user.secret)
    response = RedirectResponse("/login", status_code=303)
    end_session(request, response)
    add_flash(ctx, response, "You have signed out.", "info")
    return response


# ---- invitations ------------------------------------------------------------------------------


def _invite_page(
    request: Request,
    token: str,
    *,
    values: dict[str, str] | None = None,
    errors: FieldErrors | None = None,
    status: int = 200,
) -> Response:
    try:
        invitation, org_name = users.peek_invitation(get_ctx(request), token)
    except ServiceError as exc:
        if exc.status != 404:
            raise
        return error_page(
            request,
            404,
            message="This invitation link is unknown, already used or expired. "
            "Ask the person who invited you for a new one.",
        )
    ftoken = form_token(request)
    response = page(
        request,
        "invite.html",
        optional_user(request),
        status=status,
        invitation=invitation,
        org_name=org_name,
        token=token,
        values=values or {"username": "", "display_name": ""},
        errors=errors or {},
        form_token=ftoken,
    )
    remember_form_token(request, response, ftoken)
    # The secret is in this page's URL. "same-origin" (set on every page) keeps it from other
    # sites; "no-referrer" would be stricter but makes browsers post "Origin: null".
    return response


@router.get("/invite/{token}")
def invite_form(request: Request, token: InviteToken) -> Response:
    """The public page where an invited person chooses a user name and password."""
    return _invite_page(request, token)


@router.post("/invite/{token}")
def accept_invite(request: Request, token: InviteToken, form: UncheckedForm) -> Response:
    """Create the account, sign it in and open the organization it was invited to."""
    ctx = get_ctx(request)
    values = {
        "username": text(form, "username").strip(),
        "display_name": text(form, "display_name"),
    }
    if not public_form_ok(request, form):
        return _invite_page(request, token, values=values, errors={FORM_WIDE: [_STALE_FORM]})
    password = text(form, "password")
    created, errors = attempt(
        lambda: users.accept_invitation(
            ctx, token, InvitationAccept.model_validate({**values, "password": password})
        ),
        clash_field="username",
        hints=_INVITE_HINTS,
    )
    if created is None:
        return _invite_page(request, token, values=values, errors=errors, status=422)
    secret = auth.login(ctx, created.username, password, client_address(request))
    org_id = created.memberships[0].org_id
    response = RedirectResponse(f"/orgs/{org_id}", status_code=303)
    _replace_session(request, response, secret)
    add_flash(ctx, response, f"Welcome, {created.display_name or created.username}.")
    return response

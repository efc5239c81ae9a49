"""Who is using the dashboard: the session cookie, the CSRF checks, and where to go after login.

The API stays bearer-only; only these page routes read the cookie.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, Path, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from forewarn.services import auth
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError
from forewarn.services.schemas import MAX_ID
from forewarn.services.scope import Actor

SESSION_COOKIE = "forewarn_session"
# The double-submit token of the forms used before there is a session (login, invitations).
FORM_COOKIE = "forewarn_form"
FORM_FIELD = "form_token"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

# Ids in paths are 32-bit in both engines; larger numbers are refused before any query.
WebId = Annotated[int, Path(gt=0, le=MAX_ID)]


@dataclass(frozen=True)
class WebUser:
    """The person behind the session cookie, with the token their forms must carry."""

    actor: Actor
    secret: str
    csrf: str


class LoginRequired(Exception):
    """No valid session: the page answers with a way to the login form."""

    def __init__(self, next_path: str, stale_cookie: bool = False) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.stale_cookie = stale_cookie


class CsrfRefused(Exception):
    """A state-changing request without the token of the session that sent it."""


def get_ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def safe_next(value: str | None) -> str:
    """A local path to return to after login; anything else (another site, a scheme) is '/'."""
    if not value or len(value) > 2000 or any(ord(c) < 32 for c in value):
        return "/"
    parts = urlsplit(value)
    # "//host" and "/\\host" are read as another host by browsers, so only "/x" counts as local.
    if parts.scheme or parts.netloc or not value.startswith("/") or value[1:2] in ("/", "\\"):
        return "/"
    return value


def login_url(next_path: str) -> str:
    target = safe_next(next_path)
    return "/login" if target == "/" else "/login?" + urlencode({"next": target})


def _resume_path(request: Request) -> str:
    """Where the person was going: the page itself, or the page an htmx request came from."""
    if request.headers.get("hx-request") == "true":
        current = urlsplit(request.headers.get("hx-current-url", ""))
        return current.path + (f"?{current.query}" if current.query else "")
    if request.method in ("GET", "HEAD"):
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    # Resubmitting a POST after login would surprise; start again from the overview.
    return "/"


def optional_user(request: Request) -> WebUser | None:
    """The signed-in person, or None when the cookie is missing, expired or revoked."""
    cached: WebUser | None = getattr(request.state, "web_user", None)
    if cached is not None:
        return cached
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    ctx = get_ctx(request)
    try:
        actor = auth.resolve(ctx, secret, client_address(request), kinds=("session",))
    except ServiceError as exc:
        if exc.status == 401:
            return None
        raise
    user = WebUser(actor, secret, auth.csrf_token(ctx, secret))
    request.state.web_user = user
    return user


def current_user(request: Request) -> WebUser:
    """Dependency of every signed-in page: the person, or a redirect to the login form."""
    user = optional_user(request)
    if user is None:
        stale = SESSION_COOKIE in request.cookies
        raise LoginRequired(_resume_path(request), stale_cookie=stale)
    return user


async def checked_form(
    request: Request, user: Annotated[WebUser, Depends(current_user)]
) -> FormData:
    """The posted form, once it proved it came from one of our pages in this session."""
    form = await request.form()
    sent = request.headers.get(CSRF_HEADER) or _text(form.get(CSRF_FIELD))
    if not auth.csrf_ok(get_ctx(request), user.secret, sent):
        raise CsrfRefused()
    return form


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


# ---- forms before there is a session ---------------------------------------------------------
#
# Login and invitation forms have no session to bind a token to, yet a forged login is still
# an attack (the victim ends up working in the attacker's account). We use a double-submit
# token: a random value in a SameSite=Lax cookie that the form repeats in a hidden field. A
# page on another site can neither read the cookie nor make the browser send it with a
# cross-site POST. When the browser sends an Origin header we also require it to be ours.


def form_token(request: Request) -> str:
    """The token for a public form: the one the browser already holds, else a new one."""
    held = request.cookies.get(FORM_COOKIE, "")
    return held if len(held) == 43 and held.isascii() else secrets.token_urlsafe(32)


def remember_form_token(request: Request, response: Response, token: str) -> None:
    if request.cookies.get(FORM_COOKIE) != token:
        response.set_cookie(
            FORM_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=get_ctx(request).settings.secure_cookies,
            path="/",
        )


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.url.netloc


def public_form_ok(request: Request, form: FormData) -> bool:
    """True when a login or invitation form carries our double-submit token and origin."""
    held = request.cookies.get(FORM_COOKIE, "")
    sent = _text(form.get(FORM_FIELD))
    # Bytes, because compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
    same = hmac.compare_digest(held.encode(), sent.encode())
    return bool(held) and same and _same_origin(request)


async def read_form(request: Request) -> FormData:
    """The posted form, unchecked: for public forms, which check it with `public_form_ok`."""
    return await request.form()


# ---- the session cookie -------------------------------------------------------------------------


def start_session(request: Request, response: Response, secret: str) -> None:
    settings = get_ctx(request).settings
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


def end_session(request: Request, response: Response) -> None:
    settings = get_ctx(request).settings
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=settings.secure_cookies, path="/"
    )


SignedIn = Annotated[WebUser, Depends(current_user)]
PostedForm = Annotated[FormData, Depends(checked_form)]
UncheckedForm = Annotated[FormData, Depends(read_form)]

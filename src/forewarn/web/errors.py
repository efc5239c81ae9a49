"""Errors on pages are pages: a 404 or 403 a person can read, a login form when signed out.

The API's problem+json handlers stay in charge of /api and the health endpoints; these
handlers take over only for page paths and hand everything else back to them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from forewarn.services.errors import ServiceError
from forewarn.web.render import page
from forewarn.web.session import CsrfRefused, LoginRequired, end_session, login_url, optional_user

log = logging.getLogger("forewarn.web")

Handler = Callable[[Request, Exception], Awaitable[Response] | Response]

# Machine endpoints answer problem+json, never an HTML page (heartbeat pings come from cron).
_NOT_PAGES = ("/api/", "/healthz", "/readyz", "/metrics", "/hb/")

_MESSAGES = {
    403: (
        "Not allowed",
        "Your role in this organization does not allow this. An administrator of the "
        "organization can change your role.",
    ),
    404: (
        "Not found",
        "There is nothing here, or it belongs to an organization you cannot see.",
    ),
}


def is_page(request: Request) -> bool:
    path = request.url.path
    return path != "/api" and not path.startswith(_NOT_PAGES)


def error_page(
    request: Request, status: int, detail: str = "", *, message: str | None = None
) -> Response:
    """The error page, inside the layout when someone is signed in.

    For 403 and 404 our own wording replaces the service's ("organization not found"),
    which would tell a stranger nothing more and a colleague nothing useful.
    """
    title, standard = _MESSAGES.get(status, ("Something went wrong", _sentence(detail)))
    try:
        user = optional_user(request)
    except Exception:  # the database may be what failed; the error page must still render
        user = None
    return page(
        request,
        "error.html",
        user,
        status=status,
        title=title,
        message=message or standard,
        code=status,
    )


def _sentence(text: str) -> str:
    text = text.strip() or "The request could not be completed."
    return text[0].upper() + text[1:]


def login_required(request: Request, exc: LoginRequired) -> Response:
    target = login_url(exc.next_path)
    response: Response
    if request.headers.get("hx-request") == "true":
        # A redirect would be followed inside the XHR and swap the login form into a table.
        response = Response(status_code=401, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    if exc.stale_cookie:
        end_session(request, response)
    return response


def _delegating(previous: Handler | None, on_page: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        if is_page(request) or previous is None:
            result = on_page(request, exc)
        else:
            result = previous(request, exc)
        return await result if isinstance(result, Awaitable) else result

    return handle


def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    if exc.status == 401:
        return login_required(request, LoginRequired(request.url.path))
    return error_page(request, exc.status, exc.detail)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return error_page(request, exc.status_code, str(exc.detail))


def _bad_request(request: Request, exc: Exception) -> Response:
    # On pages a malformed path or query (/orgs/abc) names nothing that exists.
    return error_page(request, 404)


def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    try:
        return error_page(request, 500, "The server failed; the error was logged.")
    except Exception:  # a broken template must not hide the first error behind a second
        log.exception("the error page failed too")
        return PlainTextResponse("The server failed; the error was logged.", status_code=500)


def install(app: FastAPI) -> None:
    def login(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return login_required(request, exc)

    def csrf(request: Request, exc: Exception) -> Response:
        return error_page(
            request,
            403,
            message="This form is out of date or did not come from this site. "
            "Go back, reload the page and try again.",
        )

    app.add_exception_handler(LoginRequired, login)
    app.add_exception_handler(CsrfRefused, csrf)
    pairs: list[tuple[type[Exception], Handler]] = [
        (ServiceError, _service_error),
        (StarletteHTTPException, _http_error),
        (RequestValidationError, _bad_request),
        (Exception, _unexpected),
    ]
    for exc_type, on_page in pairs:
        previous = app.exception_handlers.get(exc_type)
        app.add_exception_handler(exc_type, _delegating(previous, on_page))

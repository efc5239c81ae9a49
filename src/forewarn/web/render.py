"""Turning a template and its data into an answer: whole pages, htmx fragments, headers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from forewarn import __version__
from forewarn.domain.inventory import Role
from forewarn.web import health_views, humanize, labels
from forewarn.web.flash import clear_flashes, take_flashes
from forewarn.web.session import WebUser, get_ctx

TEMPLATES_DIR = Path(__file__).parent / "templates"

# Our own files only: no inline scripts, no inline styles, no framing by other sites.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@dataclass(frozen=True)
class NavItem:
    section: str
    label: str
    href: str
    # Shown only to the provider's owners (whom the pages behind it refuse everyone else).
    owners_only: bool = False


# The top bar's sections. Problems, Alerts and Reports append themselves here as they land.
NAV: list[NavItem] = [
    NavItem("overview", "Overview", "/"),
    NavItem("people", "People", "/people", owners_only=True),
]


@jinja2.pass_context
def _when(context: jinja2.runtime.Context, moment: datetime | None, tz: str = "UTC") -> Markup:
    """A <time> element: relative text, the exact local time on hover."""
    if moment is None:
        return Markup('<span class="muted">never</span>')
    now: datetime = context["now"]
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        moment.isoformat(), humanize.local_time(moment, tz), humanize.relative_time(moment, now)
    )


@jinja2.pass_context
def _on_day(context: jinja2.runtime.Context, day: date | None, tz: str = "UTC") -> Markup:
    """A date with its distance from today (in the organization's zone) on hover."""
    if day is None:
        return Markup('<span class="muted">not recorded</span>')
    today = context["now"].astimezone(humanize.zone(tz)).date()
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        day.isoformat(), humanize.relative_date(day, today), humanize.long_date(day)
    )


def _lines(text: str) -> Markup:
    """Notes keep their line breaks; everything else about them is escaped."""
    return Markup("<br>").join(escape(line) for line in text.splitlines())


def _as_options(values: list[str]) -> list[tuple[str, str]]:
    """Select options whose text is their value (time zones, for instance)."""
    return [(v, v) for v in values]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        when=_when,
        warranty_state=humanize.warranty_state,
        warranty_text=humanize.warranty_text,
        on_day=_on_day,
        version=__version__,
        kind_labels=labels.KIND_LABELS,
        criticality_labels=labels.CRITICALITY_LABELS,
        role_labels=labels.ROLE_LABELS,
        role_hints=labels.ROLE_HINTS,
        state_labels=labels.STATE_LABELS,
        weekdays=labels.WEEKDAYS,
        evidence_href=health_views.evidence_href,
        category_word=health_views.category_word,
    )
    env.filters.update(
        kind_label=labels.kind_label,
        role_label=labels.role_label,
        criticality_label=labels.criticality_label,
        money=humanize.money,
        size_text=humanize.size_text,
        hours_text=humanize.hours_text,
        long_date=humanize.long_date,
        local_time=humanize.local_time,
        lines=_lines,
        as_options=_as_options,
    )
    return env


templates = Jinja2Templates(env=_environment())


def _secure(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    # Pages show tenant data: never keep them in shared caches or the back-forward cache.
    response.headers["Cache-Control"] = "no-store"
    # htmx asks for fragments at the same URLs as whole pages; caches must tell them apart.
    response.headers["Vary"] = "HX-Request, HX-Target"
    return response


def _base_context(request: Request, user: WebUser | None) -> dict[str, Any]:
    actor = user.actor if user else None

    def can(org_id: int, role: str) -> bool:
        return actor is not None and actor.can(org_id, Role(role))

    return {
        "user": user,
        "csrf": user.csrf if user else "",
        "nav": NAV,
        "section": "",
        "now": get_ctx(request).clock.now(),
        "can": can,
        "is_owner": bool(actor and actor.is_owner),
    }


def page(
    request: Request, template: str, user: WebUser | None, /, *, status: int = 200, **data: Any
) -> HTMLResponse:
    """A whole page inside the layout, with any message left by the previous request."""
    ctx = get_ctx(request)
    flashes = take_flashes(ctx, request)
    context = {**_base_context(request, user), "flashes": flashes, **data}
    response = templates.TemplateResponse(request, template, context, status_code=status)
    if flashes:
        clear_flashes(response)
    return _secure(response)


def fragment(request: Request, template: str, user: WebUser | None, /, **data: Any) -> HTMLResponse:
    """A piece of a page for htmx to swap in; flashes wait for the next whole page."""
    context = {**_base_context(request, user), **data}
    return _secure(templates.TemplateResponse(request, template, context))


def wants_fragment(request: Request, target: str) -> bool:
    """True for an htmx request aimed at the element with this id.

    A history restore (back button after the cache emptied) needs the whole page again.
    """
    headers = request.headers
    return (
        headers.get("hx-request") == "true"
        and headers.get("hx-history-restore-request") != "true"
        and headers.get("hx-target") == target
    )


def see_other(url: str) -> RedirectResponse:
    """After a successful POST: go to the result, so a reload does not post again."""
    return RedirectResponse(url, status_code=303)

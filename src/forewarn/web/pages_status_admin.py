"""An organization's status page, for those who run it: publish or withdraw it, its title and
public link, which checks it shows under which public labels, and incident notes.

The public page itself is web/pages_status.py (/status/<slug>).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from forewarn.domain.inventory import Role
from forewarn.services import orgs, status_pages
from forewarn.services.errors import ServiceError
from forewarn.services.schemas import (
    CheckOut,
    OrgOut,
    StatusNoteCreate,
    StatusNoteUpdate,
    StatusPageOut,
    StatusPageUpdate,
)
from forewarn.services.scope import require
from forewarn.web import check_views
from forewarn.web.flash import add_flash
from forewarn.web.forms import FORM_WIDE, FieldErrors, attempt, text, texts
from forewarn.web.pages_members import public_base
from forewarn.web.render import page, see_other
from forewarn.web.session import PostedForm, SignedIn, WebId, WebUser, get_ctx

router = APIRouter(include_in_schema=False)

LABEL_HINT = "What the public reads for this service, e.g. Website or Email. Never an asset name."
_NO_LABEL = "Give it the label the public reads, e.g. Website."


def _url(org_id: int, rest: str = "") -> str:
    return f"/orgs/{org_id}/status-page{rest}"


def label_field(check_id: int | str) -> str:
    return f"label-{check_id}"


def _ordered(found: list[CheckOut], sp: StatusPageOut, names: dict[int, str]) -> list[CheckOut]:
    """The checks on the page first, in the page's order; then the others by asset and name."""
    place = {item.check_id: i for i, item in enumerate(sp.items)}
    return sorted(
        found,
        key=lambda c: (
            place.get(c.id, len(place)),
            check_views.asset_name(names, c.asset_id).lower(),
            c.name.lower(),
        ),
    )


def _settings_values(sp: StatusPageOut) -> dict[str, Any]:
    values: dict[str, Any] = {"title": sp.title, "items": [str(i.check_id) for i in sp.items]}
    values.update({label_field(i.check_id): i.label for i in sp.items})
    return values


def _page(
    request: Request,
    user: WebUser,
    org: OrgOut,
    *,
    values: dict[str, Any] | None = None,
    errors: FieldErrors | None = None,
    note_values: dict[str, str] | None = None,
    note_errors: FieldErrors | None = None,
    status: int = 200,
) -> Response:
    ctx, actor = get_ctx(request), user.actor
    sp = status_pages.get(ctx, actor, org.id)
    names = check_views.asset_names(ctx, actor, org.id)
    found = _ordered(check_views.org_checks(ctx, actor, org.id), sp, names)
    by_id = {c.id: c for c in found}
    return page(
        request,
        "status/admin.html",
        user,
        status=status,
        section="overview",
        org=org,
        tz=org.timezone,
        sp=sp,
        public_url=public_base(request) + sp.public_path,
        checks=found,
        shown=[(i, by_id.get(i.check_id)) for i in sp.items],
        asset_names=names,
        asset_name=check_views.asset_name,
        values=values or _settings_values(sp),
        errors=errors or {},
        note_values=note_values or {"note_title": "", "note_body": ""},
        note_errors=note_errors or {},
        label_hint=LABEL_HINT,
        label_field=label_field,
        **check_views.helpers(),
    )


@router.get("/orgs/{org_id}/status-page")
def status_admin(request: Request, org_id: WebId, user: SignedIn) -> Response:
    org = orgs.get(get_ctx(request), user.actor, org_id)
    return _page(request, user, org)


# ---- title and the services shown ---------------------------------------------------------------


def _read_settings(form: Any, known: set[int]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What was typed, and the items in the order the boxes were ticked on the page."""
    values: dict[str, Any] = {"title": text(form, "title")[:300], "items": []}
    items = []
    for raw in texts(form, "items"):
        if not raw.isdigit() or int(raw) not in known or raw in values["items"]:
            continue  # a check of another organization or gone since: never shown
        values["items"].append(raw)
        items.append({"check_id": raw, "label": text(form, label_field(raw))[:300]})
    for check_id in known:
        values[label_field(check_id)] = text(form, label_field(check_id))[:300]
    return values, items


def _settings_errors(exc: ValidationError, items: list[dict[str, Any]]) -> FieldErrors:
    errors: FieldErrors = {}
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        if len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int):
            field = label_field(items[loc[1]]["check_id"])
            kind = err.get("type", "")
            message = _NO_LABEL if kind in ("missing", "string_too_short") else "Too long."
        else:
            field = "title" if loc and loc[0] == "title" else FORM_WIDE
            message = "Required." if err.get("type") == "string_too_short" else "Too long."
        errors.setdefault(field, []).append(message)
    return errors


@router.post("/orgs/{org_id}/status-page")
def save_status_page(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.ADMIN)
    known = {c.id for c in check_views.org_checks(ctx, actor, org_id)}
    values, items = _read_settings(form, known)
    try:
        data = StatusPageUpdate.model_validate({"title": values["title"], "items": items})
        status_pages.update(ctx, actor, org_id, data)
    except ValidationError as exc:
        errors = _settings_errors(exc, items)
        return _page(request, user, org, values=values, errors=errors, status=422)
    except ServiceError as exc:
        if exc.status != 422:
            raise
        errors = {FORM_WIDE: [exc.detail[:1].upper() + exc.detail[1:] + "."]}
        return _page(request, user, org, values=values, errors=errors, status=422)
    response = see_other(_url(org_id, "#services"))
    shown = "1 service" if len(items) == 1 else f"{len(items)} services"
    add_flash(ctx, response, f"Saved the status page: it shows {shown}.")
    return response


@router.post("/orgs/{org_id}/status-page/publish")
def publish_status_page(
    request: Request, org_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    """Publish (published=true) or withdraw (anything else) the page."""
    ctx, actor = get_ctx(request), user.actor
    orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.ADMIN)
    published = text(form, "published") == "true"
    status_pages.update(ctx, actor, org_id, StatusPageUpdate(published=published))
    response = see_other(_url(org_id))
    if published:
        add_flash(ctx, response, "Published: anyone with the link sees the page now.")
    else:
        add_flash(ctx, response, "Withdrawn: the link answers “not found” until published again.")
    return response


# ---- incident notes -----------------------------------------------------------------------------


@router.post("/orgs/{org_id}/status-page/notes")
def add_note(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.TECHNICIAN)
    note_values = {
        "note_title": text(form, "note_title")[:300],
        "note_body": text(form, "note_body")[:10_000],
    }
    created, found = attempt(
        lambda: status_pages.add_note(
            ctx,
            actor,
            org_id,
            StatusNoteCreate(title=note_values["note_title"], body=note_values["note_body"]),
        )
    )
    if created is None:
        note_errors = {f"note_{k}" if k in ("title", "body") else k: v for k, v in found.items()}
        return _page(
            request, user, org, note_values=note_values, note_errors=note_errors, status=422
        )
    response = see_other(_url(org_id, "#notes"))
    add_flash(ctx, response, f"Added the note {created.title}; the public page shows it now.")
    return response


@router.post("/orgs/{org_id}/status-page/notes/{note_id}")
def resolve_note(
    request: Request, org_id: WebId, note_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    """Mark a note resolved (resolved=true) or open again (anything else)."""
    ctx, actor = get_ctx(request), user.actor
    orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.TECHNICIAN)
    resolved = text(form, "resolved") == "true"
    note = status_pages.update_note(
        ctx, actor, org_id, note_id, StatusNoteUpdate(resolved=resolved)
    )
    response = see_other(_url(org_id, "#notes"))
    word = "resolved" if resolved else "open again"
    add_flash(ctx, response, f"Marked {note.title} {word}.")
    return response

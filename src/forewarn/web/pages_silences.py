"""An organization's silences: what is muted now (in words, who made it and why, until when,
how many open alerts it holds), what ended lately, ending one early, and making one for a
site, an asset or a check, optionally of one severity or kind, for the length of a job.

Technicians and above make and end them; the organization's viewers read the list only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.domain.inventory import Role
from forewarn.services import orgs, silences
from forewarn.services.errors import not_found
from forewarn.services.schemas import OrgOut
from forewarn.services.scope import require
from forewarn.services.silences import SilenceCreate
from forewarn.web import silence_form
from forewarn.web.flash import add_flash
from forewarn.web.forms import FieldErrors, attempt
from forewarn.web.humanize import local_time
from forewarn.web.render import page, see_other
from forewarn.web.session import PostedForm, SignedIn, WebId, WebUser, get_ctx

router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    user: WebUser,
    org: OrgOut,
    names: silence_form.Names,
    *,
    values: dict[str, str] | None = None,
    errors: FieldErrors | None = None,
    status: int = 200,
) -> Response:
    ctx, actor = get_ctx(request), user.actor
    data: dict[str, Any] = {
        "org": org,
        "tz": org.timezone,
        "active": silences.list_(ctx, actor, org_id=org.id),
        "ended": silences.recently_ended(ctx, actor, org.id),
        "held": silences.held_now(ctx, actor, org.id),
        "in_words": lambda s: silence_form.in_words(s, names),
        "target_options": names.options(),
        "values": values or silence_form.blank(),
        "errors": errors or {},
        **silence_form.options(),
    }
    return page(request, "silences/list.html", user, status=status, section="overview", **data)


@router.get("/orgs/{org_id}/silences")
def list_silences(request: Request, org_id: WebId, user: SignedIn) -> Response:
    ctx = get_ctx(request)
    org = orgs.get(ctx, user.actor, org_id)
    names = silence_form.names_of(ctx, user.actor, org.id, org.name)
    return _page(request, user, org, names)


@router.post("/orgs/{org_id}/silences")
def create_silence(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.TECHNICIAN)
    names = silence_form.names_of(ctx, actor, org.id, org.name)
    values = silence_form.from_form(form)
    data, errors = silence_form.to_input(values, names, org.timezone)
    made = None
    if not errors:
        made, errors = attempt(
            lambda: silences.create(ctx, actor, SilenceCreate.model_validate(data)),
            hints=silence_form.HINTS,
        )
    if made is None:
        placed = silence_form.place(errors)
        return _page(request, user, org, names, values=values, errors=placed, status=422)
    response = see_other(f"/orgs/{org_id}/silences")
    add_flash(
        ctx,
        response,
        f"Silenced {silence_form.in_words(made, names)} until "
        f"{local_time(made.ends_at, org.timezone)}: no messages about it until then.",
    )
    return response


@router.post("/orgs/{org_id}/silences/{silence_id}/expire")
def end_silence(
    request: Request, org_id: WebId, silence_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    """End it now: its alerts that are still open are told at the next escalation turn."""
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.TECHNICIAN)
    found = {s.id: s for s in silences.list_(ctx, actor, org_id=org_id)}
    if silence_id not in found:
        raise not_found("silence")
    silences.expire(ctx, actor, silence_id)
    names = silence_form.names_of(ctx, actor, org.id, org.name)
    response = see_other(f"/orgs/{org_id}/silences")
    add_flash(
        ctx,
        response,
        f"Ended the silence of {silence_form.in_words(found[silence_id], names)}: what is still "
        "a problem is told at the next escalation turn.",
        "info",
    )
    return response

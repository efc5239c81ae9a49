"""Checks on the pages: an asset's checks, the check form, and a check's own page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.domain.inventory import Role
from forewarn.probes import registry
from forewarn.services import assets, checks, orgs
from forewarn.services.errors import ServiceError
from forewarn.services.schemas import AssetOut, CheckCreate, CheckOut, CheckUpdate, OrgOut
from forewarn.services.scope import require
from forewarn.web import check_form, check_params, check_uptime, check_views
from forewarn.web.flash import add_flash
from forewarn.web.forms import FieldErrors, text
from forewarn.web.pages_members import public_base
from forewarn.web.render import fragment, page, see_other, wants_fragment
from forewarn.web.session import PostedForm, SignedIn, WebId, WebUser, get_ctx

router = APIRouter(include_in_schema=False)


def _shared(org: OrgOut, asset: AssetOut) -> dict[str, Any]:
    return {"org": org, "asset": asset, "tz": org.timezone, **check_views.helpers()}


# ---- the asset page's checks --------------------------------------------------------------------


@router.get("/assets/{asset_id}/checks")
def asset_checks(request: Request, asset_id: WebId, user: SignedIn) -> Response:
    """The asset's checks, worst first: the asset page loads and refreshes this part with
    htmx; without JavaScript it is a page of its own."""
    ctx, actor = get_ctx(request), user.actor
    asset = assets.get(ctx, actor, asset_id)
    org = orgs.get(ctx, actor, asset.org_id)
    data = {
        **_shared(org, asset),
        "checks": check_views.asset_checks(ctx, actor, asset_id),
        "windows": check_views.active_windows(ctx, actor, asset),
    }
    if wants_fragment(request, "asset-checks"):
        return fragment(request, "checks/_asset_checks.html", user, **data)
    return page(request, "checks/asset.html", user, section="overview", **data)


# ---- the form ----------------------------------------------------------------------------------


def _form_page(
    request: Request,
    user: WebUser,
    org: OrgOut,
    asset: AssetOut,
    *,
    values: dict[str, str],
    errors: FieldErrors,
    check: CheckOut | None = None,
    status: int = 200,
) -> Response:
    ctx = get_ctx(request)
    exclude = check.id if check else None
    return page(
        request,
        "checks/form.html",
        user,
        status=status,
        section="overview",
        check=check,
        values=values,
        errors=errors,
        type_options=check_form.type_options(),
        parent_options=check_views.parent_options(ctx, user.actor, org.id, exclude),
        hints=check_form.HINTS,
        **{**_type_context(values["type"]), **_shared(org, asset)},
    )


def _type_context(check_type: str) -> dict[str, Any]:
    label, hint = check_form.TARGETS.get(check_type, ("Target", ""))
    return {
        "check_type": check_type,
        "param_fields": check_params.fields(check_type),
        "has_target": check_form.has_target(check_type),
        "target_label": label,
        "target_hint": hint,
        **check_views.helpers(),
    }


@router.get("/check-params")
def type_fields(request: Request, user: SignedIn, type: str = "tcp", target: str = "") -> Response:
    """The target and settings fields of a check type, swapped in when the type changes."""
    check_type = check_form.read_type(type)
    values = {"target": target[:2000], **check_params.values_of(check_type)}
    return fragment(
        request,
        "checks/_type_fields.html",
        user,
        values=values,
        errors={},
        **_type_context(check_type),
    )


def _read(form: Any, check_type: str) -> tuple[dict[str, str], dict[str, Any], FieldErrors]:
    values = check_form.from_form(form, check_type)
    params, known = check_params.to_params(check_type, values)
    return values, params, known


@router.get("/assets/{asset_id}/checks/new")
def new_check(request: Request, asset_id: WebId, user: SignedIn, type: str = "tcp") -> Response:
    ctx = get_ctx(request)
    asset = assets.get(ctx, user.actor, asset_id)
    require(user.actor, asset.org_id, Role.TECHNICIAN)
    org = orgs.get(ctx, user.actor, asset.org_id)
    values = check_form.blank(check_form.read_type(type))
    return _form_page(request, user, org, asset, values=values, errors={})


@router.post("/assets/{asset_id}/checks/new")
def create_check(request: Request, asset_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx, actor = get_ctx(request), user.actor
    asset = assets.get(ctx, actor, asset_id)
    require(actor, asset.org_id, Role.TECHNICIAN)
    org = orgs.get(ctx, actor, asset.org_id)
    typed = text(form, "type")
    check_type = check_form.read_type(typed)
    values, params, known = _read(form, check_type)
    if typed not in registry.TYPES:
        known["type"] = ["Choose a type from the list."]
    created, errors = check_form.attempt(
        lambda: CheckCreate.model_validate(
            {"asset_id": asset_id, "type": check_type, **check_form.to_input(values, params)}
        ),
        lambda data: checks.create(ctx, actor, data),
        check_type,
        known,
    )
    if created is None:
        return _form_page(request, user, org, asset, values=values, errors=errors, status=422)
    response = see_other(f"/checks/{created.id}")
    first = (
        "It turns critical if no ping arrives in time: set up the job with the URL below."
        if created.type == "heartbeat"
        else "Its first result shows here within seconds."
    )
    add_flash(ctx, response, f"Added the check {created.name}. {first}")
    return response


@router.get("/checks/{check_id}/edit")
def edit_check(request: Request, check_id: WebId, user: SignedIn) -> Response:
    ctx = get_ctx(request)
    check = checks.get(ctx, user.actor, check_id)
    require(user.actor, check.org_id, Role.TECHNICIAN)
    asset = assets.get(ctx, user.actor, check.asset_id)
    org = orgs.get(ctx, user.actor, check.org_id)
    values = check_form.from_check(check)
    return _form_page(request, user, org, asset, values=values, errors={}, check=check)


@router.post("/checks/{check_id}/edit")
def update_check(request: Request, check_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx, actor = get_ctx(request), user.actor
    check = checks.get(ctx, actor, check_id)
    require(actor, check.org_id, Role.TECHNICIAN)
    asset = assets.get(ctx, actor, check.asset_id)
    org = orgs.get(ctx, actor, check.org_id)
    values, params, known = _read(form, check.type)
    updated, errors = check_form.attempt(
        lambda: CheckUpdate.model_validate(check_form.to_input(values, params)),
        lambda data: checks.update(ctx, actor, check_id, data),
        check.type,
        known,
    )
    if updated is None:
        return _form_page(
            request, user, org, asset, values=values, errors=errors, check=check, status=422
        )
    response = see_other(f"/checks/{check_id}")
    add_flash(ctx, response, f"Saved the check {updated.name}.")
    return response


@router.get("/checks/{check_id}/delete")
def confirm_delete_check(request: Request, check_id: WebId, user: SignedIn) -> Response:
    ctx = get_ctx(request)
    check = checks.get(ctx, user.actor, check_id)
    require(user.actor, check.org_id, Role.TECHNICIAN)
    org = orgs.get(ctx, user.actor, check.org_id)
    return page(
        request,
        "confirm_delete.html",
        user,
        section="overview",
        org=org,
        what="check",
        name=check.name,
        consequence="Its state, results and timeline are removed for good; checks that depend "
        "on it stand alone from then on.",
        action=f"/checks/{check_id}/delete",
        cancel=f"/checks/{check_id}",
    )


@router.post("/checks/{check_id}/delete")
def delete_check(request: Request, check_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx = get_ctx(request)
    check = checks.get(ctx, user.actor, check_id)
    checks.delete(ctx, user.actor, check_id)
    response = see_other(f"/assets/{check.asset_id}#checks")
    add_flash(ctx, response, f"Deleted the check {check.name}.", "info")
    return response


# ---- a check's page -----------------------------------------------------------------------------


def _timeline(request: Request, user: WebUser, check_id: int) -> dict[str, Any]:
    ctx = get_ctx(request)
    cursor = request.query_params.get("cursor", "").strip()[:200] or None
    try:
        found = checks.events(
            ctx, user.actor, check_id, limit=check_views.EVENTS_PAGE, cursor=cursor
        )
    except ServiceError as exc:
        if exc.status != 422 or cursor is None:
            raise
        # A cursor we never gave out (edited by hand): start from the newest instead.
        cursor = None
        found = checks.events(ctx, user.actor, check_id, limit=check_views.EVENTS_PAGE)
    base = f"/checks/{check_id}"
    # On the last page, the oldest event is the first result: it left "pending", not "ok".
    first_id = found.items[-1].id if found.items and not found.next_cursor else None
    return {
        "events": found.items,
        "first_id": first_id,
        "older_url": f"{base}?cursor={found.next_cursor}" if found.next_cursor else None,
        "newest_url": base if cursor else None,
    }


@router.get("/checks/{check_id}")
def show_check(request: Request, check_id: WebId, user: SignedIn) -> Response:
    """State, response times, uptime and timeline of one check, in the organization's zone.

    htmx asks for the state box (#check-state, every 10 s) or a timeline page alone.
    """
    ctx, actor = get_ctx(request), user.actor
    check = checks.get(ctx, actor, check_id)
    asset = assets.get(ctx, actor, check.asset_id)
    org = orgs.get(ctx, actor, check.org_id)
    shared = {**_shared(org, asset), "check": check}
    if wants_fragment(request, "check-state"):
        windows = check_views.active_windows(ctx, actor, asset)
        return fragment(request, "checks/_state.html", user, windows=windows, **shared)
    timeline = _timeline(request, user, check_id)
    if wants_fragment(request, "check-timeline"):
        return fragment(request, "checks/_timeline.html", user, **timeline, **shared)
    parent = checks.get(ctx, actor, check.parent_id) if check.parent_id else None
    ping_url = public_base(request) + check.push_path if check.push_path else ""
    charted = check.type in check_views.TIMED
    return page(
        request,
        "checks/show.html",
        user,
        section="overview",
        parent=parent,
        windows=check_views.active_windows(ctx, actor, asset),
        chart=check_views.response_chart(ctx, actor, check, org.timezone) if charted else None,
        forecast_charts=(
            check_views.forecast_charts(ctx, actor, check, org.timezone)
            if check.type == "forecast"
            else []
        ),
        anomaly_charts=(
            check_views.anomaly_charts(ctx, actor, check, org.timezone)
            if check.type == "anomaly"
            else []
        ),
        uptime=check_uptime.uptime_view(ctx, actor, check),
        ping_url=ping_url,
        commands=check_views.heartbeat_commands(ping_url) if ping_url else [],
        params_shown=_params_shown(check),
        **timeline,
        **shared,
    )


def _params_shown(check: CheckOut) -> list[tuple[str, str]]:
    """The settings that differ from the type's defaults, labelled; secrets masked."""
    values = check_params.values_of(check.type, check.params)
    out = []
    for f in check_params.fields(check.type):
        if f.name not in check.params:
            continue
        shown = values[f.input_name]
        if f.kind == "password":
            shown = "••••••••"
        elif f.kind == "checkbox":
            shown = "yes" if shown else "no"
        out.append((f.label, shown))
    return out

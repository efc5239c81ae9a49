"""An organization's maintenance windows: planned work during which nothing is notified."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from forewarn.domain.inventory import Role
from forewarn.services import maintenance, orgs, sites
from forewarn.services.errors import not_found
from forewarn.services.pagination import MAX_LIMIT
from forewarn.services.schemas import MaintenanceCreate, MaintenanceOut, OrgOut
from forewarn.services.scope import require
from forewarn.web import check_views, maintenance_form
from forewarn.web.flash import add_flash
from forewarn.web.forms import FieldErrors, attempt, from_validation
from forewarn.web.humanize import zone
from forewarn.web.render import page, see_other
from forewarn.web.session import PostedForm, SignedIn, WebId, WebUser, get_ctx

router = APIRouter(include_in_schema=False)


def _scopes(request: Request, user: WebUser, org_id: int) -> dict[str, Any]:
    """What a window may cover: the organization, one of its sites or one of its assets."""
    ctx = get_ctx(request)
    org_sites = sites.list_(ctx, user.actor, org_id=org_id, limit=MAX_LIMIT).items
    org_assets = check_views.org_assets(ctx, user.actor, org_id)
    return {
        "site_options": sorted(((f"site:{s.id}", s.name) for s in org_sites), key=_by_text),
        "asset_options": sorted(
            ((f"asset:{a.id}", a.name) for a in org_assets.values()), key=_by_text
        ),
        "site_names": {s.id: s.name for s in org_sites},
        "asset_names": {i: a.name for i, a in org_assets.items()},
    }


def _by_text(option: tuple[str, str]) -> str:
    return option[1].lower()


def _page(
    request: Request,
    user: WebUser,
    org: OrgOut,
    *,
    values: dict[str, Any] | None = None,
    errors: FieldErrors | None = None,
    status: int = 200,
) -> Response:
    ctx = get_ctx(request)
    windows = maintenance.list_(ctx, user.actor, org.id)
    now_local = ctx.clock.now().astimezone(zone(org.timezone)).replace(tzinfo=None)
    return page(
        request,
        "maintenance/list.html",
        user,
        status=status,
        section="overview",
        org=org,
        tz=org.timezone,
        windows=sorted(windows, key=_soonest),
        schedule_text=maintenance_form.schedule_text,
        values=values or maintenance_form.blank(now_local),
        errors=errors or {},
        units=maintenance_form.UNITS,
        repeats=maintenance_form.REPEATS,
        hints=maintenance_form.HINTS,
        **_scopes(request, user, org.id),
    )


def _soonest(w: MaintenanceOut) -> tuple[int, float]:
    """Active ones first, then by next start; those that will not start again last."""
    if w.active_now:
        return 0, 0.0
    return (1, w.next_start.timestamp()) if w.next_start else (2, float(w.id))


@router.get("/orgs/{org_id}/maintenance")
def list_windows(request: Request, org_id: WebId, user: SignedIn) -> Response:
    org = orgs.get(get_ctx(request), user.actor, org_id)
    return _page(request, user, org)


@router.post("/orgs/{org_id}/maintenance")
def create_window(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx = get_ctx(request)
    org = orgs.get(ctx, user.actor, org_id)
    require(user.actor, org_id, Role.TECHNICIAN)
    values = maintenance_form.from_form(form)
    data, errors = maintenance_form.to_input(org_id, values)
    try:
        model: MaintenanceCreate | None = MaintenanceCreate.model_validate(data)
    except ValidationError as exc:
        model = None
        for key, messages in from_validation(exc, maintenance_form.HINTS).items():
            errors.setdefault(key, []).extend(messages)
    created = None
    if model is not None and not errors:
        valid = model
        created, errors = attempt(lambda: maintenance.create(ctx, user.actor, valid))
    if created is None:
        errors = maintenance_form.place(errors)
        return _page(request, user, org, values=values, errors=errors, status=422)
    response = see_other(f"/orgs/{org_id}/maintenance")
    add_flash(ctx, response, f"Planned the maintenance window {created.name}.")
    return response


@router.post("/orgs/{org_id}/maintenance/{window_id}/delete")
def delete_window(
    request: Request, org_id: WebId, window_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    ctx = get_ctx(request)
    orgs.get(ctx, user.actor, org_id)
    found = {w.id: w for w in maintenance.list_(ctx, user.actor, org_id)}
    if window_id not in found:
        raise not_found("maintenance window")
    maintenance.delete(ctx, user.actor, window_id)
    response = see_other(f"/orgs/{org_id}/maintenance")
    add_flash(ctx, response, f"Deleted the maintenance window {found[window_id].name}.", "info")
    return response

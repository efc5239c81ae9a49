"""Sites: adding, renaming and removing the places an organization works from."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.domain.inventory import Role
from forewarn.services import orgs, sites
from forewarn.services.schemas import OrgOut, SiteCreate, SiteOut, SiteUpdate
from forewarn.services.scope import require
from forewarn.web.flash import add_flash
from forewarn.web.forms import FieldErrors, attempt, text
from forewarn.web.render import page, see_other
from forewarn.web.session import PostedForm, SignedIn, WebId, WebUser, get_ctx

router = APIRouter(include_in_schema=False)

_FIELDS = ("name", "address", "notes")


def _form_page(
    request: Request,
    user: WebUser,
    org: OrgOut,
    *,
    values: dict[str, str],
    errors: FieldErrors,
    site: SiteOut | None = None,
    status: int = 200,
) -> Response:
    return page(
        request,
        "sites/form.html",
        user,
        status=status,
        section="overview",
        org=org,
        site=site,
        values=values,
        errors=errors,
    )


def _sites_of(org_id: int) -> str:
    return f"/orgs/{org_id}#sites"


@router.get("/orgs/{org_id}/sites/new")
def new_site(request: Request, org_id: WebId, user: SignedIn) -> Response:
    org = orgs.get(get_ctx(request), user.actor, org_id)
    require(user.actor, org_id, Role.TECHNICIAN)
    return _form_page(request, user, org, values=dict.fromkeys(_FIELDS, ""), errors={})


@router.post("/orgs/{org_id}/sites/new")
def create_site(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx = get_ctx(request)
    org = orgs.get(ctx, user.actor, org_id)
    require(user.actor, org_id, Role.TECHNICIAN)
    values = {key: text(form, key) for key in _FIELDS}
    created, errors = attempt(
        lambda: sites.create(
            ctx, user.actor, SiteCreate.model_validate({"org_id": org_id, **values})
        )
    )
    if created is None:
        return _form_page(request, user, org, values=values, errors=errors, status=422)
    response = see_other(_sites_of(org_id))
    add_flash(ctx, response, f"Added the site {created.name}.")
    return response


@router.get("/sites/{site_id}/edit")
def edit_site(request: Request, site_id: WebId, user: SignedIn) -> Response:
    ctx = get_ctx(request)
    site = sites.get(ctx, user.actor, site_id)
    require(user.actor, site.org_id, Role.TECHNICIAN)
    org = orgs.get(ctx, user.actor, site.org_id)
    values = {"name": site.name, "address": site.address, "notes": site.notes}
    return _form_page(request, user, org, values=values, errors={}, site=site)


@router.post("/sites/{site_id}/edit")
def update_site(request: Request, site_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx = get_ctx(request)
    site = sites.get(ctx, user.actor, site_id)
    require(user.actor, site.org_id, Role.TECHNICIAN)
    org = orgs.get(ctx, user.actor, site.org_id)
    values = {key: text(form, key) for key in _FIELDS}
    updated, errors = attempt(
        lambda: sites.update(ctx, user.actor, site_id, SiteUpdate.model_validate(values))
    )
    if updated is None:
        return _form_page(request, user, org, values=values, errors=errors, site=site, status=422)
    response = see_other(_sites_of(org.id))
    add_flash(ctx, response, f"Saved the site {updated.name}.")
    return response


@router.get("/sites/{site_id}/delete")
def confirm_delete_site(request: Request, site_id: WebId, user: SignedIn) -> Response:
    ctx = get_ctx(request)
    site = sites.get(ctx, user.actor, site_id)
    require(user.actor, site.org_id, Role.ADMIN)
    org = orgs.get(ctx, user.actor, site.org_id)
    return page(
        request,
        "confirm_delete.html",
        user,
        section="overview",
        org=org,
        what="site",
        name=site.name,
        consequence="Its assets stay in the organization, without a site.",
        action=f"/sites/{site_id}/delete",
        cancel=_sites_of(org.id),
    )


@router.post("/sites/{site_id}/delete")
def delete_site(request: Request, site_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx = get_ctx(request)
    site = sites.get(ctx, user.actor, site_id)
    sites.delete(ctx, user.actor, site_id)
    response = see_other(_sites_of(site.org_id))
    add_flash(ctx, response, f"Deleted the site {site.name}.", "info")
    return response

"""An asset's page, its form, and removing it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.domain.inventory import Role
from forewarn.services import agents, assets, health, orgs, sites
from forewarn.services.context import Context
from forewarn.services.pagination import MAX_LIMIT
from forewarn.services.schemas import AssetCreate, AssetOut, AssetUpdate, OrgOut, SiteOut
from forewarn.services.scope import Actor, require
from forewarn.web import asset_charts, asset_form, asset_tabs
from forewarn.web.flash import add_flash
from forewarn.web.forms import FieldErrors, attempt
from forewarn.web.humanize import warranty_state, warranty_text, zone
from forewarn.web.pages_agents import live_context
from forewarn.web.pages_members import public_base
from forewarn.web.render import fragment, page, see_other, wants_fragment
from forewarn.web.session import PostedForm, SignedIn, WebId, WebUser, get_ctx

router = APIRouter(include_in_schema=False)


def _site_options(ctx: Context, actor: Actor, org_id: int) -> list[tuple[str, str]]:
    found = sites.list_(ctx, actor, org_id=org_id, limit=MAX_LIMIT).items
    return [("", "No site")] + [(str(s.id), s.name) for s in sorted(found, key=_by_name)]


def _by_name(site: SiteOut) -> str:
    return site.name.lower()


def _form_page(
    request: Request,
    user: WebUser,
    org: OrgOut,
    *,
    values: dict[str, str],
    errors: FieldErrors,
    asset: AssetOut | None = None,
    status: int = 200,
) -> Response:
    return page(
        request,
        "assets/form.html",
        user,
        status=status,
        section="overview",
        org=org,
        asset=asset,
        site_options=_site_options(get_ctx(request), user.actor, org.id),
        values=values,
        errors=errors,
    )


@router.get("/orgs/{org_id}/assets/new")
def new_asset(request: Request, org_id: WebId, user: SignedIn, site: str = "") -> Response:
    org = orgs.get(get_ctx(request), user.actor, org_id)
    require(user.actor, org_id, Role.TECHNICIAN)
    return _form_page(request, user, org, values=asset_form.blank(site[:12]), errors={})


@router.post("/orgs/{org_id}/assets/new")
def create_asset(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx = get_ctx(request)
    org = orgs.get(ctx, user.actor, org_id)
    require(user.actor, org_id, Role.TECHNICIAN)
    values = asset_form.from_form(form)
    created, errors = attempt(
        lambda: assets.create(
            ctx,
            user.actor,
            AssetCreate.model_validate({"org_id": org_id, **asset_form.to_input(values)}),
        ),
        hints=asset_form.HINTS,
    )
    if created is None:
        return _form_page(request, user, org, values=values, errors=errors, status=422)
    response = see_other(f"/assets/{created.id}")
    add_flash(ctx, response, f"Added {created.name}.")
    return response


@router.get("/assets/{asset_id}")
def show_asset(request: Request, asset_id: WebId, user: SignedIn) -> Response:
    """Everything known about one asset, in the organization's time zone.

    With an agent: its status, live resource charts and the inventory tabs; htmx asks for a
    tab (#asset-tab) or a tab's filtered results (#tab-results) alone.
    """
    ctx, actor = get_ctx(request), user.actor
    asset = assets.get(ctx, actor, asset_id)
    org = orgs.get(ctx, actor, asset.org_id)
    agent = agents.agent_of_asset(ctx, actor, asset_id)
    span = asset_charts.read_range(request.query_params.get("range"))
    query = asset_tabs.read_query(asset_id, request.query_params, span.key)
    site = sites.get(ctx, actor, asset.site_id) if asset.site_id else None
    today = ctx.clock.now().astimezone(zone(org.timezone)).date()
    shared: dict[str, Any] = {
        "org": org,
        "asset": asset,
        "site": site,
        "agent": agent,
        "span": span,
        "query": query,
        "tz": org.timezone,
        "warranty_state": warranty_state(asset.warranty_end, today),
        "warranty_text": warranty_text(asset.warranty_end, today),
        "ranges": asset_charts.RANGES,
        "range_url": asset_charts.range_url,
        "server": public_base(request),
        **asset_tabs.helpers(),
    }
    if agent is None:
        shared["health"] = health.asset_health(ctx, actor, asset_id)
        return page(request, "assets/show.html", user, section="overview", **shared)
    shared.update(asset_tabs.load(ctx, actor, query))
    if wants_fragment(request, "tab-results") and query.tab in asset_tabs.WITH_RESULTS:
        return fragment(request, f"assets/tabs/{query.tab}_results.html", user, **shared)
    if wants_fragment(request, "asset-tab"):
        return fragment(request, "assets/_tab.html", user, oob_range=True, **shared)
    live = live_context(ctx, actor, asset, org, agent, span)
    shared["health"] = health.asset_health(ctx, actor, asset_id)
    return page(request, "assets/show.html", user, section="overview", **{**shared, **live})


@router.get("/assets/{asset_id}/edit")
def edit_asset(request: Request, asset_id: WebId, user: SignedIn) -> Response:
    ctx = get_ctx(request)
    asset = assets.get(ctx, user.actor, asset_id)
    require(user.actor, asset.org_id, Role.TECHNICIAN)
    org = orgs.get(ctx, user.actor, asset.org_id)
    values = asset_form.from_asset(asset)
    return _form_page(request, user, org, values=values, errors={}, asset=asset)


@router.post("/assets/{asset_id}/edit")
def update_asset(request: Request, asset_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx = get_ctx(request)
    asset = assets.get(ctx, user.actor, asset_id)
    require(user.actor, asset.org_id, Role.TECHNICIAN)
    org = orgs.get(ctx, user.actor, asset.org_id)
    values = asset_form.from_form(form)
    updated, errors = attempt(
        lambda: assets.update(
            ctx, user.actor, asset_id, AssetUpdate.model_validate(asset_form.to_input(values))
        ),
        hints=asset_form.HINTS,
    )
    if updated is None:
        return _form_page(request, user, org, values=values, errors=errors, asset=asset, status=422)
    response = see_other(f"/assets/{asset_id}")
    add_flash(ctx, response, f"Saved {updated.name}.")
    return response


@router.get("/assets/{asset_id}/delete")
def confirm_delete_asset(request: Request, asset_id: WebId, user: SignedIn) -> Response:
    ctx = get_ctx(request)
    asset = assets.get(ctx, user.actor, asset_id)
    require(user.actor, asset.org_id, Role.TECHNICIAN)
    org = orgs.get(ctx, user.actor, asset.org_id)
    return page(
        request,
        "confirm_delete.html",
        user,
        section="overview",
        org=org,
        what="asset",
        name=asset.name,
        consequence="Its facts, tags and notes are removed for good.",
        action=f"/assets/{asset_id}/delete",
        cancel=f"/assets/{asset_id}",
    )


@router.post("/assets/{asset_id}/delete")
def delete_asset(request: Request, asset_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx = get_ctx(request)
    asset = assets.get(ctx, user.actor, asset_id)
    assets.delete(ctx, user.actor, asset_id)
    response = see_other(f"/orgs/{asset.org_id}")
    add_flash(ctx, response, f"Deleted {asset.name}.", "info")
    return response

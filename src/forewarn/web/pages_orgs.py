"""The provider's overview of organizations, an organization's page, and its form."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.domain.inventory import Role
from forewarn.services import agent_views, assets, health, orgs, sites
from forewarn.services.pagination import MAX_LIMIT
from forewarn.services.schemas import OrgCreate, OrgOut, OrgUpdate, known_timezones
from forewarn.services.scope import require, require_owner
from forewarn.web import asset_list, org_form
from forewarn.web.flash import add_flash
from forewarn.web.forms import FieldErrors, attempt, text
from forewarn.web.humanize import zone
from forewarn.web.pages_agents import agents_section
from forewarn.web.pages_members import members_section
from forewarn.web.render import fragment, page, see_other, wants_fragment
from forewarn.web.session import PostedForm, SignedIn, WebId, WebUser, get_ctx

router = APIRouter(include_in_schema=False)


@router.get("/")
def overview(request: Request, user: SignedIn, q: str = "") -> Response:
    """Every organization the person may see, with live filtering by name."""
    q = q.replace("\x00", "").strip()[:200]
    rows = orgs.overview(get_ctx(request), user.actor, q or None)
    if wants_fragment(request, "org-table"):
        return fragment(request, "orgs/_table.html", user, rows=rows, q=q)
    return page(request, "orgs/overview.html", user, section="overview", rows=rows, q=q)


@router.get("/orgs/{org_id}/health/badge")
def health_badge(request: Request, org_id: WebId, user: SignedIn) -> Response:
    """The organization's health score as a badge, for its row on the overview (loaded by
    htmx after the page, so a long list of organizations shows at once)."""
    ctx, actor = get_ctx(request), user.actor
    found = health.org_health(ctx, actor, org_id, top=1)
    return fragment(request, "orgs/_health_badge.html", user, org_id=org_id, h=found)


def _form_page(
    request: Request,
    user: WebUser,
    *,
    values: dict[str, Any],
    errors: FieldErrors,
    org: OrgOut | None = None,
    status: int = 200,
) -> Response:
    return page(
        request,
        "orgs/form.html",
        user,
        status=status,
        section="overview",
        org=org,
        values=values,
        errors=errors,
        timezones=known_timezones(),
    )


@router.get("/orgs/new")
def new_org(request: Request, user: SignedIn) -> Response:
    require_owner(user.actor)
    return _form_page(request, user, values=org_form.blank(), errors={})


@router.post("/orgs/new")
def create_org(request: Request, user: SignedIn, form: PostedForm) -> Response:
    """Create from the form; on a refusal show it again with the messages by the fields."""
    require_owner(user.actor)
    ctx = get_ctx(request)
    values = org_form.from_form(form)
    created, errors = attempt(
        lambda: orgs.create(ctx, user.actor, OrgCreate.model_validate(org_form.to_input(values))),
        hints=org_form.HINTS,
    )
    if created is None:
        return _form_page(request, user, values=values, errors=errors, status=422)
    response = see_other(f"/orgs/{created.id}")
    add_flash(ctx, response, f"Created {created.name}. Next: add its sites and assets.")
    return response


@router.get("/orgs/{org_id}/edit")
def edit_org(request: Request, org_id: WebId, user: SignedIn) -> Response:
    org = orgs.get(get_ctx(request), user.actor, org_id)
    require(user.actor, org_id, Role.ADMIN)
    return _form_page(request, user, values=org_form.from_org(org), errors={}, org=org)


@router.post("/orgs/{org_id}/edit")
def update_org(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx = get_ctx(request)
    org = orgs.get(ctx, user.actor, org_id)
    values = org_form.from_form(form)
    updated, errors = attempt(
        lambda: orgs.update(
            ctx, user.actor, org_id, OrgUpdate.model_validate(org_form.to_input(values))
        ),
        hints=org_form.HINTS,
    )
    if updated is None:
        return _form_page(request, user, values=values, errors=errors, org=org, status=422)
    response = see_other(f"/orgs/{org_id}")
    add_flash(ctx, response, f"Saved {updated.name}.")
    return response


@router.get("/orgs/{org_id}")
def show_org(request: Request, org_id: WebId, user: SignedIn) -> Response:
    """Key facts, the health score, sites, the filterable asset table with each asset's
    score and, for admins, the members."""
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    table = asset_list.load(ctx, actor, org_id, request.query_params)
    org_sites = sites.list_(ctx, actor, org_id=org_id, limit=MAX_LIMIT).items
    shared: dict[str, Any] = {
        "org": org,
        "table": table,
        "site_names": {s.id: s.name for s in org_sites},
        "agent_status": agent_views.statuses(ctx, actor, [a.id for a in table.items]),
        "today": ctx.clock.now().astimezone(zone(org.timezone)).date(),
    }
    if wants_fragment(request, "asset-table"):
        shown = [a.id for a in table.items]
        scores = health.asset_scores(ctx, actor, org_id, shown)
        return fragment(request, "orgs/_assets.html", user, scores=scores, **shared)
    org_health = health.org_health(ctx, actor, org_id)
    return page(
        request,
        "orgs/show.html",
        user,
        section="overview",
        health=org_health,
        scores={a.asset_id: a for a in org_health.assets},
        sites=org_sites,
        tags=assets.tags_in_use(ctx, actor, org_id),
        members=members_section(ctx, actor, org_id),
        agents=agents_section(ctx, actor, org_id),
        **shared,
    )


def _confirm_delete_page(
    request: Request, user: WebUser, org_id: int, *, typed: str = "", status: int = 200
) -> Response:
    """Deleting a whole client is rare and final: the page asks for its slug to be typed."""
    ctx = get_ctx(request)
    found = orgs.summary(ctx, user.actor, org_id)
    org = found.org
    errors: FieldErrors = {}
    if status == 422:
        errors["confirm"] = [f"Type {org.slug} exactly, to show it is this organization you mean."]
    return page(
        request,
        "confirm_delete.html",
        user,
        status=status,
        section="overview",
        org=org,
        what="organization",
        name=org.name,
        consequence=(
            f"Its {_count(found.sites, 'site')} and {_count(found.assets, 'asset')}, everyone's "
            "access to it and its open invitations are removed for good. Accounts of its "
            "members stay, without this organization."
        ),
        action=f"/orgs/{org_id}/delete",
        cancel=f"/orgs/{org_id}/edit",
        confirm_word=org.slug,
        values={"confirm": typed},
        errors=errors,
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n:,} {noun}s"


@router.get("/orgs/{org_id}/delete")
def confirm_delete_org(request: Request, org_id: WebId, user: SignedIn) -> Response:
    orgs.get(get_ctx(request), user.actor, org_id)
    require_owner(user.actor)
    return _confirm_delete_page(request, user, org_id)


@router.post("/orgs/{org_id}/delete")
def delete_org(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx = get_ctx(request)
    org = orgs.get(ctx, user.actor, org_id)
    require_owner(user.actor)
    typed = text(form, "confirm")
    if typed.strip() != org.slug:
        return _confirm_delete_page(request, user, org_id, typed=typed, status=422)
    orgs.delete(ctx, user.actor, org_id)
    response = see_other("/")
    add_flash(ctx, response, f"Deleted the organization {org.name} and everything in it.", "info")
    return response

"""Agents on the pages: the asset page's live resources, and enrolment tokens of an organization."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from forewarn.domain.inventory import Role
from forewarn.services import agents, assets, enrollment, orgs, sites
from forewarn.services.context import Context
from forewarn.services.errors import not_found
from forewarn.services.pagination import MAX_LIMIT
from forewarn.services.schemas import AgentOut, AssetOut, EnrollTokenCreate, OrgOut
from forewarn.services.scope import Actor, require
from forewarn.web import asset_charts
from forewarn.web.asset_charts import TimeRange
from forewarn.web.flash import add_flash
from forewarn.web.forms import FieldErrors, attempt, text
from forewarn.web.pages_members import public_base
from forewarn.web.render import fragment, page, see_other
from forewarn.web.session import PostedForm, SignedIn, WebId, WebUser, get_ctx

router = APIRouter(include_in_schema=False)

TOKEN_HINTS = {
    "max_uses": "A whole number from 1 to 100,000, or empty for no limit.",
    "expires_in_days": "A whole number of days from 1 to 3,650, or empty for never.",
}


# ---- the asset page's live part ----------------------------------------------------------------


def live_context(
    ctx: Context, actor: Actor, asset: AssetOut, org: OrgOut, agent: AgentOut, span: TimeRange
) -> dict[str, Any]:
    """What the polled part of the asset page shows: status, charts, busiest processes."""
    hardware = agents.inventory(ctx, actor, asset.id, "hardware")["data"] or {}
    threads = hardware.get("cpu_threads") or hardware.get("cpu_cores")
    resources = asset_charts.resources(ctx, actor, asset.id, span, org.timezone, threads)
    return {
        "agent": agent,
        "span": span,
        "resources": resources,
        "step_text": asset_charts.step_text(resources.step),
        "processes": agents.top_processes(ctx, actor, asset.id),
    }


@router.get("/assets/{asset_id}/live")
def asset_live(request: Request, asset_id: WebId, user: SignedIn, range: str = "") -> Response:
    """The charts, status and processes, for htmx to refresh every 30 s in place."""
    ctx, actor = get_ctx(request), user.actor
    asset = assets.get(ctx, actor, asset_id)
    org = orgs.get(ctx, actor, asset.org_id)
    agent = agents.agent_of_asset(ctx, actor, asset_id)
    if agent is None:
        raise not_found("agent")
    span = asset_charts.read_range(range)
    data = live_context(ctx, actor, asset, org, agent, span)
    return fragment(
        request, "assets/_live.html", user, org=org, asset=asset, tz=org.timezone, **data
    )


# ---- enrolment tokens --------------------------------------------------------------------------


def blank_token_form() -> dict[str, str]:
    return {"name": "", "site_id": "", "max_uses": "", "expires_in_days": "7"}


def _token_values(form: FormData) -> dict[str, str]:
    return {key: text(form, key).strip()[:200] for key in blank_token_form()}


def _token_input(org_id: int, values: dict[str, str]) -> dict[str, Any]:
    """Empty optional numbers are None; anything else goes to validation as typed."""
    return {
        "org_id": org_id,
        "name": values["name"],
        "site_id": values["site_id"] or None,
        "max_uses": values["max_uses"] or None,
        "expires_in_days": values["expires_in_days"] or None,
    }


def site_options(ctx: Context, actor: Actor, org_id: int) -> list[tuple[str, str]]:
    found = sites.list_(ctx, actor, org_id=org_id, limit=MAX_LIMIT).items
    named = sorted(found, key=lambda s: s.name.lower())
    return [("", "No site")] + [(str(s.id), s.name) for s in named]


def agents_section(ctx: Context, actor: Actor, org_id: int) -> dict[str, Any]:
    """The organization page's Agents section: only for those who may enrol machines."""
    if not actor.can(org_id, Role.TECHNICIAN):
        return {"visible": False}
    return {
        "visible": True,
        "tokens": enrollment.list_tokens(ctx, actor, org_id),
        "site_options": site_options(ctx, actor, org_id),
        "form_values": blank_token_form(),
    }


def _token_page(
    request: Request,
    user: WebUser,
    org: OrgOut,
    *,
    created: Any = None,
    values: dict[str, str],
    errors: FieldErrors,
) -> Response:
    options = site_options(get_ctx(request), user.actor, org.id)
    site_id = str(created.site_id) if created and created.site_id else ""
    return page(
        request,
        "orgs/enroll_token.html",
        user,
        status=200 if created else 422,
        section="overview",
        org=org,
        created=created,
        server=public_base(request),
        values=values,
        errors=errors,
        hints=TOKEN_HINTS,
        site_options=options,
        site_name=next((name for value, name in options if site_id and value == site_id), ""),
    )


@router.post("/orgs/{org_id}/enroll-tokens")
def create_token(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    """Create an enrolment token and show it, this once, with the commands that use it."""
    ctx = get_ctx(request)
    org = orgs.get(ctx, user.actor, org_id)
    require(user.actor, org_id, Role.TECHNICIAN)
    values = _token_values(form)
    created, errors = attempt(
        lambda: enrollment.create_token(
            ctx, user.actor, EnrollTokenCreate.model_validate(_token_input(org_id, values))
        ),
        hints=TOKEN_HINTS,
    )
    return _token_page(request, user, org, created=created, values=values, errors=errors)


@router.post("/orgs/{org_id}/enroll-tokens/{token_id}/revoke")
def revoke_token(
    request: Request, org_id: WebId, token_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    """Revoke a token: machines can no longer enrol with it; enrolled agents keep working."""
    ctx = get_ctx(request)
    orgs.get(ctx, user.actor, org_id)
    tokens = {t.id: t for t in enrollment.list_tokens(ctx, user.actor, org_id)}
    if token_id not in tokens:
        raise not_found("enrolment token")
    enrollment.revoke_token(ctx, user.actor, token_id)
    response = see_other(f"/orgs/{org_id}#agents")
    label = tokens[token_id].name or tokens[token_id].prefix
    add_flash(
        ctx,
        response,
        f"Token {label} revoked: it enrols no more machines. Agents it enrolled keep working.",
        "info",
    )
    return response

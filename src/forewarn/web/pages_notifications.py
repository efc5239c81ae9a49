"""An organization's notification settings: channels (where messages go), routes (which
alerts go where, when, and again) and the delivery log a technician checks when a message
did not arrive. Admins change them; everyone else in the organization reads them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from forewarn.domain.inventory import Role
from forewarn.services import alerts, notify, orgs
from forewarn.services.errors import not_found
from forewarn.services.notify import ChannelCreate, ChannelOut, RouteCreate, RouteOut
from forewarn.services.schemas import OrgOut
from forewarn.services.scope import require
from forewarn.web import notification_form
from forewarn.web.flash import add_flash
from forewarn.web.forms import FieldErrors, attempt, from_validation, text
from forewarn.web.render import page, see_other
from forewarn.web.session import PostedForm, SignedIn, WebId, WebUser, get_ctx

router = APIRouter(include_in_schema=False)

DELIVERIES_SHOWN = 20


def _base(org_id: int) -> str:
    return f"/orgs/{org_id}/notifications"


def _page(
    request: Request,
    user: WebUser,
    org: OrgOut,
    *,
    channel_values: dict[str, str] | None = None,
    channel_errors: FieldErrors | None = None,
    route_values: dict[str, Any] | None = None,
    route_errors: FieldErrors | None = None,
    status: int = 200,
) -> Response:
    ctx, actor = get_ctx(request), user.actor
    channels = notify.list_channels(ctx, actor, org.id)
    routes = notify.list_routes(ctx, actor, org.id)
    deliveries = notify.list_deliveries(ctx, actor, org_id=org.id, limit=DELIVERIES_SHOWN)
    names = {c.id: c.name for c in channels}
    return page(
        request,
        "notifications/settings.html",
        user,
        status=status,
        section="overview",
        org=org,
        tz=org.timezone,
        channels=channels,
        # Provider's channels may be chosen in routes too; they are only edited by owners.
        own_channels=[c for c in channels if c.org_id == org.id],
        routes=routes,
        deliveries=deliveries.items,
        channel_names=names,
        channel_values=channel_values or notification_form.blank_channel(),
        channel_errors=channel_errors or {},
        route_values=route_values or notification_form.blank_route(),
        route_errors=route_errors or {},
        steps=range(1, notification_form.STEPS + 1),
        when_options=notification_form.WHEN,
        hints=notification_form.HINTS,
        url_example=notification_form.URL_EXAMPLE,
        steps_text=notification_form.steps_text,
        when_text=notification_form.when_text,
        minutes_text=notification_form.minutes_text,
        link_hint=alerts.link_hint(ctx.settings),
    )


@router.get("/orgs/{org_id}/notifications")
def settings_page(request: Request, org_id: WebId, user: SignedIn) -> Response:
    org = orgs.get(get_ctx(request), user.actor, org_id)
    return _page(request, user, org)


# ---- channels ---------------------------------------------------------------------------------


def _channel_of(request: Request, user: WebUser, org_id: int, channel_id: int) -> ChannelOut:
    """One of this organization's own channels (the provider's are not edited here)."""
    for c in notify.list_channels(get_ctx(request), user.actor, org_id):
        if c.id == channel_id and c.org_id == org_id:
            return c
    raise not_found("channel")


@router.post("/orgs/{org_id}/notifications/channels")
def add_channel(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.ADMIN)
    values = notification_form.channel_values(form)
    created = None
    try:
        data = ChannelCreate.model_validate(notification_form.channel_input(org_id, values))
    except ValidationError as exc:
        errors = from_validation(exc)
    else:
        created, errors = attempt(
            lambda: notify.create_channel(ctx, actor, data), clash_field="name"
        )
    if created is None:
        return _page(
            request,
            user,
            org,
            channel_values=values,
            channel_errors=notification_form.place_channel(errors),
            status=422,
        )
    response = see_other(f"{_base(org_id)}#channels")
    add_flash(
        ctx,
        response,
        f"Added the channel {created.name} ({created.kind}). Send a test to see that it arrives.",
    )
    return response


@router.post("/orgs/{org_id}/notifications/channels/{channel_id}/enabled")
def switch_channel(
    request: Request, org_id: WebId, channel_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    """Switch a channel off (routes skip it: holidays, a broken phone) or back on."""
    ctx, actor = get_ctx(request), user.actor
    orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.ADMIN)
    channel = _channel_of(request, user, org_id, channel_id)
    on = text(form, "enabled") == "1"
    notify.update_channel(ctx, actor, channel_id, notify.ChannelUpdate(enabled=on))
    response = see_other(f"{_base(org_id)}#channels")
    word = "on: routes use it again" if on else "off: routes skip it until it is switched on"
    add_flash(ctx, response, f"Switched {channel.name} {word}.", "ok" if on else "info")
    return response


@router.post("/orgs/{org_id}/notifications/channels/{channel_id}/test")
def test_channel(
    request: Request, org_id: WebId, channel_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    """Send a test message now, while the browser waits (apprise gives up within seconds)."""
    ctx, actor = get_ctx(request), user.actor
    orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.ADMIN)
    channel = _channel_of(request, user, org_id, channel_id)
    sent = notify.test_channel(ctx, actor, channel_id)
    response = see_other(f"{_base(org_id)}#deliveries")
    if sent.state == "sent":
        add_flash(ctx, response, f"Test sent to {channel.name}.")
    else:
        add_flash(ctx, response, f"Test failed: {sent.last_error or 'no reason given'}", "critical")
    return response


@router.get("/orgs/{org_id}/notifications/channels/{channel_id}/delete")
def confirm_delete_channel(
    request: Request, org_id: WebId, channel_id: WebId, user: SignedIn
) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.ADMIN)
    channel = _channel_of(request, user, org_id, channel_id)
    used = [r.name for r in notify.list_routes(ctx, actor, org_id) if _uses(r, channel_id)]
    consequence = (
        "No more messages go to it; its entries in the delivery log, and any message still "
        "waiting for it, are removed."
    )
    if used:
        consequence += f" The routes {', '.join(used)} name it: their steps skip it from now on."
    return page(
        request,
        "confirm_delete.html",
        user,
        section="overview",
        org=org,
        what="channel",
        name=channel.name,
        consequence=consequence,
        action=f"{_base(org_id)}/channels/{channel_id}/delete",
        cancel=f"{_base(org_id)}#channels",
    )


def _uses(route: RouteOut, channel_id: int) -> bool:
    return any(channel_id in [int(c) for c in s.get("channels", [])] for s in route.steps)


@router.post("/orgs/{org_id}/notifications/channels/{channel_id}/delete")
def delete_channel(
    request: Request, org_id: WebId, channel_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    ctx, actor = get_ctx(request), user.actor
    orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.ADMIN)
    channel = _channel_of(request, user, org_id, channel_id)
    notify.delete_channel(ctx, actor, channel_id)
    response = see_other(f"{_base(org_id)}#channels")
    add_flash(ctx, response, f"Deleted the channel {channel.name}.", "info")
    return response


# ---- routes -----------------------------------------------------------------------------------


def _route_of(request: Request, user: WebUser, org_id: int, route_id: int) -> RouteOut:
    for r in notify.list_routes(get_ctx(request), user.actor, org_id):
        if r.id == route_id and r.org_id == org_id:
            return r
    raise not_found("alert route")


@router.post("/orgs/{org_id}/notifications/routes")
def add_route(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.ADMIN)
    values = notification_form.route_values(form)
    usable = {c.id for c in notify.list_channels(ctx, actor, org_id)}
    own = [r for r in notify.list_routes(ctx, actor, org_id) if r.org_id == org_id]
    position = max((r.position for r in own), default=-1) + 1  # after the existing ones
    data, errors = notification_form.route_input(org_id, values, position, usable)
    created = None
    try:
        model: RouteCreate | None = RouteCreate.model_validate(data)
    except ValidationError as exc:
        model = None
        for key, messages in from_validation(exc).items():
            errors.setdefault(key, []).extend(m for m in messages if m not in errors.get(key, []))
    if model is not None and not errors:
        valid = model
        created, errors = attempt(lambda: notify.create_route(ctx, actor, valid))
    if created is None:
        return _page(
            request,
            user,
            org,
            route_values=values,
            route_errors=notification_form.place_route(errors),
            status=422,
        )
    response = see_other(f"{_base(org_id)}#routes")
    add_flash(ctx, response, f"Added the route {created.name}.")
    return response


@router.get("/orgs/{org_id}/notifications/routes/{route_id}/delete")
def confirm_delete_route(
    request: Request, org_id: WebId, route_id: WebId, user: SignedIn
) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.ADMIN)
    route = _route_of(request, user, org_id, route_id)
    return page(
        request,
        "confirm_delete.html",
        user,
        section="overview",
        org=org,
        what="route",
        name=route.name,
        consequence="Alerts it matched go by the next route that matches, or to nobody. "
        "Messages already queued still go out.",
        action=f"{_base(org_id)}/routes/{route_id}/delete",
        cancel=f"{_base(org_id)}#routes",
    )


@router.post("/orgs/{org_id}/notifications/routes/{route_id}/delete")
def delete_route(
    request: Request, org_id: WebId, route_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    ctx, actor = get_ctx(request), user.actor
    orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.ADMIN)
    route = _route_of(request, user, org_id, route_id)
    notify.delete_route(ctx, actor, route_id)
    response = see_other(f"{_base(org_id)}#routes")
    add_flash(ctx, response, f"Deleted the route {route.name}.", "info")
    return response

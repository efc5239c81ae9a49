"""Notification settings: channels (where messages go), routes (which alerts go where, when,
and again) and the delivery log a technician checks when a message did not arrive.

The same pages serve two scopes: an organization's own settings (its admins change them,
everyone else in it reads them) and the provider's, which reach every organization (its
owners only, at /notifications). A `Scope` says which; the services decide who may do what.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from forewarn.domain.inventory import Role
from forewarn.services import alerts, notify, orgs, sites
from forewarn.services.errors import not_found
from forewarn.services.notify import ChannelCreate, ChannelOut, RouteCreate, RouteOut, RouteUpdate
from forewarn.services.pagination import MAX_LIMIT
from forewarn.services.schemas import OrgOut
from forewarn.services.scope import require
from forewarn.web import check_views, notification_form
from forewarn.web.errors import error_page
from forewarn.web.flash import add_flash
from forewarn.web.forms import FieldErrors, attempt, from_validation, text
from forewarn.web.notification_form import Choices
from forewarn.web.render import NAV, NavItem, page, see_other
from forewarn.web.session import PostedForm, SignedIn, WebId, WebUser, get_ctx

router = APIRouter(include_in_schema=False)

if not any(item.href == "/notifications" for item in NAV):
    NAV.append(NavItem("notifications", "Notifications", "/notifications", owners_only=True))

DELIVERIES_SHOWN = 20

_OWNERS_ONLY = (
    "The provider's own channels and routes reach every organization, so only the provider's "
    "owners manage them. An organization's are on its page, under Notifications."
)


@dataclass(frozen=True)
class Scope:
    """An organization's settings, or the provider's (org None)."""

    org: OrgOut | None

    @property
    def org_id(self) -> int | None:
        return self.org.id if self.org else None

    @property
    def base(self) -> str:
        return f"/orgs/{self.org.id}/notifications" if self.org else "/notifications"

    @property
    def section(self) -> str:
        return "overview" if self.org else "notifications"

    def owns(self, org_id: int | None) -> bool:
        return org_id == self.org_id


def _org_scope(request: Request, user: WebUser, org_id: int, edit: bool) -> Scope:
    """An organization's settings: not found for strangers, forbidden to change for
    anyone but its admins."""
    org = orgs.get(get_ctx(request), user.actor, org_id)
    if edit:
        require(user.actor, org_id, Role.ADMIN)
    return Scope(org)


def _refused(request: Request, user: WebUser) -> Response | None:
    """A readable 403 for everyone but owners (the services refuse them as well)."""
    if user.actor.is_owner:
        return None
    return error_page(request, 403, message=_OWNERS_ONLY)


PROVIDER = Scope(None)


def _channels(request: Request, user: WebUser, scope: Scope) -> list[ChannelOut]:
    """The channels a route of this scope may use: its own, and for an organization the
    provider's too."""
    found = notify.list_channels(get_ctx(request), user.actor, scope.org_id)
    return found if scope.org else [c for c in found if c.org_id is None]


def _routes(request: Request, user: WebUser, scope: Scope) -> list[RouteOut]:
    """In the order they are tried."""
    found = notify.list_routes(get_ctx(request), user.actor, scope.org_id)
    return found if scope.org else [r for r in found if r.org_id is None]


def _choices(request: Request, user: WebUser, scope: Scope) -> Choices:
    """The organization's sites, assets and checks by name (none for the provider's)."""
    if scope.org is None:
        return Choices()
    ctx, actor, org_id = get_ctx(request), user.actor, scope.org.id
    asset_names = check_views.asset_names(ctx, actor, org_id)
    found = check_views.org_checks(ctx, actor, org_id)
    return Choices(
        sites=sorted(
            (
                (str(s.id), s.name)
                for s in sites.list_(ctx, actor, org_id=org_id, limit=MAX_LIMIT).items
            ),
            key=_by_text,
        ),
        assets=sorted(((str(i), name) for i, name in asset_names.items()), key=_by_text),
        checks=sorted(
            (
                (str(c.id), f"{check_views.asset_name(asset_names, c.asset_id)} · {c.name}")
                for c in found
            ),
            key=_by_text,
        ),
    )


def _by_text(option: tuple[str, str]) -> str:
    return option[1].lower()


def _route_form(request: Request, user: WebUser, scope: Scope) -> dict[str, Any]:
    """What the route form needs besides its values, errors and channels."""
    return {
        "choices": _choices(request, user, scope),
        "when_options": notification_form.WHEN,
        "severity_options": notification_form.SEVERITIES,
        "kind_options": notification_form.KINDS,
        "hints": notification_form.HINTS,
        "route_hints": notification_form.ROUTE_HINTS,
        "shown_steps": notification_form.shown_steps,
    }


def _page(
    request: Request,
    user: WebUser,
    scope: Scope,
    *,
    channel_values: dict[str, str] | None = None,
    channel_errors: FieldErrors | None = None,
    route_values: dict[str, Any] | None = None,
    route_errors: FieldErrors | None = None,
    status: int = 200,
) -> Response:
    ctx, actor = get_ctx(request), user.actor
    channels = _channels(request, user, scope)
    routes = _routes(request, user, scope)
    deliveries = (
        notify.list_deliveries(ctx, actor, org_id=scope.org.id, limit=DELIVERIES_SHOWN).items
        if scope.org
        # The provider's page: what went out through its own channels, for any organization.
        else notify.list_deliveries(
            ctx, actor, provider_channels=True, limit=DELIVERIES_SHOWN
        ).items
    )
    admin = actor.is_owner if scope.org is None else actor.can(scope.org.id, Role.ADMIN)
    form = _route_form(request, user, scope)
    own_routes = [r for r in routes if scope.owns(r.org_id)]
    return page(
        request,
        "notifications/settings.html",
        user,
        status=status,
        section=scope.section,
        org=scope.org,
        base=scope.base,
        admin=admin,
        tz=scope.org.timezone if scope.org else "UTC",
        channels=channels,
        routes=routes,
        last_own=own_routes[-1].id if own_routes else None,
        first_own=own_routes[0].id if own_routes else None,
        deliveries=deliveries,
        channel_names={c.id: c.name for c in channels},
        channel_values=channel_values or notification_form.blank_channel(),
        channel_errors=channel_errors or {},
        route_values=route_values or notification_form.blank_route(),
        route_errors=route_errors or {},
        url_example=notification_form.URL_EXAMPLE,
        steps_text=notification_form.steps_text,
        when_text=notification_form.when_text,
        minutes_text=notification_form.minutes_text,
        link_hint=alerts.link_hint(ctx.settings),
        matcher_text=lambda found: notification_form.matches_text(found, form["choices"]),
        **form,
    )


@router.get("/orgs/{org_id}/notifications")
def settings_page(request: Request, org_id: WebId, user: SignedIn) -> Response:
    return _page(request, user, _org_scope(request, user, org_id, edit=False))


@router.get("/notifications")
def provider_page(request: Request, user: SignedIn) -> Response:
    """The provider's own channels and routes, for every organization (owners only)."""
    if refused := _refused(request, user):
        return refused
    return _page(request, user, PROVIDER)


# ---- channels ---------------------------------------------------------------------------------


def _channel_of(request: Request, user: WebUser, scope: Scope, channel_id: int) -> ChannelOut:
    """One of this scope's own channels (an organization's page does not edit the
    provider's)."""
    for c in _channels(request, user, scope):
        if c.id == channel_id and scope.owns(c.org_id):
            return c
    raise not_found("channel")


def _add_channel(request: Request, user: WebUser, scope: Scope, form: PostedForm) -> Response:
    ctx, actor = get_ctx(request), user.actor
    values = notification_form.channel_values(form)
    created = None
    try:
        data = ChannelCreate.model_validate(notification_form.channel_input(scope.org_id, values))
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
            scope,
            channel_values=values,
            channel_errors=notification_form.place_channel(errors),
            status=422,
        )
    response = see_other(f"{scope.base}#channels")
    add_flash(
        ctx,
        response,
        f"Added the channel {created.name} ({created.kind}). Send a test to see that it arrives.",
    )
    return response


def _switch_channel(
    request: Request, user: WebUser, scope: Scope, channel_id: int, form: PostedForm
) -> Response:
    ctx = get_ctx(request)
    channel = _channel_of(request, user, scope, channel_id)
    on = text(form, "enabled") == "1"
    notify.update_channel(ctx, user.actor, channel_id, notify.ChannelUpdate(enabled=on))
    response = see_other(f"{scope.base}#channels")
    word = "on: routes use it again" if on else "off: routes skip it until it is switched on"
    add_flash(ctx, response, f"Switched {channel.name} {word}.", "ok" if on else "info")
    return response


def _test_channel(request: Request, user: WebUser, scope: Scope, channel_id: int) -> Response:
    """Send a test message now, while the browser waits (apprise gives up within seconds)."""
    ctx = get_ctx(request)
    channel = _channel_of(request, user, scope, channel_id)
    sent = notify.test_channel(ctx, user.actor, channel_id)
    response = see_other(f"{scope.base}#{'deliveries' if scope.org else 'channels'}")
    if sent.state == "sent":
        add_flash(ctx, response, f"Test sent to {channel.name}.")
    else:
        add_flash(ctx, response, f"Test failed: {sent.last_error or 'no reason given'}", "critical")
    return response


def _uses(route: RouteOut, channel_id: int) -> bool:
    return any(channel_id in [int(c) for c in s.get("channels", [])] for s in route.steps)


def _confirm_delete_channel(
    request: Request, user: WebUser, scope: Scope, channel_id: int
) -> Response:
    ctx, actor = get_ctx(request), user.actor
    channel = _channel_of(request, user, scope, channel_id)
    # The provider's channel may be named by any organization's routes.
    used = [r.name for r in notify.list_routes(ctx, actor, scope.org_id) if _uses(r, channel_id)]
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
        section=scope.section,
        org=scope.org,
        what="channel",
        name=channel.name,
        consequence=consequence,
        action=f"{scope.base}/channels/{channel_id}/delete",
        cancel=f"{scope.base}#channels",
    )


def _delete_channel(request: Request, user: WebUser, scope: Scope, channel_id: int) -> Response:
    ctx = get_ctx(request)
    channel = _channel_of(request, user, scope, channel_id)
    notify.delete_channel(ctx, user.actor, channel_id)
    response = see_other(f"{scope.base}#channels")
    add_flash(ctx, response, f"Deleted the channel {channel.name}.", "info")
    return response


@router.post("/orgs/{org_id}/notifications/channels")
def add_channel(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    return _add_channel(request, user, _org_scope(request, user, org_id, edit=True), form)


@router.post("/orgs/{org_id}/notifications/channels/{channel_id}/enabled")
def switch_channel(
    request: Request, org_id: WebId, channel_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    """Switch a channel off (routes skip it: holidays, a broken phone) or back on."""
    scope = _org_scope(request, user, org_id, edit=True)
    return _switch_channel(request, user, scope, channel_id, form)


@router.post("/orgs/{org_id}/notifications/channels/{channel_id}/test")
def test_channel(
    request: Request, org_id: WebId, channel_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    scope = _org_scope(request, user, org_id, edit=True)
    return _test_channel(request, user, scope, channel_id)


@router.get("/orgs/{org_id}/notifications/channels/{channel_id}/delete")
def confirm_delete_channel(
    request: Request, org_id: WebId, channel_id: WebId, user: SignedIn
) -> Response:
    scope = _org_scope(request, user, org_id, edit=True)
    return _confirm_delete_channel(request, user, scope, channel_id)


@router.post("/orgs/{org_id}/notifications/channels/{channel_id}/delete")
def delete_channel(
    request: Request, org_id: WebId, channel_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    scope = _org_scope(request, user, org_id, edit=True)
    return _delete_channel(request, user, scope, channel_id)


@router.post("/notifications/channels")
def add_provider_channel(request: Request, user: SignedIn, form: PostedForm) -> Response:
    return _refused(request, user) or _add_channel(request, user, PROVIDER, form)


@router.post("/notifications/channels/{channel_id}/enabled")
def switch_provider_channel(
    request: Request, channel_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    return _refused(request, user) or _switch_channel(request, user, PROVIDER, channel_id, form)


@router.post("/notifications/channels/{channel_id}/test")
def test_provider_channel(
    request: Request, channel_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    return _refused(request, user) or _test_channel(request, user, PROVIDER, channel_id)


@router.get("/notifications/channels/{channel_id}/delete")
def confirm_delete_provider_channel(
    request: Request, channel_id: WebId, user: SignedIn
) -> Response:
    return _refused(request, user) or _confirm_delete_channel(request, user, PROVIDER, channel_id)


@router.post("/notifications/channels/{channel_id}/delete")
def delete_provider_channel(
    request: Request, channel_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    return _refused(request, user) or _delete_channel(request, user, PROVIDER, channel_id)


# ---- routes -----------------------------------------------------------------------------------


def _route_of(request: Request, user: WebUser, scope: Scope, route_id: int) -> RouteOut:
    """One of this scope's own routes (an organization's page does not edit the
    provider's)."""
    for r in _routes(request, user, scope):
        if r.id == route_id and scope.owns(r.org_id):
            return r
    raise not_found("alert route")


def _route_data(
    request: Request, user: WebUser, scope: Scope, values: dict[str, Any]
) -> tuple[dict[str, Any], FieldErrors]:
    """The service's input from the form, and what the form can tell is wrong with it;
    the shapes the service checks are checked here too, so that every message shows at
    once."""
    usable = {c.id for c in _channels(request, user, scope)}
    choices = _choices(request, user, scope)
    data, errors = notification_form.route_input(scope.org_id, values, usable, choices)
    try:
        RouteCreate.model_validate(data)
    except ValidationError as exc:
        for key, messages in from_validation(exc).items():
            errors.setdefault(key, []).extend(m for m in messages if m not in errors.get(key, []))
    return data, errors


def _add_route(request: Request, user: WebUser, scope: Scope, form: PostedForm) -> Response:
    ctx, actor = get_ctx(request), user.actor
    values = notification_form.route_values(form)
    data, errors = _route_data(request, user, scope, values)
    created = None
    if not errors:
        # No position: a new route goes last, after the ones already tried.
        created, errors = attempt(
            lambda: notify.create_route(ctx, actor, RouteCreate.model_validate(data))
        )
    if created is None:
        return _page(
            request,
            user,
            scope,
            route_values=values,
            route_errors=notification_form.place_route(errors),
            status=422,
        )
    response = see_other(f"{scope.base}#routes")
    add_flash(ctx, response, f"Added the route {created.name}.")
    return response


def _edit_page(
    request: Request,
    user: WebUser,
    scope: Scope,
    route: RouteOut,
    values: dict[str, Any] | None = None,
    errors: FieldErrors | None = None,
    status: int = 200,
) -> Response:
    channels = _channels(request, user, scope)
    form = _route_form(request, user, scope)
    return page(
        request,
        "notifications/edit_route.html",
        user,
        status=status,
        section=scope.section,
        org=scope.org,
        base=scope.base,
        route=route,
        route_values=values or notification_form.values_of(route, form["choices"]),
        route_errors=errors or {},
        channels=channels,
        **form,
    )


def _save_route(
    request: Request, user: WebUser, scope: Scope, route_id: int, form: PostedForm
) -> Response:
    ctx, actor = get_ctx(request), user.actor
    route = _route_of(request, user, scope, route_id)
    values = notification_form.route_values(form)
    data, errors = _route_data(request, user, scope, values)
    saved = None
    if not errors:
        del data["org_id"]  # a route stays in its scope
        saved, errors = attempt(
            lambda: notify.update_route(ctx, actor, route_id, RouteUpdate.model_validate(data))
        )
    if saved is None:
        placed = notification_form.place_route(errors)
        return _edit_page(request, user, scope, route, values, placed, status=422)
    response = see_other(f"{scope.base}#route-{route_id}")
    add_flash(ctx, response, f"Saved the route {saved.name}.")
    return response


def _move_route(
    request: Request, user: WebUser, scope: Scope, route_id: int, form: PostedForm
) -> Response:
    """One place up or down among the scope's own routes: the first that matches wins."""
    ctx = get_ctx(request)
    own = [r for r in _routes(request, user, scope) if scope.owns(r.org_id)]
    route = _route_of(request, user, scope, route_id)
    index = [r.id for r in own].index(route_id)
    target = index - 1 if text(form, "direction") == "up" else index + 1
    response = see_other(f"{scope.base}#route-{route_id}")
    if not 0 <= target < len(own):
        add_flash(ctx, response, f"The route {route.name} is already at that end.", "info")
        return response
    notify.update_route(ctx, user.actor, route_id, RouteUpdate(position=target))
    add_flash(
        ctx,
        response,
        f"Moved the route {route.name} to place {target + 1}: it is tried "
        f"{'before' if target < index else 'after'} {own[target].name} now.",
    )
    return response


def _confirm_delete_route(request: Request, user: WebUser, scope: Scope, route_id: int) -> Response:
    route = _route_of(request, user, scope, route_id)
    return page(
        request,
        "confirm_delete.html",
        user,
        section=scope.section,
        org=scope.org,
        what="route",
        name=route.name,
        consequence="Alerts it matched go by the next route that matches, or to nobody. "
        "Messages already queued still go out.",
        action=f"{scope.base}/routes/{route_id}/delete",
        cancel=f"{scope.base}#routes",
    )


def _delete_route(request: Request, user: WebUser, scope: Scope, route_id: int) -> Response:
    ctx = get_ctx(request)
    route = _route_of(request, user, scope, route_id)
    notify.delete_route(ctx, user.actor, route_id)
    response = see_other(f"{scope.base}#routes")
    add_flash(ctx, response, f"Deleted the route {route.name}.", "info")
    return response


@router.post("/orgs/{org_id}/notifications/routes")
def add_route(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    return _add_route(request, user, _org_scope(request, user, org_id, edit=True), form)


@router.get("/orgs/{org_id}/notifications/routes/{route_id}/edit")
def edit_route(request: Request, org_id: WebId, route_id: WebId, user: SignedIn) -> Response:
    scope = _org_scope(request, user, org_id, edit=True)
    return _edit_page(request, user, scope, _route_of(request, user, scope, route_id))


@router.post("/orgs/{org_id}/notifications/routes/{route_id}/edit")
def save_route(
    request: Request, org_id: WebId, route_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    scope = _org_scope(request, user, org_id, edit=True)
    return _save_route(request, user, scope, route_id, form)


@router.post("/orgs/{org_id}/notifications/routes/{route_id}/move")
def move_route(
    request: Request, org_id: WebId, route_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    scope = _org_scope(request, user, org_id, edit=True)
    return _move_route(request, user, scope, route_id, form)


@router.get("/orgs/{org_id}/notifications/routes/{route_id}/delete")
def confirm_delete_route(
    request: Request, org_id: WebId, route_id: WebId, user: SignedIn
) -> Response:
    scope = _org_scope(request, user, org_id, edit=True)
    return _confirm_delete_route(request, user, scope, route_id)


@router.post("/orgs/{org_id}/notifications/routes/{route_id}/delete")
def delete_route(
    request: Request, org_id: WebId, route_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    scope = _org_scope(request, user, org_id, edit=True)
    return _delete_route(request, user, scope, route_id)


@router.post("/notifications/routes")
def add_provider_route(request: Request, user: SignedIn, form: PostedForm) -> Response:
    return _refused(request, user) or _add_route(request, user, PROVIDER, form)


@router.get("/notifications/routes/{route_id}/edit")
def edit_provider_route(request: Request, route_id: WebId, user: SignedIn) -> Response:
    if refused := _refused(request, user):
        return refused
    return _edit_page(request, user, PROVIDER, _route_of(request, user, PROVIDER, route_id))


@router.post("/notifications/routes/{route_id}/edit")
def save_provider_route(
    request: Request, route_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    return _refused(request, user) or _save_route(request, user, PROVIDER, route_id, form)


@router.post("/notifications/routes/{route_id}/move")
def move_provider_route(
    request: Request, route_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    return _refused(request, user) or _move_route(request, user, PROVIDER, route_id, form)


@router.get("/notifications/routes/{route_id}/delete")
def confirm_delete_provider_route(request: Request, route_id: WebId, user: SignedIn) -> Response:
    return _refused(request, user) or _confirm_delete_route(request, user, PROVIDER, route_id)


@router.post("/notifications/routes/{route_id}/delete")
def delete_provider_route(
    request: Request, route_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    return _refused(request, user) or _delete_route(request, user, PROVIDER, route_id)

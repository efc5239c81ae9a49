"""Alerts (the inbox: list, acknowledge, resolve), channels, routes and the delivery log."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from forewarn.api.deps import Caller, Ctx, Cursor, IdPath, IdQuery, Limit
from forewarn.api.pages import PageOut, page_out
from forewarn.domain.alerting import AlertKind, Severity
from forewarn.services import alerts, external, notify, silences
from forewarn.services.alerts import (
    AckRequest,
    AlertDetail,
    AlertFilter,
    AlertOut,
    ResolveRequest,
)
from forewarn.services.external import AMPayload, Received
from forewarn.services.notify import (
    ChannelCreate,
    ChannelOut,
    ChannelUpdate,
    DeliveryOut,
    RouteCreate,
    RouteOut,
    RouteUpdate,
)
from forewarn.services.silences import SilenceCreate, SilenceFromAlert, SilenceOut

router = APIRouter(prefix="/api/v1")

AlertState = Literal["open", "acknowledged", "resolved", "active"]
DeliveryState = Literal["pending", "held", "merged", "sent", "failed"]


@router.get("/alerts", response_model=PageOut[AlertOut], tags=["alerts"])
def list_alerts(
    ctx: Ctx,
    actor: Caller,
    org_id: IdQuery = None,
    state: Annotated[
        AlertState | None, Query(description="open, acknowledged, resolved; active: not resolved")
    ] = None,
    severity: Annotated[Severity | None, Query(description="info, warning or critical")] = None,
    kind: Annotated[
        AlertKind | None,
        Query(description="check (monitoring), predictive, security or external (Alertmanager)"),
    ] = None,
    site_id: IdQuery = None,
    asset_id: IdQuery = None,
    q: Annotated[
        str,
        Query(max_length=200, description="words in the summary, the asset's or check's name"),
    ] = "",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[AlertOut]:
    """Newest first. A site or asset the caller cannot see finds nothing; an unknown
    severity or kind is a 422."""
    where = AlertFilter(severity=severity, kind=kind, site_id=site_id, asset_id=asset_id, q=q)
    return page_out(
        alerts.list_(
            ctx, actor, org_id=org_id, state=state, limit=limit, cursor=cursor, where=where
        )
    )


@router.get("/alerts/{alert_id}", response_model=AlertDetail, tags=["alerts"])
def get_alert(alert_id: IdPath, ctx: Ctx, actor: Caller) -> AlertDetail:
    """The alert with its timeline."""
    return alerts.get(ctx, actor, alert_id)


@router.post("/alerts/{alert_id}/ack", response_model=AlertDetail, tags=["alerts"])
def acknowledge_alert(alert_id: IdPath, body: AckRequest, ctx: Ctx, actor: Caller) -> AlertDetail:
    """Someone is on it: repeats and escalation stop (until `until`, if given). 422 for a
    resolved alert or an `until` in the past."""
    return alerts.acknowledge(ctx, actor, alert_id, body)


@router.post("/alerts/{alert_id}/resolve", response_model=AlertDetail, tags=["alerts"])
def resolve_alert(alert_id: IdPath, body: ResolveRequest, ctx: Ctx, actor: Caller) -> AlertDetail:
    """Resolve by hand; the channels that were told hear it is resolved."""
    return alerts.resolve(ctx, actor, alert_id, body)


@router.post(
    "/alerts/{alert_id}/silence", response_model=SilenceOut, status_code=201, tags=["alerts"]
)
def silence_alert(alert_id: IdPath, body: SilenceFromAlert, ctx: Ctx, actor: Caller) -> SilenceOut:
    """Silence what the alert is about (its check) for `duration_min`: the length of a job."""
    return silences.silence_alert(ctx, actor, alert_id, body)


@router.get("/silences", response_model=PageOut[SilenceOut], tags=["alerts"])
def list_silences(
    ctx: Ctx,
    actor: Caller,
    org_id: IdQuery = None,
    active: Annotated[bool, Query(description="only those not yet over")] = True,
) -> PageOut[SilenceOut]:
    return PageOut[SilenceOut](items=silences.list_(ctx, actor, org_id=org_id, active=active))


@router.post("/silences", response_model=SilenceOut, status_code=201, tags=["alerts"])
def create_silence(body: SilenceCreate, ctx: Ctx, actor: Caller) -> SilenceOut:
    """Mute alerts whose labels match until `ends_at` (or for `duration_min`). A silence needs
    an end and a matcher that requires a value (like check=12); 422 otherwise."""
    return silences.create(ctx, actor, body)


@router.post("/silences/{silence_id}/expire", response_model=SilenceOut, tags=["alerts"])
def expire_silence(silence_id: IdPath, ctx: Ctx, actor: Caller) -> SilenceOut:
    """End it now; its still-open alerts are told at the next escalation turn."""
    return silences.expire(ctx, actor, silence_id)


@router.post("/orgs/{org_id}/alertmanager", response_model=Received, tags=["alerts"])
def alertmanager_webhook(org_id: IdPath, body: AMPayload, ctx: Ctx, actor: Caller) -> Received:
    """Prometheus Alertmanager's webhook (payload version 4) as alerts of this organization:
    firing opens or refreshes, resolved resolves. Authenticate with a bearer API token of a
    technician of the organization (Alertmanager's `http_config.authorization`)."""
    return external.receive_alertmanager(ctx, actor, org_id, body)


@router.get("/channels", response_model=PageOut[ChannelOut], tags=["alerts"])
def list_channels(ctx: Ctx, actor: Caller, org_id: IdQuery = None) -> PageOut[ChannelOut]:
    """An organization's channels and the provider's (URLs are never shown); one page."""
    return PageOut[ChannelOut](items=notify.list_channels(ctx, actor, org_id))


@router.post("/channels", response_model=ChannelOut, status_code=201, tags=["alerts"])
def create_channel(body: ChannelCreate, ctx: Ctx, actor: Caller) -> ChannelOut:
    """An apprise URL (mailto://, slack://, msteams://, tgram://, json://, ...), checked and
    stored encrypted. Admins of the organization; the provider's (no org_id): owners."""
    return notify.create_channel(ctx, actor, body)


@router.patch("/channels/{channel_id}", response_model=ChannelOut, tags=["alerts"])
def update_channel(channel_id: IdPath, body: ChannelUpdate, ctx: Ctx, actor: Caller) -> ChannelOut:
    """Rename it, or switch it off and on (routes skip a disabled channel)."""
    return notify.update_channel(ctx, actor, channel_id, body)


@router.delete("/channels/{channel_id}", status_code=204, tags=["alerts"])
def delete_channel(channel_id: IdPath, ctx: Ctx, actor: Caller) -> None:
    notify.delete_channel(ctx, actor, channel_id)


@router.post("/channels/{channel_id}/test", response_model=DeliveryOut, tags=["alerts"])
def test_channel(channel_id: IdPath, ctx: Ctx, actor: Caller) -> DeliveryOut:
    """Send a test message now; the answer says whether it went and, if not, why."""
    return notify.test_channel(ctx, actor, channel_id)


@router.get("/alert-routes", response_model=PageOut[RouteOut], tags=["alerts"])
def list_routes(ctx: Ctx, actor: Caller, org_id: IdQuery = None) -> PageOut[RouteOut]:
    """In the order they are tried: the organization's, then the provider's; one page."""
    return PageOut[RouteOut](items=notify.list_routes(ctx, actor, org_id))


@router.post("/alert-routes", response_model=RouteOut, status_code=201, tags=["alerts"])
def create_route(body: RouteCreate, ctx: Ctx, actor: Caller) -> RouteOut:
    """Which alerts (label matchers), when (any time, business hours, after hours), to which
    channels in escalation steps, repeated every `repeat_s` while nobody acknowledged."""
    return notify.create_route(ctx, actor, body)


@router.patch("/alert-routes/{route_id}", response_model=RouteOut, tags=["alerts"])
def update_route(route_id: IdPath, body: RouteUpdate, ctx: Ctx, actor: Caller) -> RouteOut:
    """Change the fields given, checked as on creation (422 with the reason, nothing
    changed). `position` moves it in its scope's order (0 first; the others close up): the
    first route that matches an alert takes it."""
    return notify.update_route(ctx, actor, route_id, body)


@router.delete("/alert-routes/{route_id}", status_code=204, tags=["alerts"])
def delete_route(route_id: IdPath, ctx: Ctx, actor: Caller) -> None:
    notify.delete_route(ctx, actor, route_id)


@router.get("/deliveries", response_model=PageOut[DeliveryOut], tags=["alerts"])
def list_deliveries(
    ctx: Ctx,
    actor: Caller,
    org_id: IdQuery = None,
    channel_id: IdQuery = None,
    alert_id: IdQuery = None,
    state: Annotated[DeliveryState | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[DeliveryOut]:
    """The delivery log, newest first: pending (with the next attempt), sent, failed (why)."""
    return page_out(
        notify.list_deliveries(
            ctx,
            actor,
            org_id=org_id,
            channel_id=channel_id,
            alert_id=alert_id,
            state=state,
            limit=limit,
            cursor=cursor,
        )
    )

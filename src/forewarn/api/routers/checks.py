"""Checks: definitions, state, timeline and results; heartbeat ping URLs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from forewarn.api.deps import Caller, Ctx, Cursor, IdPath, IdQuery, IdRequired, Limit
from forewarn.api.pages import PageOut, page_out
from forewarn.services import checks, heartbeats, maintenance, policies
from forewarn.services.errors import invalid
from forewarn.services.pagination import Page
from forewarn.services.schemas import (
    CheckCreate,
    CheckEventOut,
    CheckOut,
    CheckUpdate,
    EffectiveCheckOut,
    MaintenanceCreate,
    MaintenanceOut,
    PolicyCreate,
    PolicyOut,
    PolicyUpdate,
    ResultOut,
)

router = APIRouter(prefix="/api/v1/checks", tags=["checks"])
pings = APIRouter(tags=["heartbeats"])


@router.get("", response_model=PageOut[CheckOut])
def list_checks(
    ctx: Ctx,
    actor: Caller,
    org_id: IdQuery = None,
    asset_id: IdQuery = None,
    problems: Annotated[bool, Query(description="only checks not OK now")] = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[CheckOut]:
    return page_out(
        checks.list_(
            ctx,
            actor,
            org_id=org_id,
            asset_id=asset_id,
            problems=problems,
            limit=limit,
            cursor=cursor,
        )
    )


@router.post("", response_model=CheckOut, status_code=201)
def create_check(body: CheckCreate, ctx: Ctx, actor: Caller) -> CheckOut:
    """Add a check to an asset; the probe validates target and params before anything is
    stored (422 with the reason otherwise)."""
    return checks.create(ctx, actor, body)


@router.get("/{check_id}", response_model=CheckOut)
def get_check(check_id: IdPath, ctx: Ctx, actor: Caller) -> CheckOut:
    return checks.get(ctx, actor, check_id)


@router.patch("/{check_id}", response_model=CheckOut)
def update_check(check_id: IdPath, body: CheckUpdate, ctx: Ctx, actor: Caller) -> CheckOut:
    return checks.update(ctx, actor, check_id, body)


@router.delete("/{check_id}", status_code=204)
def delete_check(check_id: IdPath, ctx: Ctx, actor: Caller) -> None:
    checks.delete(ctx, actor, check_id)


@router.get("/{check_id}/events", response_model=PageOut[CheckEventOut])
def check_events(
    check_id: IdPath, ctx: Ctx, actor: Caller, limit: Limit = 50, cursor: Cursor = None
) -> PageOut[CheckEventOut]:
    """The timeline, newest first: every status change and flapping start/end."""
    return page_out(checks.events(ctx, actor, check_id, limit=limit, cursor=cursor))


@router.get("/{check_id}/results", response_model=list[ResultOut])
def check_results(
    check_id: IdPath,
    ctx: Ctx,
    actor: Caller,
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[datetime, Query(alias="to")],
) -> list[ResultOut]:
    """Raw results (epoch second, status 0-3) in [from, to)."""
    for moment in (start, end):
        if moment.tzinfo is None:
            raise invalid("'from' and 'to' need a time zone, e.g. 2026-11-26T10:00:00Z")
    return checks.results(ctx, actor, check_id, start, end)


Token = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{16,64}$", description="the push token")]


def _ping_route(kind: heartbeats.Kind, doc: str) -> Callable[..., Awaitable[Response]]:
    async def ping(token: Token, request: Request, ctx: Ctx) -> Response:
        body = await request.body() if request.method == "POST" else b""
        await run_in_threadpool(heartbeats.ping, ctx, token, kind, body)
        return Response("OK\n", media_type="text/plain")

    ping.__doc__ = doc
    return ping


# Public: the unguessable token is the credential, as cron jobs and backup scripts cannot log in.
for _kind, _suffix, _doc in (
    ("success", "", "A job's success ping; a POST body (its log, up to 10 KB) is kept."),
    ("start", "/start", "The job started; its run time is measured to the next success."),
    ("fail", "/fail", "The job failed: the check turns critical at once."),
):
    for _method in ("GET", "POST"):
        pings.add_api_route(
            f"/hb/{{token}}{_suffix}",
            _ping_route(_kind, _doc),  # type: ignore[arg-type]
            methods=[_method],
            operation_id=f"heartbeat_{_kind}_{_method.lower()}",
            summary=f"Heartbeat {_kind} ({_method})",
        )


maintenance_router = APIRouter(prefix="/api/v1/maintenance-windows", tags=["maintenance"])


@maintenance_router.get("", response_model=PageOut[MaintenanceOut])
def list_windows(org_id: IdRequired, ctx: Ctx, actor: Caller) -> PageOut[MaintenanceOut]:
    """An organization's maintenance windows (all on one page), with whether each is active
    now and when it next starts."""
    return page_out(Page(maintenance.list_(ctx, actor, org_id), None))


@maintenance_router.post("", response_model=MaintenanceOut, status_code=201)
def create_window(body: MaintenanceCreate, ctx: Ctx, actor: Caller) -> MaintenanceOut:
    """Plan maintenance (one-off or recurring, in the organization's time zone): checks keep
    running, nothing is notified, uptime leaves the time out."""
    return maintenance.create(ctx, actor, body)


@maintenance_router.delete("/{window_id}", status_code=204)
def delete_window(window_id: IdPath, ctx: Ctx, actor: Caller) -> None:
    maintenance.delete(ctx, actor, window_id)


policies_router = APIRouter(prefix="/api/v1/policies", tags=["policies"])


@policies_router.get("", response_model=PageOut[PolicyOut])
def list_policies(ctx: Ctx, actor: Caller, org_id: IdQuery = None) -> PageOut[PolicyOut]:
    """The provider's policies (owners) and those of the organizations you see, on one page."""
    return page_out(Page(policies.list_(ctx, actor, org_id), None))


@policies_router.post("", response_model=PolicyOut, status_code=201)
def create_policy(body: PolicyCreate, ctx: Ctx, actor: Caller) -> PolicyOut:
    """Define checks once for the provider, an organization, a site, a tag or one asset; the
    assets it reaches get (or lose) their checks in the same transaction."""
    return policies.create(ctx, actor, body)


@policies_router.get("/{policy_id}", response_model=PolicyOut)
def get_policy(policy_id: IdPath, ctx: Ctx, actor: Caller) -> PolicyOut:
    return policies.get(ctx, actor, policy_id)


@policies_router.patch("/{policy_id}", response_model=PolicyOut)
def update_policy(policy_id: IdPath, body: PolicyUpdate, ctx: Ctx, actor: Caller) -> PolicyOut:
    return policies.update(ctx, actor, policy_id, body)


@policies_router.delete("/{policy_id}", status_code=204)
def delete_policy(policy_id: IdPath, ctx: Ctx, actor: Caller) -> None:
    policies.delete(ctx, actor, policy_id)


asset_checks_router = APIRouter(prefix="/api/v1/assets", tags=["assets"])


@asset_checks_router.get("/{asset_id}/effective-checks", response_model=list[EffectiveCheckOut])
def effective_checks(asset_id: IdPath, ctx: Ctx, actor: Caller) -> list[EffectiveCheckOut]:
    """Which checks apply to an asset and where each comes from (or why it does not apply)."""
    return policies.effective_checks(ctx, actor, asset_id)

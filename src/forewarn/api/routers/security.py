"""Suspicious activity: a machine's security events (logins, failures, sudo, su, ...)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from forewarn.api.deps import Caller, Ctx, Cursor, IdPath, Limit
from forewarn.api.pages import PageOut, page_out
from forewarn.services import activity

router = APIRouter(prefix="/api/v1", tags=["assets"])


@router.get("/assets/{asset_id}/security-events")
def security_events(
    asset_id: IdPath,
    ctx: Ctx,
    actor: Caller,
    kind: Annotated[str | None, Query(pattern="^[a-z_]{1,32}$")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[dict[str, Any]]:
    """Recent security events of the machine, newest first: logins and failed logins (with
    user, source address, service and the log line), sudo and su, new administrators, new
    public listeners, the firewall and the agent switched off. `kind` filters: login, sudo,
    su, admin_added, listener_public, firewall_off, firewall_on, agent_stopped."""
    return page_out(
        activity.list_events(ctx, actor, asset_id, kind=kind, limit=limit, cursor=cursor)
    )

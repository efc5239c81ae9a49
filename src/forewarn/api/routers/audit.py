from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from forewarn.api.deps import Caller, Ctx, Cursor, IdQuery, Limit
from forewarn.api.pages import PageOut, page_out
from forewarn.services import audit
from forewarn.services.schemas import AuditOut

router = APIRouter(prefix="/api/v1/audit-events", tags=["audit"])


@router.get("", response_model=PageOut[AuditOut])
def list_events(
    ctx: Ctx,
    actor: Caller,
    org_id: IdQuery = None,
    action: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_.]*$")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[AuditOut]:
    """Newest first; `action` matches a prefix such as `auth.` or `asset.update`."""
    return page_out(
        audit.list_events(ctx, actor, org_id=org_id, action=action, limit=limit, cursor=cursor)
    )

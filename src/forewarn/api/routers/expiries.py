"""Dates that matter for an organization: certificates, warranties, end of life, backups."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from forewarn.api.deps import Caller, Ctx, IdPath
from forewarn.services import expiries
from forewarn.services.expiries import ExpiryOut

router = APIRouter(prefix="/api/v1", tags=["findings"])


class ExpiriesOut(BaseModel):
    items: list[ExpiryOut]


@router.get("/orgs/{org_id}/expiries", response_model=ExpiriesOut)
def list_expiries(org_id: IdPath, ctx: Ctx, actor: Caller) -> ExpiriesOut:
    """Every date that matters, soonest first (passed ones lead), with the days left and the
    severity of the finding it is (none when 90 days or more are left)."""
    return ExpiriesOut(items=expiries.upcoming(ctx, actor, org_id))

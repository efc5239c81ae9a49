"""Posture: policies (upload YAML, list, delete), each asset's results, an organization's
scores, and accepting a finding's risk until a date."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel

from forewarn.api.deps import YAML_TYPES, Caller, Ctx, IdPath, IdQuery, yaml_body
from forewarn.services import posture
from forewarn.services.posture import AssetPostureOut, OrgPostureOut, PolicyOut

router = APIRouter(prefix="/api/v1", tags=["posture"])

_YAML_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the policy as YAML, UTF-8 (see docs/posture.md)",
        "content": {t: {"schema": {"type": "string"}} for t in YAML_TYPES},
    }
}


class PoliciesOut(BaseModel):
    items: list[PolicyOut]


@router.get("/posture/policies", response_model=PoliciesOut)
def list_policies(ctx: Ctx, actor: Caller, org_id: IdQuery = None) -> PoliciesOut:
    """The shipped policies, the provider's, and the organizations' the caller may see (with
    org_id: those in force for that organization, before replacement by id)."""
    return PoliciesOut(items=posture.list_policies(ctx, actor, org_id))


@router.post(
    "/posture/policies",
    response_model=PolicyOut,
    status_code=201,
    openapi_extra=_YAML_BODY,
    responses={
        403: {"description": "not an admin of the organization (or not an owner, for all)"},
        404: {"description": "no such organization, or not one the caller may see"},
        415: {"description": "the body is not declared as YAML"},
        422: {"description": "the policy is wrong: `detail` and `errors` give the line and why"},
    },
)
def import_policy(
    ctx: Ctx,
    actor: Caller,
    body: Annotated[bytes, Depends(yaml_body)],
    org_id: IdQuery = None,
) -> PolicyOut:
    """Upload a posture policy for one organization (admins), or for every organization
    (org_id left out; the provider's owners). A policy with the id of one already at that
    level replaces it; a refused policy changes nothing."""
    return posture.import_policy(ctx, actor, body, org_id)


@router.delete("/posture/policies/{policy_id}", status_code=204, response_class=Response)
def delete_policy(policy_id: IdPath, ctx: Ctx, actor: Caller) -> Response:
    """Remove an uploaded policy (the shipped ones cannot be removed, only replaced)."""
    posture.delete_policy(ctx, actor, policy_id)
    return Response(status_code=204)


@router.get("/assets/{asset_id}/posture", response_model=AssetPostureOut)
def asset_posture(asset_id: IdPath, ctx: Ctx, actor: Caller) -> AssetPostureOut:
    """The asset's score and every check's latest result with its evidence and remedy."""
    return posture.asset_posture(ctx, actor, asset_id)


@router.get("/orgs/{org_id}/posture", response_model=OrgPostureOut)
def org_posture(org_id: IdPath, ctx: Ctx, actor: Caller) -> OrgPostureOut:
    """The score of each assessed asset of the organization, worst first."""
    return posture.org_posture(ctx, actor, org_id)

"""Patching: an organization's patch compliance and each asset's pending updates."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from forewarn.api.deps import Caller, Ctx, IdPath
from forewarn.services import patch_approval, patch_policies, patching
from forewarn.services.patch_approval import ApproveOut, ApproveRequest
from forewarn.services.patch_policies import (
    OrgDecisionsOut,
    PatchPolicyCreate,
    PatchPolicyFields,
    PatchPolicyOut,
    RebootOut,
)
from forewarn.services.patching import AssetUpdatesOut, OrgPatchesOut, PatchOverviewOut

router = APIRouter(prefix="/api/v1", tags=["patching"])


@router.get("/patches", response_model=PatchOverviewOut)
def patch_overview(ctx: Ctx, actor: Caller) -> PatchOverviewOut:
    """Patch compliance of every organization the caller may see, worst first."""
    return patching.overview(ctx, actor)


@router.get("/orgs/{org_id}/patches", response_model=OrgPatchesOut)
def org_patches(org_id: IdPath, ctx: Ctx, actor: Caller) -> OrgPatchesOut:
    """Patch compliance (machines with no security update pending longer than the policy
    allows, of those reporting) and each machine's pending, security, oldest pending age,
    reboot and last patch time, worst first."""
    return patching.org_patches(ctx, actor, org_id)


@router.get("/assets/{asset_id}/updates", response_model=AssetUpdatesOut)
def asset_updates(asset_id: IdPath, ctx: Ctx, actor: Caller) -> AssetUpdatesOut:
    """The asset's pending updates, security first, each with how long it has been pending."""
    return patching.asset_updates(ctx, actor, asset_id)


@router.post("/orgs/{org_id}/patches/approve", response_model=ApproveOut, status_code=201)
def approve_patches(org_id: IdPath, body: ApproveRequest, ctx: Ctx, actor: Caller) -> ApproveOut:
    """Approve pending updates (security only unless packages are named) on the given
    machines or the whole organization: each gets a signed install_updates job for exactly
    the versions it reported pending. Technicians and above; recorded in the audit log."""
    return patch_approval.approve(ctx, actor, org_id, body)


class PatchPoliciesOut(BaseModel):
    items: list[PatchPolicyOut]


@router.get("/orgs/{org_id}/patch-policies", response_model=PatchPoliciesOut)
def list_patch_policies(org_id: IdPath, ctx: Ctx, actor: Caller) -> PatchPoliciesOut:
    """The organization's patch policies (its default and tag overrides) and the provider's
    default, which applies where the organization has none."""
    return PatchPoliciesOut(items=patch_policies.list_policies(ctx, actor, org_id))


@router.post("/patch-policies", response_model=PatchPolicyOut, status_code=201)
def create_patch_policy(body: PatchPolicyCreate, ctx: Ctx, actor: Caller) -> PatchPolicyOut:
    """A patch policy for an organization (technicians; one default and one per tag) or, with
    no org_id, the provider's default (owners). Bad settings are refused with the reason."""
    return patch_policies.create(ctx, actor, body)


@router.get("/patch-policies/{policy_id}", response_model=PatchPolicyOut)
def get_patch_policy(policy_id: IdPath, ctx: Ctx, actor: Caller) -> PatchPolicyOut:
    return patch_policies.get(ctx, actor, policy_id)


@router.put("/patch-policies/{policy_id}", response_model=PatchPolicyOut)
def update_patch_policy(
    policy_id: IdPath, body: PatchPolicyFields, ctx: Ctx, actor: Caller
) -> PatchPolicyOut:
    """Replace a policy's settings."""
    return patch_policies.update(ctx, actor, policy_id, body)


@router.delete("/patch-policies/{policy_id}", status_code=204, response_class=Response)
def delete_patch_policy(policy_id: IdPath, ctx: Ctx, actor: Caller) -> Response:
    patch_policies.delete(ctx, actor, policy_id)
    return Response(status_code=204)


@router.get("/orgs/{org_id}/patch-policies/decisions", response_model=OrgDecisionsOut)
def patch_policy_decisions(org_id: IdPath, ctx: Ctx, actor: Caller) -> OrgDecisionsOut:
    """Per machine, what its policy decides now (installs now, or waits and why; reboot) and
    what the policies did lately (the jobs they issued, when and why)."""
    return patch_policies.decisions(ctx, actor, org_id)


@router.post("/assets/{asset_id}/reboot", response_model=RebootOut, status_code=201)
def reboot_asset(asset_id: IdPath, ctx: Ctx, actor: Caller) -> RebootOut:
    """Reboot a machine (technicians). Under a patch policy only inside its window (409
    outside it, saying when the next is); the signed job expires at the window's end and the
    agent refuses it after that."""
    return patch_policies.request_reboot(ctx, actor, asset_id)

"""Patching: an organization's patch compliance and each asset's pending updates."""

from __future__ import annotations

from fastapi import APIRouter

from forewarn.api.deps import Caller, Ctx, IdPath
from forewarn.services import patch_approval, patching
from forewarn.services.patch_approval import ApproveOut, ApproveRequest
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

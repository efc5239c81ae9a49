"""Vulnerable packages per asset and per organization, with the date of the data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from forewarn.api.deps import Caller, Ctx, IdPath
from forewarn.services import vulns
from forewarn.services.vulns import AssetVulnsOut, OrgVulnsOut

router = APIRouter(prefix="/api/v1", tags=["findings"])


@router.get("/assets/{asset_id}/vulnerabilities", response_model=AssetVulnsOut)
def asset_vulnerabilities(asset_id: IdPath, ctx: Ctx, actor: Caller) -> AssetVulnsOut:
    """The asset's vulnerable packages, the known-exploited first, each with the version that
    fixes it and every vulnerability's aliases, KEV, EPSS and CVSS figures (null: unknown)."""
    return vulns.for_asset(ctx, actor, asset_id)


@router.get("/orgs/{org_id}/vulnerabilities", response_model=OrgVulnsOut)
def org_vulnerabilities(
    org_id: IdPath,
    ctx: Ctx,
    actor: Caller,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> OrgVulnsOut:
    """The organization's vulnerabilities, most urgent first (known exploited, then EPSS
    percentile, then CVSS, then the most critical asset), each with the assets it is on."""
    return vulns.for_org(ctx, actor, org_id, limit)

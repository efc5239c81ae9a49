"""Findings: the register of risks that persist, and what people do with each one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from forewarn.api.deps import Caller, Ctx, Cursor, IdPath, IdQuery, Limit
from forewarn.api.pages import PageOut, page_out
from forewarn.services import findings
from forewarn.services.findings import (
    AcceptRequest,
    AssignRequest,
    FindingOut,
    FindingSeverity,
    FindingStatus,
    ResolveRequest,
)

router = APIRouter(prefix="/api/v1", tags=["findings"])


@router.get("/findings", response_model=PageOut[FindingOut])
def list_findings(
    ctx: Ctx,
    actor: Caller,
    org_id: IdQuery = None,
    status: Annotated[FindingStatus | None, Query(description="open, resolved or accepted")] = None,
    severity: Annotated[
        list[FindingSeverity] | None, Query(description="one or more; repeat the parameter")
    ] = None,
    rule: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=r"^[a-z0-9_.]+$",
            description="a rule (posture.linux.ssh.root_login) or a family ending in a dot "
            "(posture., vuln., expiry., lifecycle., recurring., network.)",
        ),
    ] = None,
    asset_id: IdQuery = None,
    assignee_id: IdQuery = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[FindingOut]:
    """Findings of the organizations the caller may see, newest first."""
    return page_out(
        findings.list_findings(
            ctx,
            actor,
            org_id=org_id,
            status=status,
            severities=severity or (),
            rule_prefix=rule,
            asset_id=asset_id,
            assignee_id=assignee_id,
            limit=limit,
            cursor=cursor,
        )
    )


@router.post("/findings/{finding_id}/accept", response_model=FindingOut)
def accept_finding(finding_id: IdPath, data: AcceptRequest, ctx: Ctx, actor: Caller) -> FindingOut:
    """Accept the risk with a reason until a day (technicians); it reopens that day."""
    return findings.accept(ctx, actor, finding_id, data)


@router.post("/findings/{finding_id}/unaccept", response_model=FindingOut)
def unaccept_finding(finding_id: IdPath, ctx: Ctx, actor: Caller) -> FindingOut:
    """Take back an acceptance: the finding is open again."""
    return findings.unaccept(ctx, actor, finding_id)


@router.post("/findings/{finding_id}/resolve", response_model=FindingOut)
def resolve_finding(
    finding_id: IdPath, ctx: Ctx, actor: Caller, data: ResolveRequest | None = None
) -> FindingOut:
    """Mark it fixed (technicians); still true at its rule's next run, it opens again."""
    return findings.resolve_by_hand(ctx, actor, finding_id, data or ResolveRequest())


@router.post("/findings/{finding_id}/assign", response_model=FindingOut)
def assign_finding(finding_id: IdPath, data: AssignRequest, ctx: Ctx, actor: Caller) -> FindingOut:
    """Give it to a member of its organization or a provider's owner (technicians); 0: nobody."""
    return findings.assign(ctx, actor, finding_id, data)

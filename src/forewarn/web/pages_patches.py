"""Patches: every client's compliance (/patches), and an organization's machines with their
pending updates, worst first (/orgs/{id}/patches), where a technician approves the pending
security updates (or all) for installation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.domain import health
from forewarn.domain.inventory import Role
from forewarn.services import orgs, patch_approval, patch_policies, patching
from forewarn.web.flash import add_flash
from forewarn.web.forms import attempt, error_text, text
from forewarn.web.render import NAV, NavItem, page, see_other
from forewarn.web.session import PostedForm, SignedIn, WebId, get_ctx

router = APIRouter(include_in_schema=False)

if not any(item.href == "/patches" for item in NAV):
    NAV.append(NavItem("patches", "Patches", "/patches"))


def compliance_state(percent: float | None) -> str:
    """The palette state of a compliance figure: the health score's bands (docs/health.md)."""
    return "unknown" if percent is None else health.band(percent)[0]


@router.get("/orgs/{org_id}/patches")
def patches_page(request: Request, org_id: WebId, user: SignedIn) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    found = patching.org_patches(ctx, actor, org_id)
    return page(
        request,
        "patches/org.html",
        user,
        section="overview",
        org=org,
        tz=org.timezone,
        patches=found,
        compliance_state=compliance_state,
        may_approve=actor.is_owner or actor.can(org_id, Role.TECHNICIAN),
        policies=patch_policies.list_policies(ctx, actor, org_id),
        decisions=patch_policies.decisions(ctx, actor, org_id),
    )


@router.get("/patches")
def overview_page(request: Request, user: SignedIn) -> Response:
    found = patching.overview(get_ctx(request), user.actor)
    return page(
        request,
        "patches/overview.html",
        user,
        section="patches",
        overview=found,
        compliance_state=compliance_state,
    )


@router.post("/orgs/{org_id}/patches/approve")
def approve(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    """Approve the organization's pending security updates (or all of them) for installation:
    one signed job per machine, for exactly the versions it reported pending."""
    ctx = get_ctx(request)
    response = see_other(f"/orgs/{org_id}/patches")
    which = text(form, "which")
    if which not in ("security", "all"):
        add_flash(ctx, response, "Choose security updates or all updates.", "warning")
        return response
    data = patch_approval.ApproveRequest(security_only=which == "security")
    done, errors = attempt(lambda: patch_approval.approve(ctx, user.actor, org_id, data))
    if done is None:
        add_flash(ctx, response, error_text(errors), "warning")
        return response
    n = len({j.asset_id for j in done.jobs})  # a machine with apt and dnf updates gets two
    words = f"Approved: {n} machine{'' if n == 1 else 's'} will install their updates"
    if done.busy:
        words += f"; {len(done.busy)} still busy with the last install"
    if done.skipped:
        words += f"; {len(done.skipped)} without an agent"
    if not n and not done.busy:
        words = "Nothing to approve: no machine has matching updates pending"
    add_flash(ctx, response, words + ".")
    return response

"""Who may see an organization: its members, open invitations, and inviting someone new."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.domain.inventory import Role
from forewarn.services import dashboard, orgs, users
from forewarn.services.context import Context
from forewarn.services.dashboard import MemberRow
from forewarn.services.schemas import InvitationCreate, InvitationOut
from forewarn.services.scope import Actor, require
from forewarn.web.flash import add_flash
from forewarn.web.forms import attempt, text
from forewarn.web.render import page, see_other
from forewarn.web.session import PostedForm, SignedIn, WebId, get_ctx

router = APIRouter(include_in_schema=False)

_HINTS = {"email": "An email address like name@example.com, or nothing."}


def public_base(request: Request) -> str:
    """Where people reach this server: FOREWARN_PUBLIC_URL, else the address asked for.

    Behind a reverse proxy the request's own address may be an internal one that an
    invited person could not open.
    """
    configured = get_ctx(request).settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


@dataclass(frozen=True)
class MembersSection:
    """What the organization page shows about people; empty for those who may not manage them."""

    visible: bool = False
    members: list[MemberRow] = field(default_factory=list)
    pending: list[InvitationOut] = field(default_factory=list)


def members_section(ctx: Context, actor: Actor, org_id: int) -> MembersSection:
    if not actor.can(org_id, Role.ADMIN):
        return MembersSection()
    now = ctx.clock.now()
    pending = [
        i
        for i in users.list_invitations(ctx, actor, org_id)
        if i.accepted_at is None and i.expires_at > now
    ]
    return MembersSection(True, dashboard.members(ctx, actor, org_id), pending)


@router.post("/orgs/{org_id}/invitations/{invitation_id}/revoke")
def revoke(
    request: Request, org_id: WebId, invitation_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    """Withdraw an open invitation, so its link stops working before it expires."""
    ctx = get_ctx(request)
    users.revoke_invitation(ctx, user.actor, invitation_id)
    response = see_other(f"/orgs/{org_id}#members")
    add_flash(ctx, response, "Invitation withdrawn; its link no longer works.", "info")
    return response


@router.post("/orgs/{org_id}/invitations")
def invite(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    """Create an invitation and show its link, this once: only its hash is kept."""
    ctx = get_ctx(request)
    org = orgs.get(ctx, user.actor, org_id)
    require(user.actor, org_id, Role.ADMIN)
    values = {"role": text(form, "role") or Role.VIEWER.value, "email": text(form, "email")}
    created, errors = attempt(
        lambda: users.invite(
            ctx, user.actor, InvitationCreate.model_validate({"org_id": org_id, **values})
        ),
        clash_field="email",
        hints=_HINTS,
    )
    link = f"{public_base(request)}/invite/{created.token}" if created else ""
    return page(
        request,
        "orgs/invited.html",
        user,
        status=200 if created else 422,
        section="overview",
        org=org,
        invitation=created,
        link=link,
        values=values,
        errors=errors,
    )

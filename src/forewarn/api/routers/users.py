from __future__ import annotations

from fastapi import APIRouter

from forewarn.api.deps import (
    Caller,
    Ctx,
    Cursor,
    IdPath,
    IdQuery,
    IdRequired,
    Limit,
    SearchQuery,
)
from forewarn.api.pages import PageOut, page_out
from forewarn.services import users
from forewarn.services.schemas import (
    InvitationAccept,
    InvitationCreate,
    InvitationCreated,
    InvitationOut,
    MembershipCreate,
    MembershipOut,
    MembershipUpdate,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["users"])


@router.get("/users", response_model=PageOut[UserOut])
def list_users(
    ctx: Ctx,
    actor: Caller,
    org_id: IdQuery = None,
    q: SearchQuery = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[UserOut]:
    return page_out(users.list_users(ctx, actor, org_id=org_id, q=q, limit=limit, cursor=cursor))


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserCreate, ctx: Ctx, actor: Caller) -> UserOut:
    return users.create_user(ctx, actor, body)


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(user_id: IdPath, ctx: Ctx, actor: Caller) -> UserOut:
    return users.get_user(ctx, actor, user_id)


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(user_id: IdPath, body: UserUpdate, ctx: Ctx, actor: Caller) -> UserOut:
    return users.update_user(ctx, actor, user_id, body)


@router.delete("/users/{user_id}", status_code=204)
def delete_user(user_id: IdPath, ctx: Ctx, actor: Caller) -> None:
    users.delete_user(ctx, actor, user_id)


@router.get("/memberships", response_model=PageOut[MembershipOut], tags=["memberships"])
def list_memberships(
    ctx: Ctx,
    actor: Caller,
    org_id: IdQuery = None,
    user_id: IdQuery = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[MembershipOut]:
    return page_out(
        users.list_memberships(
            ctx, actor, org_id=org_id, user_id=user_id, limit=limit, cursor=cursor
        )
    )


@router.post("/memberships", response_model=MembershipOut, status_code=201, tags=["memberships"])
def create_membership(body: MembershipCreate, ctx: Ctx, actor: Caller) -> MembershipOut:
    return users.create_membership(ctx, actor, body)


@router.get("/memberships/{membership_id}", response_model=MembershipOut, tags=["memberships"])
def get_membership(membership_id: IdPath, ctx: Ctx, actor: Caller) -> MembershipOut:
    return users.get_membership(ctx, actor, membership_id)


@router.patch("/memberships/{membership_id}", response_model=MembershipOut, tags=["memberships"])
def update_membership(
    membership_id: IdPath, body: MembershipUpdate, ctx: Ctx, actor: Caller
) -> MembershipOut:
    return users.update_membership(ctx, actor, membership_id, body)


@router.delete("/memberships/{membership_id}", status_code=204, tags=["memberships"])
def delete_membership(membership_id: IdPath, ctx: Ctx, actor: Caller) -> None:
    users.delete_membership(ctx, actor, membership_id)


@router.get("/invitations", response_model=list[InvitationOut], tags=["invitations"])
def list_invitations(org_id: IdRequired, ctx: Ctx, actor: Caller) -> list[InvitationOut]:
    return users.list_invitations(ctx, actor, org_id)


@router.post(
    "/invitations", response_model=InvitationCreated, status_code=201, tags=["invitations"]
)
def create_invitation(body: InvitationCreate, ctx: Ctx, actor: Caller) -> InvitationCreated:
    """The answer carries the secret once; the invitee opens /invite/{token} to join."""
    return users.invite(ctx, actor, body)


@router.delete("/invitations/{invitation_id}", status_code=204, tags=["invitations"])
def revoke_invitation(invitation_id: IdPath, ctx: Ctx, actor: Caller) -> None:
    users.revoke_invitation(ctx, actor, invitation_id)


@router.post(
    "/invitations/{token}/accept", response_model=UserOut, status_code=201, tags=["invitations"]
)
def accept_invitation(token: str, body: InvitationAccept, ctx: Ctx) -> UserOut:
    """Public: the invitation's secret is the credential."""
    return users.accept_invitation(ctx, token[:100], body)


@router.get("/tokens", response_model=PageOut[TokenOut], tags=["tokens"])
def list_tokens(
    ctx: Ctx, actor: Caller, user_id: IdQuery = None, limit: Limit = 50, cursor: Cursor = None
) -> PageOut[TokenOut]:
    """The caller's API tokens (an owner sees everyone's; `user_id` narrows to one person)."""
    return page_out(users.list_tokens(ctx, actor, user_id=user_id, limit=limit, cursor=cursor))


@router.post("/tokens", response_model=TokenCreated, status_code=201, tags=["tokens"])
def create_token(body: TokenCreate, ctx: Ctx, actor: Caller) -> TokenCreated:
    """The answer carries the secret once; only a hash of it is kept."""
    return users.create_token(ctx, actor, body)


@router.get("/tokens/{token_id}", response_model=TokenOut, tags=["tokens"])
def get_token(token_id: IdPath, ctx: Ctx, actor: Caller) -> TokenOut:
    return users.get_token(ctx, actor, token_id)


@router.delete("/tokens/{token_id}", status_code=204, tags=["tokens"])
def revoke_token(token_id: IdPath, ctx: Ctx, actor: Caller) -> None:
    users.revoke_token(ctx, actor, token_id)

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials

from forewarn.api.deps import Caller, Ctx, _bearer, client_address
from forewarn.services import auth, users
from forewarn.services.schemas import LoginRequest, TokenAnswer, UserOut

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token", response_model=TokenAnswer, summary="Log in and get a bearer token")
def token(body: LoginRequest, request: Request, ctx: Ctx) -> TokenAnswer:
    """Five failures within a minute for one user or one address lock both out for a while (429)."""
    secret = auth.login(ctx, body.username, body.password, client_address(request))
    expires = ctx.clock.now() + timedelta(hours=ctx.settings.session_hours)
    return TokenAnswer(access_token=secret, expires_at=expires)


@router.get("/me", response_model=UserOut, summary="Who the token belongs to")
def me(ctx: Ctx, actor: Caller) -> UserOut:
    return users.get_user(ctx, actor, actor.user_id)


@router.post("/logout", status_code=204, summary="Revoke the token this request carries")
def logout(
    ctx: Ctx, actor: Caller, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> None:
    if creds is not None:
        auth.logout(ctx, creds.credentials)

"""What routes receive: the service context and the calling actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from forewarn.services import auth
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError, unauthorized
from forewarn.services.pagination import MAX_LIMIT
from forewarn.services.schemas import MAX_ID
from forewarn.services.scope import Actor

_bearer = HTTPBearer(auto_error=False, description="a token from POST /api/v1/auth/token")


async def get_ctx(request: Request) -> Context:
    # async on purpose: a plain def dependency is run in the thread pool, a thread hop per
    # request that costs more than everything this does.
    ctx: Context = request.app.state.ctx
    return ctx


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def get_actor(
    request: Request,
    ctx: Annotated[Context, Depends(get_ctx)],
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if creds is None:
        raise unauthorized()
    return auth.resolve(ctx, creds.credentials, client_address(request))


Ctx = Annotated[Context, Depends(get_ctx)]
Caller = Annotated[Actor, Depends(get_actor)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="next_cursor of the previous page")
]
IdPath = Annotated[int, Path(gt=0, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(gt=0, le=MAX_ID)]
IdRequired = Annotated[int, Query(gt=0, le=MAX_ID)]
SearchQuery = Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")]


YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/plain")


async def yaml_body(request: Request) -> bytes:
    """The raw body of a route that takes a YAML document (a posture policy, questionnaire
    answers), refused unless it is declared as YAML or plain text."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in YAML_TYPES:
        raise ServiceError(
            f"send the body as YAML (Content-Type: application/yaml), not {media_type or 'none'!r}",
            status=415,
            title="Unsupported media type",
        )
    return await request.body()

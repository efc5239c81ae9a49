"""Status pages: the organization's settings and notes, and the public read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from forewarn.api.deps import Caller, Ctx, IdPath
from forewarn.services import status_pages
from forewarn.services.schemas import (
    PublicStatus,
    StatusNoteCreate,
    StatusNoteOut,
    StatusNoteUpdate,
    StatusPageOut,
    StatusPageUpdate,
)

router = APIRouter(prefix="/api/v1/orgs/{org_id}/status-page", tags=["status pages"])
public = APIRouter(prefix="/api/v1/public", tags=["status pages"])

Slug = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{8,64}$")]


@router.get("", response_model=StatusPageOut)
def get_status_page(org_id: IdPath, ctx: Ctx, actor: Caller) -> StatusPageOut:
    """The organization's status page settings and notes (made, unpublished, on first use)."""
    return status_pages.get(ctx, actor, org_id)


@router.patch("", response_model=StatusPageOut)
def update_status_page(
    org_id: IdPath, body: StatusPageUpdate, ctx: Ctx, actor: Caller
) -> StatusPageOut:
    """Choose the checks shown (with public labels), the title, and publish or withdraw it."""
    return status_pages.update(ctx, actor, org_id, body)


@router.post("/notes", response_model=StatusNoteOut, status_code=201)
def add_status_note(
    org_id: IdPath, body: StatusNoteCreate, ctx: Ctx, actor: Caller
) -> StatusNoteOut:
    return status_pages.add_note(ctx, actor, org_id, body)


@router.patch("/notes/{note_id}", response_model=StatusNoteOut)
def update_status_note(
    org_id: IdPath, note_id: IdPath, body: StatusNoteUpdate, ctx: Ctx, actor: Caller
) -> StatusNoteOut:
    return status_pages.update_note(ctx, actor, org_id, note_id, body)


@public.get("/status/{slug}", response_model=PublicStatus)
def public_status(slug: Slug, ctx: Ctx) -> PublicStatus:
    """A published status page (no login: the link is public by the organization's choice)."""
    return status_pages.public(ctx, slug)

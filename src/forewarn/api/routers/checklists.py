"""Checklists started as tickets: the templates, starting one for an organization, ticking
its steps (docs/checklists.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from forewarn.api.deps import Caller, Ctx, IdPath
from forewarn.api.routers.posture import YAML_TYPES, yaml_body
from forewarn.services import checklists
from forewarn.services.checklists import ChecklistStart, StepTick, TemplateOut
from forewarn.services.tickets import TicketDetail

router = APIRouter(prefix="/api/v1")

TemplateId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[a-z0-9-]+$")]
StepNo = Annotated[int, Path(ge=1, le=1000, description="the step's position, from 1")]


@router.get("/orgs/{org_id}/checklists", response_model=list[TemplateOut], tags=["checklists"])
def list_templates(org_id: IdPath, ctx: Ctx, actor: Caller) -> list[TemplateOut]:
    """The checklist templates: their parameters, steps and CIS safeguard ids; `clients`
    says whether the organization's own staff may start one."""
    return checklists.templates(ctx, actor, org_id)


@router.post(
    "/orgs/{org_id}/checklists/{template}/start",
    response_model=TicketDetail,
    status_code=201,
    tags=["checklists"],
)
def start_checklist(
    org_id: IdPath, template: TemplateId, body: ChecklistStart, ctx: Ctx, actor: Caller
) -> TicketDetail:
    """One ticket "Onboard: <name>" with the template's steps to tick. 404 for an unknown
    template; 422 naming each missing or invalid parameter, and nothing is created."""
    return checklists.start(ctx, actor, org_id, template, body)


@router.put("/tickets/{ticket_id}/steps/{step}", response_model=TicketDetail, tags=["checklists"])
def tick_step(
    ticket_id: IdPath, step: StepNo, body: StepTick, ctx: Ctx, actor: Caller
) -> TicketDetail:
    """Mark a step of the ticket's checklist done (or not): technicians; recorded in the
    ticket's timeline."""
    return checklists.tick(ctx, actor, ticket_id, step, body)


_TEMPLATES_YAML: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the organization's own checklist templates, YAML (docs/checklists.md)",
        "content": {t: {"schema": {"type": "string"}} for t in YAML_TYPES},
    }
}


@router.post(
    "/orgs/{org_id}/checklists/import",
    response_model=list[TemplateOut],
    openapi_extra=_TEMPLATES_YAML,
    tags=["checklists"],
    responses={
        415: {"description": "the body is not declared as YAML"},
        422: {"description": "`errors` names each problem; nothing is stored"},
    },
)
def import_templates(
    org_id: IdPath, ctx: Ctx, actor: Caller, body: Annotated[bytes, Depends(yaml_body)]
) -> list[TemplateOut]:
    """Replace the organization's own templates with a YAML file (technicians): refused whole,
    each problem named, when anything in it is wrong or an id is a provider-wide template's."""
    return checklists.import_templates(ctx, actor, org_id, body)

"""Tickets: report, list, work (status, priority, assignee), comment, open from an alert; and
an organization's service figures for a month."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from forewarn.api.deps import Caller, Ctx, Cursor, IdPath, IdQuery, Limit
from forewarn.api.pages import PageOut, page_out
from forewarn.services import tickets
from forewarn.services.tickets import (
    AlertLink,
    CommentCreate,
    ServiceReport,
    TicketCreate,
    TicketDetail,
    TicketOut,
    TicketUpdate,
)

router = APIRouter(prefix="/api/v1")

TicketState = Literal["new", "open", "waiting", "resolved", "closed", "active"]


@router.get("/tickets", response_model=PageOut[TicketOut], tags=["tickets"])
def list_tickets(
    ctx: Ctx,
    actor: Caller,
    org_id: IdQuery = None,
    status: Annotated[TicketState | None, Query(description="active: not resolved or closed")] = (
        None
    ),
    assignee_id: IdQuery = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[TicketOut]:
    """Newest first, each with its SLA timers (due, breached, at risk)."""
    return page_out(
        tickets.list_(
            ctx,
            actor,
            org_id=org_id,
            status=status,
            assignee_id=assignee_id,
            limit=limit,
            cursor=cursor,
        )
    )


@router.post("/tickets", response_model=TicketDetail, status_code=201, tags=["tickets"])
def create_ticket(body: TicketCreate, ctx: Ctx, actor: Caller) -> TicketDetail:
    """Report a problem (a client's own staff may, as viewers of their organization)."""
    return tickets.create(ctx, actor, body)


@router.get("/tickets/{ticket_id}", response_model=TicketDetail, tags=["tickets"])
def get_ticket(ticket_id: IdPath, ctx: Ctx, actor: Caller) -> TicketDetail:
    return tickets.get(ctx, actor, ticket_id)


@router.patch("/tickets/{ticket_id}", response_model=TicketDetail, tags=["tickets"])
def update_ticket(ticket_id: IdPath, body: TicketUpdate, ctx: Ctx, actor: Caller) -> TicketDetail:
    """Status (new, open, waiting, resolved, closed; 422 for a move not allowed), priority,
    assignee (0: nobody), title. Technicians and above."""
    return tickets.update(ctx, actor, ticket_id, body)


@router.post(
    "/tickets/{ticket_id}/comments", response_model=TicketDetail, status_code=201, tags=["tickets"]
)
def comment_ticket(ticket_id: IdPath, body: CommentCreate, ctx: Ctx, actor: Caller) -> TicketDetail:
    return tickets.comment(ctx, actor, ticket_id, body)


@router.post("/tickets/{ticket_id}/alerts", response_model=TicketDetail, tags=["tickets"])
def link_alert(ticket_id: IdPath, body: AlertLink, ctx: Ctx, actor: Caller) -> TicketDetail:
    """Link an alert of the same organization to the ticket (technicians)."""
    return tickets.link_alert(ctx, actor, ticket_id, body)


@router.post(
    "/alerts/{alert_id}/ticket", response_model=TicketDetail, status_code=201, tags=["tickets"]
)
def ticket_from_alert(alert_id: IdPath, ctx: Ctx, actor: Caller) -> TicketDetail:
    """Open a ticket for the alert (or answer the one it has)."""
    return tickets.from_alert(ctx, actor, alert_id)


@router.get("/orgs/{org_id}/service-report", response_model=ServiceReport, tags=["tickets"])
def service_report(
    org_id: IdPath,
    ctx: Ctx,
    actor: Caller,
    month: Annotated[
        str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM (the organization's time zone)")
    ],
) -> ServiceReport:
    """The month's alerts and tickets: time to acknowledge and resolve, and the share of
    problems the platform raised before anyone reported them."""
    return tickets.service_report(ctx, actor, org_id, month)

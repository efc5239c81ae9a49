"""Tickets on the pages: the lists (every organization's, one's with its "Report a problem"
form and its "Start a checklist" forms), a ticket's page with its SLA timers, checklist,
timeline, comments and the technicians' work form, a ticket opened from an alert's page, and
an organization's month in figures.

A client's own staff (viewers) report, read and comment on their organization's tickets;
technicians and above change status, priority and assignee.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from forewarn.domain.inventory import Role
from forewarn.services import alerts, checklists, orgs, tickets
from forewarn.services.schemas import OrgOut
from forewarn.services.scope import require
from forewarn.services.tickets import CommentCreate, TicketCreate, TicketDetail, TicketUpdate
from forewarn.web import alert_views, checklist_form, ticket_form, ticket_views
from forewarn.web.flash import add_flash
from forewarn.web.forms import FORM_WIDE, FieldErrors, attempt, error_text, from_validation, text
from forewarn.web.render import NAV, NavItem, fragment, page, see_other, wants_fragment
from forewarn.web.session import PostedForm, SignedIn, WebId, WebUser, get_ctx

router = APIRouter(include_in_schema=False)

if not any(item.href == "/tickets" for item in NAV):
    NAV.append(NavItem("tickets", "Tickets", "/tickets"))

LIST_TARGET = "ticket-list"


# ---- the lists ---------------------------------------------------------------------------------


def _list(
    request: Request,
    user: WebUser,
    org: OrgOut | None,
    *,
    report_values: dict[str, str] | None = None,
    report_errors: FieldErrors | None = None,
    checklist: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    """Newest first; ?status=active|new|open|waiting|resolved|closed|all (active by default)."""
    ctx, actor = get_ctx(request), user.actor
    params = request.query_params
    current = ticket_views.read_status(params.get("status"))
    cursor = params.get("cursor", "").strip()[:200] or None
    org_id = org.id if org else None
    found, cursor = ticket_views.page_of(ctx, actor, org_id, current, cursor)
    known = {org.id: org} if org else alert_views.visible_orgs(ctx, actor)
    data: dict[str, Any] = {
        "org": org,
        "tickets": found.items,
        "orgs_by_id": known,
        "assignees": ticket_views.assignee_names(ctx, actor, found.items),
        "progress": checklists.progress(ctx, actor, [t.id for t in found.items]),
        "current": current,
        "self_url": ticket_views.list_url(org_id, current, cursor),
        "older_url": (
            ticket_views.list_url(org_id, current, found.next_cursor) if found.next_cursor else None
        ),
        "newest_url": ticket_views.list_url(org_id, current) if cursor else None,
        **ticket_views.helpers(),
    }
    if wants_fragment(request, LIST_TARGET):
        return fragment(request, "tickets/_list.html", user, **data)
    return page(
        request,
        "tickets/list.html",
        user,
        status=status,
        section="overview" if org else "tickets",
        values=report_values or ticket_form.blank_report(),
        errors=report_errors or {},
        hints=ticket_form.HINTS,
        **(checklist or (checklist_form.section(ctx, actor, org.id) if org else {})),
        **data,
    )


@router.get("/tickets")
def list_all(request: Request, user: SignedIn) -> Response:
    """Every organization's tickets the person may see."""
    return _list(request, user, None)


@router.get("/orgs/{org_id}/tickets")
def list_org(request: Request, org_id: WebId, user: SignedIn) -> Response:
    org = orgs.get(get_ctx(request), user.actor, org_id)
    return _list(request, user, org)


@router.post("/orgs/{org_id}/tickets")
def report(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    """Report a problem: anyone who sees the organization, its own staff included."""
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    values = ticket_form.report_values(form)
    created = None
    try:
        data = TicketCreate.model_validate(ticket_form.report_input(org_id, values))
    except ValidationError as exc:
        errors = from_validation(exc)
    else:
        created, errors = attempt(lambda: tickets.create(ctx, actor, data))
    if created is None:
        return _list(
            request,
            user,
            org,
            report_values=values,
            report_errors=ticket_form.place_report(errors),
            status=422,
        )
    response = see_other(f"/tickets/{created.id}")
    add_flash(ctx, response, f"Ticket #{created.id} reported: {org.name}'s technicians see it now.")
    return response


# ---- one ticket --------------------------------------------------------------------------------


def _detail_page(
    request: Request,
    user: WebUser,
    ticket: TicketDetail,
    *,
    values: dict[str, str] | None = None,
    errors: FieldErrors | None = None,
    status: int = 200,
) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, ticket.org_id)
    known = dict(ticket_views.people_of(ctx, actor, org.id))
    assignee = None
    if ticket.assignee_id is not None:
        assignee = known.get(ticket.assignee_id) or ticket_views.assignee_from_timeline(ticket)
    people = [("0", "Nobody")] + [(str(uid), name) for uid, name in known.items()]
    if ticket.assignee_id is not None and ticket.assignee_id not in known:
        people.append((str(ticket.assignee_id), assignee or f"user {ticket.assignee_id}"))
    return page(
        request,
        "tickets/show.html",
        user,
        status=status,
        section="tickets",
        org=org,
        tz=org.timezone,
        ticket=ticket,
        assignee=assignee,
        # Newest first, as every other timeline on the pages.
        events=list(reversed(ticket.events)),
        values={**ticket_form.current_values(ticket), **(values or {})},
        errors=errors or {},
        status_options=ticket_views.moves(ticket.status),
        people=people,
        # The organization's open alerts not linked yet (technicians link).
        link_alerts=(
            ticket_views.alert_choices(tickets.alerts_for_ticket(ctx, actor, ticket.id))
            if actor.can(org.id, Role.TECHNICIAN) and ticket.status != "closed"
            else []
        ),
        **ticket_views.helpers(),
    )


@router.get("/tickets/{ticket_id}")
def show(request: Request, ticket_id: WebId, user: SignedIn) -> Response:
    return _detail_page(request, user, tickets.get(get_ctx(request), user.actor, ticket_id))


def _refused(
    request: Request, user: WebUser, ticket_id: int, values: dict[str, str], errors: FieldErrors
) -> Response:
    detail = tickets.get(get_ctx(request), user.actor, ticket_id)
    return _detail_page(request, user, detail, values=values, errors=errors, status=422)


@router.post("/tickets/{ticket_id}/comments")
def add_comment(request: Request, ticket_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    """Anyone who sees the ticket may comment, until it is closed."""
    ctx, actor = get_ctx(request), user.actor
    ticket = tickets.get(ctx, actor, ticket_id)
    values = ticket_form.comment_values(form)
    done, errors = attempt(
        lambda: tickets.comment(ctx, actor, ticket_id, CommentCreate.model_validate(values))
    )
    if done is None:
        # A closed ticket has no comment form: its refusal is said at the top of the page.
        if ticket.status != "closed":
            errors = ticket_form.place_comment(errors)
        return _refused(request, user, ticket_id, values, errors)
    response = see_other(f"/tickets/{ticket_id}#timeline")
    add_flash(ctx, response, "Comment added.")
    return response


def _changes(before: TicketDetail, after: TicketDetail, assignee: str | None) -> str:
    said = []
    if after.status != before.status:
        said.append(f"now {after.status}")
    if after.priority != before.priority:
        said.append(f"{after.priority} priority")
    if after.assignee_id != before.assignee_id:
        said.append(f"assigned to {assignee}" if assignee else "assigned to nobody")
    return "Saved: " + ", ".join(said) + "." if said else "Nothing changed."


@router.post("/tickets/{ticket_id}/work")
def work(request: Request, ticket_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    """Status, priority and assignee: technicians and above."""
    ctx, actor = get_ctx(request), user.actor
    before = tickets.get(ctx, actor, ticket_id)
    require(actor, before.org_id, Role.TECHNICIAN, "ticket")
    values = ticket_form.work_values(form)
    data, errors = ticket_form.work_input(values)
    done = None
    if not errors:
        done, errors = attempt(
            lambda: tickets.update(ctx, actor, ticket_id, TicketUpdate.model_validate(data))
        )
    if done is None:
        return _refused(request, user, ticket_id, values, ticket_form.place_work(errors))
    response = see_other(f"/tickets/{ticket_id}")
    add_flash(ctx, response, _changes(before, done, ticket_views.assignee_from_timeline(done)))
    return response


# ---- from an alert -------------------------------------------------------------------------------


@router.post("/alerts/{alert_id}/ticket")
def from_alert(request: Request, alert_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    """Open a ticket for an alert (technicians), or go to the one it has."""
    ctx, actor = get_ctx(request), user.actor
    alert = alerts.get(ctx, actor, alert_id)
    require(actor, alert.org_id, Role.TECHNICIAN, "alert")
    known = ticket_views.ticket_of(ctx, actor, alert.id)
    if known is not None:
        response = see_other(f"/tickets/{known}")
        add_flash(ctx, response, f"Alert {alert_id} already had ticket #{known}.", "info")
        return response
    ticket = tickets.from_alert(ctx, actor, alert_id)
    response = see_other(f"/tickets/{ticket.id}")
    add_flash(ctx, response, f"Opened ticket #{ticket.id} from alert {alert_id}.")
    return response


# ---- the month in figures ------------------------------------------------------------------------


@router.get("/orgs/{org_id}/report")
def service_report(request: Request, org_id: WebId, user: SignedIn) -> Response:
    """?month=YYYY-MM, the current month of the organization's clock by default."""
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    today = ticket_views.this_month(ctx.clock.now(), org.timezone)
    month = ticket_views.read_month(request.query_params.get("month"), today)
    figures = tickets.service_report(ctx, actor, org_id, month)
    later = ticket_views.shift_month(month, 1)
    return page(
        request,
        "tickets/report.html",
        user,
        section="overview",
        org=org,
        report=figures,
        month_name=ticket_views.month_name(month),
        previous_url=f"/orgs/{org_id}/report?month={ticket_views.shift_month(month, -1)}",
        # No month to come: nothing has happened in it yet.
        next_url=f"/orgs/{org_id}/report?month={later}" if later <= today else None,
        duration=ticket_views.duration_text,
        percent=ticket_views.percent,
    )


# ---- checklists ----------------------------------------------------------------------------------


@router.post("/orgs/{org_id}/checklists/{template}/start")
def start_checklist(
    request: Request, org_id: WebId, template: str, user: SignedIn, form: PostedForm
) -> Response:
    """Start a checklist as one ticket: technicians any, the organization's own staff a new
    hire or a leaver (services.checklists says who may)."""
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    chosen = checklists.choose(ctx, actor, org_id, template[:40])
    values = checklist_form.start_values(form, chosen)
    data = checklist_form.start_input(chosen, values)
    started, errors = attempt(
        lambda: checklists.start(
            ctx, actor, org_id, chosen.id, checklists.ChecklistStart.model_validate(data)
        )
    )
    if started is None:
        section = checklist_form.section(
            ctx,
            actor,
            org_id,
            failed=chosen.id,
            values=values,
            errors=checklist_form.place_start(chosen, errors),
        )
        return _list(request, user, org, checklist=section, status=422)
    response = see_other(f"/tickets/{started.id}")
    add_flash(ctx, response, f"Ticket #{started.id} started: {started.title}.")
    return response


@router.post("/tickets/{ticket_id}/steps/{step}")
def tick_step(
    request: Request, ticket_id: WebId, step: WebId, user: SignedIn, form: PostedForm
) -> Response:
    """Tick a step done (done=1) or not done (done=0): technicians."""
    ctx, actor = get_ctx(request), user.actor
    ticket = tickets.get(ctx, actor, ticket_id)
    require(actor, ticket.org_id, Role.TECHNICIAN, "ticket")
    done = checklist_form.tick_done(form)
    if done is None:
        errors: FieldErrors = {FORM_WIDE: ["Choose done or not done."]}
        return _refused(request, user, ticket_id, {}, errors)
    after, errors = attempt(
        lambda: checklists.tick(ctx, actor, ticket_id, step, checklists.StepTick(done=done))
    )
    if after is None or after.checklist is None:
        return _refused(request, user, ticket_id, {}, errors)
    progress = f"{after.checklist.done} of {after.checklist.total} done"
    response = see_other(f"/tickets/{ticket_id}#checklist")
    add_flash(ctx, response, f"Step {step} {'done' if done else 'not done'}: {progress}.")
    return response


@router.post("/orgs/{org_id}/checklists/import")
def import_checklists(
    request: Request, org_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    """Replace the organization's own templates with the YAML typed (technicians)."""
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.TECHNICIAN)
    body = checklist_form.import_values(form)
    done, errors = attempt(lambda: checklists.import_templates(ctx, actor, org_id, body))
    if done is None:
        section = checklist_form.section(
            ctx,
            actor,
            org_id,
            failed="import",
            errors=checklist_form.place_import(errors),
            own=body,
        )
        return _list(request, user, org, checklist=section, status=422)
    response = see_other(f"/orgs/{org_id}/tickets#checklists")
    names = ", ".join(t.title for t in done)
    add_flash(ctx, response, f"Saved {org.name}'s own templates: {names}.")
    return response


# ---- linking alerts and tickets ------------------------------------------------------------------


@router.post("/tickets/{ticket_id}/alerts")
def link_alert(request: Request, ticket_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    """Link one of the organization's open alerts to this ticket (technicians)."""
    ctx, actor = get_ctx(request), user.actor
    ticket = tickets.get(ctx, actor, ticket_id)
    require(actor, ticket.org_id, Role.TECHNICIAN, "ticket")
    values = {"alert_id": text(form, "alert_id")[:20]}
    alert_id = alert_views.read_id(values["alert_id"])
    if alert_id is None:
        errors: FieldErrors = {"alert_id": ["Choose an alert from the list."]}
        return _refused(request, user, ticket_id, values, errors)
    done, errors = attempt(
        lambda: tickets.link_alert(ctx, actor, ticket_id, tickets.AlertLink(alert_id=alert_id))
    )
    if done is None:
        return _refused(request, user, ticket_id, values, {"alert_id": [error_text(errors)]})
    response = see_other(f"/tickets/{ticket_id}#timeline")
    add_flash(ctx, response, f"Linked alert {alert_id} to ticket #{ticket_id}.")
    return response

"""The alert inbox: what woke someone, who took it and until when; acknowledging and resolving,
one alert at a time or a page's ticked rows at once."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.domain import alerting
from forewarn.domain.inventory import Role
from forewarn.services import alerts, notify, orgs, silences, tickets
from forewarn.services.alerts import AckRequest, AlertDetail, AlertOut, ResolveRequest
from forewarn.services.errors import forbidden
from forewarn.services.schemas import OrgOut
from forewarn.services.scope import require
from forewarn.services.silences import SilenceFromAlert
from forewarn.services.tickets import AlertLink
from forewarn.web import alert_views, ticket_views
from forewarn.web.flash import add_flash
from forewarn.web.forms import FieldErrors, attempt, error_text, text, texts
from forewarn.web.render import NAV, NavItem, fragment, page, see_other, wants_fragment
from forewarn.web.session import PostedForm, SignedIn, WebId, WebUser, get_ctx, safe_next

router = APIRouter(include_in_schema=False)

if not any(item.href == "/alerts" for item in NAV):
    NAV.append(NavItem("alerts", "Alerts", "/alerts"))

LIST_TARGET = "alert-list"


# ---- the inbox ---------------------------------------------------------------------------------


def _inbox(request: Request, user: WebUser, org: OrgOut | None) -> Response:
    """Newest first; ?state=active|open|acknowledged|resolved|all (active by default),
    ?severity=, ?kind=, ?site_id=, ?asset_id=, ?q= (words), ?cursor=."""
    ctx, actor = get_ctx(request), user.actor
    params = request.query_params
    query = alert_views.read_query(params)
    cursor = params.get("cursor", "").strip()[:200] or None
    org_id = org.id if org else None
    found, cursor = alert_views.page_of(ctx, actor, org_id, query, cursor)
    known = {org.id: org} if org else alert_views.visible_orgs(ctx, actor)
    items = found.items
    data: dict[str, Any] = {
        "org": org,
        "alerts": items,
        "orgs_by_id": known,
        "current": query.state,
        "query": query,
        "self_url": alert_views.inbox_url(org_id, query, cursor),
        "older_url": (
            alert_views.inbox_url(org_id, query, found.next_cursor) if found.next_cursor else None
        ),
        "newest_url": alert_views.inbox_url(org_id, query) if cursor else None,
        "clear_url": alert_views.inbox_url(org_id, alert_views.InboxQuery(state=query.state)),
        # Rows this person may act on get a checkbox; no such row, no buttons.
        "actionable": {a.id for a in items if actor.can(a.org_id, Role.TECHNICIAN)},
        "may_act": (
            actor.can(org.id, Role.TECHNICIAN)
            if org
            else actor.is_owner or any(actor.can(o, Role.TECHNICIAN) for o in actor.roles)
        ),
        **alert_views.helpers(),
    }
    if wants_fragment(request, LIST_TARGET):
        return fragment(request, "alerts/_list.html", user, **data)
    return page(
        request,
        "alerts/inbox.html",
        user,
        section="overview" if org else "alerts",
        # One organization's sites and assets to choose from, by name.
        place_options=alert_views.place_options(ctx, actor, org.id) if org else {},
        **data,
    )


@router.get("/alerts")
def inbox(request: Request, user: SignedIn) -> Response:
    """Every organization's alerts the person may see."""
    return _inbox(request, user, None)


@router.get("/orgs/{org_id}/alerts")
def org_inbox(request: Request, org_id: WebId, user: SignedIn) -> Response:
    org = orgs.get(get_ctx(request), user.actor, org_id)
    return _inbox(request, user, org)


@router.get("/orgs/{org_id}/alerts/count")
def alert_count(request: Request, org_id: WebId, user: SignedIn) -> Response:
    """The organization page's alerts button, with how many are active."""
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    count, more, worst = alert_views.active_count(ctx, actor, org_id)
    return fragment(
        request, "alerts/_count.html", user, org=org, count=count, more=more, worst=worst
    )


def _plural(n: int) -> str:
    return f"{n} alert" if n == 1 else f"{n} alerts"


@router.post("/alerts/bulk")
def bulk(request: Request, user: SignedIn, form: PostedForm) -> Response:
    """Acknowledge or resolve the ticked alerts, then back to the list they were ticked on.

    Every alert is looked up and its role checked before any is changed: one that may not be
    touched refuses the whole request, so a half-done batch never happens on a refusal.
    """
    ctx, actor = get_ctx(request), user.actor
    back = safe_next(text(form, "next"))
    if not back.startswith(("/alerts", "/orgs/")):
        back = "/alerts"
    response = see_other(back)
    ids = alert_views.read_ids(texts(form, "ids"))[: alert_views.BULK_LIMIT]
    if not ids:
        if not actor.is_owner and not any(actor.can(o, Role.TECHNICIAN) for o in actor.roles):
            raise forbidden("this needs the technician role in the organization")
        add_flash(ctx, response, "Tick at least one alert first.", "warning")
        return response
    chosen = [alerts.get(ctx, actor, alert_id) for alert_id in ids]
    for a in chosen:
        require(actor, a.org_id, Role.TECHNICIAN, "alert")
    action = text(form, "action")
    if action == "acknowledge":
        valid, until = alert_views.ack_until(text(form, "for"), ctx.clock.now())
        if not valid:
            add_flash(ctx, response, "Choose how long the acknowledgement lasts.", "warning")
            return response
        todo = [a for a in chosen if a.state != "resolved"]
        for a in todo:
            alerts.acknowledge(ctx, actor, a.id, AckRequest(until=until))
        how = "until resolved" if until is None else dict(alert_views.ACK_FOR)[text(form, "for")]
        message = f"Acknowledged {_plural(len(todo))} {how}."
    elif action == "resolve":
        todo = [a for a in chosen if a.state != "resolved"]
        for a in todo:
            alerts.resolve(ctx, actor, a.id, ResolveRequest())
        message = f"Resolved {_plural(len(todo))}."
    elif action == "silence":
        minutes = dict(alert_views.SILENCE_FOR).get(text(form, "silence_for"))
        if minutes is None:
            add_flash(ctx, response, "Choose how long the silence lasts.", "warning")
            return response
        todo = [a for a in chosen if a.state != "resolved"]
        for a in todo:
            silences.silence_alert(
                ctx, actor, a.id, SilenceFromAlert(duration_min=int(text(form, "silence_for")))
            )
        message = f"Silenced {_plural(len(todo))} {minutes}: no messages until then."
    else:
        add_flash(ctx, response, "Choose Acknowledge or Resolve.", "warning")
        return response
    skipped = len(chosen) - len(todo)
    if skipped:
        message += f" {_plural(skipped)} {'was' if skipped == 1 else 'were'} already resolved."
    add_flash(ctx, response, message, "ok" if todo else "info")
    return response


# ---- one alert -----------------------------------------------------------------------------------


def _detail_page(
    request: Request,
    user: WebUser,
    alert: AlertDetail,
    *,
    values: dict[str, str] | None = None,
    errors: FieldErrors | None = None,
    status: int = 200,
) -> Response:
    ctx = get_ctx(request)
    org = orgs.get(ctx, user.actor, alert.org_id)
    tech = user.actor.can(alert.org_id, Role.TECHNICIAN)
    return page(
        request,
        "alerts/show.html",
        user,
        status=status,
        section="alerts",
        org=org,
        tz=org.timezone,
        alert=alert,
        # Its ticket, if it has one: a link for everyone, else a button for technicians.
        ticket_id=ticket_views.ticket_of(ctx, user.actor, alert.id),
        # A ticket's deadline alert is about that ticket: no ticket of its own.
        about_ticket=(
            alert.labels.get("ticket", "") if alerting.about_a_ticket(alert.labels) else ""
        ),
        # What was sent about it, newest first (the delivery log of this alert).
        messages=notify.list_deliveries(ctx, user.actor, alert_id=alert.id, limit=50).items,
        message_channels={
            c.id: c.name for c in notify.list_channels(ctx, user.actor, alert.org_id)
        },
        # Newest first, as every other timeline on the pages.
        events=list(reversed(alert.events)),
        # The organization's open tickets it could be added to (technicians link).
        link_tickets=(
            [("", "Choose a ticket")]
            + [
                (str(t.id), f"#{t.id} {t.title} ({t.status})")
                for t in tickets.tickets_for_alert(ctx, user.actor, alert.id)
            ]
            if tech
            else []
        ),
        values=values or {"for": "", "ack_comment": "", "resolve_comment": "", "ticket_id": ""},
        errors=errors or {},
        **alert_views.helpers(),
    )


@router.get("/alerts/{alert_id}")
def show(request: Request, alert_id: WebId, user: SignedIn) -> Response:
    return _detail_page(request, user, alerts.get(get_ctx(request), user.actor, alert_id))


def _refused(
    request: Request, user: WebUser, alert: AlertOut, values: dict[str, str], errors: FieldErrors
) -> Response:
    detail = alerts.get(get_ctx(request), user.actor, alert.id)
    return _detail_page(request, user, detail, values=values, errors=errors, status=422)


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(request: Request, alert_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx, actor = get_ctx(request), user.actor
    alert = alerts.get(ctx, actor, alert_id)
    require(actor, alert.org_id, Role.TECHNICIAN, "alert")
    values = {
        "for": text(form, "for"),
        "ack_comment": text(form, "ack_comment")[:5000],
        "resolve_comment": "",
    }
    valid, until = alert_views.ack_until(values["for"], ctx.clock.now())
    if not valid:
        return _refused(
            request, user, alert, values, {"for": ["Choose one of the listed options."]}
        )
    done, errors = attempt(
        lambda: alerts.acknowledge(
            ctx,
            actor,
            alert_id,
            AckRequest.model_validate({"until": until, "comment": values["ack_comment"]}),
        )
    )
    if done is None:
        errors = {("ack_comment" if k == "comment" else k): v for k, v in errors.items()}
        return _refused(request, user, alert, values, errors)
    response = see_other(f"/alerts/{alert_id}")
    how = "until it is resolved" if until is None else dict(alert_views.ACK_FOR)[values["for"]]
    add_flash(ctx, response, f"Acknowledged {how}: escalation and repeats stop.")
    return response


@router.post("/alerts/{alert_id}/silence")
def silence(request: Request, alert_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    """Silence what the alert is about (its check) for the length of a job."""
    ctx, actor = get_ctx(request), user.actor
    alert = alerts.get(ctx, actor, alert_id)
    require(actor, alert.org_id, Role.TECHNICIAN, "alert")
    choice = text(form, "silence_for")
    label = dict(alert_views.SILENCE_FOR).get(choice)
    response = see_other(f"/alerts/{alert_id}")
    if label is None:
        add_flash(ctx, response, "Choose how long the silence lasts.", "warning")
        return response
    made = silences.silence_alert(ctx, actor, alert_id, SilenceFromAlert(duration_min=int(choice)))
    add_flash(
        ctx,
        response,
        f"Silenced {label}: no messages about {', '.join(made.matchers)} until then; if it is "
        "still a problem afterwards, it is told.",
    )
    return response


@router.post("/alerts/{alert_id}/resolve")
def resolve(request: Request, alert_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx, actor = get_ctx(request), user.actor
    alert = alerts.get(ctx, actor, alert_id)
    require(actor, alert.org_id, Role.TECHNICIAN, "alert")
    values = {
        "for": "",
        "ack_comment": "",
        "resolve_comment": text(form, "resolve_comment")[:5000],
    }
    if alert.state == "resolved":
        response = see_other(f"/alerts/{alert_id}")
        add_flash(ctx, response, "This alert was resolved already.", "info")
        return response
    done, errors = attempt(
        lambda: alerts.resolve(
            ctx,
            actor,
            alert_id,
            ResolveRequest.model_validate({"comment": values["resolve_comment"]}),
        )
    )
    if done is None:
        errors = {("resolve_comment" if k == "comment" else k): v for k, v in errors.items()}
        return _refused(request, user, alert, values, errors)
    response = see_other(f"/alerts/{alert_id}")
    add_flash(ctx, response, "Resolved. If the check still fails, a new alert opens.")
    return response


@router.post("/alerts/{alert_id}/tickets")
def add_to_ticket(request: Request, alert_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    """Add this alert to one of the organization's open tickets (technicians); the ticket's
    timeline shows the link."""
    ctx, actor = get_ctx(request), user.actor
    alert = alerts.get(ctx, actor, alert_id)
    require(actor, alert.org_id, Role.TECHNICIAN, "alert")
    values = {"for": "", "ack_comment": "", "resolve_comment": "", "ticket_id": ""}
    values["ticket_id"] = text(form, "ticket_id")[:20]
    ticket_id = alert_views.read_id(values["ticket_id"])
    if ticket_id is None:
        return _refused(
            request, user, alert, values, {"ticket_id": ["Choose a ticket from the list."]}
        )
    done, errors = attempt(
        lambda: tickets.link_alert(ctx, actor, ticket_id, AlertLink(alert_id=alert_id))
    )
    if done is None:
        return _refused(request, user, alert, values, {"ticket_id": [error_text(errors)]})
    response = see_other(f"/alerts/{alert_id}")
    add_flash(ctx, response, f"Added to ticket #{ticket_id}: its timeline shows the link.")
    return response

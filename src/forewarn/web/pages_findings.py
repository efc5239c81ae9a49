"""An organization's findings: risks that persist until someone deals with them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import cast

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.domain.inventory import Role
from forewarn.services import findings, orgs
from forewarn.services.errors import ServiceError
from forewarn.services.findings import (
    AcceptRequest,
    AssignRequest,
    FindingOut,
    FindingSeverity,
    FindingStatus,
    ResolveRequest,
)
from forewarn.services.pagination import Page
from forewarn.web import discovery_views, findings_views, ticket_views
from forewarn.web.check_views import org_assets
from forewarn.web.flash import add_flash
from forewarn.web.forms import attempt, error_text, text
from forewarn.web.render import page, see_other
from forewarn.web.session import PostedForm, SignedIn, WebId, get_ctx, safe_next

router = APIRouter(include_in_schema=False)


@router.get("/orgs/{org_id}/findings")
def findings_page(request: Request, org_id: WebId, user: SignedIn) -> Response:
    """Newest first; ?status=open|resolved|accepted|all (open by default) and ?cursor=."""
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    q = request.query_params
    status = findings_views.read_status(q.get("status"))
    family = findings_views.read_family(q.get("family"))
    sev = findings_views.read_severity(q.get("severity"))
    mine = q.get("mine") == "1"
    chosen = None if status == "all" else cast(FindingStatus, status)
    cursor = q.get("cursor", "").strip()[:200] or None

    def listed(cursor: str | None) -> Page[FindingOut]:
        return findings.list_findings(
            ctx,
            actor,
            org_id=org_id,
            status=chosen,
            severities=[cast(FindingSeverity, sev)] if sev else (),
            rule_prefix=family or None,
            assignee_id=actor.user_id if mine else None,
            limit=findings_views.PAGE_SIZE,
            cursor=cursor,
        )

    try:
        found = listed(cursor)
    except ServiceError as exc:
        if exc.status != 422 or cursor is None:
            raise
        # A cursor we never gave out (edited by hand): start from the newest instead.
        cursor = None
        found = listed(None)
    url = partial(findings_views.status_url, family=family, severity=sev, mine=mine)
    may_act = actor.is_owner or actor.can(org_id, Role.TECHNICIAN)
    people = dict(ticket_views.people_of(ctx, actor, org_id)) if may_act else {}
    about_devices = any(findings_views.device_id(f) for f in found.items)
    devices = discovery_views.org_devices(ctx, actor, org_id) if about_devices else []
    return page(
        request,
        "findings/list.html",
        user,
        section="overview",
        org=org,
        tz=org.timezone,
        findings=found.items,
        current=status,
        family=family,
        chosen_severity=sev,
        families=findings_views.FAMILIES,
        severities=findings_views.SEVERITIES,
        statuses=findings_views.STATUSES,
        status_url=url,
        older_url=url(org_id, status, found.next_cursor) if found.next_cursor else None,
        newest_url=url(org_id, status) if cursor else None,
        may_act=may_act,
        mine=mine,
        people=people,
        back=url(org_id, status, cursor),
        tomorrow=(ctx.clock.now() + timedelta(days=1)).date().isoformat(),
        severity=findings_views.severity,
        rule_label=findings_views.rule_label,
        evidence_summary=findings_views.evidence_summary,
        device_id=findings_views.device_id,
        # Links only to devices still listed (a deleted network takes its devices along).
        known_devices={d.id for d in devices},
        asset_names=(
            {i: a.name for i, a in org_assets(ctx, actor, org_id).items()}
            if any(f.asset_id for f in found.items)
            else {}
        ),
        has_networks=bool(discovery_views.networks(ctx, actor, org_id)),
    )


# ---- acting on a finding ----------------------------------------------------------------------


def _back(org_id: int, form: PostedForm) -> str:
    back = safe_next(text(form, "next"))
    return back if back.startswith(f"/orgs/{org_id}/findings") else f"/orgs/{org_id}/findings"


def _act(
    request: Request,
    org_id: int,
    form: PostedForm,
    action: Callable[[], FindingOut],
    said: Callable[[FindingOut], str],
    refused: str = "",
) -> Response:
    """Do one thing to a finding and go back to the list it was done from, saying what
    happened or, on refused input, why (nothing changed then)."""
    ctx = get_ctx(request)
    response = see_other(_back(org_id, form))
    done, errors = attempt(action, clash_field="reason")
    if done is None:
        add_flash(ctx, response, refused + error_text(errors), "warning")
    else:
        add_flash(ctx, response, said(done))
    return response


@router.post("/orgs/{org_id}/findings/{finding_id}/accept")
def accept(
    request: Request, org_id: WebId, finding_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    """Accept the risk with a reason until a day; refused input comes back as a message."""
    data = {"reason": text(form, "reason")[:1000], "until": text(form, "until") or None}
    return _act(
        request,
        org_id,
        form,
        lambda: findings.accept(
            get_ctx(request), user.actor, finding_id, AcceptRequest.model_validate(data)
        ),
        lambda f: f"Accepted until {f.accepted_until:%Y-%m-%d}: {f.title}.",
        refused="Not accepted. ",
    )


@router.post("/orgs/{org_id}/findings/{finding_id}/unaccept")
def unaccept(
    request: Request, org_id: WebId, finding_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    return _act(
        request,
        org_id,
        form,
        lambda: findings.unaccept(get_ctx(request), user.actor, finding_id),
        lambda f: f"Open again: {f.title}.",
    )


@router.post("/orgs/{org_id}/findings/{finding_id}/assign")
def assign(
    request: Request, org_id: WebId, finding_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    raw = text(form, "assignee_id")
    data = {"assignee_id": raw if raw.isdigit() else -1}
    return _act(
        request,
        org_id,
        form,
        lambda: findings.assign(
            get_ctx(request), user.actor, finding_id, AssignRequest.model_validate(data)
        ),
        lambda f: f"Assigned to {'nobody' if f.assignee_id is None else 'them'}: {f.title}.",
    )


@router.post("/orgs/{org_id}/findings/{finding_id}/resolve")
def resolve(
    request: Request, org_id: WebId, finding_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    """Mark it fixed; the rule that raised it opens it again if it still sees it."""
    data = ResolveRequest(note=text(form, "note")[:1000])
    return _act(
        request,
        org_id,
        form,
        lambda: findings.resolve_by_hand(get_ctx(request), user.actor, finding_id, data),
        lambda f: f"Marked fixed: {f.title}. It opens again if still true.",
    )

"""Automation pages: script schedules (on the scripts page: create, pause, resume) and an
organization's remedies with their success rates and latest attempts (docs/automation.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.domain.inventory import Role
from forewarn.services import checks, orgs, remedies, schedules, scripts
from forewarn.services.remedies import RemedyCreate
from forewarn.services.schedules import ScheduleCreate, ScheduleUpdate
from forewarn.web.flash import add_flash
from forewarn.web.forms import attempt, error_text, text, texts
from forewarn.web.pages_jobs import read_params
from forewarn.web.render import page, see_other
from forewarn.web.session import PostedForm, SignedIn, WebId, get_ctx

router = APIRouter(include_in_schema=False)

OUTCOME = {
    "fixed": "ok",
    "not_fixed": "critical",
    "job_failed": "critical",
    "no_agent": "warning",
    "timed_out": "warning",
    "not_needed": "unknown",
    "": "unknown",
}


@router.post("/orgs/{org_id}/script-schedules")
def create_schedule(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    """A schedule from the scripts page: script, first run (local time), repeat, targets."""
    ctx = get_ctx(request)
    data: dict[str, Any] = {
        "org_id": org_id,
        "script_id": text(form, "script_id").strip() or 0,
        "name": text(form, "name"),
        "params": read_params(text(form, "params")[:10_000]),
        "start_local": text(form, "start_local"),
        "repeat": text(form, "repeat") or "daily",
        "weekdays": [d for d in texts(form, "weekdays") if d.isdigit()],
    }
    tag = text(form, "tag").strip()
    if tag:
        data["tag"] = tag
    done, errors = attempt(
        lambda: schedules.create(ctx, user.actor, ScheduleCreate.model_validate(data))
    )
    response = see_other(f"/orgs/{org_id}/scripts#schedules")
    if done is None:
        add_flash(ctx, response, error_text(errors), "warning")
    else:
        add_flash(ctx, response, f"Scheduled {done.name}.")
    return response


@router.post("/orgs/{org_id}/script-schedules/{schedule_id}/enabled")
def toggle_schedule(
    request: Request, org_id: WebId, schedule_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    ctx = get_ctx(request)
    enabled = text(form, "enabled") == "true"
    done = schedules.set_enabled(ctx, user.actor, schedule_id, ScheduleUpdate(enabled=enabled))
    response = see_other(f"/orgs/{done.org_id}/scripts#schedules")
    add_flash(ctx, response, f"{done.name} {'resumed' if enabled else 'paused'}.")
    return response


@router.get("/orgs/{org_id}/remedies")
def remedies_page(request: Request, org_id: WebId, user: SignedIn) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    may_edit = actor.is_owner or actor.can(org_id, Role.TECHNICIAN)
    found = checks.list_(ctx, actor, org_id=org_id, limit=500).items if may_edit else []
    return page(
        request,
        "jobs/remedies.html",
        user,
        section="overview",
        org=org,
        tz=org.timezone,
        stats=remedies.for_org(ctx, actor, org_id),
        outcome=OUTCOME,
        may_edit=may_edit,
        checks={c.id: c for c in found},
        scripts=scripts.list_scripts(ctx, actor, org_id) if may_edit else [],
    )


@router.post("/orgs/{org_id}/remedies")
def create_remedy(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    """Attach a remedy from the page: restart a service, or run a library script."""
    ctx = get_ctx(request)
    orgs.get(ctx, user.actor, org_id)  # another organization's people: not found
    kind = text(form, "kind")
    cooldown = text(form, "cooldown_min").strip() or "60"
    data: dict[str, Any] = {
        "check_id": text(form, "check_id").strip() or 0,
        "kind": kind,
        "max_attempts": text(form, "max_attempts").strip() or 1,
        # Minutes on the page; anything but a whole number is refused by the model as given.
        "cooldown_s": int(cooldown) * 60 if cooldown.isdigit() else cooldown,
        "timeout_s": text(form, "timeout_s").strip() or 600,
    }
    if kind == "script":
        data["script_id"] = text(form, "script_id").strip() or 0
        data["params"] = read_params(text(form, "params")[:10_000])
    else:
        data["service"] = text(form, "service").strip()
    done, errors = attempt(
        lambda: remedies.create(ctx, user.actor, RemedyCreate.model_validate(data))
    )
    response = see_other(f"/orgs/{org_id}/remedies")
    if done is None:
        add_flash(ctx, response, error_text(errors), "warning")
    else:
        add_flash(ctx, response, f"Remedy attached to check {done.check_id}.")
    return response


@router.post("/orgs/{org_id}/remedies/{remedy_id}/delete")
def delete_remedy(
    request: Request, org_id: WebId, remedy_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    ctx = get_ctx(request)
    remedies.delete(ctx, user.actor, remedy_id)
    response = see_other(f"/orgs/{org_id}/remedies")
    add_flash(ctx, response, "Remedy removed; an alert it held goes out now.")
    return response

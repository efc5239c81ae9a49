"""The script library (run a script now on the organization's machines, all or those with a
tag) and an organization's jobs with their output. Scripts are written through the API for
now: docs/jobs.md."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.domain.inventory import Role
from forewarn.services import agent_jobs, orgs, schedules, scripts
from forewarn.services.scripts import RunRequest
from forewarn.web.flash import add_flash
from forewarn.web.forms import attempt, error_text, text
from forewarn.web.render import page, see_other
from forewarn.web.session import PostedForm, SignedIn, WebId, get_ctx

router = APIRouter(include_in_schema=False)

JOB_STATE = {
    "queued": "unknown",
    "sent": "unknown",
    "running": "unknown",
    "succeeded": "ok",
    "failed": "critical",
    "refused": "critical",
    "timed_out": "warning",
}


@router.get("/orgs/{org_id}/scripts")
def scripts_page(request: Request, org_id: WebId, user: SignedIn) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    return page(
        request,
        "jobs/scripts.html",
        user,
        section="overview",
        org=org,
        tz=org.timezone,
        scripts=scripts.list_scripts(ctx, actor, org_id),
        may_run=actor.is_owner or actor.can(org_id, Role.TECHNICIAN),
        schedules=schedules.list_for_org(ctx, actor, org_id),
    )


@router.get("/orgs/{org_id}/jobs")
def jobs_page(request: Request, org_id: WebId, user: SignedIn) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    found = agent_jobs.list_jobs(ctx, actor, org_id=org_id, limit=100)
    return page(
        request,
        "jobs/jobs.html",
        user,
        section="overview",
        org=org,
        tz=org.timezone,
        jobs=found.items,
        job_state=JOB_STATE,
    )


def read_params(raw: str) -> dict[str, str]:
    """NAME=value lines, as typed; a line without '=' is kept whole as a name (and refused by
    the script's own parameter check, which says what is wrong)."""
    out: dict[str, str] = {}
    for line in raw.splitlines()[:50]:
        if not line.strip():
            continue
        name, _, value = line.partition("=")
        out[name.strip()] = value.strip()
    return out


@router.post("/orgs/{org_id}/scripts/{script_id}/run")
def run_script(
    request: Request, org_id: WebId, script_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    """Issue the script as signed jobs: on the machines with the tag given, or all of them."""
    ctx = get_ctx(request)
    tag = text(form, "tag").strip()
    data = {"org_id": org_id, "params": read_params(text(form, "params")[:10_000])}
    if tag:
        data["tag"] = tag
    done, errors = attempt(
        lambda: scripts.run(ctx, user.actor, script_id, RunRequest.model_validate(data))
    )
    if done is None:
        response = see_other(f"/orgs/{org_id}/scripts")
        add_flash(ctx, response, error_text(errors), "warning")
        return response
    response = see_other(f"/orgs/{org_id}/jobs")
    words = f"Issued {len(done.jobs)} job{'' if len(done.jobs) == 1 else 's'}"
    if done.skipped:
        words += f"; {len(done.skipped)} machine(s) without an agent skipped"
    add_flash(ctx, response, words + ".")
    return response

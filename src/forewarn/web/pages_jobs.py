"""The script library and an organization's jobs with their output (read-only pages; scripts
are written and run through the API for now: docs/jobs.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.services import agent_jobs, orgs, scripts
from forewarn.web.render import page
from forewarn.web.session import SignedIn, WebId, get_ctx

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

"""Automation: remedies attached to checks (self-healing) and their success rates, script
schedules and the counts of runs for the reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from forewarn.api.deps import Caller, Ctx, IdPath
from forewarn.services import remedies, schedules, service_jobs
from forewarn.services.remedies import RemedyCreate, RemedyOut, RemedyStats
from forewarn.services.schedules import RunCounts, ScheduleCreate, ScheduleOut, ScheduleUpdate
from forewarn.services.service_jobs import IssuedOut, RestartRequest

router = APIRouter(prefix="/api/v1", tags=["automation"])


@router.post("/remedies", response_model=RemedyOut, status_code=201)
def create_remedy(body: RemedyCreate, ctx: Ctx, actor: Caller) -> RemedyOut:
    """Attach a remedy to a check (one per check; technicians, admins for a provider script):
    tried when the check goes to a hard problem, before anyone is told."""
    return remedies.create(ctx, actor, body)


@router.delete("/remedies/{remedy_id}", status_code=204, response_class=Response)
def delete_remedy(remedy_id: IdPath, ctx: Ctx, actor: Caller) -> Response:
    """Detach it; an alert it was holding goes out now."""
    remedies.delete(ctx, actor, remedy_id)
    return Response(status_code=204)


@router.get("/orgs/{org_id}/remedies", response_model=RemedyStats)
def org_remedies(org_id: IdPath, ctx: Ctx, actor: Caller) -> RemedyStats:
    """The organization's remedies with how often each worked, and the latest attempts."""
    return remedies.for_org(ctx, actor, org_id)


class SchedulesOut(BaseModel):
    items: list[ScheduleOut]


@router.post("/script-schedules", response_model=ScheduleOut, status_code=201)
def create_schedule(body: ScheduleCreate, ctx: Ctx, actor: Caller) -> ScheduleOut:
    """Run a library script on a recurrence (technicians; admins for a provider script)."""
    return schedules.create(ctx, actor, body)


@router.get("/orgs/{org_id}/script-schedules", response_model=SchedulesOut)
def org_schedules(org_id: IdPath, ctx: Ctx, actor: Caller) -> SchedulesOut:
    return SchedulesOut(items=schedules.list_for_org(ctx, actor, org_id))


@router.patch("/script-schedules/{schedule_id}", response_model=ScheduleOut)
def update_schedule(
    schedule_id: IdPath, body: ScheduleUpdate, ctx: Ctx, actor: Caller
) -> ScheduleOut:
    """Pause ({"enabled": false}) or resume a schedule."""
    return schedules.set_enabled(ctx, actor, schedule_id, body)


@router.delete("/script-schedules/{schedule_id}", status_code=204, response_class=Response)
def delete_schedule(schedule_id: IdPath, ctx: Ctx, actor: Caller) -> Response:
    schedules.delete(ctx, actor, schedule_id)
    return Response(status_code=204)


@router.get("/orgs/{org_id}/job-counts", response_model=RunCounts)
def job_counts(
    org_id: IdPath,
    ctx: Ctx,
    actor: Caller,
    month: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")],
) -> RunCounts:
    """Scheduled runs and all jobs of a month (UTC): runs, succeeded, failed."""
    return schedules.run_counts(ctx, actor, org_id, month)


@router.post("/assets/{asset_id}/jobs/restart-service", response_model=IssuedOut, status_code=201)
def restart_service(asset_id: IdPath, body: RestartRequest, ctx: Ctx, actor: Caller) -> IssuedOut:
    """Restart a service on the asset now (technicians): one signed job for its agent."""
    return service_jobs.restart_service(ctx, actor, asset_id, body)

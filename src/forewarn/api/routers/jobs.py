"""The script library, running a script now, and agents' jobs with their output."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from forewarn.api.deps import Caller, Ctx, Cursor, IdPath, IdQuery, Limit
from forewarn.api.pages import PageOut, page_out
from forewarn.domain.jobs import STATES
from forewarn.services import agent_jobs, scripts
from forewarn.services.agent_jobs import JobOut
from forewarn.services.scripts import RunOut, RunRequest, ScriptCreate, ScriptOut

router = APIRouter(prefix="/api/v1", tags=["jobs"])


class ScriptsOut(BaseModel):
    items: list[ScriptOut]


@router.get("/scripts", response_model=ScriptsOut)
def list_scripts(ctx: Ctx, actor: Caller, org_id: IdQuery = None) -> ScriptsOut:
    """The provider's scripts and those of the organizations the caller may see."""
    return ScriptsOut(items=scripts.list_scripts(ctx, actor, org_id))


@router.post("/scripts", response_model=ScriptOut, status_code=201)
def create_script(body: ScriptCreate, ctx: Ctx, actor: Caller) -> ScriptOut:
    """An organization's script (its admins), or the provider's for all (owners)."""
    return scripts.create(ctx, actor, body)


@router.get("/scripts/{script_id}", response_model=ScriptOut)
def get_script(script_id: IdPath, ctx: Ctx, actor: Caller) -> ScriptOut:
    return scripts.get(ctx, actor, script_id)


@router.delete("/scripts/{script_id}", status_code=204, response_class=Response)
def delete_script(script_id: IdPath, ctx: Ctx, actor: Caller) -> Response:
    scripts.delete(ctx, actor, script_id)
    return Response(status_code=204)


@router.post("/scripts/{script_id}/run", response_model=RunOut, status_code=201)
def run_script(script_id: IdPath, body: RunRequest, ctx: Ctx, actor: Caller) -> RunOut:
    """Run now on assets, a tag or a whole organization: one signed job per machine with an
    agent (technicians; admins for a provider script). Read the results under /jobs."""
    return scripts.run(ctx, actor, script_id, body)


@router.get("/jobs", response_model=PageOut[JobOut])
def list_jobs(
    ctx: Ctx,
    actor: Caller,
    org_id: IdQuery = None,
    asset_id: IdQuery = None,
    state: Annotated[str | None, Query(pattern="^(" + "|".join(STATES) + ")$")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[JobOut]:
    """Agents' jobs newest first, with their state, exit code and (bounded) output."""
    return page_out(
        agent_jobs.list_jobs(
            ctx, actor, org_id=org_id, asset_id=asset_id, state=state, limit=limit, cursor=cursor
        )
    )


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: IdPath, ctx: Ctx, actor: Caller) -> JobOut:
    return agent_jobs.get_job(ctx, actor, job_id)

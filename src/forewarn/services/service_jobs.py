"""Restart a service by hand: one signed job for the asset's agent.

The same job remedies issue (agent_jobs.issue); a technician's, recorded in the audit log.
Reboots by hand go through patch_policies.request_reboot, which keeps them to a window.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import select

from forewarn.domain.inventory import Role
from forewarn.services import agent_jobs, audit, keys
from forewarn.services.context import Context
from forewarn.services.errors import conflict
from forewarn.services.remedies import RESTART_TIMEOUT, ServiceName
from forewarn.services.schemas import Strict
from forewarn.services.scope import Actor, get_in_scope
from forewarn.store.models import Agent, Asset


class RestartRequest(Strict):
    service: ServiceName


class IssuedOut(BaseModel):
    job: int


def restart_service(ctx: Context, actor: Actor, asset_id: int, data: RestartRequest) -> IssuedOut:
    key = keys.signing_key(ctx)  # outside the transaction: it may create the key
    payload: dict[str, object] = {"service": data.service, "timeout": RESTART_TIMEOUT}
    with ctx.db.transaction() as session:
        asset = get_in_scope(session, actor, Asset, asset_id, Role.TECHNICIAN)
        agent_id = session.scalar(select(Agent.id).where(Agent.asset_id == asset.id))
        if agent_id is None:
            raise conflict("the asset has no agent to run the job")
        job = agent_jobs.issue(
            session,
            key,
            ctx.clock.now(),
            org_id=asset.org_id,
            asset_id=asset.id,
            agent_id=agent_id,
            kind="restart_service",
            payload=payload,
            title=f"restart {data.service}",
            created_by=actor.username,
            ttl=agent_jobs.DEFAULT_TTL,
        )
        audit.record(
            session,
            ctx.clock,
            actor,
            "job.restart_service",
            entity="asset",
            entity_id=asset.id,
            org_id=asset.org_id,
            after={"job": job.id, "payload": payload},
        )
        return IssuedOut(job=job.id)

"""The script library: scripts with parameters, an organization's or the provider's, and
running one now against assets, a tag or a whole organization (as signed agent jobs).

Who may do what: a script runs as root on the client's machines, so writing one takes an
organization's admin (the provider's owners for provider scripts, which every organization
sees); running one takes a technician, and an admin for a provider script.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from forewarn.domain.inventory import Role
from forewarn.domain.jobs import MAX_TIMEOUT
from forewarn.services import agent_jobs, audit, keys
from forewarn.services.context import Context
from forewarn.services.errors import invalid, not_found
from forewarn.services.rows import flush_or_conflict
from forewarn.services.schemas import Id, Name, Strict, Tag
from forewarn.services.scope import (
    Actor,
    get_org_in_scope,
    org_or_provider,
    require,
    require_owner,
)
from forewarn.store.models import Agent, Asset, AssetTag, Script

ParamName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]{0,63}$")]
ParamValue = Annotated[str, StringConstraints(max_length=4000)]
MAX_TARGETS = 5000


class ScriptParameter(Strict):
    name: ParamName
    default: ParamValue = ""
    description: Annotated[str, StringConstraints(max_length=500)] = ""


class ScriptCreate(Strict):
    org_id: Id | None = Field(None, description="left out: a provider script for everyone")
    name: Name
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    # PowerShell is kept for Windows agents; other agents refuse it (agent.jobs).
    language: Literal["bash", "python", "powershell"]
    body: Annotated[str, StringConstraints(min_length=1, max_length=64 * 1024)]
    parameters: list[ScriptParameter] = Field(default_factory=list, max_length=50)
    timeout_s: Annotated[int, Field(ge=1, le=MAX_TIMEOUT)] = 300

    @model_validator(mode="after")
    def _unique_parameters(self) -> ScriptCreate:
        names = [p.name for p in self.parameters]
        if len(names) != len(set(names)):
            raise ValueError("parameter names must be unique")
        return self


class ScriptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int | None
    name: str
    description: str
    language: str
    body: str
    parameters: list[ScriptParameter]
    timeout_s: int


class RunRequest(Strict):
    """Run now on the organization's machines: these assets, those with a tag, or all."""

    org_id: Id
    asset_ids: list[Id] | None = Field(None, max_length=MAX_TARGETS)
    tag: Tag | None = None
    params: dict[ParamName, ParamValue] = Field(default_factory=dict, max_length=50)

    @model_validator(mode="after")
    def _one_target(self) -> RunRequest:
        if self.asset_ids is not None and self.tag is not None:
            raise ValueError("give asset_ids or a tag, not both (neither: the whole organization)")
        return self


class RunOut(BaseModel):
    jobs: list[int]
    skipped: list[int] = Field(description="assets without an agent: nothing to run them on")


def create(ctx: Context, actor: Actor, data: ScriptCreate) -> ScriptOut:
    with ctx.db.transaction() as session:
        if data.org_id is None:
            require_owner(actor)
        else:
            get_org_in_scope(session, actor, data.org_id, Role.ADMIN)
        now = ctx.clock.now()
        row = Script(
            **data.model_dump(exclude={"parameters"}),
            parameters=[p.model_dump() for p in data.parameters],
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        flush_or_conflict(session, f"a script named {data.name!r} exists at that level")
        audit.record(
            session,
            ctx.clock,
            actor,
            "script.create",
            entity="script",
            entity_id=row.id,
            org_id=row.org_id,
            after=audit.snapshot(row),
        )
        return ScriptOut.model_validate(row)


def _visible(session: Session, actor: Actor, script_id: int) -> Script:
    row = session.get(Script, script_id)
    if row is None or (row.org_id is not None and actor.role_in(row.org_id) is None):
        raise not_found("script")
    return row


def list_scripts(ctx: Context, actor: Actor, org_id: int | None = None) -> list[ScriptOut]:
    """The provider's scripts and those of the organizations the actor may see."""
    stmt = select(Script).where(org_or_provider(actor, Script.org_id)).order_by(Script.name)
    if org_id is not None:
        stmt = stmt.where((Script.org_id == org_id) | Script.org_id.is_(None))
    with ctx.db.read() as session:
        return [ScriptOut.model_validate(r) for r in session.scalars(stmt)]


def get(ctx: Context, actor: Actor, script_id: int) -> ScriptOut:
    with ctx.db.read() as session:
        return ScriptOut.model_validate(_visible(session, actor, script_id))


def delete(ctx: Context, actor: Actor, script_id: int) -> None:
    with ctx.db.transaction() as session:
        row = _visible(session, actor, script_id)
        if row.org_id is None:
            require_owner(actor)
        else:
            require(actor, row.org_id, Role.ADMIN, "script")
        audit.record(
            session,
            ctx.clock,
            actor,
            "script.delete",
            entity="script",
            entity_id=row.id,
            org_id=row.org_id,
            before=audit.snapshot(row),
        )
        session.delete(row)


def run(ctx: Context, actor: Actor, script_id: int, data: RunRequest) -> RunOut:
    """Issue one signed job per targeted machine that has an agent."""
    key = keys.signing_key(ctx)  # outside the transaction: it may create the key
    with ctx.db.transaction() as session:
        script = _visible(session, actor, script_id)
        get_org_in_scope(session, actor, data.org_id, Role.VIEWER)
        if script.org_id is not None and script.org_id != data.org_id:
            raise not_found("script")
        require(actor, data.org_id, Role.ADMIN if script.org_id is None else Role.TECHNICIAN)
        params = complete_params(script, data.params)
        targets = run_targets(session, data)
        agents = dict(
            session.execute(
                select(Agent.asset_id, Agent.id).where(Agent.asset_id.in_(targets or [-1]))
            ).all()
        )
        now = ctx.clock.now()
        payload = job_payload(script, params)
        jobs = [
            agent_jobs.issue(
                session,
                key,
                now,
                org_id=data.org_id,
                asset_id=asset_id,
                agent_id=agents[asset_id],
                kind="script",
                payload=payload,
                title=script.name,
                created_by=actor.username,
                script_id=script.id,
                ttl=job_ttl(script),
            ).id
            for asset_id in targets
            if asset_id in agents
        ]
        audit.record(
            session,
            ctx.clock,
            actor,
            "script.run",
            entity="script",
            entity_id=script.id,
            org_id=data.org_id,
            after={"jobs": jobs, "params": params},
        )
        return RunOut(jobs=jobs, skipped=[a for a in targets if a not in agents])


def job_payload(script: Script, params: dict[str, str]) -> dict[str, object]:
    """The signed payload of a script job (params: complete, as _params makes them)."""
    return {
        "language": script.language,
        "body": script.body,
        "params": params,
        "timeout": script.timeout_s,
    }


def job_ttl(script: Script) -> timedelta:
    return max(agent_jobs.DEFAULT_TTL, timedelta(seconds=script.timeout_s))


def complete_params(script: Script, given: dict[str, str]) -> dict[str, str]:
    known = {p["name"]: p.get("default", "") for p in script.parameters or []}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise invalid(f"the script has no parameter {', '.join(unknown)}")
    return {**known, **given}


def run_targets(session: Session, data: RunRequest) -> list[int]:
    """The organization's asset ids the request names (an id of another is not found)."""
    stmt = select(Asset.id).where(Asset.org_id == data.org_id).order_by(Asset.id)
    if data.asset_ids is not None:
        wanted = set(data.asset_ids)
        found = set(session.scalars(stmt.where(Asset.id.in_(wanted))))
        if found != wanted:
            raise not_found("asset")
        return sorted(found)
    if data.tag is not None:
        stmt = stmt.join(AssetTag, AssetTag.asset_id == Asset.id).where(AssetTag.tag == data.tag)
    return list(session.scalars(stmt.limit(MAX_TARGETS)))

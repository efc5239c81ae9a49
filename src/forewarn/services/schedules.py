"""Script schedules: a library script run on a recurrence against assets, a tag or a whole
organization (docs/automation.md).

`run_due` (a scheduled job) issues each due occurrence through the same signed path as "run
now" (agent_jobs.issue) and records one run per occurrence and machine; the unique key of a
run makes an occurrence issue at most once, whatever retries or processes do. Occurrences
missed while the server was down are not made up in a burst: the next run is the next
occurrence after now. Every run is countable (run_counts) for the monthly report.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from forewarn.domain import schedules as recurrence
from forewarn.domain.inventory import Role
from forewarn.domain.maintenance import Window
from forewarn.services import agent_jobs, audit, keys, scripts
from forewarn.services.context import Context
from forewarn.services.errors import invalid, not_found
from forewarn.services.schemas import Id, Name, Strict, Tag
from forewarn.services.scope import Actor, get_in_scope, get_org_in_scope, require
from forewarn.store.models import (
    Agent,
    AgentJob,
    Organization,
    Script,
    ScriptSchedule,
    ScriptScheduleRun,
)

log = logging.getLogger(__name__)

BATCH = 100  # schedules issued per turn


class ScheduleCreate(Strict):
    """Run a script at a wall-clock time in the organization's zone: once, daily, on weekdays
    or monthly; on these assets, those with a tag, or (neither) the whole organization."""

    org_id: Id
    script_id: Id
    name: Name
    params: dict[scripts.ParamName, scripts.ParamValue] = Field(default_factory=dict, max_length=50)
    asset_ids: list[Id] | None = Field(None, max_length=scripts.MAX_TARGETS)
    tag: Tag | None = None
    start_local: datetime = Field(description="the first run, local wall-clock time, no zone")
    repeat: Literal["none", "daily", "weekly", "monthly"] = "daily"
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] = Field(default_factory=list, max_length=7)

    @model_validator(mode="after")
    def _shape(self) -> ScheduleCreate:
        if self.asset_ids is not None and self.tag is not None:
            raise ValueError("give asset_ids or a tag, not both (neither: the whole organization)")
        if self.start_local.tzinfo is not None:
            raise ValueError("start_local is a local wall-clock time: leave the zone out")
        return self


class ScheduleUpdate(Strict):
    enabled: bool


class ScheduleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    script_id: int
    name: str
    params: dict[str, str]
    asset_ids: list[int] | None
    tag: str | None
    start_local: datetime
    repeat: str
    weekdays: str
    tz: str
    next_run: datetime | None
    enabled: bool
    created_by: str
    created_at: datetime


class RunCounts(BaseModel):
    """Script runs of one organization in one month (UTC): scheduled and all."""

    org_id: int
    month: str
    scheduled_runs: int
    scheduled_succeeded: int
    scheduled_failed: int
    jobs: int = Field(description="every signed job of the month, by hand, schedule or remedy")
    jobs_succeeded: int
    jobs_failed: int


Month = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
FAILED = ("failed", "refused", "timed_out")


# ---- what people do ---------------------------------------------------------------------------


def create(ctx: Context, actor: Actor, data: ScheduleCreate) -> ScheduleOut:
    """Technicians schedule the organization's scripts; a provider script takes an admin."""
    with ctx.db.transaction() as session:
        org = get_org_in_scope(session, actor, data.org_id, Role.VIEWER)
        script = session.get(Script, data.script_id)
        if script is None or script.org_id not in (None, org.id):
            raise not_found("script")
        require(actor, org.id, Role.ADMIN if script.org_id is None else Role.TECHNICIAN)
        scripts.complete_params(script, dict(data.params))  # unknown names refused now
        if data.asset_ids is not None:
            run = scripts.RunRequest(org_id=org.id, asset_ids=data.asset_ids)
            scripts.run_targets(session, run)  # another organization's asset: not found
        weekdays = ",".join(str(d) for d in sorted(set(data.weekdays)))
        tz = org.timezone or "UTC"
        try:
            when = recurrence.window(data.start_local, data.repeat, frozenset(data.weekdays), tz)
        except ValueError as exc:
            raise invalid(str(exc)) from exc
        now = ctx.clock.now()
        first = recurrence.next_run(when, now.replace(microsecond=0) - timedelta(seconds=1))
        if first is None:
            raise invalid("the schedule has no run from now on")
        row = ScriptSchedule(
            org_id=org.id,
            script_id=script.id,
            name=data.name,
            params=dict(data.params),
            asset_ids=data.asset_ids,
            tag=data.tag,
            start_local=data.start_local,
            repeat=data.repeat,
            weekdays=weekdays,
            tz=tz,
            next_run=first,
            enabled=True,
            created_by=actor.username,
            created_at=now,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            ctx.clock,
            actor,
            "schedule.create",
            entity="script_schedule",
            entity_id=row.id,
            org_id=org.id,
            after=audit.snapshot(row),
        )
        return ScheduleOut.model_validate(row)


def list_for_org(ctx: Context, actor: Actor, org_id: int) -> list[ScheduleOut]:
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id, Role.VIEWER)
        rows = session.scalars(
            select(ScriptSchedule)
            .where(ScriptSchedule.org_id == org_id)
            .order_by(ScriptSchedule.name, ScriptSchedule.id)
        )
        return [ScheduleOut.model_validate(r) for r in rows]


def set_enabled(ctx: Context, actor: Actor, schedule_id: int, data: ScheduleUpdate) -> ScheduleOut:
    """Pause or resume; resumed, it runs at its next occurrence from now (none made up)."""
    with ctx.db.transaction() as session:
        row = get_in_scope(session, actor, ScriptSchedule, schedule_id, Role.TECHNICIAN)
        before = audit.snapshot(row)
        row.enabled = data.enabled
        if data.enabled:
            row.next_run = recurrence.next_run(_window(row), ctx.clock.now())
        audit.record(
            session,
            ctx.clock,
            actor,
            "schedule.update",
            entity="script_schedule",
            entity_id=row.id,
            org_id=row.org_id,
            before=before,
            after=audit.snapshot(row),
        )
        return ScheduleOut.model_validate(row)


def delete(ctx: Context, actor: Actor, schedule_id: int) -> None:
    with ctx.db.transaction() as session:
        row = get_in_scope(session, actor, ScriptSchedule, schedule_id, Role.TECHNICIAN)
        audit.record(
            session,
            ctx.clock,
            actor,
            "schedule.delete",
            entity="script_schedule",
            entity_id=row.id,
            org_id=row.org_id,
            before=audit.snapshot(row),
        )
        session.delete(row)


def run_counts(ctx: Context, actor: Actor, org_id: int, month: str) -> RunCounts:
    """Runs, succeeded and failed in a month (by when each was due or issued), for reports."""
    start, end = _month(month)
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id, Role.VIEWER)
        ok = func.sum(case((AgentJob.state == "succeeded", 1), else_=0))
        bad = func.sum(case((AgentJob.state.in_(FAILED), 1), else_=0))
        sched = session.execute(
            select(func.count(ScriptScheduleRun.id), ok, bad)
            .select_from(ScriptScheduleRun)
            .outerjoin(AgentJob, AgentJob.id == ScriptScheduleRun.job_id)
            .where(
                ScriptScheduleRun.org_id == org_id,
                ScriptScheduleRun.occurrence >= start,
                ScriptScheduleRun.occurrence < end,
            )
        ).one()
        every = session.execute(
            select(func.count(AgentJob.id), ok, bad).where(
                AgentJob.org_id == org_id, AgentJob.created_at >= start, AgentJob.created_at < end
            )
        ).one()
    return RunCounts(
        org_id=org_id,
        month=month,
        scheduled_runs=int(sched[0] or 0),
        scheduled_succeeded=int(sched[1] or 0),
        scheduled_failed=int(sched[2] or 0),
        jobs=int(every[0] or 0),
        jobs_succeeded=int(every[1] or 0),
        jobs_failed=int(every[2] or 0),
    )


# ---- the scheduled job ------------------------------------------------------------------------


def run_due(ctx: Context) -> int:
    """Issue every due occurrence (a scheduled job); how many jobs were issued."""
    now = ctx.clock.now()
    with ctx.db.read() as session:
        due = list(
            session.scalars(
                select(ScriptSchedule.id)
                .where(ScriptSchedule.enabled.is_(True), ScriptSchedule.next_run <= now)
                .order_by(ScriptSchedule.next_run)
                .limit(BATCH)
            )
        )
    if not due:
        return 0
    key = keys.signing_key(ctx)  # outside the transaction: it may create the key
    issued = 0
    for schedule_id in due:
        try:
            with ctx.db.transaction() as session:
                issued += _run_one(session, key, schedule_id, now)
        except Exception:  # one broken schedule must not stop the others
            log.exception("script schedule %s could not run", schedule_id)
    return issued


def _run_one(session: Session, key: object, schedule_id: int, now: datetime) -> int:
    row = session.get(ScriptSchedule, schedule_id)
    if row is None or not row.enabled or row.next_run is None or row.next_run > now:
        return 0  # another turn took it
    occurrence = row.next_run
    row.next_run = recurrence.next_run(_window(row), now)
    if row.next_run is None:
        row.enabled = False  # a one-off ran: nothing more to come
    script = session.get(Script, row.script_id)
    org = session.get(Organization, row.org_id)
    if script is None or org is None:  # pragma: no cover - cascades remove the schedule too
        return 0
    done = set(
        session.scalars(
            select(ScriptScheduleRun.asset_id).where(
                ScriptScheduleRun.schedule_id == row.id, ScriptScheduleRun.occurrence == occurrence
            )
        )
    )
    try:
        params = scripts.complete_params(script, dict(row.params))
        request = scripts.RunRequest(org_id=row.org_id, asset_ids=row.asset_ids, tag=row.tag)
        targets = scripts.run_targets(session, request)
    except Exception as exc:  # the script or the targets changed since: nothing to run
        log.warning("script schedule %s skipped an occurrence: %s", row.id, exc)
        return 0
    agents = dict(
        session.execute(
            select(Agent.asset_id, Agent.id).where(Agent.asset_id.in_(targets or [-1]))
        ).all()
    )
    payload = scripts.job_payload(script, params)
    issued = 0
    for asset_id in targets:
        if asset_id in done:
            continue  # this occurrence was issued here already
        job_id = None
        if asset_id in agents:
            job_id = agent_jobs.issue(
                session,
                key,
                now,
                org_id=row.org_id,
                asset_id=asset_id,
                agent_id=agents[asset_id],
                kind="script",
                payload=payload,
                title=f"{script.name} ({row.name})",
                created_by=f"schedule {row.id}",
                script_id=script.id,
                ttl=scripts.job_ttl(script),
            ).id
            issued += 1
        session.add(
            ScriptScheduleRun(
                org_id=row.org_id,
                schedule_id=row.id,
                occurrence=occurrence,
                asset_id=asset_id,
                job_id=job_id,
            )
        )
    return issued


def _window(row: ScriptSchedule) -> Window:
    days = frozenset(int(d) for d in row.weekdays.split(",") if d)
    return recurrence.window(row.start_local, row.repeat, days, row.tz)


def _month(month: str) -> tuple[datetime, datetime]:
    try:
        year, mon = (int(p) for p in month.split("-"))
        start = datetime(year, mon, 1, tzinfo=UTC)
    except ValueError as exc:
        raise invalid(f"not a month (YYYY-MM): {month!r}") from exc
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=UTC)
    return start, end

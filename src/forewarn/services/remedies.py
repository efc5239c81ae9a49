"""Remedies: self-healing for checks (docs/automation.md; decisions in domain.remedies).

When a check with a remedy goes to a hard problem and its alert opens, `begin` (inside the
transaction that recorded the result, called by services.alerts) records a pending attempt and
the alert is held instead of routed: its notify_at is the end of the hold. The scheduled
`turn` then issues the remedy's signed job through agent_jobs.issue, waits for its result,
asks the check again, and ends the attempt:

- the check is ok again: fixed (its recovery already resolved the alert, nobody was told);
- the job failed or the check still fails: another attempt if the remedy allows one, else the
  hold is released at once (notify_at = now) and the escalation turn routes the alert;
- the hold ran out first: the attempt ends as timed out, and the alert goes out at its
  notify_at as any other. A held alert is never dropped, only told later, by at most the
  remedy's timeout.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import case, exists, func, select, update
from sqlalchemy.orm import Session

from forewarn.domain import remedies as rules
from forewarn.domain.alerting import AlertState
from forewarn.domain.inventory import Role
from forewarn.domain.remedies import Outcome, Policy
from forewarn.services import agent_jobs, audit, keys, scripts
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError, conflict, not_found
from forewarn.services.schemas import Id, Strict
from forewarn.services.scope import Actor, get_in_scope, get_org_in_scope, require
from forewarn.store.models import (
    Agent,
    AgentJob,
    AlertEvent,
    AlertRow,
    Check,
    CheckStateRow,
    Remedy,
    RemedyAttempt,
    Script,
)

log = logging.getLogger(__name__)

BATCH = 500
RESTART_TIMEOUT = 120  # seconds a restart_service job may take on the agent
ServiceName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9@._:-]{0,254}$")]


# ---- shapes -----------------------------------------------------------------------------------


class RemedyCreate(Strict):
    """Restart a service on the check's machine, or run a library script there."""

    check_id: Id
    kind: Literal["restart_service", "script"]
    service: ServiceName | None = Field(None, description="the unit to restart (restart_service)")
    script_id: Id | None = Field(None, description="the library script to run (script)")
    params: dict[scripts.ParamName, scripts.ParamValue] = Field(default_factory=dict, max_length=50)
    max_attempts: Annotated[int, Field(ge=1, le=5)] = 1
    cooldown_s: Annotated[int, Field(ge=0, le=7 * 86400)] = 3600
    timeout_s: Annotated[int, Field(ge=60, le=3600)] = 600

    @model_validator(mode="after")
    def _what(self) -> RemedyCreate:
        if self.kind == "restart_service" and (self.service is None or self.script_id):
            raise ValueError("restart_service needs a service (and no script_id)")
        if self.kind == "script" and (self.script_id is None or self.service):
            raise ValueError("a script remedy needs a script_id (and no service)")
        if self.kind == "restart_service" and self.params:
            raise ValueError("restart_service takes no parameters")
        return self


class RemedyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    check_id: int
    kind: str
    service: str
    script_id: int | None
    params: dict[str, str]
    max_attempts: int
    cooldown_s: int
    timeout_s: int
    enabled: bool
    created_by: str
    created_at: datetime
    attempts: int = 0
    finished: int = 0
    fixed: int = 0
    success_rate: float | None = Field(None, description="percent of finished attempts")


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    remedy_id: int
    check_id: int
    alert_id: int | None
    job_id: int | None
    number: int
    state: str
    outcome: str
    detail: str
    created_at: datetime
    hold_until: datetime
    finished_at: datetime | None


class RemedyStats(BaseModel):
    """An organization's remedies and how often they worked."""

    org_id: int
    attempts: int
    finished: int
    fixed: int
    success_rate: float | None
    remedies: list[RemedyOut]
    recent: list[AttemptOut]


# ---- what people do ---------------------------------------------------------------------------


def create(ctx: Context, actor: Actor, data: RemedyCreate) -> RemedyOut:
    """Attach a remedy to a check (one per check): a technician's, an admin's for a provider
    script, as running that script by hand would be."""
    with ctx.db.transaction() as session:
        check = get_in_scope(session, actor, Check, data.check_id, Role.TECHNICIAN)
        if data.script_id is not None:
            script = session.get(Script, data.script_id)
            if script is None or script.org_id not in (None, check.org_id):
                raise not_found("script")
            if script.org_id is None:
                require(actor, check.org_id, Role.ADMIN, "script")
            scripts.complete_params(script, dict(data.params))  # unknown names refused now
        if session.scalar(select(Remedy.id).where(Remedy.check_id == check.id)) is not None:
            raise conflict("the check has a remedy already: delete it first")
        row = Remedy(
            org_id=check.org_id,
            check_id=check.id,
            kind=data.kind,
            service=data.service or "",
            script_id=data.script_id,
            params=dict(data.params),
            max_attempts=data.max_attempts,
            cooldown_s=data.cooldown_s,
            timeout_s=data.timeout_s,
            enabled=True,
            created_by=actor.username,
            created_at=ctx.clock.now(),
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            ctx.clock,
            actor,
            "remedy.create",
            entity="remedy",
            entity_id=row.id,
            org_id=row.org_id,
            after=audit.snapshot(row),
        )
        return RemedyOut.model_validate(row)


def delete(ctx: Context, actor: Actor, remedy_id: int) -> None:
    with ctx.db.transaction() as session:
        row = get_in_scope(session, actor, Remedy, remedy_id, Role.TECHNICIAN)
        audit.record(
            session,
            ctx.clock,
            actor,
            "remedy.delete",
            entity="remedy",
            entity_id=row.id,
            org_id=row.org_id,
            before=audit.snapshot(row),
        )
        _release(
            session, ctx.clock.now(), _open_attempts(session, row.id), "the remedy was deleted"
        )
        session.delete(row)


def for_org(ctx: Context, actor: Actor, org_id: int, recent: int = 50) -> RemedyStats:
    """The organization's remedies with their success rates, and the latest attempts."""
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id, Role.VIEWER)
        counts = {
            r.remedy_id: r
            for r in session.execute(
                select(
                    RemedyAttempt.remedy_id,
                    func.count().label("attempts"),
                    func.sum(
                        case(
                            (
                                (RemedyAttempt.state == "done")
                                & (RemedyAttempt.outcome != Outcome.NOT_NEEDED.value),
                                1,
                            ),
                            else_=0,
                        )
                    ).label("finished"),
                    func.sum(
                        case((RemedyAttempt.outcome == Outcome.FIXED.value, 1), else_=0)
                    ).label("fixed"),
                )
                .where(RemedyAttempt.org_id == org_id)
                .group_by(RemedyAttempt.remedy_id)
            )
        }
        out = []
        for row in session.scalars(
            select(Remedy).where(Remedy.org_id == org_id).order_by(Remedy.id)
        ):
            item = RemedyOut.model_validate(row)
            c = counts.get(row.id)
            if c is not None:
                item.attempts, item.finished, item.fixed = (
                    int(c.attempts),
                    int(c.finished or 0),
                    int(c.fixed or 0),
                )
                item.success_rate = rules.success_rate(item.fixed, item.finished)
            out.append(item)
        latest = session.scalars(
            select(RemedyAttempt)
            .where(RemedyAttempt.org_id == org_id)
            .order_by(RemedyAttempt.id.desc())
            .limit(recent)
        ).all()
        attempts = sum(int(c.attempts) for c in counts.values())
        finished = sum(int(c.finished or 0) for c in counts.values())
        fixed = sum(int(c.fixed or 0) for c in counts.values())
        return RemedyStats(
            org_id=org_id,
            attempts=attempts,
            finished=finished,
            fixed=fixed,
            success_rate=rules.success_rate(fixed, finished),
            remedies=out,
            recent=[AttemptOut.model_validate(a) for a in latest],
        )


# ---- in the recording transaction (services.alerts.on_changes) --------------------------------


def begin(session: Session, now: datetime, check_id: int) -> RemedyAttempt | None:
    """A new incident of a check: its remedy's first attempt (pending) when it has an enabled
    one out of its cool-down; the caller holds the alert until the attempt's hold_until."""
    remedy = session.scalar(
        select(Remedy).where(Remedy.check_id == check_id, Remedy.enabled.is_(True))
    )
    if remedy is None:
        return None
    last = session.scalar(
        select(func.max(RemedyAttempt.created_at)).where(RemedyAttempt.remedy_id == remedy.id)
    )
    if not rules.may_start(_policy(remedy), last, now):
        return None
    attempt = RemedyAttempt(
        org_id=remedy.org_id,
        remedy_id=remedy.id,
        check_id=check_id,
        number=1,
        state="pending",
        outcome="",
        detail="",
        created_at=now,
        hold_until=now + timedelta(seconds=remedy.timeout_s),
    )
    session.add(attempt)
    return attempt


def hold_detail(session: Session, attempt: RemedyAttempt) -> str:
    remedy = session.get(Remedy, attempt.remedy_id)
    what = "its remedy" if remedy is None else describe(remedy)
    return f"held until {attempt.hold_until:%Y-%m-%d %H:%M:%S} UTC while {what} is tried"


def describe(remedy: Remedy) -> str:
    if remedy.kind == "restart_service":
        return f"restart {remedy.service}"
    return f"script {remedy.script_id}"


# ---- the scheduled turn -----------------------------------------------------------------------


def turn(ctx: Context) -> int:
    """Move every unfinished attempt one step on (a scheduled job); how many changed."""
    now = ctx.clock.now()
    with ctx.db.read() as session:
        if not session.scalar(select(exists().where(RemedyAttempt.state != "done"))):
            return 0  # almost always: one cheap read
    key = keys.signing_key(ctx)  # outside the transaction: it may create the key
    changed = 0
    with ctx.db.transaction() as session:
        attempts = session.scalars(
            select(RemedyAttempt)
            .where(RemedyAttempt.state != "done")
            .order_by(RemedyAttempt.id)
            .limit(BATCH)
        ).all()
        for attempt in attempts:
            changed += _step(session, key, attempt, now)
    return changed


def _step(session: Session, key: Any, a: RemedyAttempt, now: datetime) -> int:
    remedy = session.get(Remedy, a.remedy_id)
    check = session.get(Check, a.check_id)
    if remedy is None or check is None:  # pragma: no cover - cascades remove the attempt too
        return 0
    if now >= a.hold_until:
        # The escalation turn routes the alert at its notify_at (the end of the hold).
        _end(session, remedy, a, Outcome.TIMED_OUT, "the hold ran out before it ended", now)
        return 1
    if a.state == "pending":
        st = session.get(CheckStateRow, check.id)
        if st is not None and st.status == 0 and st.hard_status == 0:
            # Recovered by itself (a flap): restarting a healthy service helps nobody.
            _end(session, remedy, a, Outcome.NOT_NEEDED, "the check was ok again", now)
            return 1
        _issue(session, key, remedy, check, a, now)
        return 1
    if a.state == "issued":
        job = session.get(AgentJob, a.job_id) if a.job_id is not None else None
        if job is None:
            _end(session, remedy, a, Outcome.JOB_FAILED, "the job is gone", now)
            return 1
        failed = rules.after_job(job.state)
        if failed is not None:
            why = f"job {job.id} {job.state}" + (f": {job.reason}" if job.reason else "")
            _end(session, remedy, a, failed, why, now)
            return 1
        if job.state == rules.JOB_OK:
            a.state = "verifying"
            a.asked_at = now
            a.verify_by = rules.verify_by(check.interval_s, a.hold_until, now)
            # Asked again now rather than at its next turn (as a changed check is).
            session.execute(
                update(CheckStateRow)
                .where(CheckStateRow.check_id == check.id)
                .values(next_due_at=now)
            )
            return 1
        return 0
    if a.state == "verifying":
        st = session.get(CheckStateRow, check.id)
        if st is not None and st.status == 0 and st.hard_status == 0:
            _end(session, remedy, a, Outcome.FIXED, f"the check is ok again: {st.message}", now)
            return 1
        asked, by = a.asked_at or now, a.verify_by or a.hold_until
        if rules.still_failing(asked, st.last_at if st is not None else None, by, now):
            said = st.message if st is not None else ""
            _end(session, remedy, a, Outcome.NOT_FIXED, f"the check still fails: {said}", now)
            return 1
    return 0


def _issue(
    session: Session, key: Any, remedy: Remedy, check: Check, a: RemedyAttempt, now: datetime
) -> None:
    agent_id = session.scalar(select(Agent.id).where(Agent.asset_id == check.asset_id))
    if agent_id is None:
        _end(session, remedy, a, Outcome.NO_AGENT, "the check's machine has no agent", now)
        return
    script_id: int | None = None
    if remedy.kind == "restart_service":
        kind, title = "restart_service", f"remedy: restart {remedy.service}"
        payload: dict[str, Any] = {"service": remedy.service, "timeout": RESTART_TIMEOUT}
    else:
        script = session.get(Script, remedy.script_id) if remedy.script_id else None
        if script is None:
            _end(session, remedy, a, Outcome.JOB_FAILED, "the script is gone", now)
            return
        try:
            params = scripts.complete_params(script, dict(remedy.params))
        except ServiceError as exc:  # the script lost a parameter since
            _end(session, remedy, a, Outcome.JOB_FAILED, exc.detail, now)
            return
        kind, title, script_id = "script", f"remedy: {script.name}", script.id
        payload = scripts.job_payload(script, params)
    job = agent_jobs.issue(
        session,
        key,
        now,
        org_id=remedy.org_id,
        asset_id=check.asset_id,
        agent_id=agent_id,
        kind=kind,
        payload=payload,
        title=title,
        created_by=f"remedy {remedy.id}",
        script_id=script_id,
        ttl=max(a.hold_until - now, timedelta(minutes=1)),
    )
    a.job_id = job.id
    a.state = "issued"


def _end(
    session: Session, remedy: Remedy, a: RemedyAttempt, outcome: Outcome, detail: str, now: datetime
) -> None:
    a.state, a.outcome, a.detail, a.finished_at = "done", outcome.value, detail[:2000], now
    if a.alert_id is not None:
        session.add(
            AlertEvent(
                alert_id=a.alert_id,
                at=now,
                kind="remedy",
                detail=f"{describe(remedy)}, attempt {a.number}: {outcome.value} ({detail})"[:2000],
            )
        )
    if outcome in (Outcome.FIXED, Outcome.NOT_NEEDED):
        return
    if outcome is not Outcome.TIMED_OUT and rules.try_again(
        _policy(remedy), a.number, a.hold_until, now
    ):
        session.add(
            RemedyAttempt(
                org_id=a.org_id,
                remedy_id=a.remedy_id,
                check_id=a.check_id,
                alert_id=a.alert_id,
                number=a.number + 1,
                state="pending",
                outcome="",
                detail="",
                created_at=now,
                hold_until=a.hold_until,
            )
        )
        return
    _release(session, now, [a], "the remedy did not fix it")


def _release(session: Session, now: datetime, attempts: list[RemedyAttempt], why: str) -> None:
    """Let the held alerts of these attempts go out now (the escalation turn routes them)."""
    for a in attempts:
        alert = session.get(AlertRow, a.alert_id) if a.alert_id is not None else None
        if alert is None or alert.state == AlertState.RESOLVED.value:
            continue
        if alert.notify_at is None or alert.notify_at > now:
            alert.notify_at = now
            session.add(AlertEvent(alert_id=alert.id, at=now, kind="released", detail=why))


def _open_attempts(session: Session, remedy_id: int) -> list[RemedyAttempt]:
    return list(
        session.scalars(
            select(RemedyAttempt).where(
                RemedyAttempt.remedy_id == remedy_id, RemedyAttempt.state != "done"
            )
        )
    )


def _policy(remedy: Remedy) -> Policy:
    return Policy(
        max_attempts=remedy.max_attempts,
        cooldown=timedelta(seconds=remedy.cooldown_s),
        timeout=timedelta(seconds=remedy.timeout_s),
    )

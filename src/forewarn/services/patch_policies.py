"""Patch policies: set once, patching happens by itself (docs/patching.md).

A policy belongs to an organization (its default, or an override for the assets with a tag)
or to the provider (one default for every organization without its own). An asset follows
the first that applies: the organization's policy for one of its tags (the oldest such when
several match), the organization's default, the provider's default, or none.

`apply` runs as a scheduled job every few minutes: for every machine under a policy it asks
domain.patch_policy.decide and issues the signed install_updates jobs (through
patch_approval.issue_install, the path approval by hand takes) and reboot jobs it decided,
each expiring when its window (or catch-up grace) does, and records what it did and why in
patch_policy_actions. It is idempotent: a machine with an install job not finished gets no
other, a version tried in this window is not retried in it, and a reboot is issued at most
once per window.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from forewarn.domain import patch_policy as pp
from forewarn.domain.inventory import Role
from forewarn.domain.observation import Status
from forewarn.services import agent_jobs, agents, audit, keys, maintenance, patch_approval
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError, conflict, invalid, not_found
from forewarn.services.rows import flush_or_conflict
from forewarn.services.schemas import Id, Name, Strict, Tag
from forewarn.services.scope import Actor, get_in_scope, get_org_in_scope, require, require_owner
from forewarn.store.models import (
    Agent,
    AgentJob,
    Asset,
    AssetTag,
    Check,
    CheckStateRow,
    Organization,
    PatchPolicyAction,
    PatchPolicyRow,
    PatchStatusRow,
    PendingUpdateRow,
)

log = logging.getLogger("forewarn.patch_policies")

# Jobs looked back on for tries, installs, reboots and the pilot's results.
HISTORY = timedelta(days=60)
# A reboot a person asks for on a machine under no policy must run soon or not at all.
UNFINISHED = ("queued", "sent", "running")
HoldPattern = Annotated[str, StringConstraints(strip_whitespace=True, pattern=pp.HOLD_PATTERN)]
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class PatchPolicyFields(Strict):
    """A policy's settings (docs/patching.md, "Patch policies")."""

    name: Name
    tag: Tag | None = Field(None, description="only assets with this tag; left out: the default")
    paused: bool = False
    security: Literal["auto", "manual"] = "auto"
    other: Literal["auto", "manual", "never"] = "manual"
    deferral_days: int = Field(0, ge=0, le=pp.MAX_DEFERRAL_DAYS)
    pilot_tag: Tag | None = Field(None, description="the pilot ring; left out: no rings")
    ring_delay_days: int = Field(7, ge=0, le=pp.MAX_RING_DELAY_DAYS)
    window_start: ClockTime = Field(description="HH:MM, the organization's wall clock")
    window_minutes: int = Field(ge=pp.MIN_WINDOW_MINUTES, le=24 * 60)
    window_days: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default_factory=list, max_length=7, description="ISO weekdays 1=Mon..7=Sun; none: daily"
    )
    reboot: Literal["never", "when_required", "always"] = "when_required"
    holds: list[HoldPattern] = Field(default_factory=list, max_length=pp.MAX_HOLDS)
    grace_hours: int = Field(pp.DEFAULT_GRACE_HOURS, ge=0, le=pp.MAX_GRACE_HOURS)

    @model_validator(mode="after")
    def _coherent(self) -> PatchPolicyFields:
        if len(set(self.window_days)) != len(self.window_days):
            raise ValueError("a weekday is listed twice")
        if self.pilot_tag is not None and self.pilot_tag == self.tag:
            raise ValueError("the pilot tag cannot be the tag the policy applies to")
        return self


class PatchPolicyCreate(PatchPolicyFields):
    org_id: Id | None = Field(None, description="left out: the provider's default for everyone")


class PatchPolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int | None
    tag: str | None
    name: str
    paused: bool
    security: str
    other: str
    deferral_days: int
    pilot_tag: str | None
    ring_delay_days: int
    window_start: str
    window_minutes: int
    window_days: list[int]
    reboot: str
    holds: list[str]
    grace_hours: int
    created_at: datetime
    updated_at: datetime


class WaitOut(BaseModel):
    name: str
    version: str
    reason: str


class DeviceDecisionOut(BaseModel):
    asset_id: int
    name: str
    policy_id: int | None
    policy_name: str | None
    note: str
    install: list[str] = Field(description='"name=version" the policy installs now')
    waiting: list[WaitOut]
    reboot: bool
    next_window: str | None


class ActionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    policy_id: int | None
    policy_name: str
    asset_id: int
    asset_name: str = ""
    job_id: int | None
    kind: str
    at: datetime
    reason: str
    packages: list[Any]


class OrgDecisionsOut(BaseModel):
    org_id: int
    devices: list[DeviceDecisionOut]
    actions: list[ActionOut] = Field(description="what the policies did, newest first")


class RebootOut(BaseModel):
    job: int
    window_end: datetime


@dataclass
class ApplyReport:
    installs: int = 0
    reboots: int = 0
    devices: int = 0
    jobs: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)  # organizations whose turn failed


# ---- settings --------------------------------------------------------------------------


def _out(row: PatchPolicyRow) -> PatchPolicyOut:
    data = {c: getattr(row, c) for c in PatchPolicyOut.model_fields if c != "window_days"}
    return PatchPolicyOut(**data, window_days=_days(row.window_days))


def _days(text: str) -> list[int]:
    return [int(d) for d in text.split(",") if d]


def to_policy(row: PatchPolicyRow, tz: str) -> pp.Policy:
    """The domain policy of a stored row in an organization's time zone (ValueError: bad)."""
    hour, minute = (int(x) for x in row.window_start.split(":"))
    return pp.Policy(
        window=pp.install_window(
            time(hour, minute), row.window_minutes, _days(row.window_days), tz
        ),
        security=pp.Approval(row.security),
        other=pp.Approval(row.other),
        deferral_days=row.deferral_days,
        pilot_tag=row.pilot_tag,
        ring_delay_days=row.ring_delay_days,
        reboot=pp.Reboot(row.reboot),
        holds=tuple(row.holds or ()),
        grace_hours=row.grace_hours,
    )


def _fill(row: PatchPolicyRow, data: PatchPolicyFields, tz: str) -> None:
    values = data.model_dump(exclude={"org_id", "window_days"})
    for k, v in values.items():
        setattr(row, k, v)
    row.window_days = ",".join(str(d) for d in sorted(data.window_days))
    row.holds = list(dict.fromkeys(data.holds))
    try:
        to_policy(row, tz)  # the domain's own checks: nothing invalid is stored
    except ValueError as exc:
        raise invalid(str(exc)) from exc


def _check_level(session: Session, actor: Actor, org_id: int | None, tag: str | None) -> str:
    """Authorize writing a policy at this level; the time zone its window is read in."""
    if org_id is None:
        require_owner(actor)
        if tag is not None:
            raise invalid("the provider's policy is a default: it takes no tag")
        return "UTC"
    org = get_org_in_scope(session, actor, org_id, Role.VIEWER)
    require(actor, org_id, Role.TECHNICIAN)
    return org.timezone


def _refuse_twin(session: Session, org_id: int | None, tag: str | None, but: int = 0) -> None:
    """One policy per level: the unique key cannot say so where org_id or tag is NULL."""
    stmt = select(PatchPolicyRow.id).where(
        PatchPolicyRow.org_id.is_(None) if org_id is None else PatchPolicyRow.org_id == org_id,
        PatchPolicyRow.tag.is_(None) if tag is None else PatchPolicyRow.tag == tag,
        PatchPolicyRow.id != but,
    )
    if session.scalars(stmt).first() is not None:
        if org_id is None:
            raise conflict("the provider already has a default patch policy")
        what = f"tag {tag!r}" if tag else "the default"
        raise conflict(f"a patch policy for {what} exists in this organization")


def create(ctx: Context, actor: Actor, data: PatchPolicyCreate) -> PatchPolicyOut:
    """A new policy (technicians of the organization; the provider's default: owners)."""
    with ctx.db.transaction() as session:
        tz = _check_level(session, actor, data.org_id, data.tag)
        _refuse_twin(session, data.org_id, data.tag)
        now = ctx.clock.now()
        row = PatchPolicyRow(org_id=data.org_id, created_at=now, updated_at=now)
        _fill(row, data, tz)
        session.add(row)
        what = f"tag {data.tag!r}" if data.tag else "the default"
        flush_or_conflict(session, f"a patch policy for {what} exists in this organization")
        _audit(session, ctx, actor, "patch_policy.create", row)
        return _out(row)


def _visible(session: Session, actor: Actor, policy_id: int) -> PatchPolicyRow:
    row = session.get(PatchPolicyRow, policy_id)
    if row is None or (row.org_id is not None and actor.role_in(row.org_id) is None):
        raise not_found("patch policy")
    return row


def get(ctx: Context, actor: Actor, policy_id: int) -> PatchPolicyOut:
    with ctx.db.read() as session:
        return _out(_visible(session, actor, policy_id))


def list_policies(ctx: Context, actor: Actor, org_id: int) -> list[PatchPolicyOut]:
    """The organization's policies and the provider's default (which applies to it too)."""
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id, Role.VIEWER)
        rows = session.scalars(
            select(PatchPolicyRow)
            .where((PatchPolicyRow.org_id == org_id) | PatchPolicyRow.org_id.is_(None))
            .order_by(
                PatchPolicyRow.org_id.is_(None),
                PatchPolicyRow.tag.is_not(None),
                PatchPolicyRow.tag,
                PatchPolicyRow.id,
            )
        ).all()
        return [_out(r) for r in rows]


def update(ctx: Context, actor: Actor, policy_id: int, data: PatchPolicyFields) -> PatchPolicyOut:
    """Replace a policy's settings (the same rights as creating it)."""
    with ctx.db.transaction() as session:
        row = _visible(session, actor, policy_id)
        tz = _check_level(session, actor, row.org_id, data.tag)
        _refuse_twin(session, row.org_id, data.tag, but=row.id)
        before = audit.snapshot(row)
        _fill(row, data, tz)
        row.updated_at = ctx.clock.now()
        flush_or_conflict(session, f"a patch policy for tag {data.tag!r} exists already")
        _audit(session, ctx, actor, "patch_policy.update", row, before)
        return _out(row)


def delete(ctx: Context, actor: Actor, policy_id: int) -> None:
    with ctx.db.transaction() as session:
        row = _visible(session, actor, policy_id)
        _check_level(session, actor, row.org_id, row.tag)
        _audit(session, ctx, actor, "patch_policy.delete", row, audit.snapshot(row), gone=True)
        session.delete(row)


def _audit(
    session: Session,
    ctx: Context,
    actor: Actor,
    action: str,
    row: PatchPolicyRow,
    before: dict[str, Any] | None = None,
    gone: bool = False,
) -> None:
    session.flush()
    audit.record(
        session,
        ctx.clock,
        actor,
        action,
        entity="patch_policy",
        entity_id=row.id,
        org_id=row.org_id,
        before=before,
        after=None if gone else audit.snapshot(row),
    )


# ---- evaluation ------------------------------------------------------------------------


@dataclass
class _Machine:
    asset_id: int
    name: str
    agent_id: int
    tags: frozenset[str]
    row: PatchPolicyRow | None
    policy: pp.Policy | None
    device: pp.Device
    # (name, version) -> its pending rows: one per architecture it is pending for
    pending: dict[tuple[str, str], list[PendingUpdateRow]]


def resolve(
    tags: frozenset[str], org_rows: list[PatchPolicyRow], provider: PatchPolicyRow | None
) -> PatchPolicyRow | None:
    """The policy an asset follows: its organization's for one of its tags (oldest first),
    the organization's default, the provider's default, or none."""
    tagged = [r for r in org_rows if r.tag is not None and r.tag in tags]
    if tagged:
        return min(tagged, key=lambda r: r.id)
    default = next((r for r in org_rows if r.tag is None), None)
    return default if default is not None else provider


@dataclass
class _Job:
    asset_id: int
    kind: str
    state: str
    packages: list[tuple[str, str]]
    created_at: datetime
    sent_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


def _jobs(session: Session, org_id: int, now: datetime) -> dict[int, list[_Job]]:
    rows = session.execute(
        select(
            AgentJob.asset_id,
            AgentJob.kind,
            AgentJob.state,
            AgentJob.envelope,
            AgentJob.created_at,
            AgentJob.sent_at,
            AgentJob.started_at,
            AgentJob.finished_at,
            AgentJob.not_after,
        ).where(
            AgentJob.org_id == org_id,
            AgentJob.kind.in_(("install_updates", "reboot")),
            AgentJob.created_at >= now - HISTORY,
        )
    ).all()
    out: dict[int, list[_Job]] = defaultdict(list)
    for r in rows:
        packages: list[tuple[str, str]] = []
        if r.kind == "install_updates":
            payload = json.loads(r.envelope).get("payload", {})
            for p in payload.get("packages", []):
                # "name:arch" when several architectures were pending: the pending row's name
                # is the bare one.
                packages.append((str(p["name"]).split(":", 1)[0], str(p.get("version", ""))))
        # A job past its deadline is over whatever its row says (expiry marks it later).
        state = "expired" if r.state in UNFINISHED and r.not_after <= now else r.state
        out[r.asset_id].append(
            _Job(
                r.asset_id,
                r.kind,
                state,
                packages,
                r.created_at,
                r.sent_at,
                r.started_at,
                r.finished_at,
            )
        )
    return out


def _device(
    asset_id: int,
    tags: frozenset[str],
    agent: Agent,
    status: PatchStatusRow,
    pending: list[PendingUpdateRow],
    jobs: list[_Job],
    now: datetime,
) -> pp.Device:
    attempted: dict[tuple[str, str], datetime] = {}
    busy = False
    installed_at = rebooted_at = None
    for j in jobs:
        if j.kind == "reboot":
            rebooted_at = max(filter(None, (rebooted_at, j.created_at)))
            continue
        if j.state in UNFINISHED:
            busy = True
        ran = j.started_at or j.sent_at  # delivered: it had its chance to run
        if ran is not None and j.state not in UNFINISHED:
            for key in j.packages:
                attempted[key] = max(filter(None, (attempted.get(key), ran)))
        if j.state == "succeeded" and j.finished_at is not None:
            installed_at = max(filter(None, (installed_at, j.finished_at)))
    online = _online(agent, now)
    return pp.Device(
        asset_id=asset_id,
        tags=tags,
        online=online,
        reboot_required=status.reboot_since is not None,
        # One update per (name, version), however many architectures it is pending for.
        pending=tuple(
            {
                (r.name, r.candidate): pp.Update(r.name, r.candidate, r.security, r.first_seen)
                for r in pending
            }.values()
        ),
        attempted=attempted,
        busy=busy,
        installed_at=installed_at,
        rebooted_at=rebooted_at,
        online_since=agent.status_since if online and agent.status == "online" else None,
    )


def _online(agent: Agent, now: datetime) -> bool:
    seen = agent.last_seen_at
    return seen is not None and now - seen <= timedelta(
        seconds=agent.interval * agents.MISSED_CHECKINS
    )


def _pilot(
    session: Session, policy: pp.Policy, machines: list[_Machine], jobs: dict[int, list[_Job]]
) -> dict[tuple[str, str], pp.Verdict]:
    """The pilot ring's verdicts for one policy: its pilot machines' install results, and
    their health now (agent online since, hard-critical checks since when)."""
    pilots = [m for m in machines if policy.in_pilot(m.tags)]
    if not pilots:
        return {}
    installs: list[pp.PilotInstall] = []
    for m in pilots:
        for j in jobs.get(m.asset_id, []):
            if j.kind != "install_updates" or j.finished_at is None:
                continue
            # Refused (a late or tampered job) and never-delivered jobs say nothing of the
            # update; succeeded passes it, failed or timed out (after it ran) fails it.
            if j.state == "succeeded":
                ok = True
            elif j.state in ("failed", "timed_out") and j.sent_at is not None:
                ok = False
            else:
                continue
            installs.extend(
                pp.PilotInstall(m.asset_id, n, v, ok, j.finished_at) for n, v in j.packages
            )
    ids = [m.asset_id for m in pilots]
    critical: dict[int, list[datetime]] = defaultdict(list)
    for asset_id, since in session.execute(
        select(Check.asset_id, CheckStateRow.hard_since)
        .join(CheckStateRow, CheckStateRow.check_id == Check.id)
        .where(Check.asset_id.in_(ids), CheckStateRow.hard_status == int(Status.CRITICAL))
    ).all():
        if since is not None:
            critical[asset_id].append(since)
    health = {
        m.asset_id: pp.PilotHealth(
            m.device.online, _last_seen(session, m.agent_id), tuple(critical[m.asset_id])
        )
        for m in pilots
    }
    return pp.pilot_verdict(installs, health)


def _last_seen(session: Session, agent_id: int) -> datetime | None:
    agent = session.get(Agent, agent_id)
    return agent.last_seen_at if agent is not None else None


def _machines(
    session: Session, org: Organization, provider: PatchPolicyRow | None, now: datetime
) -> tuple[list[_Machine], dict[int, list[_Job]]]:
    """Every machine of the organization that reports its updates, with the policy it follows."""
    org_rows = list(
        session.scalars(select(PatchPolicyRow).where(PatchPolicyRow.org_id == org.id)).all()
    )
    found = session.execute(
        select(Asset.id, Asset.name, Agent, PatchStatusRow)
        .join(Agent, Agent.asset_id == Asset.id)
        .join(PatchStatusRow, PatchStatusRow.asset_id == Asset.id)
        .where(Asset.org_id == org.id)
        .order_by(Asset.name, Asset.id)
    ).all()
    tags: dict[int, set[str]] = defaultdict(set)
    for asset_id, tag in session.execute(
        select(AssetTag.asset_id, AssetTag.tag)
        .join(Asset, Asset.id == AssetTag.asset_id)
        .where(Asset.org_id == org.id)
    ).all():
        tags[asset_id].add(tag)
    pending: dict[int, list[PendingUpdateRow]] = defaultdict(list)
    for update_row in session.scalars(
        select(PendingUpdateRow)
        .where(
            PendingUpdateRow.org_id == org.id,
            PendingUpdateRow.source.in_(patch_approval.MANAGER_OF),
        )
        .order_by(PendingUpdateRow.asset_id, PendingUpdateRow.name)
    ):
        pending[update_row.asset_id].append(update_row)
    jobs = _jobs(session, org.id, now)
    policies: dict[int, pp.Policy] = {}
    machines = []
    for asset_id, name, agent, status in found:
        t = frozenset(tags[asset_id])
        row = resolve(t, org_rows, provider)
        policy = None
        if row is not None:
            if row.id not in policies:
                policies[row.id] = to_policy(row, org.timezone)
            policy = policies[row.id]
        rows = pending[asset_id]
        machines.append(
            _Machine(
                asset_id,
                name,
                agent.id,
                t,
                row,
                policy,
                _device(asset_id, t, agent, status, rows, jobs.get(asset_id, []), now),
                _by_key(rows),
            )
        )
    return machines, jobs


def _by_key(rows: list[PendingUpdateRow]) -> dict[tuple[str, str], list[PendingUpdateRow]]:
    out: dict[tuple[str, str], list[PendingUpdateRow]] = defaultdict(list)
    for r in rows:
        out[(r.name, r.candidate)].append(r)
    return out


def _decide_all(
    session: Session, machines: list[_Machine], jobs: dict[int, list[_Job]], now: datetime
) -> list[tuple[_Machine, pp.Decision | None]]:
    verdicts: dict[int, dict[tuple[str, str], pp.Verdict]] = {}
    out: list[tuple[_Machine, pp.Decision | None]] = []
    for m in machines:
        if m.row is None or m.policy is None:
            out.append((m, None))
            continue
        if m.row.id not in verdicts:
            under = [x for x in machines if x.row is not None and x.row.id == m.row.id]
            verdicts[m.row.id] = _pilot(session, m.policy, under, jobs)
        out.append((m, pp.decide(m.policy, m.device, verdicts[m.row.id], now)))
    return out


def _provider(session: Session) -> PatchPolicyRow | None:
    return session.scalars(
        select(PatchPolicyRow).where(PatchPolicyRow.org_id.is_(None)).order_by(PatchPolicyRow.id)
    ).first()


def apply(ctx: Context) -> ApplyReport:
    """Evaluate every machine under a policy and issue the jobs decided (a scheduled job)."""
    report = ApplyReport()
    with ctx.db.read() as session:
        provider = _provider(session)
        stmt = select(Organization.id)
        if provider is None:
            stmt = stmt.where(
                Organization.id.in_(
                    select(PatchPolicyRow.org_id).where(PatchPolicyRow.org_id.is_not(None))
                )
            )
        org_ids = list(session.scalars(stmt.order_by(Organization.id)))
    if not org_ids:
        return report
    key = keys.signing_key(ctx)  # outside the transaction: it may create the key
    for org_id in org_ids:
        # One transaction per organization: one that fails is logged and rolled back, and
        # the others still get their jobs.
        one = ApplyReport()
        try:
            with ctx.db.transaction() as session:
                _apply_org(session, ctx, key, org_id, one)
            report.installs += one.installs
            report.reboots += one.reboots
            report.devices += one.devices
            report.jobs.extend(one.jobs)
        except Exception:
            log.exception("patch policies of organization %d failed", org_id)
            report.failed.append(org_id)
    return report


def _apply_org(session: Session, ctx: Context, key: Any, org_id: int, report: ApplyReport) -> None:
    org = session.get(Organization, org_id)
    if org is None:
        return
    now = ctx.clock.now()
    machines, jobs = _machines(session, org, _provider(session), now)
    for m, d in _decide_all(session, machines, jobs, now):
        if d is None or m.row is None:
            continue
        report.devices += 1
        if m.row.paused or d.deadline is None:
            continue
        by = f"policy:{m.row.name}"[:200]
        chosen = [r for u in d.install for r in m.pending[u.key]]
        # (a name outside its manager's grammar is never installable: left out)
        for manager, packages in patch_approval.packages_by_manager(chosen).items():
            job, targets = patch_approval.issue_install(
                session,
                key,
                now,
                org_id=org_id,
                asset_id=m.asset_id,
                agent_id=m.agent_id,
                packages=packages,
                created_by=by,
                ttl=d.deadline - now,
                manager=manager,
            )
            _record(session, org_id, m, job.id, "install", now, d.note, targets)
            report.installs += 1
            report.jobs.append(job.id)
        if d.reboot and d.window is not None:
            job = issue_reboot(session, key, now, org_id, m.asset_id, m.agent_id, d.window[1], by)
            _record(session, org_id, m, job.id, "reboot", now, d.note, [])
            report.reboots += 1
            report.jobs.append(job.id)


def _record(
    session: Session,
    org_id: int,
    m: _Machine,
    job_id: int,
    kind: str,
    now: datetime,
    reason: str,
    packages: list[str],
) -> None:
    assert m.row is not None
    session.add(
        PatchPolicyAction(
            org_id=org_id,
            policy_id=m.row.id,
            policy_name=m.row.name,
            asset_id=m.asset_id,
            job_id=job_id,
            kind=kind,
            at=now,
            reason=reason,
            packages=packages,
        )
    )


def issue_reboot(
    session: Session,
    key: Any,
    now: datetime,
    org_id: int,
    asset_id: int,
    agent_id: int,
    window_end: datetime,
    by: str,
) -> AgentJob:
    """A signed reboot job that carries its window's end: it expires then, and the agent
    refuses it should it arrive later (agent.jobs)."""
    return agent_jobs.issue(
        session,
        key,
        now,
        org_id=org_id,
        asset_id=asset_id,
        agent_id=agent_id,
        kind="reboot",
        payload={"in_window": True, "window_end": int(window_end.timestamp())},
        title="Reboot",
        created_by=by,
        ttl=max(window_end - now, timedelta(seconds=1)),
    )


# ---- faces -----------------------------------------------------------------------------


def decisions(ctx: Context, actor: Actor, org_id: int) -> OrgDecisionsOut:
    """What the policies decide for each machine of the organization now, and what they did."""
    with ctx.db.read() as session:
        org = get_org_in_scope(session, actor, org_id, Role.VIEWER)
        now = ctx.clock.now()
        machines, jobs = _machines(session, org, _provider(session), now)
        devices = []
        for m, d in _decide_all(session, machines, jobs, now):
            devices.append(_decision_out(m, d, org.timezone))
        actions = session.execute(
            select(PatchPolicyAction, Asset.name)
            .join(Asset, Asset.id == PatchPolicyAction.asset_id)
            .where(PatchPolicyAction.org_id == org_id)
            .order_by(PatchPolicyAction.id.desc())
            .limit(100)
        ).all()
        return OrgDecisionsOut(
            org_id=org_id,
            devices=devices,
            actions=[
                ActionOut.model_validate(a).model_copy(update={"asset_name": name})
                for a, name in actions
            ],
        )


def _decision_out(m: _Machine, d: pp.Decision | None, tz: str) -> DeviceDecisionOut:
    if d is None or m.row is None:
        return DeviceDecisionOut(
            asset_id=m.asset_id,
            name=m.name,
            policy_id=None,
            policy_name=None,
            note="no patch policy",
            install=[],
            waiting=[],
            reboot=False,
            next_window=None,
        )
    note = f"paused (would be: {d.note})" if m.row.paused else d.note
    return DeviceDecisionOut(
        asset_id=m.asset_id,
        name=m.name,
        policy_id=m.row.id,
        policy_name=m.row.name,
        note=note,
        install=[f"{u.name}={u.version}" for u in d.install],
        waiting=[WaitOut(name=w.name, version=w.version, reason=w.reason) for w in d.waiting],
        reboot=d.reboot,
        next_window=pp.span(d.next_window, tz) if d.next_window is not None else None,
    )


def request_reboot(ctx: Context, actor: Actor, asset_id: int) -> RebootOut:
    """A person asks to reboot a machine now: the one way to reboot by hand. Under a patch
    policy it is refused outside the policy's window (409 saying when the next one is) or when
    the policy never reboots; under none, outside the asset's maintenance windows. The signed
    job expires at the window's end, and the agent refuses it after that."""
    key = keys.signing_key(ctx)
    with ctx.db.transaction() as session:
        asset = get_in_scope(session, actor, Asset, asset_id, Role.TECHNICIAN)
        org = session.get(Organization, asset.org_id)
        agent = session.scalars(select(Agent).where(Agent.asset_id == asset_id)).first()
        if org is None or agent is None:
            raise ServiceError("this asset has no agent to reboot it", status=409, title="Conflict")
        now = ctx.clock.now()
        org_rows = list(
            session.scalars(select(PatchPolicyRow).where(PatchPolicyRow.org_id == org.id)).all()
        )
        row = resolve(frozenset(asset.tags), org_rows, _provider(session))
        if row is None:
            windows = maintenance.windows_of(session, [org.id])
            open_end = maintenance.open_until(windows, org.id, asset.site_id, asset.id, now)
            if open_end is None:
                raise conflict(
                    "reboot refused: the asset is not in a maintenance window now (and no "
                    "patch policy's window applies to it)"
                )
            end, by = open_end, actor.username
        else:
            policy = to_policy(row, org.timezone)
            if policy.reboot is pp.Reboot.NEVER:
                raise conflict(f"reboot refused: patch policy {row.name!r} never reboots")
            window = pp.reboot_allowed(policy, now)
            if window is None:
                nxt = pp.next_occurrence(policy.window, now)
                when = pp.span(nxt, org.timezone) if nxt is not None else "none ahead"
                raise conflict(
                    f"reboot refused: outside the maintenance window of patch policy "
                    f"{row.name!r} (next: {when})"
                )
            end, by = window[1], actor.username
        job = issue_reboot(session, key, now, org.id, asset_id, agent.id, end, by)
        audit.record(
            session,
            ctx.clock,
            actor,
            "asset.reboot",
            entity="asset",
            entity_id=asset_id,
            org_id=asset.org_id,
            after={
                "job": job.id,
                "window_end": end.isoformat(),
                "policy": row.name if row else None,
            },
        )
        return RebootOut(job=job.id, window_end=end)

"""Patch approval, the smallest useful kind: a technician approves an organization's pending
updates (security only by default, or named packages) on some machines or all of them, and
each machine gets one signed install_updates job for exactly the candidate versions it
reported pending (docs/patching.md). Patch policies (services/patch_policies.py) issue their
install jobs through issue_install too.

apt's updates are installed with apt-get, dnf's and yum's with dnf (the job's "manager"); a
machine reporting both (rare: dnf beside apt) gets one job for each. A machine that already
has an install_updates job not yet finished gets no second one.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from forewarn.domain.inventory import Role
from forewarn.domain.jobs import (
    INSTALL_TIMEOUT,
    MAX_PACKAGES,
    PACKAGE_NAME,
    PACKAGE_VERSION,
    RPM_ARCH,
    RPM_NAME,
    RPM_VERSION,
    install_targets,
)
from forewarn.services import agent_jobs, audit, keys
from forewarn.services.context import Context
from forewarn.services.errors import not_found
from forewarn.services.schemas import Id, Strict
from forewarn.services.scope import Actor, get_org_in_scope, require
from forewarn.store.models import Agent, AgentJob, Asset, PendingUpdateRow

MAX_TARGETS = 5000
KIND = "install_updates"
PackageName = Annotated[
    str,
    StringConstraints(pattern=f"^(?:{PACKAGE_NAME.pattern}|{RPM_NAME.pattern})$", max_length=160),
]
# The package manager that installs a pending row's update, by the row's source.
MANAGER_OF = {"apt": "apt", "dnf": "dnf", "yum": "dnf"}


class ApproveRequest(Strict):
    """Approve these assets' pending updates (all the organization's when left out)."""

    asset_ids: list[Id] | None = Field(None, max_length=MAX_TARGETS)
    security_only: bool | None = Field(
        None, description="only security updates (the default when no packages are named)"
    )
    packages: list[PackageName] | None = Field(None, min_length=1, max_length=MAX_PACKAGES)

    @model_validator(mode="after")
    def _either(self) -> ApproveRequest:
        if self.packages is not None and self.security_only:
            raise ValueError("give security_only or a list of packages, not both")
        return self


class ApprovedJob(BaseModel):
    job: int
    asset_id: int
    packages: list[str] = Field(
        description='"name=version" as apt installs them, "name-version.arch" as dnf does'
    )
    manager: str = Field("apt", description="apt or dnf")


class ApproveOut(BaseModel):
    jobs: list[ApprovedJob]
    nothing_pending: list[int] = Field(description="assets with no matching pending update")
    skipped: list[int] = Field(description="assets without an agent: nothing to run them on")
    busy: list[int] = Field(description="assets whose previous install has not finished")


def approve(ctx: Context, actor: Actor, org_id: int, data: ApproveRequest) -> ApproveOut:
    """Issue one install_updates job per targeted machine with matching pending updates."""
    key = keys.signing_key(ctx)  # outside the transaction: it may create the key
    security_only = data.packages is None and data.security_only is not False
    wanted = set(data.packages or [])
    with ctx.db.transaction() as session:
        get_org_in_scope(session, actor, org_id, Role.VIEWER)
        require(actor, org_id, Role.TECHNICIAN)
        if data.asset_ids is not None:
            targets = set(data.asset_ids)
            found = set(
                session.scalars(
                    select(Asset.id).where(Asset.org_id == org_id, Asset.id.in_(targets))
                )
            )
            if found != targets:
                raise not_found("asset")
        stmt = select(PendingUpdateRow).where(
            PendingUpdateRow.org_id == org_id, PendingUpdateRow.source.in_(MANAGER_OF)
        )
        if data.asset_ids is not None:
            stmt = stmt.where(PendingUpdateRow.asset_id.in_(targets))
        if security_only:
            stmt = stmt.where(PendingUpdateRow.security.is_(True))
        if wanted:
            stmt = stmt.where(PendingUpdateRow.name.in_(wanted))
        rows: dict[int, list[PendingUpdateRow]] = defaultdict(list)
        for row in session.scalars(stmt.order_by(PendingUpdateRow.asset_id, PendingUpdateRow.name)):
            rows[row.asset_id].append(row)
        asked = sorted(targets) if data.asset_ids is not None else sorted(rows)
        agents = dict(
            session.execute(
                select(Agent.asset_id, Agent.id).where(Agent.asset_id.in_(asked or [-1]))
            ).all()
        )
        busy = set(
            session.scalars(
                select(AgentJob.asset_id).where(
                    AgentJob.asset_id.in_(asked or [-1]),
                    AgentJob.kind == KIND,
                    AgentJob.state.in_(("queued", "sent", "running")),
                )
            )
        )
        now = ctx.clock.now()
        out = ApproveOut(jobs=[], nothing_pending=[], skipped=[], busy=[])
        for asset_id in asked:
            by_manager = packages_by_manager(rows.get(asset_id, []))
            if not by_manager:
                out.nothing_pending.append(asset_id)
            elif asset_id not in agents:
                out.skipped.append(asset_id)
            elif asset_id in busy:
                out.busy.append(asset_id)
            else:
                for manager, packages in by_manager.items():
                    job, targets_ = issue_install(
                        session,
                        key,
                        now,
                        org_id=org_id,
                        asset_id=asset_id,
                        agent_id=agents[asset_id],
                        packages=packages,
                        created_by=actor.username,
                        manager=manager,
                    )
                    out.jobs.append(
                        ApprovedJob(
                            job=job.id, asset_id=asset_id, packages=targets_, manager=manager
                        )
                    )
        audit.record(
            session,
            ctx.clock,
            actor,
            "patches.approve",
            entity="organization",
            entity_id=org_id,
            org_id=org_id,
            after={
                "security_only": security_only,
                "packages": sorted(wanted),
                "jobs": [j.model_dump() for j in out.jobs],
                "skipped": out.skipped,
                "busy": out.busy,
            },
        )
        return out


def issue_install(
    session: Session,
    key: Any,
    now: datetime,
    *,
    org_id: int,
    asset_id: int,
    agent_id: int,
    packages: list[dict[str, str]],
    created_by: str,
    ttl: timedelta = agent_jobs.DEFAULT_TTL,
    manager: str = "apt",
) -> tuple[AgentJob, list[str]]:
    """Queue one signed install_updates job for these packages of one package manager
    (packages_by_manager's shapes; approval and patch policies both issue through here); the
    job and the manager's targets."""
    payload = {"manager": manager, "packages": packages, "timeout": INSTALL_TIMEOUT}
    targets = install_targets(payload)  # the agent's own check, here too
    job = agent_jobs.issue(
        session,
        key,
        now,
        org_id=org_id,
        asset_id=asset_id,
        agent_id=agent_id,
        kind=KIND,
        payload=payload,
        title=f"Install {len(targets)} update{'s' if len(targets) != 1 else ''}",
        created_by=created_by,
        ttl=ttl,
    )
    return job, targets


def packages_by_manager(rows: list[PendingUpdateRow]) -> dict[str, list[dict[str, str]]]:
    """A machine's pending rows as install_updates packages, per package manager (apt first).

    apt: {name, version}, a name pending for several architectures qualified with each.
    dnf (rows from dnf or yum): {name, version, arch}, the exact build dnf check-update named.
    Rows outside the manager's grammar (never installable) and sources no manager installs
    are left out; at most MAX_PACKAGES each.
    """
    names: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.source == "apt":
            names[r.name] += 1
    out: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        manager = MANAGER_OF.get(r.source)
        if manager == "apt":
            name = f"{r.name}:{r.arch}" if names[r.name] > 1 and r.arch else r.name
            if PACKAGE_NAME.fullmatch(name) and PACKAGE_VERSION.fullmatch(r.candidate):
                out.setdefault(manager, []).append({"name": name, "version": r.candidate})
        elif manager == "dnf" and RPM_NAME.fullmatch(r.name) and RPM_VERSION.fullmatch(r.candidate):
            package = {"name": r.name, "version": r.candidate}
            if RPM_ARCH.fullmatch(r.arch):
                package["arch"] = r.arch
            out.setdefault(manager, []).append(package)
    return {m: out[m][:MAX_PACKAGES] for m in sorted(out)}

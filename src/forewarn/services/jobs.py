"""Scheduled jobs of the all-in-one server: rollups, retention, offline detection, expiries.

One thread runs each job at its interval; a job that fails is logged and tried again at its
next turn. Several worker processes over one database share the jobs: each turn of a job is
claimed first (one conditional UPDATE of its row in server_state), so it runs once in all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from forewarn.services import (
    activity,
    agent_jobs,
    agents,
    assessments,
    discovery,
    expiries,
    metrics,
    monthly_report,
    patch_policies,
    patching,
    posture,
    recurring,
    remedies,
    schedules,
    tickets,
    vulns,
)
from forewarn.services.context import Context
from forewarn.store.bulk import insert_ignore
from forewarn.store.models import KeyValue

log = logging.getLogger("forewarn.jobs")


@dataclass
class Job:
    name: str
    every: float
    run: Callable[[Context], object]
    next_at: float = field(default=0.0)


def default_jobs() -> list[Job]:
    return [
        Job("offline", 15, agents.mark_offline),
        Job("rollup", 60, metrics.rollup),
        Job("retention", 3600, lambda ctx: metrics.enforce_retention(ctx)),
        Job("batch-ids", 3600, agents.prune_batch_ids),
        # Each network is swept once a day; one network per turn (a sweep takes up to 120 s).
        Job("discovery", 600, discovery.sweep_due),
        # Tickets whose SLA is at risk or breached become alerts (and stop being when done).
        Job("sla", 60, tickets.sla_watch),
        # Dates that matter (certificates, warranties, end of life, backups, agents) and
        # recurring problems become findings, and stop being once no longer true.
        Job("expiries", 3600, expiries.refresh),
        Job("recurring", 900, recurring.refresh),
        # Accepted posture risks whose expiry passed reopen; agents get the policies in force.
        Job("posture", 3600, posture.refresh),
        # Failed logins, logins at night, new administrators, ... become security alerts.
        Job("security", 30, activity.evaluate),
        # Assets whose packages changed, or all once new vulnerability data was imported,
        # matched again (at most vulns.BATCH per turn); vulnerable packages become findings.
        Job("vulns", 60, vulns.refresh),
        # Security updates pending past the policy and reboots long due become findings.
        Job("patching", 900, patching.refresh),
        # Agents' signed jobs never delivered before their deadline are marked timed out.
        Job("agent-jobs", 300, agent_jobs.expire),
        # Early each month, last month's client report for every organization that has none:
        # each turn makes only what is missing, so hourly turns cost one read when done.
        Job("monthly-reports", 3600, monthly_report.generate_last_month),
        # Every organization is assessed once a month (UTC); the snapshot's month is its key.
        Job("assessments", 3600, assessments.run_monthly),
        # Patch policies: machines in their window (or catching up) get install and reboot
        # jobs. Every 5 minutes: a window is at least a few of them long.
        Job("patch-policies", 300, patch_policies.apply),
        # Remedies being tried: issue their jobs, ask their checks again, release held alerts.
        Job("remedies", 5, remedies.turn),
        # Scheduled library scripts whose occurrence is due: one signed job per machine.
        Job("script-schedules", 30, schedules.run_due),
    ]


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def claim(ctx: Context, name: str, every: float) -> bool:
    """Take this turn of a job for this process; False when another took it already.

    The row holds when the job is next due; the UPDATE only succeeds for the first process to
    find it due, on either engine.
    """
    now = ctx.clock.now()
    key = f"job:{name}"
    with ctx.db.transaction() as session:
        insert_ignore(session, KeyValue.__table__, [{"key": key, "value": ""}])  # type: ignore[arg-type]
        result = session.execute(
            update(KeyValue)
            .where(KeyValue.key == key, KeyValue.value <= _stamp(now))
            .values(value=_stamp(now + timedelta(seconds=every * 0.9)))
        )
        return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


class Scheduler:
    def __init__(self, ctx: Context, jobs: list[Job] | None = None) -> None:
        self.ctx = ctx
        self.jobs = jobs if jobs is not None else default_jobs()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_due(self, now: float) -> None:
        for job in self.jobs:
            if now < job.next_at:
                continue
            job.next_at = now + job.every
            try:
                if claim(self.ctx, job.name, job.every):
                    job.run(self.ctx)
            except Exception:
                log.exception("job %s failed", job.name)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_due(time.monotonic())
            self._stop.wait(1.0)

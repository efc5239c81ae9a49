"""Scheduled jobs: several worker processes over one database run each turn once."""

from __future__ import annotations

from forewarn.domain.clock import ManualClock
from forewarn.services.context import Context
from forewarn.services.jobs import Job, Scheduler


def test_two_schedulers_share_each_turn_of_a_job(settings, clock: ManualClock):
    ran: list[str] = []
    workers = []
    for name in ("a", "b"):
        ctx = Context.from_settings(settings, clock)
        job = Job("count", 60, lambda _ctx, name=name: ran.append(name))
        workers.append(Scheduler(ctx, [job]))
    for w in workers:
        w.run_due(0.0)
    assert len(ran) == 1
    clock.advance(30)  # not due yet for anyone
    for w in workers:
        w.jobs[0].next_at = 0.0
        w.run_due(100.0)
    assert len(ran) == 1
    clock.advance(31)
    for w in reversed(workers):
        w.jobs[0].next_at = 0.0
        w.run_due(200.0)
    assert len(ran) == 2 and ran[1] == "b"
    for w in workers:
        w.ctx.db.dispose()

"""Deadlines: asyncio.timeout's contract, kept with one sweep a tick (real time, small ticks)."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from forewarn.probes.deadline import Deadlines

TICK = 0.05


def test_a_block_that_runs_over_raises_timeout_within_a_tick_of_its_limit():
    async def main() -> float:
        d = Deadlines(TICK)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with d.within(0.1):
                await asyncio.sleep(10)
        return time.monotonic() - started

    took = asyncio.run(main())
    assert 0.1 <= took < 0.1 + TICK + 0.1  # the limit, at most a tick (and scheduling) late


def test_a_block_that_ends_in_time_leaves_nothing_armed_and_no_cancellation_behind():
    async def main() -> tuple[int, bool, bool]:
        d = Deadlines(TICK)
        async with d.within(0.2):
            await asyncio.sleep(0.01)
        armed = d.armed()
        await asyncio.sleep(0.4)  # past the limit: nothing may cancel this task now
        task = asyncio.current_task()
        assert task is not None
        return armed, task.cancelling() > 0, d._sweeping is None

    armed, cancelling, idle = asyncio.run(main())
    assert (armed, cancelling, idle) == (0, False, True)


def test_a_cancellation_from_outside_stays_a_cancellation():
    async def main() -> None:
        d = Deadlines(TICK)

        async def probe() -> None:
            async with d.within(5):
                await asyncio.sleep(10)

        task = asyncio.create_task(probe())
        await asyncio.sleep(0.02)
        task.cancel()  # the poller stopping, not the limit
        with pytest.raises(asyncio.CancelledError):
            await task
        assert d.armed() == 0

    asyncio.run(main())


def test_an_inner_limit_times_out_alone_and_the_outer_block_goes_on():
    async def main() -> str:
        d = Deadlines(TICK)
        async with d.within(2):
            try:
                async with d.within(0.05):
                    await asyncio.sleep(10)
            except TimeoutError:
                pass
            await asyncio.sleep(0.1)  # the outer block is not cancelled by the inner one
            return "outer finished"

    assert asyncio.run(main()) == "outer finished"


def test_many_tasks_each_time_out_exactly_when_they_run_over():
    """300 tasks with random durations and limits at once: one that needs clearly less than
    its limit finishes, one that needs clearly more (beyond the tick) times out."""
    rng = random.Random(7)
    cases = [(rng.uniform(0.0, 0.6), rng.uniform(0.05, 0.6)) for _ in range(300)]
    # Near the boundary (within a tick plus scheduling) either answer is right.
    cases = [(run, limit) for run, limit in cases if not limit - 0.03 < run < limit + TICK + 0.05]

    async def main() -> list[bool]:
        d = Deadlines(TICK)

        async def one(run: float, limit: float) -> bool:
            try:
                async with d.within(limit):
                    await asyncio.sleep(run)
                return True
            except TimeoutError:
                return False

        done = await asyncio.gather(*(one(r, lim) for r, lim in cases))
        assert d.armed() == 0
        return done

    finished = asyncio.run(main())
    assert finished == [run < limit for run, limit in cases]
    assert 50 < sum(finished) < len(cases) - 50  # both kinds were really drawn


def test_a_tick_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        Deadlines(0)

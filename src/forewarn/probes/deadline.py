"""Time limits for many short probes at once: one timer per tick instead of one per probe.

`asyncio.timeout` arms a timer handle on the loop's heap for every use and cancels it after
(~3.6 us a check: 4-5 % of an HTTP check in the poller's loop thread, where ten thousand
checks a second each carry a limit of seconds). The poller does not need those limits to the
microsecond. `Deadlines.within(seconds)` is a drop-in for `asyncio.timeout(seconds)` inside a
task: the task is cancelled at the first tick (a quarter second) after its limit and the block
raises TimeoutError, exactly as with asyncio.timeout; a block that ends in time costs a set
insertion and removal. One sweep a tick runs only while some limit is armed.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from types import TracebackType

TICK_S = 0.25


class Deadlines:
    """The limits of one event loop's tasks, grouped by the tick at which they run out."""

    def __init__(self, tick: float = TICK_S) -> None:
        if tick <= 0:
            raise ValueError("a tick must be positive")
        self.tick = tick
        self._due: dict[int, set[_Limit]] = {}
        self._sweeping: asyncio.TimerHandle | None = None
        self._sweep_slot = 0  # the tick the pending sweep runs at

    def within(self, seconds: float) -> _Limit:
        """`async with deadlines.within(s):` raises TimeoutError once `s` seconds (rounded up
        to the next tick) have passed; like asyncio.timeout, only inside a task."""
        return _Limit(self, seconds)

    def armed(self) -> int:
        """Limits armed and not yet run out (for tests)."""
        return sum(len(s) for s in self._due.values())

    def _arm(self, limit: _Limit, loop: asyncio.AbstractEventLoop, at: float) -> int:
        slot = int(at / self.tick) + 1  # the first tick at or after `at`
        due = self._due.get(slot)
        if due is None:
            due = self._due[slot] = set()
        due.add(limit)
        if self._sweeping is None or slot < self._sweep_slot:
            self._sweep_at(loop, slot)
        return slot

    def _sweep_at(self, loop: asyncio.AbstractEventLoop, slot: int) -> None:
        if self._sweeping is not None:
            self._sweeping.cancel()
        self._sweep_slot = slot
        self._sweeping = loop.call_at(slot * self.tick, self._sweep, loop)

    def _disarm(self, limit: _Limit, slot: int) -> None:
        due = self._due.get(slot)
        if due is not None:
            due.discard(limit)
            if not due:
                del self._due[slot]

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        self._sweeping = None
        now = int(loop.time() / self.tick)
        for slot in [s for s in self._due if s <= now]:
            for limit in self._due.pop(slot):
                limit._expire()
        if self._due:  # the earliest tick still armed (a few hundred keys at most)
            self._sweep_at(loop, max(min(self._due), now + 1))


def limit(deadlines: Deadlines | None, seconds: float) -> AbstractAsyncContextManager[object]:
    """The limit of a self-bounded probe: the poller's shared deadlines when it runs one, or
    asyncio.timeout (`forewarn check`, tests, anything without a poller)."""
    return asyncio.timeout(seconds) if deadlines is None else deadlines.within(seconds)


class _Limit:
    """One `within` block: asyncio.timeout's contract with a coarse clock."""

    __slots__ = ("_cancelling", "_expired", "_owner", "_seconds", "_slot", "_task")

    def __init__(self, owner: Deadlines, seconds: float) -> None:
        self._owner = owner
        self._seconds = seconds
        self._task: asyncio.Task[object] | None = None
        self._slot = 0
        self._cancelling = 0
        self._expired = False

    async def __aenter__(self) -> _Limit:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("Deadlines.within() must be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        loop = asyncio.get_running_loop()
        self._slot = self._owner._arm(self, loop, loop.time() + self._seconds)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._expired:
            self._owner._disarm(self, self._slot)
            return
        assert self._task is not None
        # Ours was the cancellation (not someone else's, e.g. the poller stopping): a timeout.
        if self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc

    def _expire(self) -> None:
        task = self._task
        if task is not None and not task.done():
            self._expired = True
            task.cancel()

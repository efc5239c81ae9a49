"""Recording check results in a child process, so the poller's core only probes.

A poller process is bound by the CPU of its one interpreter: judging and storing a result
costs about as much as probing it. The recorder is a spawned child that receives the
observations in groups over a pipe and runs `results.record` on the second core. Nothing
here is acknowledged to anyone: if the child dies, the leases of the checks it did not
record run out and the checks run again; the poller starts a new child.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import pickle
from collections.abc import Sequence
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from forewarn.config import Settings
from forewarn.domain.observation import Metric, Observation, Result, Status

log = logging.getLogger(__name__)

Packed = tuple[int, float, int, str, str, float, tuple[tuple[Any, ...], ...]]
READY = b"ready"  # the child's one message: its imports are done and it can record


def pack(group: Sequence[Observation]) -> bytes:
    """Plain tuples pickle several times faster than dataclasses."""
    rows: list[Packed] = [
        (
            o.check_id,
            o.at.timestamp(),
            int(o.result.status),
            o.result.message,
            o.result.details,
            o.duration_ms,
            tuple(
                (m.name, m.value, m.unit, m.warn, m.crit, m.min, m.max) for m in o.result.metrics
            ),
        )
        for o in group
    ]
    return pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)


def unpack(data: bytes) -> list[Observation]:
    rows: list[Packed] = pickle.loads(data)
    return [
        Observation(
            check_id,
            datetime.fromtimestamp(at, UTC),
            Result(Status(status), message, tuple(Metric(*m) for m in metrics), details),
            duration_ms,
        )
        for check_id, at, status, message, details, duration_ms, metrics in rows
    ]


def _main(settings: Settings, conn: Connection, lease_owner: str) -> None:
    from forewarn.services import results
    from forewarn.services.context import Context
    from forewarn.services.ingest import SeriesCache

    ctx = Context.from_settings(settings)
    series = SeriesCache()
    try:
        conn.send_bytes(READY)
        while True:
            data = conn.recv_bytes()
            if not data:
                return
            group = unpack(data)
            try:
                results.record(ctx, group, series=series, lease_owner=lease_owner)
            except Exception:
                log.exception("recording %d check results failed", len(group))
    except (EOFError, KeyboardInterrupt):
        return
    finally:
        ctx.db.dispose()


class Recorder:
    """The child process and the pipe to it; `send` blocks when the child falls behind."""

    def __init__(self, settings: Settings, lease_owner: str) -> None:
        self.settings = settings
        self.lease_owner = lease_owner
        self._start()

    def _start(self) -> None:
        mp = multiprocessing.get_context("spawn")  # never fork a process with threads
        self._conn, child = mp.Pipe()
        self._proc = mp.Process(
            target=_main,
            args=(self.settings, child, self.lease_owner),
            name="forewarn-recorder",
            daemon=True,
        )
        self._proc.start()
        child.close()
        self._ready = False

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Until the child has started (spawning imports the whole server: about a second of
        CPU); answers whether it did within `timeout`. A poller waits for this before its first
        claim, so no lease runs while nothing can record, and the child's start-up does not
        compete with the first probes for the CPU."""
        if not self._ready and self._conn.poll(timeout):
            try:
                self._ready = self._conn.recv_bytes() == READY
            except (EOFError, OSError):
                return False
        return self._ready

    def send(self, group: Sequence[Observation]) -> None:
        if not self._proc.is_alive():
            log.warning(
                "the recorder process ended (exit %s); starting another", self._proc.exitcode
            )
            self._start()
            self.wait_ready()
        self._conn.send_bytes(pack(group))

    def close(self, timeout: float = 30.0) -> None:
        """Let the child record what it was sent, then stop it."""
        with contextlib.suppress(OSError):
            self._conn.send_bytes(b"")
        self._proc.join(timeout)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)
        self._conn.close()

"""Recording check results in a child process, so the poller's core only probes.

A poller process is bound by the CPU of its one interpreter: judging and storing a result
costs about as much as probing it. The recorder is a spawned child that receives the
observations in groups over a pipe and runs `results.record` on the second core. It also
claims the poller's due checks, asked over a second pipe: one process then writes all of the
poller's rows, so a claim never waits for a recording transaction to let go of SQLite's
write lock (nor the other way round), and the claim's CPU leaves the probing process.
Nothing here is acknowledged to anyone: if the child dies, the leases of the checks it
claimed or did not record run out and the checks run again; the poller starts a new child.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import marshal
import multiprocessing
import os
import pickle
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from typing import Any

from forewarn.config import Settings
from forewarn.domain.observation import Metric, Observation, Result, Status

log = logging.getLogger(__name__)

Packed = tuple[int, float, int, str, str, float, tuple[tuple[Any, ...], ...]]
READY = b"ready"  # the child's first message: its imports are done and it can record
# How long a claim may wait for the child (busy recording, or SQLite locked by another
# process: its busy timeout is 10 s). A later answer is dropped; its leases run out.
CLAIM_WAIT_S = 60.0


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


def _main(settings: Settings, conn: Connection, claims: Connection, lease_owner: str) -> None:
    from forewarn.services import poller, results
    from forewarn.services.context import Context
    from forewarn.services.ingest import SeriesCache

    # Below the poller and the API: results and claims can wait a few milliseconds, a probe
    # measuring a response time cannot. On two busy cores this kept the probing loop and the
    # servers it talks to fed (bench_poller_cost: +5-20 % checks/s; docs/performance.md).
    # Bounded by itself: a starved child answers claims late, so the poller slows down.
    with contextlib.suppress(OSError):
        os.nice(settings.poller_recorder_nice)
    ctx = Context.from_settings(settings)
    series = SeriesCache()
    # As in the server (cli.tune_gc), which a spawned child does not inherit: with the
    # collector's default threshold (700 allocations) every group of results walked the large,
    # long-lived series cache and SQLAlchemy's state again, ~18 us of the child's ~55 us per
    # check.
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    # The definitions handed to the poller, by check id: the stored time of their last change.
    # An unchanged one goes over the pipe as its id alone (`Recorder.claim` keeps the rows).
    sent: dict[int, Any] = {}
    try:
        # The check series of every asset, as a long-running recorder has them: without, a
        # fresh child's first groups each read their assets' series (10,000 checks on one
        # asset: ~0.1 s of the first second) while the poller's first results wait.
        try:
            with ctx.db.read() as session:
                series.preload(session, "check.")
        except Exception:  # only a head start: recording reads what it needs anyway
            log.exception("reading the check series ahead failed")
        claims.send_bytes(READY)
        while True:
            # A claim first: the poller's free slots wait for it, a group of results does not.
            if claims in wait([claims, conn]):
                asked, now, limit = marshal.loads(claims.recv_bytes())
                rows: list[tuple[Any, ...] | int] | None
                try:
                    at = datetime.fromtimestamp(now, UTC)
                    rows = poller.claim_rows(ctx, lease_owner, at, limit, sent)
                except Exception:
                    log.exception("claiming due checks failed")
                    rows = None
                claims.send_bytes(marshal.dumps((asked, rows)))
                continue
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
    """The child process and the pipes to it; `send` blocks when the child falls behind.

    `send` and `claim` may be called from two threads at once (the poller's flusher and
    claimer): a dead child is replaced once, under a lock, by whichever notices first.
    """

    def __init__(self, settings: Settings, lease_owner: str) -> None:
        self.settings = settings
        self.lease_owner = lease_owner
        self._life = threading.Lock()  # replacing the child
        self._ask = threading.Lock()  # the claims pipe: one question (or READY) at a time
        self._asked = 0
        # Every definition the child handed over, by check id: it sends an unchanged one as
        # its id alone. Kept across children (a new child sends each once in full first).
        self._rows: dict[int, tuple[Any, ...]] = {}
        self._start()

    def _start(self) -> None:
        mp = multiprocessing.get_context("spawn")  # never fork a process with threads
        self._conn, child = mp.Pipe()
        self._claims, child_claims = mp.Pipe()
        self._proc = mp.Process(
            target=_main,
            args=(self.settings, child, child_claims, self.lease_owner),
            name="forewarn-recorder",
            daemon=True,
        )
        self._proc.start()
        child.close()
        child_claims.close()
        self._ready = False

    def _alive(self) -> None:
        """Replace the child if it died (and wait until the new one has started)."""
        with self._life:
            if self._proc.is_alive():
                return
            log.warning(
                "the recorder process ended (exit %s); starting another", self._proc.exitcode
            )
            self._start()
        self.wait_ready()

    def claim(self, now: float, limit: int) -> list[tuple[Any, ...]]:
        """Have the child lease up to `limit` checks due at `now` (a UNIX time) to this
        poller; answers them as plain rows (`poller.ClaimRow`)."""
        self._alive()
        if not self.wait_ready(CLAIM_WAIT_S):
            raise TimeoutError(f"the recorder did not start within {CLAIM_WAIT_S:.0f} s")
        with self._ask:
            # This child's pipe, even if the other thread replaces a dead child meanwhile:
            # the dead one's pipe answers EOFError at once, the claimer tries again.
            pipe = self._claims
            self._asked += 1
            asked = self._asked
            pipe.send_bytes(marshal.dumps((asked, now, limit)))
            while True:
                if not pipe.poll(CLAIM_WAIT_S):
                    raise TimeoutError(f"no claim from the recorder within {CLAIM_WAIT_S:.0f} s")
                data = pipe.recv_bytes()
                if data == READY:  # a child started by the other thread meanwhile
                    self._ready = True
                    continue
                answer, rows = marshal.loads(data)
                if answer == asked:
                    break
                # The late answer to a question given up on: its leases run out, but the
                # child counts its definitions as handed over.
                self._keep(rows or [])
        if rows is None:
            raise RuntimeError("the recorder process failed to claim (see its log)")
        return self._keep(rows)

    def _keep(self, rows: list[tuple[Any, ...] | int]) -> list[tuple[Any, ...]]:
        """The claim's rows in full: a definition sent before comes as its id alone."""
        known = self._rows
        out: list[tuple[Any, ...]] = []
        lost = []
        for row in rows:
            if isinstance(row, int):
                if row in known:
                    out.append(known[row])
                else:
                    lost.append(row)
            else:
                known[row[0]] = row
                out.append(row)
        if lost:
            # Never expected: a child that knows more than we do. A new child sends every
            # definition in full; these checks run again when their leases run out.
            log.error("the recorder sent %d definitions by id alone; restarting it", len(lost))
            with self._life:
                self._proc.kill()
        return out

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Until the child has started (spawning imports the whole server: about a second of
        CPU); answers whether it did within `timeout`. A poller waits for this before its first
        claim, so no lease runs while nothing can record, and the child's start-up does not
        compete with the first probes for the CPU."""
        with self._ask:
            pipe = self._claims
            if not self._ready and pipe.poll(timeout):
                try:
                    self._ready = pipe.recv_bytes() == READY
                except (EOFError, OSError):
                    return False
            return self._ready

    def send(self, group: Sequence[Observation]) -> None:
        self._alive()
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
        self._claims.close()

"""Recording check results in a child process, so the poller's core only probes.

A poller process is bound by the CPU of its one interpreter: judging and storing a result
costs about as much as probing it. The recorder is a spawned child that receives the
observations in groups over a pipe and runs `results.record` on the second core. It also
claims the poller's due checks, asked over a second pipe: one process then writes all of the
poller's rows, so a claim never waits for a recording transaction to let go of SQLite's
write lock (nor the other way round), and the claim's CPU leaves the probing process.
Nothing here is acknowledged to anyone: if the child dies, the leases of the checks it
claimed or did not record run out and the checks run again; the poller starts a new child.

Results and claims go over two socket pairs that the poller's event loop reads and writes
itself (`send`, `claim`; each message framed by a 4-byte length): handing each group and each
claim to a worker thread made that thread and the loop take the GIL from each other twice a
message, and the loop thread, the poller's bottleneck, waited each time (same-machine A/B,
30,000 checks: HTTP 74-76 % -> 78-82 % of the bare loop's rate, TCP 69 % -> 91 %).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import marshal
import multiprocessing
import os
import pickle
import socket
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from multiprocessing.connection import wait
from multiprocessing.synchronize import Event
from typing import Any

from forewarn.config import Settings
from forewarn.domain.observation import Metric, Observation, Result, Status

log = logging.getLogger(__name__)

Packed = tuple[int, float, int, str, str, float, tuple[tuple[Any, ...], ...]]
# How long a claim may wait for the child (busy recording, or SQLite locked by another
# process: its busy timeout is 10 s). A later answer is dropped; its leases run out.
CLAIM_WAIT_S = 60.0
# Every message on the two sockets is its length (4 bytes, big-endian), then its bytes: a
# group of results (`pack`), a claim's question or its answer (marshal). On the results
# socket a length of zero, or the end of the stream, tells the child to stop once it has
# recorded the groups before it.
_LENGTH = 4
STOP = bytes(_LENGTH)


def frame(data: bytes) -> bytes:
    return len(data).to_bytes(_LENGTH, "big") + data


def read_frame(sock: socket.socket) -> bytes:
    """The child's read of the next message, or b"" for the end (STOP, or the poller gone)."""
    head = _read_exactly(sock, _LENGTH)
    if len(head) < _LENGTH:
        return b""
    size = int.from_bytes(head, "big")
    data = _read_exactly(sock, size) if size else b""
    if len(data) < size:
        raise EOFError("the poller's socket ended inside a message")
    return data


async def _next_frame(reader: asyncio.StreamReader, wait_s: float) -> bytes:
    """The poller's read of the child's next answer. Only the wait for its first bytes is
    bounded: a frame is written whole, and one cut by a timeout would leave the next read
    in its middle."""
    try:
        async with asyncio.timeout(wait_s):
            head = await reader.readexactly(_LENGTH)
        return await reader.readexactly(int.from_bytes(head, "big"))
    except asyncio.IncompleteReadError:
        raise ConnectionError("the recorder process closed its socket") from None


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:])
        if k == 0:
            break
        got += k
    return bytes(buf[:got])


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


def _main(
    settings: Settings,
    conn: socket.socket,
    claims: socket.socket,
    ready: Event,
    lease_owner: str,
) -> None:
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
    # An unchanged one goes over the socket as its id alone (`Recorder.claim` keeps the rows).
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
        ready.set()
        watched: list[socket.socket] = [claims, conn]
        while True:
            # A claim first: the poller's free slots wait for it, a group of results does not.
            if claims in wait(watched):
                question = read_frame(claims)
                if not question:  # no more claims; the last results may still be coming
                    watched = [conn]
                    continue
                asked, now, limit = marshal.loads(question)
                rows: list[tuple[Any, ...] | int] | None
                try:
                    at = datetime.fromtimestamp(now, UTC)
                    rows = poller.claim_rows(ctx, lease_owner, at, limit, sent)
                except Exception:
                    log.exception("claiming due checks failed")
                    rows = None
                claims.sendall(frame(marshal.dumps((asked, rows))))
                continue
            data = read_frame(conn)
            if not data:
                return
            group = unpack(data)
            try:
                results.record(ctx, group, series=series, lease_owner=lease_owner)
            except Exception:
                log.exception("recording %d check results failed", len(group))
    except (EOFError, ConnectionError, KeyboardInterrupt):
        return
    finally:
        conn.close()
        claims.close()
        ctx.db.dispose()


class Recorder:
    """The child process and the two sockets to it.

    `send` and `claim` run on the poller's event loop, one loop for the recorder's life,
    which owns the sockets once it used them (`finish` closes them there); they wait without
    blocking the loop. Replacing a dead child (`_alive`) blocks, so the loop does it in a
    worker thread, under a lock.
    """

    def __init__(self, settings: Settings, lease_owner: str) -> None:
        self.settings = settings
        self.lease_owner = lease_owner
        self._life = threading.Lock()  # replacing the child
        self._asking = asyncio.Lock()  # one claim's question and answer at a time
        self._asked = 0
        # Every definition the child handed over, by check id: it sends an unchanged one as
        # its id alone. Kept across children (a new child sends each once in full first).
        self._rows: dict[int, tuple[Any, ...]] = {}
        # The event loop's streams and the socket each wraps (a child's `_results` or
        # `_claims`), made by the first `send` or `claim` to that child.
        self._sending: tuple[socket.socket, asyncio.StreamWriter] | None = None
        self._claiming: tuple[socket.socket, asyncio.StreamReader, asyncio.StreamWriter] | None
        self._claiming = None
        self._start()

    def _start(self) -> None:
        mp = multiprocessing.get_context("spawn")  # never fork a process with threads
        for old, stream in (
            (getattr(self, "_results", None), self._sending),
            (getattr(self, "_claims", None), self._claiming),
        ):
            if old is not None and (stream is None or stream[0] is not old):
                old.close()  # a dead child's, never given to the loop (which closes those)
        self._results, child = socket.socketpair()
        self._claims, child_claims = socket.socketpair()
        self._ready = mp.Event()
        self._proc = mp.Process(
            target=_main,
            args=(self.settings, child, child_claims, self._ready, self.lease_owner),
            name="forewarn-recorder",
            daemon=True,
        )
        self._proc.start()
        child.close()
        child_claims.close()

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

    async def _live(self) -> None:
        if not self._proc.is_alive():
            await asyncio.to_thread(self._alive)

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Until the child has started (spawning imports the whole server: about a second of
        CPU); answers whether it did within `timeout`. A poller waits for this before its first
        claim, so no lease runs while nothing can record, and the child's start-up does not
        compete with the first probes for the CPU."""
        return self._ready.wait(timeout)

    async def claim(self, now: float, limit: int) -> list[tuple[Any, ...]]:
        """Have the child lease up to `limit` checks due at `now` (a UNIX time) to this
        poller; answers them as plain rows (`poller.ClaimRow`)."""
        async with self._asking:
            await self._live()
            if not self._ready.is_set() and not await asyncio.to_thread(
                self.wait_ready, CLAIM_WAIT_S
            ):
                raise TimeoutError(f"the recorder did not start within {CLAIM_WAIT_S:.0f} s")
            sock = self._claims
            if self._claiming is None or self._claiming[0] is not sock:
                if self._claiming is not None:
                    self._claiming[2].close()  # a dead child's
                # A claim's answer (hundreds of KB with new definitions) is read in one go.
                reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 24)
                self._claiming = (sock, reader, writer)
            _, reader, writer = self._claiming
            self._asked += 1
            asked = self._asked
            writer.write(frame(marshal.dumps((asked, now, limit))))
            await writer.drain()
            while True:
                try:
                    answer, rows = marshal.loads(await _next_frame(reader, CLAIM_WAIT_S))
                except TimeoutError:
                    raise TimeoutError(
                        f"no claim from the recorder within {CLAIM_WAIT_S:.0f} s"
                    ) from None
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

    async def send(self, group: Sequence[Observation]) -> None:
        """Hand a group to the child; returns once the socket took it or its buffer has room
        again (the child fell behind: the poller's results wait, its probes go on)."""
        await self._live()
        sock = self._results
        if self._sending is None or self._sending[0] is not sock:
            if self._sending is not None:
                self._sending[1].close()  # a dead child's
            _, writer = await asyncio.open_connection(sock=sock)
            self._sending = (sock, writer)
        writer = self._sending[1]
        writer.write(frame(pack(group)))
        await writer.drain()

    async def finish(self, timeout: float = 30.0) -> None:
        """On the poller's loop: let the child record what it was sent, then stop it."""
        if self._sending is not None:
            sock, writer = self._sending
            if sock is self._results:
                with contextlib.suppress(OSError):
                    writer.write(STOP)
                    await writer.drain()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        if self._claiming is not None:
            writer = self._claiming[2]
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        await asyncio.to_thread(self.close, timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Let the child record what it was sent, then stop it. Where the event loop used
        the sockets it owns them: `finish` there, which ends here."""
        if self._sending is None or self._sending[0] is not self._results:
            with contextlib.suppress(OSError):
                self._results.sendall(STOP)
            self._results.close()
        if self._claiming is None or self._claiming[0] is not self._claims:
            self._claims.close()
        self._proc.join(timeout)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)

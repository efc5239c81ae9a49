"""The outgoing buffer: every batch waits here, gzip-compressed, until the server acknowledged it.

A SQLite database in WAL mode with synchronous=FULL. Why FULL rather than NORMAL: in WAL mode
NORMAL already survives a crash of the agent itself (the commit is in the WAL file, which
the kernel keeps), but the last commits can vanish when the machine loses power or the kernel
panics — and a laptop whose battery runs flat is exactly when a workstation agent stops. FULL
adds one fsync per commit; the agent commits about twice a minute (append, acknowledge), so
the price is nothing worth measuring.

Order is the sequence number (seq), assigned here and never reused. The buffer is bounded in
bytes: past the bound it drops the oldest batches that carry only metrics, and strips the
samples from batches that also carry inventory; inventory is never dropped, because the
agent sends only changed inventory sections and a lost one would leave the server wrong
until the next full inventory.

Small key/value facts that must change together with the batches (the inventory section
hashes that went into the buffer, the next seq) live in a `meta` table and are written in
the same transaction as the batch they belong to.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_QUARANTINED = 100
# Level 6 is gzip's default: about 90 % of level 9's ratio on JSON at a fraction of its CPU.
GZIP_LEVEL = 6

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY,
    batch_id TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    samples INTEGER NOT NULL,
    has_inventory INTEGER NOT NULL,
    raw_bytes INTEGER NOT NULL,
    stored_bytes INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    seq INTEGER PRIMARY KEY,
    batch_id TEXT NOT NULL,
    created REAL NOT NULL,
    quarantined_at REAL NOT NULL,
    reason TEXT NOT NULL,
    samples INTEGER NOT NULL,
    has_inventory INTEGER NOT NULL,
    raw_bytes INTEGER NOT NULL,
    stored_bytes INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class BufferStats:
    """How much is waiting, for `status` and the logs."""

    depth: int
    bytes: int
    inventory_batches: int
    oldest_created: float | None
    quarantined: int
    dropped_batches: int
    stripped_batches: int


def new_batch_id() -> str:
    """32 random hex digits (os.urandom: uuid would cost an import for the same thing)."""
    return os.urandom(16).hex()


def encode(batch: Mapping[str, Any]) -> bytes:
    """The JSON of a batch, compact; NaN and infinity are refused as the server would."""
    return json.dumps(batch, separators=(",", ":"), allow_nan=False).encode("utf-8")


def compress(raw: bytes) -> bytes:
    # mtime=0: the same batch always compresses to the same bytes.
    return gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0)


def decode(body: bytes) -> dict[str, Any]:
    """A stored body back into the batch dict (for stripping, inspection and tests)."""
    data: dict[str, Any] = json.loads(gzip.decompress(body))
    return data


class Buffer:
    """Outgoing batches in seq order, persisted before append() returns."""

    def __init__(
        self,
        path: str | Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_quarantined: int = DEFAULT_MAX_QUARANTINED,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.max_quarantined = max_quarantined
        self._clock = clock
        self._db = _connect(self.path)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Buffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing ---------------------------------------------------------------------------

    def append(self, batch: dict[str, Any], *, remember: Mapping[str, str] | None = None) -> None:
        """Store a batch, giving it a fresh batch_id and the next seq (set in `batch` too).

        `remember` is written to the meta table in the same transaction, so facts about what
        was buffered (such as inventory hashes) are kept exactly when the batch is. The batch
        is on disk when this returns; then the size bound is applied.
        """
        with self._transaction():
            seq = int(self._meta("next_seq") or self._highest_seq() + 1)
            batch["batch_id"] = new_batch_id()
            batch["seq"] = seq
            raw = encode(batch)
            body = compress(raw)
            self._db.execute(
                "INSERT INTO batches (seq, batch_id, created, samples, has_inventory,"
                " raw_bytes, stored_bytes, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    seq,
                    batch["batch_id"],
                    float(batch.get("sent_at") or self._clock()),
                    len(batch.get("samples") or ()),
                    int(batch.get("inventory") is not None),
                    len(raw),
                    len(body),
                    body,
                ),
            )
            self._set_meta({"next_seq": str(seq + 1), **(remember or {})})
            self._enforce_bound()

    def acknowledge(self, batch_id: str) -> None:
        """The server stored this batch (or already had it): forget it."""
        with self._transaction():
            self._db.execute("DELETE FROM batches WHERE batch_id = ?", (batch_id,))
            self._set_meta({"last_ack_at": repr(self._clock())})

    def quarantine(self, batch_id: str, reason: str) -> bool:
        """Move a batch the server refused to the dead-letter table; True if it had inventory.

        The server will never accept it, so replaying it would block everything behind it.
        It is kept (the newest `max_quarantined` of them) for someone to inspect.
        """
        with self._transaction():
            row = self._db.execute(
                "SELECT has_inventory FROM batches WHERE batch_id = ?", (batch_id,)
            ).fetchone()
            if row is None:
                return False
            self._db.execute(
                "INSERT OR REPLACE INTO quarantine (seq, batch_id, created, quarantined_at,"
                " reason, samples, has_inventory, raw_bytes, stored_bytes, body)"
                " SELECT seq, batch_id, created, ?, ?, samples, has_inventory, raw_bytes,"
                " stored_bytes, body FROM batches WHERE batch_id = ?",
                (self._clock(), reason[:2000], batch_id),
            )
            self._db.execute("DELETE FROM batches WHERE batch_id = ?", (batch_id,))
            self._db.execute(
                "DELETE FROM quarantine WHERE seq NOT IN"
                " (SELECT seq FROM quarantine ORDER BY seq DESC LIMIT ?)",
                (self.max_quarantined,),
            )
            return bool(row[0])

    def set_meta(self, values: Mapping[str, str]) -> None:
        """Remember small facts (interval, last error) across restarts."""
        with self._transaction():
            self._set_meta(values)

    # ---- reading ---------------------------------------------------------------------------

    def oldest(self) -> tuple[str, bytes] | None:
        """(batch_id, gzip body) of the batch to send next, or None when empty."""
        row = self._db.execute("SELECT batch_id, body FROM batches ORDER BY seq LIMIT 1").fetchone()
        return (row[0], bytes(row[1])) if row else None

    def get_meta(self, key: str) -> str | None:
        return self._meta(key)

    def batches(self) -> list[dict[str, Any]]:
        """Every waiting batch, decoded, oldest first (for inspection and tests)."""
        rows = self._db.execute("SELECT body FROM batches ORDER BY seq").fetchall()
        return [decode(row[0]) for row in rows]

    def quarantined(self) -> list[tuple[str, str]]:
        """(batch_id, reason) of the quarantined batches, oldest first."""
        rows = self._db.execute("SELECT batch_id, reason FROM quarantine ORDER BY seq")
        return [(r[0], r[1]) for r in rows]

    def stats(self) -> BufferStats:
        depth, size, inventory, oldest = self._db.execute(
            "SELECT count(*), coalesce(sum(stored_bytes), 0), coalesce(sum(has_inventory), 0),"
            " min(created) FROM batches"
        ).fetchone()
        (quarantined,) = self._db.execute("SELECT count(*) FROM quarantine").fetchone()
        return BufferStats(
            depth=depth,
            bytes=size,
            inventory_batches=inventory,
            oldest_created=oldest,
            quarantined=quarantined,
            dropped_batches=int(self._meta("dropped_batches") or 0),
            stripped_batches=int(self._meta("stripped_batches") or 0),
        )

    # ---- internals -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so a concurrent `status` reader never
        # turns this into a busy error halfway through.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, values: Mapping[str, str]) -> None:
        self._db.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            list(values.items()),
        )

    def _highest_seq(self) -> int:
        row = self._db.execute(
            "SELECT max(s) FROM (SELECT max(seq) AS s FROM batches"
            " UNION ALL SELECT max(seq) FROM quarantine)"
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else -1

    def _enforce_bound(self) -> None:
        """Oldest first: drop metrics-only batches, strip samples from inventory batches."""
        (total,) = self._db.execute("SELECT coalesce(sum(stored_bytes), 0) FROM batches").fetchone()
        if total <= self.max_bytes:
            return
        rows = self._db.execute(
            "SELECT seq, samples, has_inventory, stored_bytes FROM batches ORDER BY seq"
        ).fetchall()
        dropped = stripped = 0
        for seq, samples, has_inventory, stored in rows:
            if total <= self.max_bytes:
                break
            if not has_inventory:
                self._db.execute("DELETE FROM batches WHERE seq = ?", (seq,))
                total -= stored
                dropped += 1
            elif samples:
                total -= stored - self._strip_samples(seq)
                stripped += 1
        if dropped or stripped:
            self._count("dropped_batches", dropped)
            self._count("stripped_batches", stripped)

    def _strip_samples(self, seq: int) -> int:
        """Rewrite batch `seq` without its samples; returns its new stored size."""
        (body,) = self._db.execute("SELECT body FROM batches WHERE seq = ?", (seq,)).fetchone()
        batch = decode(body)
        batch["samples"] = []
        raw = encode(batch)
        new_body = compress(raw)
        self._db.execute(
            "UPDATE batches SET samples = 0, raw_bytes = ?, stored_bytes = ?, body = ?"
            " WHERE seq = ?",
            (len(raw), len(new_body), new_body, seq),
        )
        return len(new_body)

    def _count(self, key: str, add: int) -> None:
        if add:
            self._set_meta({key: str(int(self._meta(key) or 0) + add)})


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # isolation_level=None: transactions are ours (BEGIN IMMEDIATE ... COMMIT), not the
    # module's implicit ones, so "persisted before returning" is visible in the code.
    db = sqlite3.connect(path, isolation_level=None, timeout=10)
    try:
        # auto_vacuum must be chosen before the first table exists; FULL gives freed pages
        # back to the file system, so the file shrinks again after an outage is replayed.
        db.execute("PRAGMA auto_vacuum = FULL")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"cannot use WAL journal mode for {path} ({mode})")
        db.execute("PRAGMA synchronous = FULL")
        # A small page cache: the agent reads one batch at a time and counts every megabyte.
        db.execute("PRAGMA cache_size = -512")
        db.executescript(_SCHEMA)
    except BaseException:
        db.close()
        raise
    with contextlib.suppress(OSError):
        path.chmod(0o600)
    return db

"""Part 4 of bench_checks.py: bytes on disk per stored check result.

Two measurements on SQLite (WAL, as the product opens it):

- raw: `--results` rows written with the product's own statement (store.bulk.insert_ignore
  into check_results, as services/results.record issues it), in groups of 1,000 per
  transaction, in the order a poller produces them: round after round of every check, each
  check at its own phase inside the minute. Size is the database file after
  `PRAGMA wal_checkpoint(TRUNCATE)` (so the WAL is folded in), then again after VACUUM.
- record: `--record-results` observations of TCP checks (one `time` metric each, a few short
  outages so the timeline gets events) through services/results.record itself, then the
  5-minute / 1-hour rollup job; bytes per table from SQLite's dbstat.

With FOREWARN_BENCH_DATABASE_URL set (PostgreSQL), the raw measurement also runs there,
measured as the growth of pg_total_relation_size('check_results') after VACUUM.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _checks_setup import add_checks, new_context, tmpdir
from sqlalchemy import text

from forewarn.domain.observation import Metric, Observation, Result, Status
from forewarn.services import metrics, results
from forewarn.services.context import Context
from forewarn.services.ingest import SeriesCache
from forewarn.store.bulk import insert_ignore
from forewarn.store.models import CheckResult

GROUP = 1_000  # the poller records at most `batch` (1,000) observations per transaction


def db_path(ctx: Context) -> Path:
    return Path(ctx.db.url.removeprefix("sqlite:///"))


def checkpoint(ctx: Context) -> int:
    with ctx.db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return os.path.getsize(db_path(ctx))


def table_bytes(ctx: Context) -> dict[str, tuple[int, int]]:
    """name -> (bytes in pages, unused bytes inside them), tables and indexes alike."""
    with ctx.db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT name, SUM(pgsize), SUM(unused) FROM dbstat GROUP BY name"
        ).all()
    return {name: (int(size), int(unused)) for name, size, unused in rows}


def result_rows(n: int, checks: list[int], rng: random.Random) -> list[list[dict[str, int]]]:
    """n results as the poller writes them: every check once a minute at its own phase, in
    time order, cut into groups of GROUP; ~1 % are not OK."""
    rounds = -(-n // len(checks))
    phase = {c: rng.randrange(60) for c in checks}
    order = sorted(checks, key=lambda c: phase[c])
    t0 = int(time.time()) - rounds * 60 - 60
    rows: list[dict[str, int]] = []
    for r in range(rounds):
        for c in order:
            if len(rows) == n:
                break
            status = 0 if rng.random() > 0.01 else 2
            rows.append({"check_id": c, "ts": t0 + r * 60 + phase[c], "status": status})
    return [rows[i : i + GROUP] for i in range(0, len(rows), GROUP)]


def disk_writes() -> int:
    """Bytes this process has caused to be sent to the storage layer."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def write_raw(ctx: Context, groups: list[list[dict[str, int]]]) -> float:
    table = CheckResult.__table__
    started = time.perf_counter()
    for group in groups:
        with ctx.db.transaction() as session:
            insert_ignore(session, table, group)
    return time.perf_counter() - started


def sqlite_raw(args: argparse.Namespace) -> None:
    n, k = args.results, args.storage_checks
    rng = random.Random(args.seed)
    groups = result_rows(n, list(range(1, k + 1)), rng)
    # The last fifth is timed on its own, with the bytes the process sent to the disk (WAL
    # frames and the checkpoint's copy): the table is clustered by (check, time), so each
    # result of a group lands on its own page and every commit rewrites those pages.
    cut = len(groups) * 4 // 5
    tail = sum(len(g) for g in groups[cut:])
    with tmpdir() as tmp:
        ctx = new_context(tmp)
        before = checkpoint(ctx)
        seconds = write_raw(ctx, groups[:cut])
        checkpoint(ctx)
        io0 = disk_writes()
        tail_s = write_raw(ctx, groups[cut:])
        written = checkpoint(ctx)
        tail_io = disk_writes() - io0
        seconds += tail_s
        t = table_bytes(ctx)["check_results"]
        with ctx.db.engine.connect() as conn:
            conn.exec_driver_sql("VACUUM")
        vacuumed = checkpoint(ctx)
        tv = table_bytes(ctx)["check_results"]
        with ctx.db.engine.connect() as conn:
            empty = conn.exec_driver_sql("SELECT COUNT(*) FROM check_results").scalar()
        ctx.db.dispose()
    assert empty == n, (empty, n)
    print(
        f"\nraw results: {n:,} rows for {k:,} checks ({n // k} per check, one a minute), the "
        f"product's INSERT ... ON CONFLICT DO NOTHING, {GROUP:,} per transaction: "
        f"{n / seconds:,.0f} rows/s"
    )
    print(
        f"{'SQLite (WAL)':46} {'file growth B':>14} {'B/result':>9} {'table B/result':>15} "
        f"{'page fill':>9}"
    )
    print(
        f"{'as written, after wal_checkpoint(TRUNCATE)':46} {written - before:14,d} "
        f"{(written - before) / n:9.1f} {t[0] / n:15.1f} {1 - t[1] / t[0]:9.0%}"
    )
    print(
        f"{'after VACUUM':46} {vacuumed - before:14,d} {(vacuumed - before) / n:9.1f} "
        f"{tv[0] / n:15.1f} {1 - tv[1] / tv[0]:9.0%}"
    )
    print(
        f"the last {tail:,} rows: {tail / tail_s:,.0f} rows/s, {tail_io / tail:,.0f} B written to "
        "disk per result (WAL + checkpoint, /proc/self/io write_bytes)"
    )
    print("target: <= 24 B per raw result (SQLite)")


def observations(checks: list[int], n: int, rng: random.Random) -> list[list[Observation]]:
    """n TCP results in poller order; each check has a ~0.3 % chance a round to go down for
    1 to 5 minutes (a soft, a hard and a recovery event each)."""
    rounds = -(-n // len(checks))
    phase = {c: rng.randrange(60) for c in checks}
    order = sorted(checks, key=lambda c: phase[c])
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=rounds + 5)
    down_until = dict.fromkeys(checks, -1)
    out: list[Observation] = []
    for r in range(rounds):
        for c in order:
            if len(out) == n:
                break
            if down_until[c] < r and rng.random() < 0.003:
                down_until[c] = r + rng.randint(1, 5)
            at = t0 + timedelta(seconds=r * 60 + phase[c], microseconds=rng.randrange(10**6))
            if down_until[c] >= r:
                elapsed = 0.0001
                result = Result(Status.CRITICAL, "connection refused")
            else:
                elapsed = rng.uniform(0.0002, 0.002)
                result = Result(
                    Status.OK,
                    f"connected in {elapsed:.3f} s",
                    (Metric("time", elapsed, "s", None, None, 0.0),),
                )
            out.append(Observation(c, at, result, elapsed * 1000))
    return [out[i : i + GROUP] for i in range(0, len(out), GROUP)]


def sqlite_record(args: argparse.Namespace) -> None:
    n, k = args.record_results, 1_000
    rng = random.Random(args.seed)
    with tmpdir() as tmp:
        ctx = new_context(tmp)
        ids = add_checks(ctx, "tcp", [f"127.0.0.1:{9 + i % 100}" for i in range(k)], name="s")
        groups = observations(ids, n, rng)
        before_tables = table_bytes(ctx)
        before = checkpoint(ctx)
        series = SeriesCache()
        started = time.perf_counter()
        for group in groups:
            results.record(ctx, group, series=series)
        seconds = time.perf_counter() - started
        after = checkpoint(ctx)
        raw_tables = table_bytes(ctx)
        metrics.rollup(ctx)
        rolled = checkpoint(ctx)
        tables = table_bytes(ctx)
        with ctx.db.engine.connect() as conn:
            count = {
                t: int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar() or 0)
                for t in ("check_results", "metric_raw", "check_events", "metric_5m", "metric_1h")
            }
        ctx.db.dispose()

    def grown(names: tuple[str, ...], source: dict[str, tuple[int, int]]) -> int:
        return sum(source.get(x, (0, 0))[0] - before_tables.get(x, (0, 0))[0] for x in names)

    events = ("check_events", "ix_check_events_check_at", "ix_check_events_org_id")
    print(
        f"\nthrough services/results.record: {n:,} TCP results of {k:,} checks in groups of "
        f"{GROUP:,} ({n / seconds:,.0f} results/s, {seconds / n * 1e6:.0f} us each; "
        f"{count['check_events']:,} timeline events)"
    )
    print(f"{'what is stored':52} {'rows':>9} {'bytes':>12} {'B/row':>7} {'B/result':>9}")
    # A rollup row stands for 5 (5 min) or 60 (1 h) results at the 60 s interval once the
    # buckets are full; this short run leaves the last buckets partial, hence per row.
    lines = [
        ("check_results (raw status)", "check_results", (("check_results",), raw_tables), 1),
        ("metric_raw (the probe's `time` metric)", "metric_raw", (("metric_raw",), raw_tables), 1),
        ("check_events + its indexes (timeline)", "check_events", (events, raw_tables), 0),
        (
            "metric_5m rollup (kept 30 days), per 5 results",
            "metric_5m",
            (("metric_5m",), tables),
            5,
        ),
        (
            "metric_1h rollup (kept 2 years), per 60 results",
            "metric_1h",
            (("metric_1h",), tables),
            60,
        ),
    ]
    for name, table, (names, source), per in lines:
        rows, size = count[table], grown(names, source)
        b_row = size / max(1, rows)
        b_result = b_row / per if per else size / n
        print(f"{name:52} {rows:9,d} {size:12,d} {b_row:7.1f} {b_result:9.1f}")
    print(
        f"{'whole file growth, after checkpoint (all tables)':52} {'':9} {after - before:12,d} "
        f"{'':7} {(after - before) / n:9.1f}"
    )
    print(
        f"{'  ... after the rollup job too':52} {'':9} {rolled - before:12,d} {'':7} "
        f"{(rolled - before) / n:9.1f}"
    )


def pg_raw(url: str, args: argparse.Namespace) -> None:
    n, k = args.results, args.storage_checks
    rng = random.Random(args.seed)
    groups = result_rows(n, list(range(10_000_001, 10_000_001 + k)), rng)
    with tmpdir() as tmp:
        ctx = new_context(tmp, url)

        def size() -> int:
            with ctx.db.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql("VACUUM check_results")
                return int(
                    conn.exec_driver_sql("SELECT pg_total_relation_size('check_results')").scalar()
                    or 0
                )

        before = size()
        seconds = write_raw(ctx, groups)
        after = size()
        with ctx.db.transaction() as session:
            session.execute(text("DELETE FROM check_results WHERE check_id > 10000000"))
        ctx.db.dispose()
    print(
        f"PostgreSQL: {n:,} raw results, same INSERT and groups: {n / seconds:,.0f} rows/s; "
        f"pg_total_relation_size grew {after - before:,d} B = {(after - before) / n:.1f} B/result "
        "(heap + primary key index, after VACUUM)"
    )


def storage(args: argparse.Namespace) -> None:
    print("\n== 4. Storage per check result")
    sqlite_raw(args)
    sqlite_record(args)
    url = os.environ.get("FOREWARN_BENCH_DATABASE_URL")
    if url:
        pg_raw(url, args)

"""Shared set-up for bench_checks.py: a fresh database, checks created through the services,
the load-target server process, and CPU accounting.

Checks are created with `services.checks.add` (the path the API and policies use), so each
has its validated params and its initial check_states row.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import bindparam, text

from forewarn.config import Settings
from forewarn.services import assets, bootstrap, checks, orgs
from forewarn.services.context import Context
from forewarn.services.schemas import AssetCreate, CheckCreate, OrgCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.types import UTCDateTime

HERE = Path(__file__).parent
HOSTS = [f"127.0.0.{i}" for i in range(1, 21)]  # every 127/8 address reaches 0.0.0.0 on Linux
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_context(tmp: str, url: str | None = None, **settings: object) -> Context:
    """A migrated database: SQLite in `tmp`, or `url` when given (PostgreSQL)."""
    ctx = Context.from_settings(
        Settings(data_dir=Path(tmp), database_url=url, secret_key="bench", **settings)
    )
    bootstrap.migrate(ctx)
    return ctx


def target_of(kind: str, host: str, port: int) -> str:
    return f"http://{host}:{port}/" if kind == "http" else f"{host}:{port}"


def add_checks(
    ctx: Context,
    kind: str,
    targets: list[str],
    *,
    name: str = "bench",
    interval_s: int = 60,
    retry_interval_s: int = 20,
    max_attempts: int = 3,
    timeout_s: float = 10.0,
) -> list[int]:
    """One organization and asset, one check per target; answers the check ids."""
    org = orgs.create(ctx, SYSTEM, OrgCreate(name=f"{name} {kind}")).id
    ids = []
    with ctx.db.transaction() as session:
        asset = assets.add_asset(
            session, ctx, SYSTEM, AssetCreate(org_id=org, name=f"{name}-{kind}", kind="server")
        )
        for i, target in enumerate(targets):
            data = CheckCreate(
                asset_id=asset.id,
                name=f"{kind}-{i:06d}",
                type=kind,
                target=target,
                interval_s=interval_s,
                retry_interval_s=retry_interval_s,
                max_attempts=max_attempts,
                timeout_s=timeout_s,
            )
            ids.append(checks.add(session, ctx, asset, data, "manual").id)
    return ids


def set_due(ctx: Context, ids: list[int], at: datetime) -> None:
    """Make checks due at `at` and free of leases (the schedule, as a restart finds it)."""
    stmt = text(
        "UPDATE check_states SET next_due_at = :at, lease_owner = NULL, lease_until = NULL "
        "WHERE check_id IN :ids"
    ).bindparams(bindparam("at", at, type_=UTCDateTime()), bindparam("ids", expanding=True))
    with ctx.db.transaction() as session:
        for start in range(0, len(ids), 900):
            session.execute(stmt, {"ids": ids[start : start + 900]})


def park(ctx: Context, ids: list[int]) -> None:
    """Move checks out of the way (due in a year) so another part's checks run alone."""
    set_due(ctx, ids, datetime.now(UTC) + timedelta(days=365))


class TargetServer:
    """bench/_checks_server.py in its own process: what the checks connect to."""

    def __init__(self, workers: int = 1) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "_checks_server.py"), str(self.port)]
            + (["--workers", str(workers)] if workers > 1 else []),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise SystemExit("the target server did not start")
        self.workers = workers

    def cpu_s(self) -> float:
        """CPU seconds used so far by the server (its first process; one worker by default)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def close(self) -> None:
        # Its own session (start_new_session): the group holds only the server's workers.
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


class Meter:
    """Wall time, this process's CPU (every thread) and its children's CPU over a block."""

    def __enter__(self) -> Meter:
        self.t0 = time.perf_counter()
        self.c0 = time.process_time()
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.k0 = ch.ru_utime + ch.ru_stime
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.c0
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.children = ch.ru_utime + ch.ru_stime - self.k0


def tmpdir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="bench_checks_")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} (1 / 5 min) on {os.cpu_count()} cores"

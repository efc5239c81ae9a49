"""Signed jobs: what verifying a job costs the agent, and dispatching a job to 5,000 agents.

1. Agent side: `agent.jobs.verify` of a typical script job (signature, parse, checks) per job,
   beside two anchors on the same bytes in the same run: a SHA-256 of the envelope, and the
   bare Ed25519 verification alone.
2. Server side, through the service layer: a script run against a whole organization of
   --agents machines (one signed job each: `scripts.run`), then one `agent_jobs.deliver` per
   agent as each check-in answer does (queued -> sent), then the same again with nothing
   due: before any job exists (what every check-in pays on an idle fleet), and while the
   sent jobs' results are awaited. Compared with the agents' 60 s check-in interval.

    PYTHONPATH=src .venv/bin/python bench/bench_jobs.py [--agents 5000] [--runs 5]
    FOREWARN_BENCH_DATABASE_URL=postgresql://... for PostgreSQL (else SQLite in a temp dir)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from forewarn.agent.jobs import verify
from forewarn.config import Settings
from forewarn.domain.jobs import Envelope
from forewarn.services import agent_jobs, bootstrap, keys, orgs, scripts
from forewarn.services.context import Context
from forewarn.services.schemas import OrgCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import Agent, Asset

BODY = 'find /var/tmp -type f -mtime +"$DAYS" -delete\necho "cleaned $(hostname)"\n'


def per_call(fn: Callable[[], object], n: int, runs: int) -> float:
    """Median over runs of the seconds one call takes."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t0) / n)
    return statistics.median(times)


def agent_side(runs: int) -> None:
    key = Ed25519PrivateKey.generate()
    now = int(time.time())
    env = Envelope(
        id=123456,
        asset_id=4242,
        agent_id=4343,
        kind="script",
        payload={"language": "bash", "body": BODY, "params": {"DAYS": "7"}, "timeout": 300},
        issued_at=now,
        not_after=now + 86400,
        nonce=os.urandom(16).hex(),
    )
    raw, sig = agent_jobs.sign(key, env)
    order = {"id": env.id, "envelope": raw, "sig": sig}
    pub = key.public_key()
    seen = list(range(1000))
    signature, data = base64.b64decode(sig), raw.encode()
    n = 2000
    full = per_call(lambda: verify(order, pub, 4343, now + 1, seen, True), n, runs)
    bare = per_call(lambda: pub.verify(signature, data), n, runs)
    sha = per_call(lambda: hashlib.sha256(data).digest(), n, runs)
    print(f"agent: one job of {len(raw)} B (envelope), median of {runs} runs x {n}")
    print(f"  verify() whole (signature, parse, checks, 1,000 ids seen): {full * 1e6:8.1f} us")
    print(f"  Ed25519 verify alone (anchor)                            : {bare * 1e6:8.1f} us")
    print(f"  SHA-256 of the same bytes (anchor)                       : {sha * 1e6:8.1f} us")
    print(f"  verify() / SHA-256 = {full / sha:.0f}x; jobs verifiable per second: {1 / full:,.0f}")


def seed(ctx: Context, n: int) -> int:
    org = orgs.create(ctx, SYSTEM, OrgCreate(name="Fleet Ltd", employees=40)).id
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        assets = [
            Asset(
                org_id=org, kind="workstation", name=f"ws-{i:05d}", created_at=now, updated_at=now
            )
            for i in range(n)
        ]
        session.add_all(assets)
        session.flush()
        session.add_all(
            Agent(
                org_id=org,
                asset_id=a.id,
                token_hash=hashlib.sha256(str(a.id).encode()).hexdigest(),
                enrolled_at=now,
                status_since=now,
            )
            for a in assets
        )
    return org


def server_side(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("FOREWARN_BENCH_DATABASE_URL")
        settings = Settings(data_dir=Path(tmp), database_url=url, secret_key="bench")
        ctx = Context.from_settings(settings)
        bootstrap.migrate(ctx)
        org = seed(ctx, n)
        keys.signing_key(ctx)
        script = scripts.create(
            ctx,
            SYSTEM,
            scripts.ScriptCreate(
                org_id=org,
                name="clean tmp",
                language="bash",
                body=BODY,
                parameters=[scripts.ScriptParameter(name="DAYS", default="7")],
            ),
        )
        with ctx.db.read() as session:
            agent_ids = [
                a
                for (a,) in session.execute(
                    Agent.__table__.select()
                    .with_only_columns(Agent.id)
                    .where(Agent.org_id == org)
                    .order_by(Agent.id)
                )
            ]
        t0 = time.perf_counter()
        for a in agent_ids:
            agent_jobs.deliver(ctx, a)
        idle = time.perf_counter() - t0
        t0 = time.perf_counter()
        run = scripts.run(ctx, SYSTEM, script.id, scripts.RunRequest(org_id=org))
        issued = time.perf_counter() - t0
        t0 = time.perf_counter()
        delivered = sum(len(agent_jobs.deliver(ctx, a)) for a in agent_ids)
        dispatch = time.perf_counter() - t0
        t0 = time.perf_counter()
        for a in agent_ids:
            agent_jobs.deliver(ctx, a)
        waiting = time.perf_counter() - t0
        engine = ctx.db.engine.dialect.name
        ctx.db.dispose()
    print(f"server ({engine}), {n:,} agents of one organization, at {datetime.now(UTC):%Y-%m-%d}")
    print(
        f"  issue: scripts.run to the organization, {len(run.jobs):,} signed jobs: "
        f"{issued:6.2f} s ({issued / n * 1e6:,.0f} us/job)"
    )
    print(
        f"  dispatch: {delivered:,} jobs into {n:,} check-in answers: {dispatch:6.2f} s "
        f"({dispatch / n * 1e6:,.0f} us/answer) = {dispatch / 60:.1%} of one 60 s interval"
    )
    print(
        f"  no jobs at all: {n:,} check-ins ask: {idle:6.3f} s ({idle / n * 1e6:,.1f} us/check-in)"
    )
    print(
        f"  jobs sent, results awaited: {n:,} check-ins ask: {waiting:6.2f} s "
        f"({waiting / n * 1e6:,.0f} us/check-in)"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    agent_side(args.runs)
    server_side(args.agents)


if __name__ == "__main__":
    main()

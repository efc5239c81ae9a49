"""Patch policies: what one turn of apply() costs for a fleet, against approval by hand.

Two organizations of --agents machines each, every machine reporting three pending updates
(two security, one held by the policy). Organization A has a policy whose window is open;
B has none. Measured through the service layer:
1. apply() turn 1: every machine of A decided, one signed install job each (issued through
   patch_approval.issue_install, the approval path), and the record of what it did;
2. the anchor: patch_approval.approve of B's security updates by hand (the same jobs);
3. apply() turn 2: the steady state every 5 minutes (all decided again, nothing to issue
   while the installs are pending), as a share of the 300 s between turns;
4. domain.patch_policy.decide alone, per machine.

    PYTHONPATH=src .venv/bin/python bench/bench_patch_policies.py [--agents 5000]
    FOREWARN_BENCH_DATABASE_URL=postgresql://... for PostgreSQL (else SQLite in a temp dir)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from forewarn.config import Settings
from forewarn.domain import patch_policy as pp
from forewarn.domain.clock import ManualClock
from forewarn.services import bootstrap, keys, orgs, patch_approval, patch_policies
from forewarn.services.context import Context
from forewarn.services.schemas import OrgCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import Agent, Asset, PatchStatusRow, PendingUpdateRow

START = datetime(2026, 11, 3, 2, 10, tzinfo=UTC)  # inside a 02:00-04:00 UTC window
UPDATES = (("libssl3", True), ("openssh-server", True), ("linux-image-amd64", True))


def seed(ctx: Context, name: str, n: int) -> int:
    org = orgs.create(ctx, SYSTEM, OrgCreate(name=name, employees=40)).id
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
        for a in assets:
            token = hashlib.sha256(f"{org}-{a.id}".encode()).hexdigest()
            session.add(
                Agent(
                    org_id=org,
                    asset_id=a.id,
                    token_hash=token,
                    enrolled_at=now - timedelta(days=30),
                    status_since=now - timedelta(days=30),
                    last_seen_at=now,
                )
            )
            session.add(PatchStatusRow(asset_id=a.id, org_id=org, reported_at=now))
            session.add_all(
                PendingUpdateRow(
                    asset_id=a.id,
                    org_id=org,
                    source="apt",
                    name=pkg,
                    arch="amd64",
                    candidate="1.1",
                    security=sec,
                    first_seen=now - timedelta(days=3),
                )
                for pkg, sec in UPDATES
            )
    return org


def timed(fn: object) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()  # type: ignore[operator]
    return time.perf_counter() - t0, out


def decide_alone(n: int) -> float:
    policy = pp.Policy(
        window=pp.install_window(datetime.min.time().replace(hour=2), 120, [], "Europe/Berlin"),
        holds=("linux-image-*",),
    )
    device = pp.Device(
        1,
        frozenset(),
        True,
        False,
        tuple(pp.Update(p, "1.1", s, START - timedelta(days=3)) for p, s in UPDATES),
        online_since=START - timedelta(days=30),
    )
    t0 = time.perf_counter()
    for _ in range(n):
        pp.decide(policy, device, {}, START)
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=5000)
    n = ap.parse_args().agents
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("FOREWARN_BENCH_DATABASE_URL")
        settings = Settings(data_dir=Path(tmp), database_url=url, secret_key="bench")
        ctx = Context.from_settings(settings, clock=ManualClock(START))
        bootstrap.migrate(ctx)
        a, b = seed(ctx, "Policy Ltd", n), seed(ctx, "By Hand Ltd", n)
        keys.signing_key(ctx)
        patch_policies.create(
            ctx,
            SYSTEM,
            patch_policies.PatchPolicyCreate(
                org_id=a,
                name="Nightly",
                window_start="02:00",
                window_minutes=120,
                holds=["linux-image-*"],
            ),
        )
        first, report = timed(lambda: patch_policies.apply(ctx))
        by_hand, approved = timed(
            lambda: patch_approval.approve(ctx, SYSTEM, b, patch_approval.ApproveRequest())
        )
        steady, again = timed(lambda: patch_policies.apply(ctx))
        engine = ctx.db.engine.dialect.name
        ctx.db.dispose()
    per = decide_alone(20_000)
    print(f"patch policies ({engine}), {n:,} machines per organization, at {START:%Y-%m-%d}")
    print(
        f"  apply() turn 1, {report.installs:,} install jobs issued: {first:6.2f} s "  # type: ignore[attr-defined]
        f"({first / n * 1e6:,.0f} us/machine)"
    )
    print(
        f"  approve by hand (anchor), {len(approved.jobs):,} jobs: {by_hand:6.2f} s "  # type: ignore[attr-defined]
        f"({by_hand / n * 1e6:,.0f} us/machine); apply / approve = {first / by_hand:.2f}"
    )
    print(
        f"  apply() turn 2, nothing to issue ({len(again.jobs)} jobs): {steady:6.2f} s "  # type: ignore[attr-defined]
        f"= {steady / 300:.1%} of the 300 s between turns"
    )
    print(f"  decide() alone: {per * 1e6:,.1f} us/machine")


if __name__ == "__main__":
    main()

"""API and page latency at thousands of assets, next to /healthz measured in the same run.

Starts `forewarn serve` on a loopback port over a fresh SQLite (or FOREWARN_BENCH_DATABASE_URL)
database, seeds organizations and assets through the services, then drives a bounded number
of keep-alive requests per endpoint from a few threads and prints requests/s and p50/p99.

    .venv/bin/python bench/bench_api.py [--assets 5000] [--requests 1500] [--threads 4]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from forewarn.config import Settings
from forewarn.services import assets, auth, bootstrap, orgs, sites
from forewarn.services.context import Context
from forewarn.services.schemas import AssetCreate, OrgCreate, SiteCreate
from forewarn.services.scope import SYSTEM

PASSWORD = "bench-password-123"
KINDS = ["workstation", "laptop", "server", "printer", "network_device"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(ctx: Context, n_orgs: int, n_assets: int) -> int:
    """Spread n_assets over n_orgs; return the id of the largest organization."""
    per_org = n_assets // n_orgs
    first = 0
    for o in range(n_orgs):
        org = orgs.create(ctx, SYSTEM, OrgCreate(name=f"Client {o:03d}", employees=40))
        first = first or org.id
        site = sites.create(ctx, SYSTEM, SiteCreate(org_id=org.id, name="HQ")).id
        with ctx.db.transaction() as session:
            for i in range(per_org):
                data = AssetCreate(
                    org_id=org.id,
                    site_id=site,
                    name=f"asset-{i:05d}",
                    kind=KINDS[i % 5],
                    hostname=f"h{i}.client{o}.test",
                    tags=["server"] if i % 5 == 2 else [],
                )
                assets.add_asset(session, ctx, SYSTEM, data)
    return first


def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited during start")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server not ready within 30 s")


def login(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"username": "admin", "password": PASSWORD})
    conn.request("POST", "/api/v1/auth/token", body, {"content-type": "application/json"})
    return str(json.loads(conn.getresponse().read())["access_token"])


def drive(port: int, path: str, headers: dict[str, str], total: int, threads: int) -> dict:
    per_thread = total // threads

    def worker(_: int) -> list[float]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        times = []
        for _ in range(per_thread):
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise SystemExit(f"{path} answered {resp.status}")
            times.append(time.perf_counter() - t0)
        return times

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        samples = [t for ts in pool.map(worker, range(threads)) for t in ts]
    wall = time.perf_counter() - start
    samples.sort()
    return {
        "rps": len(samples) / wall,
        "p50": statistics.median(samples) * 1000,
        "p99": samples[int(len(samples) * 0.99) - 1] * 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", type=int, default=5000)
    ap.add_argument("--orgs", type=int, default=10)
    ap.add_argument("--requests", type=int, default=1500)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "FOREWARN_DATA_DIR": tmp,
            "FOREWARN_ADMIN_PASSWORD": PASSWORD,
            "FOREWARN_SECRET_KEY": "bench",
        }
        url = os.environ.get("FOREWARN_BENCH_DATABASE_URL")
        if url:
            env["FOREWARN_DATABASE_URL"] = url
        settings = Settings(
            data_dir=Path(tmp), database_url=url, secret_key="bench", admin_password=PASSWORD
        )
        ctx = Context.from_settings(settings)
        bootstrap.migrate(ctx)
        bootstrap.ensure_admin(ctx)
        # A dashboard session made in-process: the login form's own checks are not measured.
        page = {"Cookie": f"forewarn_session={auth.login(ctx, 'admin', PASSWORD)}"}
        t0 = time.perf_counter()
        org_id = seed(ctx, args.orgs, args.assets)
        seeded = time.perf_counter() - t0
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "forewarn", "serve", "--bind", f"127.0.0.1:{port}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(port, proc)
            bearer = {"Authorization": f"Bearer {login(port)}"}
            print(
                f"engine {ctx.db.dialect}; {args.assets} assets in {args.orgs} organizations "
                f"(seeded in {seeded:.1f} s); {args.requests} requests per row, "
                f"{args.threads} threads, one server process"
            )
            print(f"{'endpoint':58} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs anchor':>9}")
            rows = [
                ("anchor: GET /healthz (no auth, no database)", "/healthz", {}),
                ("GET /api/v1/orgs", "/api/v1/orgs", bearer),
                ("GET /api/v1/assets?org_id=&limit=50", f"/api/v1/assets?org_id={org_id}", bearer),
                (
                    "GET /api/v1/assets?q=asset-0049 (text search)",
                    "/api/v1/assets?q=asset-0049",
                    bearer,
                ),
                (
                    "GET /api/v1/assets?tag=server&limit=200",
                    "/api/v1/assets?tag=server&limit=200",
                    bearer,
                ),
                ("page: / (every organization, with counts)", "/", page),
                ("page: /orgs/{id} (facts, sites, first 50 assets)", f"/orgs/{org_id}", page),
                ("page: /assets/{id}", "/assets/1", page),
            ]
            anchor = None
            for label, path, headers in rows:
                r = drive(port, path, headers, args.requests, args.threads)
                anchor = anchor or r["rps"]
                print(
                    f"{label:58} {r['rps']:8.0f} {r['p50']:8.1f} {r['p99']:8.1f} "
                    f"{r['rps'] / anchor:8.0%}"
                )
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        ctx.db.dispose()


if __name__ == "__main__":
    main()

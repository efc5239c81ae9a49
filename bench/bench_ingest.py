"""Agent check-ins per second into one server process, next to a bare parsing endpoint.

Enrols simulated agents, then drives `forewarn serve` with wrk (a C load generator, so the
client costs little of the two cores) sending new batches of one sample with POINTS metric
points each, on SQLite and, with FOREWARN_BENCH_DATABASE_URL, on PostgreSQL. The anchor is a
FastAPI endpoint that parses the same batch with the same pydantic model and stores nothing,
measured in the same run. Needs wrk (apt-get install wrk).

Beside the rates: the CPU each server used per check-in (the process and its children, such
as forewarn's ingest writer), and what else ran on the machine meanwhile: a busy neighbour
moves the rates by tens of per cent, so a run with other load is flagged.

    .venv/bin/python bench/bench_ingest.py [--agents 3000] [--seconds 15] [--points 60]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from sqlalchemy import func, select

from forewarn.config import Settings
from forewarn.services import bootstrap, enrollment, orgs
from forewarn.services.context import Context
from forewarn.services.schemas import EnrollTokenCreate, OrgCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import MetricRaw
from forewarn.wire import EnrollRequest

HERE = Path(__file__).parent
THREADS = 2
CONNECTIONS = int(os.environ.get("FW_CONNECTIONS", "64"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def points(n: int) -> list[dict[str, object]]:
    """A plausible sample: host-wide metrics, then per-mount, per-device and per-interface."""
    out: list[dict[str, object]] = [
        {"name": "cpu.percent", "value": 12.5},
        {"name": "load.1", "value": 0.42},
        {"name": "mem.used_percent", "value": 61.0},
        {"name": "uptime.seconds", "value": 86400.0},
    ]
    i = 0
    while len(out) < n:
        kind = (
            ("disk.used_percent", "mount", f"/srv/vol{i}")
            if i % 2
            else ("net.rx_bytes_per_s", "iface", f"eth{i}")
        )
        out.append({"name": kind[0], "labels": {kind[1]: kind[2]}, "value": 1000.0 + i})
        i += 1
    return out[:n]


def enrol(ctx: Context, agents: int) -> list[str]:
    org = orgs.create(ctx, SYSTEM, OrgCreate(name="Bench agents")).id
    secret = enrollment.create_token(
        ctx, SYSTEM, EnrollTokenCreate(org_id=org, expires_in_days=None)
    ).token
    return [
        enrollment.enroll(
            ctx, EnrollRequest(token=secret, hostname=f"pc{i:05d}", machine_id=f"m{i:05d}")
        ).agent_token
        for i in range(agents)
    ]


def wait_up(port: int, proc: subprocess.Popen[bytes], path: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited during start")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1)
            return
        except OSError as exc:
            if getattr(exc, "code", None):  # an HTTP error answer: it is up
                return
            time.sleep(0.1)
    raise SystemExit("server not up within 30 s")


def _ticks(path: str) -> float:
    """utime + stime of a /proc/<pid>/stat, in seconds."""
    with open(path) as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(pid: int) -> float:
    """CPU seconds of a server process and its direct children (an ingest writer, say)."""
    total = _ticks(f"/proc/{pid}/stat")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rpartition(")")[2].split()[1]) == pid:
                    total += _ticks(f"/proc/{entry}/stat")
        except (OSError, ValueError, IndexError):
            continue
    return total


def machine_busy() -> float:
    """CPU seconds all processes of the machine have used since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def measure(port: int, seconds: int, env: dict[str, str], pid: int) -> dict[str, float]:
    """wrk's figures, plus the server's CPU per check-in and the machine's other load."""
    before = (server_cpu(pid), machine_busy(), resource.getrusage(resource.RUSAGE_CHILDREN))
    result = run_wrk(port, seconds, env)
    server = server_cpu(pid) - before[0]
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk = ru.ru_utime + ru.ru_stime - before[2].ru_utime - before[2].ru_stime
    result["cpu_us"] = 1e6 * server / max(1.0, result["requests"])
    result["cores"] = server / result["seconds"]
    result["other"] = (machine_busy() - before[1] - server - wrk) / result["seconds"]
    return result


def run_wrk(port: int, seconds: int, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            f"-t{THREADS}",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(HERE / "ingest.lua"),
            f"http://127.0.0.1:{port}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("FW_RESULT"))
    requests, errors, micros, p50, p99, worst = line.split()[1:]
    duration = int(micros) / 1e6
    return {
        "requests": int(requests),
        "errors": int(errors),
        "rps": int(requests) / duration,
        "p50": float(p50),
        "p99": float(p99),
        "max": float(worst),
        "seconds": duration,
    }


def serve(argv: list[str], env: dict[str, str], port: int, path: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_up(port, proc, path)
    return proc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=3000)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--points", type=int, default=60)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench_ingest needs wrk: apt-get install wrk")

    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("FOREWARN_BENCH_DATABASE_URL")
        settings = Settings(data_dir=Path(tmp), database_url=url, secret_key="bench")
        ctx = Context.from_settings(settings)
        bootstrap.migrate(ctx)
        tokens = enrol(ctx, args.agents)
        (Path(tmp) / "tokens").write_text("\n".join(tokens) + "\n")
        (Path(tmp) / "points.json").write_text(json.dumps(points(args.points)))
        env = {
            **os.environ,
            "FOREWARN_DATA_DIR": tmp,
            "FOREWARN_SECRET_KEY": "bench",
            "FW_TOKENS": str(Path(tmp) / "tokens"),
            "FW_POINTS": str(Path(tmp) / "points.json"),
            "FW_THREADS": str(THREADS),
            "FOREWARN_ADMIN_PASSWORD": "bench-password-123",
        }
        if url:
            env["FOREWARN_DATABASE_URL"] = url

        port = free_port()
        bare = serve(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bare_ingest_app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--app-dir",
                str(HERE),
            ],
            env,
            port,
            "/docs",
        )
        try:
            anchor = measure(port, args.seconds, env, bare.pid)
        finally:
            bare.terminate()
            bare.wait(10)

        port = free_port()
        server = serve(
            [sys.executable, "-m", "forewarn", "serve", "--bind", f"127.0.0.1:{port}"],
            env,
            port,
            "/healthz",
        )
        try:
            # Warm up until every agent has checked in once: series creation is a one-off
            # per machine, and steady state is what a provider lives in.
            run_wrk(port, max(5, args.agents // 300), env)
            with ctx.db.read() as s:
                before = int(s.scalar(select(func.count()).select_from(MetricRaw)) or 0)
            real = measure(port, args.seconds, env, server.pid)
            with ctx.db.read() as s:
                stored = int(s.scalar(select(func.count()).select_from(MetricRaw)) or 0) - before
        finally:
            server.terminate()
            server.wait(10)
        ctx.db.dispose()

    print(
        f"engine {ctx.db.dialect}; {args.agents} agents, {args.points} points per check-in, "
        f"wrk {THREADS} threads x {CONNECTIONS} connections, {args.seconds} s per row, "
        "one server process"
    )
    print(
        f"{'':46} {'check-ins/s':>12} {'samples/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'errors':>7}"
        f" {'CPU us/check-in':>16} {'cores':>6}"
    )
    print(
        f"{'anchor: bare endpoint (parse only)':46} {anchor['rps']:12.0f} "
        f"{anchor['rps'] * args.points:10.0f} {anchor['p50']:7.1f} {anchor['p99']:7.1f} "
        f"{anchor['errors']:7.0f} {anchor['cpu_us']:16.0f} {anchor['cores']:6.2f}"
    )
    print(
        f"{'forewarn serve: parse, authenticate, store':46} {real['rps']:12.0f} "
        f"{stored / real['seconds']:10.0f} {real['p50']:7.1f} {real['p99']:7.1f} "
        f"{real['errors']:7.0f} {real['cpu_us']:16.0f} {real['cores']:6.2f}"
    )
    print(
        f"ratio to the bare endpoint: {real['rps'] / anchor['rps']:.0%}; "
        f"rows stored {stored} for {real['requests']} check-ins "
        f"(≈ {real['rps'] * 60:,.0f} agents at a 60 s interval)"
    )
    if ctx.db.dialect != "sqlite":
        print(f"the database server (and anything else) used {real['other']:.2f} cores meanwhile")
    elif max(anchor["other"], real["other"]) > 0.1:
        print(
            f"warning: other processes used up to {max(anchor['other'], real['other']):.2f} "
            "cores of the machine during the runs: the rates are low by about that share"
        )


if __name__ == "__main__":
    main()

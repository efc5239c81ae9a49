"""From a hard critical state to a delivered webhook notification, while alerts flow.

Issue 5's benchmark: p95 under 1 s in one server process while 1,000 alerts per minute are
flowing. In one process, as `forewarn serve` runs them: a recording thread turns checks hard
critical (and, a while later, OK again) at the given rate through `services.results.record`
— the pipeline the poller's recorder uses, which opens the alert and writes its delivery in
the same transaction — and the production `Notifier` (the delivery worker, which looks for
due deliveries every 0.05 s) sends each alert as a signed webhook to a receiver on loopback
(its own process). The latency of an alert is from the start of the transaction that
records its hard critical state to the receiver reading the request.

Anchor, measured in the same run: the same signed POSTs sent straight to the same receiver
(`notify.post_signed`, no database, no outbox): what the network and HTTP alone cost.

    .venv/bin/python bench/bench_alerts.py [--rate 1000] [--seconds 60] [--checks 2000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _checks_setup import add_checks, free_port, new_context

from forewarn.cli import tune_gc
from forewarn.domain.observation import Observation, Result, Status
from forewarn.services import notify, results
from forewarn.services.ingest import SeriesCache
from forewarn.services.scope import SYSTEM

SECRET = "bench-secret-of-sixteen+"


def receiver(port: int, out: Any) -> None:
    """The webhook receiver, in its own process: answers 200, reports (alert id, time)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            at = time.time()
            payload = json.loads(body)
            alert = payload.get("alert") or {}
            out.put((payload.get("kind"), alert.get("check_id"), alert.get("id"), at))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rate", type=float, default=1000, help="alerts opened per minute")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--checks", type=int, default=2000)
    ap.add_argument("--down-s", type=float, default=20, help="how long each check stays down")
    args = ap.parse_args()

    port = free_port()
    mp = multiprocessing.get_context("spawn")
    got = mp.Queue()
    proc = mp.Process(target=receiver, args=(port, got), daemon=True)
    proc.start()
    deadline = time.monotonic() + 20
    while True:  # until the receiver listens
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("the webhook receiver did not start") from None
            time.sleep(0.1)
    url = f"http://127.0.0.1:{port}/hook"
    load = f"{Path('/proc/loadavg').read_text().split()[0]}"
    print(f"bench_alerts {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {load}")

    # Anchor: the same signed POSTs, straight, one at a time as a send thread does them.
    anchor: list[float] = []
    for i in range(200):
        t0 = time.time()
        assert notify.post_signed(url, SECRET, {"delivery": i, "kind": "anchor"}) is None
        _, _, _, at = got.get(timeout=5)
        anchor.append(at - t0)

    with tempfile.TemporaryDirectory() as tmp:
        ctx = new_context(tmp)
        ids = add_checks(
            ctx, "heartbeat", [""] * args.checks, name="alerts", max_attempts=1, interval_s=3600
        )
        with ctx.db.read() as session:
            from forewarn.store.models import Check

            org = session.get(Check, ids[0]).org_id  # type: ignore[union-attr]
        channel = notify.create_channel(
            ctx, SYSTEM, notify.ChannelCreate(org_id=org, name="hook", url=url, secret=SECRET)
        )
        notify.create_route(
            ctx,
            SYSTEM,
            notify.RouteCreate(org_id=org, name="all", steps=[{"channels": [channel.id]}]),
        )
        tune_gc()  # as `forewarn serve` does, whose Notifier this is
        notifier = notify.Notifier(ctx)
        notifier.start()
        series = SeriesCache()
        committed: dict[int, float] = {}  # check id -> commit time of its latest hard critical
        latencies: list[float] = []
        stop = threading.Event()

        def collect() -> None:
            while not stop.is_set() or not got.empty():
                try:
                    kind, check_id, _, at = got.get(timeout=0.2)
                except Exception:
                    continue
                if kind == "alert" and check_id in committed:
                    latencies.append(at - committed.pop(check_id))

        collector = threading.Thread(target=collect, daemon=True)
        collector.start()

        interval = 60.0 / args.rate
        down: list[tuple[float, int]] = []  # (recover at, check id)
        free = list(ids)
        began = time.monotonic()
        opened = resolved = 0
        next_at = began
        with ThreadPoolExecutor(1):
            while time.monotonic() - began < args.seconds:
                now_m = time.monotonic()
                while down and down[0][0] <= now_m:
                    _, cid = down.pop(0)
                    results.record(
                        ctx,
                        [Observation(cid, ctx.clock.now(), Result(Status.OK, "back"))],
                        series=series,
                    )
                    free.append(cid)
                    resolved += 1
                if now_m >= next_at and free:
                    cid = free.pop(0)
                    # Stamped before the call: the worker may send it before record() returns
                    # (so the figure includes the recording transaction itself).
                    committed[cid] = time.time()
                    results.record(
                        ctx,
                        [Observation(cid, ctx.clock.now(), Result(Status.CRITICAL, "missed"))],
                        series=series,
                    )
                    down.append((now_m + args.down_s, cid))
                    opened += 1
                    next_at += interval
                time.sleep(max(0.0, min(next_at, down[0][0] if down else next_at) - now_m) / 2)
        drain_until = time.monotonic() + 15
        while committed and time.monotonic() < drain_until:
            time.sleep(0.1)  # the last alerts' messages
        stop.set()
        collector.join(10)
        notifier.stop()
        log = notify.list_deliveries(ctx, SYSTEM, limit=500).items
        failed = sum(1 for d in log if d.state == "failed")
        ctx.db.dispose()
    proc.terminate()

    print(
        f"load: {opened} alerts opened in {args.seconds:.0f} s ({opened / args.seconds * 60:.0f}"
        f"/min), {resolved} resolved (each check down {args.down_s:g} s; a resolution is a "
        f"message too), {args.checks} checks, SQLite, one process"
    )
    print(f"{'':52} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, xs in (
        ("anchor: signed POST straight to the receiver", anchor),
        ("hard critical recorded -> webhook received", latencies),
    ):
        ms = [x * 1000 for x in xs]
        print(
            f"{name:52} {len(ms):6d} {statistics.median(ms):8.1f} {pct(ms, 0.95):8.1f} "
            f"{pct(ms, 0.99):8.1f} {max(ms):8.1f}"
        )
    print(f"alerts not delivered within the run: {opened - len(latencies)}; failed: {failed}")
    print("target (issue 5): p95 < 1,000 ms at 1,000 alerts per minute")


if __name__ == "__main__":
    main()

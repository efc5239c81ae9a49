"""The poller's cost per check, measured so that other work on the machine does not change it.

bench_checks.py times checks per second, which moves with everything else the two cores run.
This harness counts what one check *costs* instead, for the poller and for the bare loop of
bench_checks.py over the same targets, in three ways:

- CPU per check of each process (this one: the poller's thread and its workers; the recorder
  child; the target server), from `time.process_time` and /proc: steady whatever else runs,
  to within a few per cent (a busier machine batches more events per turn of the loop);
- `--cprofile FILE`: cProfile of the poller's event-loop thread (or the bare loop) during the
  measured pass, for the shares of that CPU (cProfile's own overhead inflates small calls);
- `--callgrind`: run this script under `valgrind --tool=callgrind --instr-atstart=no`; only the
  measured pass is instrumented (toggled with callgrind_control), so the instruction count
  per check is printed by callgrind_annotate on the output file: repeatable to a fraction of
  a per cent whatever else runs.

    PYTHONPATH=src .venv/bin/python bench/bench_poller_cost.py --kind http --checks 20000
        [--mode poller|bare|probe] [--per-host 16] [--concurrency 500] [--cprofile out.prof]

    PYTHONPATH=src valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file=/tmp/cg.%p .venv/bin/python bench/bench_poller_cost.py \
        --kind http --checks 5000 --callgrind

Loopback only; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from _checks_setup import (
    CLK_TCK,
    HOSTS,
    TargetServer,
    add_checks,
    new_context,
    set_due,
    target_of,
    tmpdir,
)
from bench_checks import bare_http, bare_tcp, bounded, probe_layer

from forewarn.cli import tune_gc
from forewarn.services.ingest import SeriesCache
from forewarn.services.poller import PollerThread


def cpu_of(pid: int | str) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def py_spy(pid: int, out: str) -> subprocess.Popen[bytes]:
    """py-spy recording every thread of `pid` (raw stacks) until sent SIGINT."""
    spy = subprocess.Popen(
        [
            *(sys.executable.replace("python", "py-spy"), "record", "--pid", str(pid)),
            *("--rate", "500", "--format", "raw", "--nonblocking", "--threads", "-o", out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # attached before the pass starts
    return spy


def switches(pid: int | str) -> int:
    """Context switches of a process or thread so far (voluntary and not)."""
    text = Path(f"/proc/{pid}/status").read_text()
    return sum(int(line.split()[1]) for line in text.splitlines() if "ctxt_switches" in line)


def callgrind(on: bool, enabled: bool, *pids: int) -> None:
    """Instrumentation on or off in this process (and `pids`, run with --trace-children=yes)."""
    if enabled:
        for pid in (os.getpid(), *pids):
            subprocess.run(
                ["callgrind_control", "-i", "on" if on else "off", str(pid)],
                check=True,
                stdout=subprocess.DEVNULL,
            )


class LoopProfile:
    """cProfile of one thread (the event loop's), enabled around the measured pass."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.prof = cProfile.Profile() if path else None

    def on(self) -> None:
        if self.prof is not None:
            self.prof.enable()

    def off(self) -> None:
        if self.prof is not None:
            self.prof.disable()
            self.prof.dump_stats(self.path)


def poller_cost(args: argparse.Namespace, server: TargetServer) -> None:
    with tmpdir() as tmp:
        ctx = new_context(tmp)
        ctx.settings.poller_concurrency = args.concurrency
        ctx.settings.poller_per_host = args.per_host
        targets = [
            target_of(args.kind, HOSTS[i % len(HOSTS)], server.port) for i in range(args.checks)
        ]
        ids = add_checks(ctx, args.kind, targets, interval_s=3600)
        series = SeriesCache()
        prepared: dict[int, object] = {}  # each check's validated params, as a running poller
        prof = LoopProfile(args.cprofile)
        for measured in (False, True):
            set_due(ctx, ids, datetime.now(UTC))
            poller = PollerThread(ctx)
            poller.poller.series = series
            # (`_params` in the code before the per-check cost round, for A/B runs of it)
            if not args.cold:
                setattr(
                    poller.poller,
                    "params_cache" if hasattr(poller.poller, "params_cache") else "_params",
                    prepared,
                )
            poller.poller.idle_s = 0.01
            if measured:
                # The loop thread profiles itself: wrap its run() so cProfile sees that thread.
                inner = poller.poller.run

                async def run(stop: asyncio.Event, inner=inner) -> None:  # type: ignore[no-untyped-def]
                    prof.on()
                    try:
                        await inner(stop)
                    finally:
                        prof.off()

                poller.poller.run = run  # type: ignore[method-assign]
            poller.start()
            rec = poller.poller.recorder
            assert rec is not None, "the bench measures the production set-up: a recorder child"
            # Until the child is ready (its start-up is not per-check cost).
            rec.wait_ready(60)
            spy = None
            if measured and args.spy_poller:
                spy = py_spy(os.getpid(), args.spy_poller)
            if measured and args.spy_recorder:
                spy = subprocess.Popen(
                    [
                        sys.executable.replace("python", "py-spy"),
                        "record",
                        "--pid",
                        str(rec._proc.pid),
                        "--rate",
                        "500",
                        "--format",
                        "raw",
                        "--nonblocking",
                        "-o",
                        args.spy_recorder,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(1.0)
            children = [rec._proc.pid] if args.callgrind_children else []
            tid = poller._thread.native_id
            c0, r0, s0, t0 = (
                time.process_time(),
                cpu_of(rec._proc.pid),
                server.cpu_s(),
                time.perf_counter(),
            )
            l0 = cpu_of(f"{os.getpid()}/task/{tid}")
            x0 = switches(f"{os.getpid()}/task/{tid}")
            callgrind(True, measured and args.callgrind, *children)
            deadline = time.monotonic() + 600
            while poller.poller.ran < len(ids) and time.monotonic() < deadline:
                time.sleep(0.005)
            callgrind(False, measured and args.callgrind, *children)
            c1, r1, s1, t1 = (
                time.process_time(),
                cpu_of(rec._proc.pid),
                server.cpu_s(),
                time.perf_counter(),
            )
            l1 = cpu_of(f"{os.getpid()}/task/{tid}")
            x1 = switches(f"{os.getpid()}/task/{tid}")
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(30)
            poller.stop(60)
            if measured:
                n = poller.poller.ran
                print(f"  loop thread: {(x1 - x0) / n:.2f} context switches per check")
                report(
                    f"poller {args.kind}, concurrency {args.concurrency}, per-host {args.per_host}",
                    n,
                    t1 - t0,
                    {
                        "poller: loop": l1 - l0,
                        "poller: others": (c1 - c0) - (l1 - l0),
                        "recorder child": r1 - r0,
                        "target server": s1 - s0,
                    },
                )
        ctx.db.dispose()


def machinery_cost(args: argparse.Namespace) -> None:
    """The poller's own work per check without the network: claim, schedule, stamp, hand over
    and record, in one process (`Poller.tick`, recording in-process) with a probe that answers
    at once. No other process takes part, so the count of instructions under callgrind is the
    same from run to run whatever else the machine does."""
    from forewarn.domain.observation import Metric, Result, Status
    from forewarn.services import poller as poller_module
    from forewarn.services.poller import Poller

    result = Result(Status.OK, "connected in 0.000 s", (Metric("time", 0.0001, "s", min=0.0),))

    async def probe(*_: object) -> tuple[Result, float]:
        return result, 0.1

    poller_module.run_probe = probe  # type: ignore[assignment]
    with tmpdir() as tmp:
        ctx = new_context(tmp)
        target = target_of(args.kind, "127.0.0.1", 9)  # never connected to
        ids = add_checks(ctx, args.kind, [target] * args.checks, interval_s=3600)
        series = SeriesCache()
        prepared: dict[int, object] = {}
        prof = LoopProfile(args.cprofile)
        for measured in (False, True):
            set_due(ctx, ids, datetime.now(UTC))
            poller = Poller(ctx, owner="bench", concurrency=args.concurrency, per_host=10**6)
            poller.series = series
            if not args.cold:
                name = "params_cache" if hasattr(poller, "params_cache") else "_params"
                setattr(poller, name, prepared)
            c0, t0 = time.process_time(), time.perf_counter()
            callgrind(True, measured and args.callgrind)
            if measured:
                prof.on()
            n = asyncio.run(poller.tick())
            if measured:
                prof.off()
            callgrind(False, measured and args.callgrind)
            c1, t1 = time.process_time(), time.perf_counter()
            if measured:
                report(
                    f"poller machinery, null probe, {args.kind}", n, t1 - t0, {"process": c1 - c0}
                )
        ctx.db.dispose()


def loop_cost(args: argparse.Namespace, server: TargetServer) -> None:
    port = server.port
    if args.mode == "bare":
        make = bare_tcp(port) if args.kind == "tcp" else bare_http(port)
    else:
        make = probe_layer(args.kind, port)
    items = [HOSTS[i % len(HOSTS)] for i in range(args.checks)]
    prof = LoopProfile(args.cprofile)

    async def main() -> tuple[float, float, float, int]:
        fn, close = await make()
        await bounded(fn, items[:500], args.concurrency)
        spy = py_spy(os.getpid(), args.spy_poller) if args.spy_poller else None
        c0, s0, t0 = time.process_time(), server.cpu_s(), time.perf_counter()
        callgrind(True, args.callgrind)
        prof.on()
        failed = await bounded(fn, items, args.concurrency)
        prof.off()
        callgrind(False, args.callgrind)
        c1, s1, t1 = time.process_time(), server.cpu_s(), time.perf_counter()
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        await close()
        return c1 - c0, s1 - s0, t1 - t0, failed

    client, srv, wall, failed = asyncio.run(main())
    report(
        f"{args.mode} loop {args.kind}, concurrency {args.concurrency}, {failed} failed",
        len(items),
        wall,
        {"client process": client, "target server": srv},
    )


def report(name: str, n: int, wall: float, cpu: dict[str, float]) -> None:
    one, five, _ = os.getloadavg()
    print(f"{name}: {n} checks in {wall:.2f} s ({n / wall:,.0f}/s, load {one:.2f}/{five:.2f})")
    for what, s in cpu.items():
        print(f"  {what:16} {s * 1e6 / n:7.1f} us CPU per check")
    print(f"  {'all':16} {sum(cpu.values()) * 1e6 / n:7.1f} us CPU per check")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--kind", choices=("tcp", "http"), default="http")
    ap.add_argument("--mode", choices=("poller", "bare", "probe", "machinery"), default="poller")
    ap.add_argument("--checks", type=int, default=20_000)
    ap.add_argument("--concurrency", type=int, default=None, help="poller 500, loops 320")
    ap.add_argument("--per-host", type=int, default=16)
    ap.add_argument(
        "--cold",
        action="store_true",
        help="a new poller's empty params cache each pass (as bench_checks before this round)",
    )
    ap.add_argument("--cprofile", help="write a cProfile of the loop thread here")
    ap.add_argument(
        "--callgrind-children",
        action="store_true",
        help="also toggle the recorder child (valgrind --trace-children=yes)",
    )
    ap.add_argument(
        "--spy-poller",
        help="py-spy this process (all threads; bare and probe modes too), raw stacks here",
    )
    ap.add_argument("--spy-recorder", help="py-spy the recorder child, raw stacks here")
    ap.add_argument("--callgrind", action="store_true", help="toggle callgrind around the pass")
    args = ap.parse_args()
    if args.concurrency is None:
        args.concurrency = 500 if args.mode == "poller" else 320
    tune_gc()
    if args.mode == "machinery":
        machinery_cost(args)
        return
    server = TargetServer()
    try:
        if args.mode == "poller":
            poller_cost(args, server)
        else:
            loop_cost(args, server)
    finally:
        server.close()


if __name__ == "__main__":
    main()

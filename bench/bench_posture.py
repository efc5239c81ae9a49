"""Posture: wall time and agent CPU time per evaluation of the shipped Linux pack on this
machine, beside two anchors measured in the same run: the agent's plain full inventory
collection (what it does every day anyway) and lynis's firewall/authentication/SSH groups
(when installed).

CPU time counts this process and the commands it ran (sysctl, find, stat, ...): resource
usage of self plus children, before and after. Each figure is the median of --runs.

    PYTHONPATH=src .venv/bin/python bench/bench_posture.py [--runs 5] [--no-lynis]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from forewarn.agent import collect
from forewarn.agent.posture import RealIo, evaluate
from forewarn.security.posture_policy import parse

PACK = Path(__file__).parents[1] / "src/forewarn/data/posture/linux.yml"


def cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def measure(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(runs):
        c0, t0 = cpu(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(cpu() - c0)
    return statistics.median(walls), statistics.median(cpus)


def lynis_groups() -> None:
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [
                "lynis",
                "audit",
                "system",
                "--quick",
                "--no-colors",
                "--tests-from-group",
                "firewalls authentication ssh",
                "--report-file",
                f"{out}/r.dat",
                "--log-file",
                f"{out}/l.log",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=600,
            check=False,
            cwd=out,
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-lynis", action="store_true")
    args = ap.parse_args()
    policy = parse(PACK.read_text()).to_agent("server")
    results = evaluate(policy, RealIo())
    counts = {s: sum(r["status"] == s for r in results) for s in ("pass", "fail", "na", "error")}
    print(f"shipped pack: {len(policy['checks'])} checks for a server; this machine: {counts}")
    rows = [("posture, shipped pack", measure(lambda: evaluate(policy, RealIo()), args.runs))]
    rows.append(("anchor: full inventory", measure(collect.collect_inventory, args.runs)))
    if not args.no_lynis and shutil.which("lynis"):
        rows.append(("anchor: lynis 3 groups", measure(lynis_groups, max(1, args.runs // 2))))
    base_wall, base_cpu = rows[0][1]
    print(f"{'':26} {'wall s':>8} {'CPU s':>8} {'wall ratio':>11} {'CPU ratio':>10}")
    for name, (wall, used) in rows:
        print(f"{name:26} {wall:8.2f} {used:8.2f} {wall / base_wall:11.2f} {used / base_cpu:10.2f}")


if __name__ == "__main__":
    main()

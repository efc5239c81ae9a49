"""The agent's cost on this machine: resident memory and CPU per hour at the 60 s default.

Starts `forewarn serve` on a loopback port over a temporary data directory, enrols the real
agent with it, then runs `forewarn-agent run` three times at short intervals, each time
reading the agent's CPU time (its own and its waited-for children's, such as dpkg-query)
from /proc between batches it buffered:

  A. metrics only:         CPU of one cycle (sample, buffer, gzip, send)
  B. inventory every tick: A + one inventory collection that sends what changed
  C. full every tick:      A + one full inventory collection and send

and estimates an hour at the defaults: 60 cycles + 4 inventory checks + the daily full one
spread over 24 hours. Memory is VmRSS and VmHWM from /proc/PID/status, printed next to a bare
`python -c "import time; time.sleep(...)"` measured in the same run.

    .venv/bin/python bench/bench_agent.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TARGET_RSS_MB = 30
TARGET_CPU_HOUR = 7.2  # 0.2 % of one core, in CPU-seconds per hour
DAY_FULL = 1e7  # "never" within a phase


@dataclass
class Phase:
    name: str
    cycles: int
    cpu_per_cycle: float
    rss_mb: float
    hwm_mb: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system time of the process and of the children it waited for."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    # After the name: state is field 3 of proc(5), so utime (14) is index 11 here.
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime + cutime + cstime) / CLOCK_TICKS


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def buffered(state_dir: Path) -> int:
    """How many batches the agent has buffered so far (its next seq)."""
    path = state_dir / "buffer.db"
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        return int(row[0]) if row else 0
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def wait_for_batch(state_dir: Path, after: int, proc: subprocess.Popen[bytes]) -> int:
    """Poll until the agent buffered a batch past `after`; returns the new count."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the agent exited with {proc.returncode}")
        count = buffered(state_dir)
        if count > after:
            return count
        time.sleep(0.005)
    raise SystemExit("the agent buffered nothing for 60 s")


def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("forewarn serve exited during start")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("forewarn serve not ready within 30 s")


def forewarn(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "forewarn"), *args], env=env, capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        raise SystemExit(f"forewarn {' '.join(args)} failed: {result.stderr}")
    return result.stdout.strip()


def anchor_rss_mb() -> float:
    """RSS of a bare Python doing nothing, the floor any Python agent starts from."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.5)
        return memory_mb(proc.pid)[0]
    finally:
        proc.kill()
        proc.wait()


def measure(name: str, env: dict[str, str], state_dir: Path, seconds: float, *flags: str) -> Phase:
    """Run the agent with `flags` and measure CPU per buffered batch after two warm-up ones."""
    proc = subprocess.Popen(
        [str(BIN / "forewarn-agent"), "run", *flags],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        count = buffered(state_dir)
        for _ in range(2):  # start-up and imports are not part of a cycle
            count = wait_for_batch(state_dir, count, proc)
        first, cpu0 = count, cpu_seconds(proc.pid)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            count = wait_for_batch(state_dir, count, proc)
        cpu1 = cpu_seconds(proc.pid)
        rss, hwm = memory_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    cycles = count - first
    return Phase(name, cycles, (cpu1 - cpu0) / cycles, rss, hwm)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20, help="measuring time per phase")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        state_dir = Path(tmp) / "agent"
        env = {
            **os.environ,
            "FOREWARN_DATA_DIR": str(Path(tmp) / "server"),
            "FOREWARN_SECRET_KEY": "bench",
            "FOREWARN_ADMIN_PASSWORD": "bench-password-123",
            "FOREWARN_BIND": f"127.0.0.1:{port}",
            "FOREWARN_AGENT_STATE_DIR": str(state_dir),
        }
        env.pop("FOREWARN_DATABASE_URL", None)
        server = subprocess.Popen(
            [str(BIN / "forewarn"), "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(port, server)
            forewarn(env, "org", "create", "Bench Co", "--slug", "bench")
            token = forewarn(env, "enroll-token", "create", "--org", "bench")
            forewarn(
                env, "agent", "enroll", "--server", f"http://127.0.0.1:{port}", "--token", token
            )
            anchor = anchor_rss_mb()
            never = str(DAY_FULL)
            phases = [
                measure("A metrics cycle", env, state_dir, args.seconds,
                        "--interval", "0.5", "--inventory-interval", never,
                        "--full-inventory-interval", never),
                measure("B + inventory changes", env, state_dir, args.seconds,
                        "--interval", "1", "--inventory-interval", "0",
                        "--full-inventory-interval", never),
                measure("C + full inventory", env, state_dir, args.seconds,
                        "--interval", "1", "--inventory-interval", "0",
                        "--full-inventory-interval", "0"),
            ]  # fmt: skip
            anchor_again = anchor_rss_mb()
        finally:
            server.terminate()
            server.wait(timeout=20)
    report(phases, (anchor + anchor_again) / 2)


def report(phases: list[Phase], anchor: float) -> None:
    a, b, c = phases
    inventory = max(b.cpu_per_cycle - a.cpu_per_cycle, 0.0)
    full = max(c.cpu_per_cycle - a.cpu_per_cycle, 0.0)
    hour = 60 * a.cpu_per_cycle + 4 * inventory + full / 24
    print("forewarn agent against forewarn serve on loopback (real collectors, this machine)")
    print(f"{'phase':<24}{'batches':>8}{'CPU/batch':>12}{'VmRSS':>10}{'VmHWM':>10}")
    for p in phases:
        print(
            f"{p.name:<24}{p.cycles:>8}{p.cpu_per_cycle * 1000:>9.1f} ms"
            f"{p.rss_mb:>7.1f} MB{p.hwm_mb:>7.1f} MB"
        )
    print(f"{'anchor: bare python':<24}{'':>8}{'':>12}{anchor:>7.1f} MB")
    print()
    print(f"one metrics cycle        {a.cpu_per_cycle * 1000:7.1f} ms CPU")
    print(f"one inventory check      {inventory * 1000:7.1f} ms CPU (collect, hash, send changes)")
    print(f"one full inventory       {full * 1000:7.1f} ms CPU (collect, gzip, send all)")
    print(
        f"per hour at 60 s         {hour:7.2f} CPU-s = {hour / 36:.3f} % of a core"
        f"   target <= {TARGET_CPU_HOUR} s (0.2 %): {'ok' if hour <= TARGET_CPU_HOUR else 'OVER'}"
    )
    peak = max(p.hwm_mb for p in phases)
    steady = a.rss_mb
    print(
        f"resident memory          {steady:7.1f} MB steady, {peak:.1f} MB peak"
        f" = {peak / anchor:.1f}x the anchor   target <= {TARGET_RSS_MB} MB: "
        f"{'ok' if peak <= TARGET_RSS_MB else 'OVER'}"
    )


if __name__ == "__main__":
    main()

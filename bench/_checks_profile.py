"""Where the poller's time goes: py-spy attached to this process during one poller pass.

`bench_checks.py --profile DIR` records a poller pass with `py-spy record --pid` (raw,
collapsed stacks) and prints the share of samples per part of the path. Only the thread
holding the GIL is sampled (`--gil`): one Python process runs one thread at a time, so the
shares are shares of that one core's worth of Python work, and the header says how much of
the pass the GIL was held at all. Waits (the loop in select, idle worker threads) are left
out; "other" is mostly stacks py-spy caught half-built (it samples without pausing the
process) and thread hand-overs.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

# (label, a frame that marks it): the first whose frame is in a stack takes the sample.
RECORD = "record (forewarn/services/results.py)"
RECORD_PARTS = [
    ("metric samples (series, INSERT)", "_write_points (forewarn/services/results.py)"),
    ("INSERT check_results", "insert_ignore (forewarn/store/bulk.py)"),
    ("evaluate (state machine)", "evaluate (forewarn/domain/checkstate.py)"),
    ("maintenance windows", "windows_of (forewarn/services/maintenance.py)"),
    ("state UPDATEs (ORM flush)", "Session.flush (sqlalchemy/orm/session.py)"),
    ("commit", "Session.commit (sqlalchemy/orm/session.py)"),
    (
        "load checks + states (ORM SELECT, rows to objects)",
        "Session.execute (sqlalchemy/orm/session.py)",
    ),
    (
        "load checks + states (ORM SELECT, rows to objects)",
        "Session.scalars (sqlalchemy/orm/session.py)",
    ),
    (
        "load checks + states (ORM SELECT, rows to objects)",
        "instances.<locals>.chunks (sqlalchemy/orm/loading.py)",
    ),
    (
        "ORM rows <-> domain state (to_domain, _store_state, attribute sets)",
        "_store_state (forewarn/services/results.py)",
    ),
    (
        "ORM rows <-> domain state (to_domain, _store_state, attribute sets)",
        "to_domain (forewarn/services/results.py)",
    ),
    (
        "ORM rows <-> domain state (to_domain, _store_state, attribute sets)",
        "InstrumentedAttribute.__set__ (sqlalchemy/orm/attributes.py)",
    ),
]
PARTS = [
    ("claim: UPDATE ... RETURNING + SELECT checks", "claim (forewarn/services/poller.py)"),
    ("probe: tcp.run / http.run (connect, request)", "run_probe (forewarn/probes/runner.py)"),
    ("poller: _run_one bookkeeping", "Poller._run_one (forewarn/services/poller.py)"),
    ("poller: _start (create tasks)", "Poller._start (forewarn/services/poller.py)"),
    (
        "event loop: transports, selector, callbacks",
        "BaseEventLoop._run_once (asyncio/base_events.py)",
    ),
]
RATE = 250  # samples per second
# Waiting, not working: idle pool threads, the loop in select, the bench's own wait loop.
IDLE_LEAVES = (
    "_worker (concurrent/futures/thread.py)",
    "EpollSelector.select (selectors.py)",
    "poller_pass (bench_checks.py)",
)


def _frame(f: str) -> str:
    return re.sub(r":\d+\)$", ")", f.strip())


class Profiler:
    """`with Profiler(path):` records this process while the block runs (no-op if None)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = self.seconds = 0.0

    def __enter__(self) -> Profiler:
        if self.path is None:
            return self
        spy = spy_path()
        if spy is None:
            raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
        self.proc = subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(os.getpid()),
                "--rate",
                "250",
                "--format",
                "raw",
                "--nonblocking",
                "--gil",
                "-o",
                str(self.path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # attach before the pass starts
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.seconds = time.monotonic() - self.started
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(30)


def spy_path() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def summarise(path: Path, seconds: float, top: int = 12) -> str:
    """Shares of busy samples per part of the poller path, then the hottest frames."""
    parts: Counter[str] = Counter()
    frames: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        stack_frames = [_frame(f) for f in stack.split(";")]
        if not stack_frames or stack_frames[-1] in IDLE_LEAVES:
            continue
        n = int(count)
        total += n
        if RECORD in stack_frames:
            sub = next((lbl for lbl, mark in RECORD_PARTS if mark in stack_frames), "other")
            label = f"record: {sub}"
        else:
            label = next((lbl for lbl, mark in PARTS if mark in stack_frames), "other")
        parts[label] += n
        for f in set(stack_frames):
            frames[f] += n
    if not total:
        return "(no samples)"
    busy = total / (seconds * RATE) if seconds else 0.0
    out = [
        f"samples holding the GIL: {total} (py-spy --gil, {RATE} Hz) over {seconds:.1f} s: "
        f"the GIL was held {busy:.0%} of the time"
    ]
    out += [f"  {n / total:6.1%}  {label}" for label, n in parts.most_common()]
    out.append("  hottest frames (inclusive):")
    skip = ("threading.py", "runners.py", "events.py", "base_events.py", "thread.py", "exp")
    shown = [(f, n) for f, n in frames.most_common() if not any(s in f for s in skip)]
    out += [f"  {n / total:6.1%}  {f}" for f, n in shown[:top]]
    return "\n".join(out)

"""Network sweeps the server asks this agent to make (discovery of a client's network).

The tasks arrive in the agent's configuration (wire.AgentConfig.sweeps). One sweep runs at a
time, in a child process (forewarn.agent.sweep_child) that writes its report to a file in
the state directory; each tick `poll` collects a finished report, starts the next task, and
kills a child that overran. A report goes out in the next batch, so it is buffered and
retried like everything else; the runs already reported are remembered (in the buffer's meta
table) so a task still listed until the server hears of it is not swept twice.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("forewarn.agent")

META_DONE = "sweeps_done"
# The sweep bounds itself (120 s); this is the backstop for a child that hangs anyway.
MAX_SECONDS = 300.0
KEEP_DONE = 50
MAX_REPORT_BYTES = 1024 * 1024


def default_command() -> list[str]:
    return [sys.executable, "-m", "forewarn.agent.sweep_child"]


@dataclass
class _Child:
    run: int
    proc: subprocess.Popen[bytes]
    out: Path
    started: float


class Sweeper:
    def __init__(
        self,
        work_dir: Path,
        *,
        command: Callable[[], list[str]] = default_command,
        max_seconds: float = MAX_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.work_dir = work_dir
        self._command = command
        self.max_seconds = max_seconds
        self._monotonic = monotonic
        self._child: _Child | None = None
        self.done: list[int] = []  # run ids reported, newest last

    def restore(self, done_json: str | None) -> None:
        try:
            done = json.loads(done_json) if done_json else []
        except ValueError:
            done = []
        self.done = [r for r in done if isinstance(r, int)][-KEEP_DONE:]

    def poll(self, tasks: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Reports of sweeps that ended since the last poll; starts the next task if idle."""
        reports = []
        child = self._child
        if child is not None:
            report = self._collect(child)
            if report is not None:
                reports.append(report)
                self._child = None
        if self._child is None:
            reported = set(self.done) | {r["run"] for r in reports}
            pending = [t for t in tasks if t["run"] not in reported]
            if pending:
                failed = self._start(pending[0])
                if failed is not None:
                    reports.append(failed)
        return reports

    def remember(self, reports: Sequence[dict[str, Any]]) -> str:
        """Mark these runs reported (once the batch carrying them is buffered)."""
        self.done = (self.done + [r["run"] for r in reports])[-KEEP_DONE:]
        return json.dumps(self.done)

    def stop(self) -> None:
        if self._child is not None and self._child.proc.poll() is None:
            self._child.proc.kill()
            self._child.proc.wait()

    def _start(self, task: dict[str, Any]) -> dict[str, Any] | None:
        """Start the child for a task; a report straight away if it cannot be started."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        out = self.work_dir / f"sweep-{task['run']}.json"
        log.info("sweeping %s for discovery run %s", task.get("network"), task["run"])
        try:
            with out.open("wb") as stdout:
                proc = subprocess.Popen(
                    self._command(),
                    stdin=subprocess.PIPE,
                    stdout=stdout,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,  # a Ctrl-C to the agent is not the sweep's
                )
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(task).encode())
            proc.stdin.close()
        except OSError as exc:
            log.error("cannot start the sweep of run %s: %s", task["run"], exc)
            out.unlink(missing_ok=True)
            return {"run": task["run"], "error": f"cannot start the sweep: {exc}"}
        self._child = _Child(task["run"], proc, out, self._monotonic())
        return None

    def _collect(self, child: _Child) -> dict[str, Any] | None:
        code = child.proc.poll()
        if code is None:
            if self._monotonic() - child.started < self.max_seconds:
                return None
            child.proc.kill()
            child.proc.wait()
            child.out.unlink(missing_ok=True)
            return {
                "run": child.run,
                "error": f"the sweep did not end within {self.max_seconds:g} s",
            }
        try:
            data = child.out.read_bytes()[:MAX_REPORT_BYTES]
            report = json.loads(data)
        except (OSError, ValueError):
            report = None
        finally:
            child.out.unlink(missing_ok=True)
        if not isinstance(report, dict) or report.get("run") != child.run:
            return {"run": child.run, "error": f"the sweep process failed (exit status {code})"}
        return report

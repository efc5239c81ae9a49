"""The busiest processes, by CPU and by memory, for each metrics sample.

A process's CPU share needs two readings of its CPU time, so the psutil.Process objects are
kept between samples (psutil keeps the previous reading inside each) and dropped when their
process ends. Name and owner are read only for the few processes reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psutil

TOP_BY_CPU = 5
TOP_BY_RSS = 5


@dataclass(frozen=True)
class Reading:
    pid: int
    cpu_percent: float | None  # None on a process's first reading: no interval yet
    rss_bytes: int


def pick_top(readings: list[Reading], by_cpu: int, by_rss: int) -> list[Reading]:
    """The `by_cpu` busiest (CPU > 0) then the `by_rss` largest, each process once."""
    busy = sorted(
        (r for r in readings if r.cpu_percent),
        key=lambda r: (-(r.cpu_percent or 0.0), r.pid),
    )[:by_cpu]
    large = sorted(readings, key=lambda r: (-r.rss_bytes, r.pid))[:by_rss]
    chosen: dict[int, Reading] = {}
    for r in busy + large:
        chosen.setdefault(r.pid, r)
    return list(chosen.values())


class ProcessTable:
    """psutil.Process objects kept between samples, so CPU shares cover the interval."""

    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}
        self.count: int | None = None  # processes in the system at the last reading

    def __len__(self) -> int:
        return len(self._procs)

    def read(self) -> list[Reading]:
        """One reading of every process this agent may see; forgets the ones that ended."""
        try:
            pids = set(psutil.pids())
        except (OSError, RuntimeError):
            self.count = None
            return []
        self.count = len(pids)
        for gone in self._procs.keys() - pids:
            del self._procs[gone]
        readings = []
        for pid in pids:
            reading = self._read_one(pid)
            if reading is not None:
                readings.append(reading)
        return readings

    def _read_one(self, pid: int) -> Reading | None:
        proc = self._procs.get(pid)
        first = proc is None
        try:
            if proc is None:
                proc = psutil.Process(pid)
                self._procs[pid] = proc
            with proc.oneshot():
                cpu = proc.cpu_percent(None)
                rss = proc.memory_info().rss
        except psutil.AccessDenied:
            return None
        except (psutil.Error, OSError):
            self._procs.pop(pid, None)
            return None
        # A pid reused between samples can make the difference negative: clamp it.
        return Reading(pid, None if first else max(0.0, cpu), int(rss))

    def describe(self, reading: Reading) -> dict[str, Any] | None:
        """A Process dict (pid, name, user, cpu_percent, rss_bytes); None if it just ended."""
        proc = self._procs.get(reading.pid)
        if proc is None:
            return None
        try:
            name = proc.name()
        except (psutil.Error, OSError):
            return None
        try:
            user = proc.username()
        except (psutil.Error, OSError, KeyError):
            user = ""
        return {
            "pid": reading.pid,
            "name": name[:255],
            "user": user[:255],
            "cpu_percent": round(reading.cpu_percent or 0.0, 1),
            "rss_bytes": reading.rss_bytes,
        }

    def top(self, by_cpu: int = TOP_BY_CPU, by_rss: int = TOP_BY_RSS) -> list[dict[str, Any]]:
        """Read every process and describe the busiest and the largest."""
        chosen = pick_top(self.read(), by_cpu, by_rss)
        return [d for d in (self.describe(r) for r in chosen) if d is not None]

"""The numbers sampled every interval: CPU, load, memory, file systems, disk and network
rates, uptime, process count, and the busiest processes.

Cheap by design, as it runs every minute on every machine: no subprocess, one statvfs per
file system, and counters kept from the previous sample so rates are a subtraction. Rates
and CPU shares need a previous reading, so the first sample leaves them out.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from typing import Any

import psutil

from forewarn.agent.collectors.disks import Mount, data_mounts
from forewarn.agent.collectors.processes import ProcessTable

Point = dict[str, Any]
Counters = dict[str, tuple[int, int]]
# Caps keep a sample far below the wire's 500 points: 12 + 4*50 + 2*32 + 2*32 = 340.
MAX_MOUNTS = 50
MAX_DISKS = 32
MAX_INTERFACES = 32
MAX_POINTS = 500
MAX_LABEL = 200
# Kernel block devices that are not disks of their own, for systems without /sys/block.
VIRTUAL_DISK_PREFIXES = ("loop", "ram", "zram", "dm-", "md", "nbd", "sr", "fd")
_EXPECTED = (OSError, RuntimeError, psutil.Error)
log = logging.getLogger(__name__)
_reported: set[str] = set()


def point(name: str, value: float, **labels: str) -> Point:
    """One metric point in the wire's shape."""
    return {"name": name, "labels": labels, "value": float(value)}


def rates(prev: Counters, cur: Counters, seconds: float) -> dict[str, tuple[float, float]]:
    """Per-second rates of paired counters between two readings.

    A key new since the previous reading has no rate yet; a counter that went down was
    reset (driver reload, device replugged) and is skipped rather than reported negative.
    """
    out: dict[str, tuple[float, float]] = {}
    if seconds <= 0:
        return out
    for key, (a, b) in cur.items():
        if key not in prev:
            continue
        pa, pb = prev[key]
        if a < pa or b < pb:
            continue
        out[key] = ((a - pa) / seconds, (b - pb) / seconds)
    return out


def statvfs_points(mount: str, st: os.statvfs_result) -> list[Point]:
    """Usage points of one file system, computed as df does (root's reserve counts as used)."""
    total = st.f_blocks * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    usable = used + avail
    out = [
        point("disk.used_percent", used / usable * 100.0 if usable > 0 else 0.0, mount=mount),
        point("disk.free_bytes", avail, mount=mount),
        point("disk.total_bytes", total, mount=mount),
    ]
    # btrfs and some others report no inode counts: nothing to say then.
    if st.f_files > 0:
        inodes = (st.f_files - st.f_ffree) / st.f_files * 100.0
        out.append(point("disk.inodes_used_percent", inodes, mount=mount))
    return out


def disk_usage_points(mounts: list[Mount], limit: int = MAX_MOUNTS) -> list[Point]:
    """Usage of local data file systems; network ones are skipped (statvfs can hang)."""
    out: list[Point] = []
    chosen = [m for m in mounts if not m.network and len(m.mount) <= MAX_LABEL][:limit]
    for m in chosen:
        try:
            if hasattr(os, "statvfs"):
                out.extend(statvfs_points(m.mount, os.statvfs(m.mount)))
            else:  # Windows
                usage = psutil.disk_usage(m.mount)
                out.append(point("disk.used_percent", usage.percent, mount=m.mount))
                out.append(point("disk.free_bytes", usage.free, mount=m.mount))
                out.append(point("disk.total_bytes", usage.total, mount=m.mount))
        except OSError:
            continue
    return out


def is_whole_disk(name: str, sys_block: set[str] | None) -> bool:
    """A physical disk rather than a partition, loop, RAM or device-mapper device.

    Linux lists block devices in /sys/block and only real hardware has a "device" link
    there; elsewhere names are judged by their prefix.
    """
    if sys_block is not None:
        return name in sys_block and os.path.exists(f"/sys/block/{name}/device")
    return not name.startswith(VIRTUAL_DISK_PREFIXES)


def _sys_block() -> set[str] | None:
    try:
        return set(os.listdir("/sys/block"))
    except OSError:
        return None


def disk_counters(limit: int = MAX_DISKS) -> Counters:
    """Bytes read and written so far by each whole disk."""
    per_disk = psutil.disk_io_counters(perdisk=True) or {}
    sys_block = _sys_block()
    names = sorted(n for n in per_disk if is_whole_disk(n, sys_block) and len(n) <= MAX_LABEL)
    return {n: (per_disk[n].read_bytes, per_disk[n].write_bytes) for n in names[:limit]}


def is_loopback(name: str) -> bool:
    """lo on Linux, lo0 on BSD and macOS, "Loopback Pseudo-Interface 1" on Windows."""
    return (
        name == "lo"
        or (name.startswith("lo") and name[2:].isdigit())
        or ("loopback" in name.lower())
    )


def _interface_order(name: str) -> tuple[bool, str]:
    # Physical NICs first, so a host with many container veths still reports its uplink.
    return (not os.path.exists(f"/sys/class/net/{name}/device"), name)


def net_counters(limit: int = MAX_INTERFACES) -> Counters:
    """Bytes received and sent so far by each interface but loopback."""
    per_nic = psutil.net_io_counters(pernic=True) or {}
    names = [n for n in per_nic if not is_loopback(n) and len(n) <= MAX_LABEL]
    names.sort(key=_interface_order)
    return {n: (per_nic[n].bytes_recv, per_nic[n].bytes_sent) for n in names[:limit]}


def rate_points(
    names: tuple[str, str], label: str, prev: Counters, cur: Counters, seconds: float
) -> list[Point]:
    """Two rate points per key (e.g. read and write bytes per second of each disk)."""
    out = []
    for key, (a, b) in sorted(rates(prev, cur, seconds).items()):
        out.append(point(names[0], a, **{label: key}))
        out.append(point(names[1], b, **{label: key}))
    return out


def load_points() -> list[Point]:
    """1, 5 and 15 minute load averages where the system keeps them (not Windows)."""
    if not hasattr(os, "getloadavg"):
        return []
    one, five, fifteen = os.getloadavg()
    return [point("load.1", one), point("load.5", five), point("load.15", fifteen)]


def memory_points() -> list[Point]:
    """Memory and swap: sizes and how much is in use."""
    vm = psutil.virtual_memory()
    sw = psutil.swap_memory()
    return [
        point("mem.total_bytes", vm.total),
        point("mem.available_bytes", vm.available),
        point("mem.used_percent", vm.percent),
        point("swap.total_bytes", sw.total),
        point("swap.used_percent", sw.percent),
    ]


def uptime_point(now: float) -> Point:
    """Seconds since boot, as of wall-clock time `now`."""
    return point("uptime.seconds", max(0.0, now - psutil.boot_time()))


def _guarded(family: str, fn: Callable[[], Any], empty: Any) -> Any:
    """One family of points, or `empty` when the system would not give them this time.

    A sample must never fail as a whole, so even a bug is contained to its family; it is
    logged once per family rather than every minute.
    """
    try:
        return fn()
    except _EXPECTED:
        return empty
    except Exception:
        if family not in _reported:
            _reported.add(family)
            log.exception("metrics: %s failed; leaving it out", family)
        return empty


class MetricsCollector:
    """Samples metrics; keeps the previous counters and processes so it can compute rates."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        # Intervals come from a monotonic clock: a wall-clock step must not distort rates.
        self._monotonic = monotonic
        self._prev_at: float | None = None
        self._prev_disk: Counters = {}
        self._prev_net: Counters = {}
        self._processes = ProcessTable()

    def sample(self, now: float) -> dict[str, Any]:
        """One Sample dict {"ts", "points", "top"} taken at wall-clock time `now`."""
        at = self._monotonic()
        first = self._prev_at is None
        elapsed = 0.0 if self._prev_at is None else at - self._prev_at
        points: list[Point] = []
        points += _guarded("cpu", lambda: self._cpu_points(first), [])
        points += _guarded("load", load_points, [])
        points += _guarded("memory", memory_points, [])
        points += _guarded("disk", lambda: disk_usage_points(data_mounts() or []), [])
        points += self._io_points(elapsed)
        points += _guarded("uptime", lambda: [uptime_point(now)], [])
        top: list[dict[str, Any]] = _guarded("top", self._processes.top, [])
        if self._processes.count is not None:
            points.append(point("procs.count", self._processes.count))
        self._prev_at = at
        return {"ts": now, "points": _finite(points)[:MAX_POINTS], "top": top}

    def _cpu_points(self, first: bool) -> list[Point]:
        # cpu_percent(None) measures since its previous call; the first call only starts.
        value = psutil.cpu_percent(None)
        return [] if first else [point("cpu.percent", min(100.0, max(0.0, value)))]

    def _io_points(self, elapsed: float) -> list[Point]:
        disk: Counters = _guarded("diskio", disk_counters, {})
        net: Counters = _guarded("net", net_counters, {})
        out = rate_points(
            ("diskio.read_bytes_per_s", "diskio.write_bytes_per_s"),
            "device",
            self._prev_disk,
            disk,
            elapsed,
        )
        out += rate_points(
            ("net.rx_bytes_per_s", "net.tx_bytes_per_s"), "iface", self._prev_net, net, elapsed
        )
        self._prev_disk, self._prev_net = disk, net
        return out


def _finite(points: list[Point]) -> list[Point]:
    """Drop NaN and infinities: the server refuses a whole batch over one of them."""
    return [p for p in points if math.isfinite(p["value"])]

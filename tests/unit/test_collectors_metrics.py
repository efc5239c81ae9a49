"""Metric arithmetic (rates, file system usage, device choice) and a sample's shape."""

from __future__ import annotations

import os
import re
import time

from forewarn.agent.collectors.metrics import (
    MAX_DISKS,
    MAX_INTERFACES,
    MAX_MOUNTS,
    MAX_POINTS,
    MetricsCollector,
    is_loopback,
    is_whole_disk,
    rates,
    statvfs_points,
)
from forewarn.agent.collectors.processes import Reading, pick_top

NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")


def test_rates_per_second_skip_new_and_reset_counters() -> None:
    prev = {"sda": (1000, 5000), "sdb": (10, 10), "gone": (1, 1)}
    cur = {"sda": (3000, 5000), "sdb": (5, 20), "new": (100, 100)}
    assert rates(prev, cur, 2.0) == {"sda": (1000.0, 0.0)}
    assert rates(prev, cur, 0.0) == {}


def test_file_system_usage_as_df_computes_it() -> None:
    # 1000 blocks of 4 KiB, 300 free of which 250 available to users; 100 of 1000 inodes free.
    st = os.statvfs_result((4096, 4096, 1000, 300, 250, 1000, 100, 100, 0, 255))
    points = {p["name"]: p for p in statvfs_points("/", st)}
    assert points["disk.total_bytes"]["value"] == 1000 * 4096
    assert points["disk.free_bytes"]["value"] == 250 * 4096
    assert abs(points["disk.used_percent"]["value"] - 700 / 950 * 100) < 1e-9
    assert points["disk.inodes_used_percent"]["value"] == 90.0
    assert all(p["labels"] == {"mount": "/"} for p in points.values())
    no_inodes = os.statvfs_result((4096, 4096, 1000, 300, 250, 0, 0, 0, 0, 255))
    assert "disk.inodes_used_percent" not in {p["name"] for p in statvfs_points("/", no_inodes)}


def test_whole_disks_and_loopback_interfaces() -> None:
    assert is_whole_disk("nvme0n1", None) and is_whole_disk("sda", None)
    for name in ("loop0", "ram0", "zram0", "dm-0", "md127"):
        assert not is_whole_disk(name, None)
    assert not is_whole_disk("sda1", {"sda"})
    assert is_loopback("lo") and is_loopback("lo0")
    assert is_loopback("Loopback Pseudo-Interface 1")
    assert not is_loopback("eth0") and not is_loopback("lowpan0")


def test_caps_keep_a_sample_under_the_wire_limit() -> None:
    assert 12 + 4 * MAX_MOUNTS + 2 * MAX_DISKS + 2 * MAX_INTERFACES < MAX_POINTS * 0.75


def test_top_processes_busiest_then_largest_each_once() -> None:
    readings = [
        Reading(1, 0.0, 900),
        Reading(2, 50.0, 10),
        Reading(3, None, 800),
        Reading(4, 5.0, 700),
        Reading(5, 0.0, 1),
    ]
    top = pick_top(readings, by_cpu=2, by_rss=2)
    assert [r.pid for r in top] == [2, 4, 1, 3]


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_sample_leaves_out_rates_the_second_has_them() -> None:
    clock = FakeMonotonic()
    collector = MetricsCollector(monotonic=clock)
    first = collector.sample(time.time())
    names = {p["name"] for p in first["points"]}
    assert "cpu.percent" not in names
    assert not any(n.startswith(("net.", "diskio.")) for n in names)
    assert {"mem.used_percent", "uptime.seconds", "procs.count"} <= names
    clock.now += 1.0
    second = collector.sample(time.time())
    names = {p["name"] for p in second["points"]}
    assert "cpu.percent" in names
    for p in second["points"]:
        assert NAME.match(p["name"]) and isinstance(p["value"], float)
        assert set(p) == {"name", "labels", "value"}
    assert 1 <= len(second["top"]) <= 10
    for proc in second["top"]:
        assert set(proc) == {"pid", "name", "user", "cpu_percent", "rss_bytes"}

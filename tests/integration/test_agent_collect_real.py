"""The collectors on this very machine find what is certainly there."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from forewarn.agent.collect import collect_inventory
from forewarn.agent.collectors import accounts, disks, listeners, packages, system
from forewarn.agent.collectors._run import find_tool
from forewarn.agent.collectors.metrics import MetricsCollector


@pytest.fixture(scope="module")
def inventory() -> dict[str, Any]:
    return collect_inventory()


@pytest.fixture
def listening_socket() -> Iterator[int]:
    """A TCP socket of this very process listening on a free loopback port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_root_is_an_administrator(inventory: dict[str, Any]) -> None:
    root = next(a for a in inventory["accounts"] if a["name"] == "root")
    assert root["uid"] == 0 and root["admin"] is True and root["system"] is False


@pytest.mark.skipif(find_tool("dpkg-query") is None, reason="not a dpkg system")
def test_bash_is_an_installed_dpkg_package(inventory: dict[str, Any]) -> None:
    bash = [p for p in inventory["packages"] if p["name"] == "bash"]
    assert bash and bash[0]["source"] == "dpkg" and bash[0]["version"]


def test_root_file_system_is_a_disk_and_measured(inventory: dict[str, Any]) -> None:
    root = next(d for d in inventory["disks"] if d["mount"] == "/")
    assert root["total_bytes"] and root["total_bytes"] > 0
    sample = MetricsCollector().sample(time.time())
    used = [
        p
        for p in sample["points"]
        if p["name"] == "disk.used_percent" and p["labels"] == {"mount": "/"}
    ]
    assert len(used) == 1 and 0 <= used[0]["value"] <= 100


def test_a_socket_this_test_opens_is_listed_with_this_pid(listening_socket: int) -> None:
    found = listeners.collect()
    assert found is not None
    mine = [
        i
        for i in found
        if i["proto"] == "tcp" and i["address"] == "127.0.0.1" and i["port"] == listening_socket
    ]
    assert len(mine) == 1
    assert mine[0]["pid"] == os.getpid()
    assert mine[0]["process"]


def test_hostname_and_identity(inventory: dict[str, Any]) -> None:
    assert inventory["system"]["hostname"] == socket.gethostname()
    assert inventory["system"]["kernel"] == os.uname().release
    assert inventory["system"] == system.collect()


def test_two_samples_a_second_apart() -> None:
    collector = MetricsCollector()
    collector.sample(time.time())
    time.sleep(1)
    second = collector.sample(time.time())
    by_name: dict[str, list[dict[str, Any]]] = {}
    for p in second["points"]:
        by_name.setdefault(p["name"], []).append(p)
    cpu = by_name["cpu.percent"]
    assert len(cpu) == 1 and 0 <= cpu[0]["value"] <= 100
    assert by_name["net.rx_bytes_per_s"] and by_name["net.tx_bytes_per_s"]
    assert all(p["value"] >= 0 for p in by_name["net.rx_bytes_per_s"])
    assert by_name["procs.count"][0]["value"] >= 1
    assert second["top"]


def test_collectors_agree_with_each_other(inventory: dict[str, Any]) -> None:
    # The same choice of file systems feeds the inventory and the metrics.
    assert [d["mount"] for d in inventory["disks"]] == [m.mount for m in disks.data_mounts() or []]
    assert packages.collect() == inventory["packages"]
    assert accounts.collect() == inventory["accounts"]

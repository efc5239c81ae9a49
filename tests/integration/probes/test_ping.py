"""The ping probe over real ICMP: loopback, and a host in a network namespace the test makes.

Traffic goes only to loopback or to the far end of a veth pair into that namespace; before
each ping of the namespace the route is checked to leave through our veth, so a failed setup
can never send a packet anywhere else.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from forewarn.domain.observation import Result, Status
from forewarn.probes import ping


def check(target: str, timeout: float = 2, **params: Any) -> Result:
    p = ping.validate(target, params)
    return asyncio.run(ping.run(target, p, timeout))


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_loopback_ok_with_metrics() -> None:
    r = check("127.0.0.1")
    assert r.status is Status.OK, r.message
    m = {x.name: x for x in r.metrics}
    assert set(m) == {"rta", "pl", "rtmax", "rtmin"}
    assert m["pl"].value == 0 and m["pl"].unit == "%"
    assert m["rta"].unit == "ms" and 0 < m["rtmin"].value <= m["rta"].value <= m["rtmax"].value
    assert (m["rta"].warn, m["rta"].crit, m["pl"].warn, m["pl"].crit) == ("100", "500", "20", "60")
    assert "3 of 3 replies" in r.details


def test_host_name_is_resolved() -> None:
    r = check("localhost", count=1)
    assert r.status is Status.OK, r.message
    assert r.message.startswith("localhost (127.0.0.1): ") or r.message.startswith(
        "localhost (::1): "
    )


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback (::1) on this machine")
def test_ipv6_loopback_ok() -> None:
    r = check("::1", count=2)
    assert r.status is Status.OK, r.message


def test_thresholds_apply() -> None:
    # Any round trip is above 0.0001 ms: the same ping warns, then is critical.
    assert check("127.0.0.1", count=1, warn="0.0001,50%", crit="500,60%").status is Status.WARNING
    r = check("127.0.0.1", count=1, warn="0.0001,50%", crit="0.0001,60%")
    assert r.status is Status.CRITICAL


def test_auto_mode_picks_what_this_machine_allows() -> None:
    r = check("127.0.0.1", count=1)
    assert r.status is Status.OK, r.message
    if ping.unprivileged_allowed(socket.AF_INET):
        assert "unprivileged" in r.details
    else:
        assert "raw socket (privileged)" in r.details


def test_forced_unprivileged_mode_says_how_to_allow_it() -> None:
    r = check("127.0.0.1", count=1, privileged=False)
    if ping.unprivileged_allowed(socket.AF_INET):
        assert r.status is Status.OK, r.message
    else:
        assert r.status is Status.UNKNOWN
        assert "ping_group_range" in r.message and "CAP_NET_RAW" in r.message


def test_unresolvable_name_is_unknown_not_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    # No real lookup: that would ask the system's DNS server, which is not ours to use.
    def no_such_name(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    r = asyncio.run(ping.run("no-such-host.invalid", ping.Params(count=1), 2))
    assert r.status is Status.UNKNOWN
    assert "cannot resolve host name" in r.message


# --- a host in a network namespace ----------------------------------------------------------


@dataclass
class Namespace:
    name: str
    host_if: str
    peer: str  # the namespace's address, at the far end of our veth

    def run(self, *cmd: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.name, *cmd],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
            **kw,
        )

    def sysctl(self, key: str, value: str) -> None:
        self.run("sh", "-c", f"echo '{value}' > /proc/sys/{key.replace('.', '/')}")

    def assert_routed_to_us(self) -> None:
        """Refuse to ping unless the packet would leave through our own veth."""
        out = subprocess.run(
            ["ip", "route", "get", self.peer], capture_output=True, text=True, check=True
        ).stdout
        assert f" dev {self.host_if} " in out, f"{self.peer} is not routed to our veth: {out}"


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=30)


def _free_subnet() -> int:
    cmd = ["ip", "-4", "route", "show", "table", "all"]
    routes = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    for third in [(os.getpid() + i) % 250 + 1 for i in range(250)]:
        if f"10.213.{third}." not in routes:
            return third
    raise RuntimeError("no free 10.213.x.0/30 subnet")


@pytest.fixture
def netns() -> Iterator[Namespace]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2 (the ip command)")
    tag = f"{os.getpid() % 100000}"
    name, host_if, ns_if = f"fwping{tag}", f"fwp{tag}a", f"fwp{tag}b"
    third = _free_subnet()
    try:
        _sh("ip", "netns", "add", name)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot create a network namespace here: {exc.stderr.strip()}")
    try:
        _sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _sh("ip", "link", "set", ns_if, "netns", name)
        _sh("ip", "addr", "add", f"10.213.{third}.1/30", "dev", host_if)
        _sh("ip", "link", "set", host_if, "up")
        _sh("ip", "-n", name, "addr", "add", f"10.213.{third}.2/30", "dev", ns_if)
        _sh("ip", "-n", name, "link", "set", ns_if, "up")
        _sh("ip", "-n", name, "link", "set", "lo", "up")
        yield Namespace(name, host_if, f"10.213.{third}.2")
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)


@pytest.mark.slow
def test_host_that_stops_answering_is_critical_within_timeout(netns: Namespace) -> None:
    netns.assert_routed_to_us()
    r = check(netns.peer, timeout=1.5)
    assert r.status is Status.OK, r.message  # the setup works: the namespace answers

    netns.sysctl("net.ipv4.icmp_echo_ignore_all", "1")
    netns.assert_routed_to_us()
    start = time.monotonic()
    r = check(netns.peer, timeout=1.5)
    took = time.monotonic() - start
    assert r.status is Status.CRITICAL
    assert r.message == f"{netns.peer}: host unreachable"
    assert [(m.name, m.value) for m in r.metrics] == [("pl", 100.0)]
    assert took < 1.5 + 0.5  # the timeout, and room for a busy machine


_PROBE_IN_NS = """
import asyncio, json
from forewarn.probes import ping
r = asyncio.run(ping.run("127.0.0.1", ping.validate("127.0.0.1", {"count": 1}), 2))
print(json.dumps({"status": r.status.name, "message": r.message, "details": r.details}))
"""


@pytest.mark.slow
def test_auto_mode_uses_ping_sockets_where_the_kernel_allows(netns: Namespace) -> None:
    """In a namespace whose ping_group_range admits every group, auto needs no raw socket."""
    netns.sysctl("net.ipv4.ping_group_range", "0 2147483647")
    out = json.loads(netns.run(sys.executable, "-c", _PROBE_IN_NS).stdout)
    assert out["status"] == "OK", out["message"]
    assert "ICMP datagram socket (unprivileged)" in out["details"]

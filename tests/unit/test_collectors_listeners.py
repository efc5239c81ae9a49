"""Listening sockets from ss output and from psutil's connection list."""

from __future__ import annotations

import socket
from collections import namedtuple

import psutil

from forewarn.agent.collectors.listeners import dedupe, from_connections, parse_ss

# Real ss pads columns more widely; the parser splits on any whitespace.
SS = """\
udp UNCONN 0 0    127.0.0.53%lo:53   0.0.0.0:* users:(("systemd-resolve",pid=512,fd=13))
udp UNCONN 0 0          0.0.0.0:68   0.0.0.0:* users:(("dhclient",pid=801,fd=7))
udp UNCONN 0 0             [::]:5353    [::]:*
tcp LISTEN 0 128        0.0.0.0:22   0.0.0.0:* users:(("sshd",pid=900,fd=3))
tcp LISTEN 0 511 127.0.0.1:80 0.0.0.0:* users:(("nginx",pid=1201,fd=6),("nginx",pid=1200,fd=6))
tcp LISTEN 0 128           [::]:22      [::]:* users:(("sshd",pid=900,fd=4))
tcp LISTEN 0 4096             *:9100       *:* users:(("node_exporter",pid=77,fd=3))
tcp LISTEN 0 5            [::1]:631     [::]:*
Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
tcp LISTEN 0 5      127.0.0.1:notaport 0.0.0.0:*
raw UNCONN 0 0        0.0.0.0:1      0.0.0.0:*
tcp
"""


def test_ss_listing() -> None:
    found = {(i["proto"], i["address"], i["port"]): i for i in parse_ss(SS)}
    assert set(found) == {
        ("udp", "127.0.0.53%lo", 53),
        ("udp", "0.0.0.0", 68),
        ("udp6", "::", 5353),
        ("tcp", "0.0.0.0", 22),
        ("tcp", "127.0.0.1", 80),
        ("tcp6", "::", 22),
        ("tcp", "*", 9100),
        ("tcp6", "::1", 631),
    }
    assert found[("tcp", "0.0.0.0", 22)]["process"] == "sshd"
    assert found[("tcp", "0.0.0.0", 22)]["pid"] == 900
    assert found[("tcp", "127.0.0.1", 80)]["pid"] == 1201
    assert found[("udp6", "::", 5353)]["pid"] is None
    assert found[("tcp6", "::1", 631)]["process"] == ""


Addr = namedtuple("Addr", "ip port")
Conn = namedtuple("Conn", "fd family type laddr raddr status pid")


def test_psutil_connections_keep_listeners_and_unconnected_udp() -> None:
    conns = [
        Conn(3, socket.AF_INET, socket.SOCK_STREAM, Addr("0.0.0.0", 22), (), "LISTEN", 900),
        Conn(4, socket.AF_INET6, socket.SOCK_STREAM, Addr("::", 22), (), "LISTEN", 900),
        Conn(
            5,
            socket.AF_INET,
            socket.SOCK_STREAM,
            Addr("10.0.0.2", 22),
            Addr("10.0.0.9", 50000),
            psutil.CONN_ESTABLISHED,
            901,
        ),
        Conn(6, socket.AF_INET, socket.SOCK_DGRAM, Addr("0.0.0.0", 68), (), "NONE", 801),
        Conn(
            7,
            socket.AF_INET6,
            socket.SOCK_DGRAM,
            Addr("::", 40000),
            Addr("2001:db8::1", 53),
            "NONE",
            None,
        ),
        Conn(8, socket.AF_INET6, socket.SOCK_DGRAM, Addr("::", 5353), (), "NONE", None),
        Conn(9, socket.AF_INET, socket.SOCK_STREAM, (), (), "NONE", None),
    ]
    found = [(i["proto"], i["address"], i["port"], i["pid"]) for i in from_connections(conns)]
    assert found == [
        ("tcp", "0.0.0.0", 22, 900),
        ("tcp6", "::", 22, 900),
        ("udp", "0.0.0.0", 68, 801),
        ("udp6", "::", 5353, None),
    ]


def test_shared_sockets_appear_once_with_the_lowest_pid() -> None:
    def item(pid: int | None, process: str = "nginx") -> dict[str, object]:
        return {
            "proto": "tcp",
            "address": "0.0.0.0",
            "port": 80,
            "process": process,
            "pid": pid,
            "user": "",
        }

    out = dedupe([item(1202), item(1200), item(None), item(1201)])
    assert [i["pid"] for i in out] == [1200]
    both = dedupe([item(5, "a"), item(6, "b")])
    assert [i["process"] for i in both] == ["a", "b"]

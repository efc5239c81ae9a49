"""Sockets waiting for connections: listening TCP and bound, unconnected UDP.

psutil reads the kernel's socket tables; where the system denies that (macOS without root),
`ss` is asked instead. Process names and owners are filled in where permitted.
"""

from __future__ import annotations

import re
import socket
from typing import Any

import psutil

from forewarn.agent.collectors._run import run_tool

Listener = dict[str, Any]
MAX_LISTENERS = 50_000
SS_ARGV = ["ss", "-Hltnup"]
_SS_PROCESS = re.compile(r'\("((?:[^"\\]|\\.)*)",pid=(\d+)')


def _proto(family: int, kind: int) -> str:
    base = "tcp" if kind == socket.SOCK_STREAM else "udp"
    return base + "6" if family == socket.AF_INET6 else base


def _listener(proto: str, address: str, port: int, pid: int | None) -> Listener:
    return {
        "proto": proto,
        "address": address[:255],
        "port": port,
        "process": "",
        "pid": pid,
        "user": "",
    }


def from_connections(conns: list[Any]) -> list[Listener]:
    """Listeners among psutil.net_connections() entries (LISTEN TCP, unconnected UDP)."""
    out = []
    for c in conns:
        if not c.laddr:
            continue
        if c.type == socket.SOCK_STREAM and c.status != psutil.CONN_LISTEN:
            continue
        # A UDP socket with a peer is a client's connected socket, not a service.
        if c.type == socket.SOCK_DGRAM and c.raddr:
            continue
        out.append(_listener(_proto(c.family, c.type), c.laddr.ip, c.laddr.port, c.pid))
    return out


def _split_host_port(text: str) -> tuple[str, int] | None:
    """ "[::1]:631", "127.0.0.53%lo:53", "*:22" -> (address, port); None when malformed."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def parse_ss(text: str) -> list[Listener]:
    """Listeners from `ss -Hltnup` text; the first process of a shared socket names it."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[0] not in ("tcp", "udp"):
            continue
        hp = _split_host_port(fields[4])
        if hp is None:
            continue
        address, port = hp
        proto = fields[0] + ("6" if ":" in address else "")
        match = _SS_PROCESS.search(line)
        item = _listener(proto, address, port, int(match.group(2)) if match else None)
        if match:
            item["process"] = match.group(1)[:255]
        out.append(item)
    return out


def dedupe(listeners: list[Listener]) -> list[Listener]:
    """One entry per socket address and program, sorted by protocol, address and port.

    Forking servers share one socket among workers; the lowest pid is usually the parent.
    """
    best: dict[tuple[str, str, int, str], Listener] = {}
    for item in listeners:
        key = (item["proto"], item["address"], item["port"], item["process"])
        have = best.get(key)
        if have is None or _pid_order(item) < _pid_order(have):
            best[key] = item
    ordered = sorted(best.values(), key=lambda i: (i["proto"], i["address"], i["port"]))
    return ordered[:MAX_LISTENERS]


def _pid_order(item: Listener) -> int:
    pid = item["pid"]
    return pid if pid is not None else 2**62


def add_process_details(listeners: list[Listener]) -> None:
    """Fill process name and owner from each pid, where the system lets us read them."""
    cache: dict[int, tuple[str, str]] = {}
    for item in listeners:
        pid = item["pid"]
        if pid is None:
            continue
        if pid not in cache:
            cache[pid] = _process_name_user(pid)
        name, user = cache[pid]
        item["process"] = item["process"] or name
        item["user"] = user


def _process_name_user(pid: int) -> tuple[str, str]:
    try:
        proc = psutil.Process(pid)
        name = proc.name()
    except (psutil.Error, OSError):
        return "", ""
    try:
        user = proc.username()
    except (psutil.Error, OSError, KeyError):
        user = ""
    return name[:255], user[:255]


def collect() -> list[Listener] | None:
    """The Listeners section; None when neither psutil nor ss could list sockets."""
    try:
        found = from_connections(psutil.net_connections(kind="inet"))
    except (psutil.AccessDenied, PermissionError):
        text = run_tool(SS_ARGV)
        if text is None:
            return None
        found = parse_ss(text)
    except (OSError, RuntimeError):
        return None
    add_process_details(found)
    return dedupe(found)

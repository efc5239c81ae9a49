"""Resolvers for the DNS probe tests: Debian's dnsmasq on loopback, and one that never answers."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dns.message
import dns.query

DNSMASQ = "/usr/sbin/dnsmasq"


def dnsmasq_available() -> bool:
    return shutil.which(DNSMASQ) is not None


def _free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (dnsmasq listens on both)."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = int(u.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free port for dnsmasq on 127.0.0.1")


def _answers(port: int, name: str) -> bool:
    try:
        q = dns.message.make_query(name, "A")
        dns.query.udp(q, "127.0.0.1", port=port, timeout=0.2)
    except (dns.exception.Timeout, OSError):
        return False
    return True


@contextmanager
def dnsmasq(records: list[str], ready_name: str) -> Iterator[int]:
    """Run dnsmasq on 127.0.0.1 with these record options; yield its port once it answers.

    It forwards nothing (`--no-resolv`, no servers), so no query ever leaves the machine.
    """
    for _attempt in range(3):
        port = _free_port()
        cmd = [
            DNSMASQ,
            "--no-daemon",
            "--conf-file=/dev/null",
            "--pid-file",
            "--no-resolv",
            "--no-hosts",
            "--no-negcache",
            f"--port={port}",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--user=root",
            *records,
        ]
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 5
        while proc.poll() is None and time.monotonic() < deadline:
            if _answers(port, ready_name):
                break
        else:
            stderr = proc.stderr.read().decode() if proc.poll() is not None and proc.stderr else ""
            proc.kill()
            proc.wait()
            if "in use" in stderr:
                continue  # lost the race for the port: try another
            raise RuntimeError(f"dnsmasq did not start: {stderr.strip() or 'no answer in 5 s'}")
        try:
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr:
                proc.stderr.close()
        return
    raise RuntimeError("dnsmasq could not get a free port in 3 attempts")


@contextmanager
def silent_resolver() -> Iterator[int]:
    """A UDP port on 127.0.0.1 that takes queries and never answers; yield the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])

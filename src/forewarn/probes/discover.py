"""Sweeping a network for devices: ping, the kernel's neighbour table, common TCP ports,
SNMP's system group and reverse DNS.

Which networks may be swept at all is `sweepable`, a pure rule. The sweep is bounded in every
step: at most `Bounds.rate` probes (pings, connects, SNMP and DNS requests) start per second,
at most `Bounds.concurrency` are in flight, each has its own timeout, and the whole sweep
stops with `SweepError` after `Bounds.max_duration` seconds.

A device counts as present when it answers ping, or when the kernel confirmed its link-layer
address just now (a REACHABLE neighbour: it answered ARP/ND though it ignores ping). Only
present devices are asked about ports, SNMP and their name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Any

import dns.exception
import icmplib

from forewarn.domain.device_kind import normalize_mac
from forewarn.domain.observation import Status
from forewarn.probes import ping, tcp

if TYPE_CHECKING:  # pysnmp and the async resolver load on first sweep, not with the API
    import dns.asyncresolver

    from forewarn.probes.snmp import SystemInfo

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Remote access, file sharing, printing, web, mail, DNS, databases, NAS web consoles.
PORTS = (22, 25, 53, 80, 139, 443, 445, 515, 631, 3306, 3389, 5000, 5001, 5432, 8080, 9100)
MAX_IPV4_ADDRESSES = 1024  # a /22
MIN_IPV6_PREFIX = 120  # 256 addresses

_NEVER: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), why)
    for net, why in (
        ("0.0.0.0/8", "'this network' (0.0.0.0/8)"),
        ("169.254.0.0/16", "link-local (169.254.0.0/16)"),
        ("224.0.0.0/4", "multicast (224.0.0.0/4)"),
        ("240.0.0.0/4", "reserved and broadcast (240.0.0.0/4)"),
        ("::/128", "the unspecified address"),
        ("::ffff:0:0/96", "IPv4-mapped IPv6 (write the IPv4 network instead)"),
        ("fe80::/10", "link-local (fe80::/10)"),
        ("ff00::/8", "multicast (ff00::/8)"),
    )
)
_LOOPBACK: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)


def sweepable(cidr: str, *, allow_loopback: bool = False) -> IPNetwork:
    """The network to sweep (host bits cleared); ValueError saying why it may not be swept."""
    text = cidr.strip()
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"{cidr!r} is not a network such as 192.168.1.0/24") from None
    if net.version == 4 and net.num_addresses > MAX_IPV4_ADDRESSES:
        raise ValueError(
            f"{net} has {net.num_addresses:,} addresses; at most {MAX_IPV4_ADDRESSES:,} (a /22) "
            "are swept at once: enter it as several smaller networks"
        )
    if net.version == 6 and net.prefixlen < MIN_IPV6_PREFIX:
        raise ValueError(f"{net} is too large: IPv6 ranges of /{MIN_IPV6_PREFIX} or smaller only")
    for never, why in _NEVER:
        if net.version == never.version and net.overlaps(never):
            raise ValueError(f"{net} is or overlaps {why}, which is never swept")
    if not allow_loopback:
        for loop in _LOOPBACK:
            if net.version == loop.version and net.overlaps(loop):
                raise ValueError(f"{net} is loopback, which is not swept")
    return net


def addresses(net: IPNetwork) -> list[str]:
    """The addresses a sweep probes: the hosts, without network and broadcast addresses."""
    return [str(a) for a in net.hosts()]


@dataclass(frozen=True)
class Bounds:
    """How hard a sweep may push: probes started per second, in flight, and time limits."""

    rate: float = 200.0
    concurrency: int = 64
    max_duration: float = 120.0
    ping_timeout: float = 1.0
    ping_passes: int = 2
    connect_timeout: float = 1.0
    snmp_timeout: float = 1.5
    dns_timeout: float = 1.0
    neighbour_timeout: float = 5.0


@dataclass(frozen=True)
class Neighbour:
    mac: str
    state: str  # REACHABLE, STALE, ...; "" when the source does not say (/proc/net/arp)


@dataclass(frozen=True)
class Host:
    """One device found: what it answered."""

    address: str
    answered_ping: bool
    mac: str = ""
    open_ports: tuple[int, ...] = ()
    hostname: str = ""
    system: SystemInfo | None = None  # SNMP's system group, when it answered


@dataclass(frozen=True)
class SweepResult:
    network: str
    addresses: int  # how many addresses were probed
    hosts: list[Host] = field(default_factory=list)
    seconds: float = 0.0


class SweepError(Exception):
    """The sweep could not be done or finished; the message says why."""


# --- the neighbour table ---------------------------------------------------------------------


def parse_ip_neigh(text: str) -> dict[str, Neighbour]:
    """`ip -j neigh show` -> address -> (MAC, state), entries without a MAC left out."""
    out: dict[str, Neighbour] = {}
    for entry in json.loads(text or "[]"):
        mac = normalize_mac(str(entry.get("lladdr", "")))
        dst = entry.get("dst")
        if not mac or not dst or mac == "00:00:00:00:00:00":
            continue
        states = entry.get("state") or []
        out[_canonical(str(dst))] = Neighbour(mac, str(states[0]) if states else "")
    return out


def parse_proc_arp(text: str) -> dict[str, Neighbour]:
    """/proc/net/arp -> address -> MAC, complete entries only (flag ATF_COM, 0x2)."""
    out: dict[str, Neighbour] = {}
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 4:
            continue
        try:
            complete = int(cols[2], 16) & 0x2
        except ValueError:
            continue
        mac = normalize_mac(cols[3])
        if complete and mac and mac != "00:00:00:00:00:00":
            out[_canonical(cols[0])] = Neighbour(mac, "")
    return out


async def read_neighbours(timeout: float = 5.0) -> dict[str, Neighbour]:
    """This machine's neighbour table (IPv4 and IPv6) from `ip`, else /proc/net/arp."""
    try:
        proc = await asyncio.create_subprocess_exec(
            "ip",
            "-j",
            "neigh",
            "show",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            stdin=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return _proc_arp()
    try:
        async with asyncio.timeout(timeout):
            out, _ = await proc.communicate()
    except TimeoutError:
        with suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return _proc_arp()
    if proc.returncode != 0:
        return _proc_arp()
    try:
        return parse_ip_neigh(out.decode(errors="replace"))
    except (ValueError, AttributeError):
        return _proc_arp()


def _proc_arp() -> dict[str, Neighbour]:
    try:
        return parse_proc_arp(Path("/proc/net/arp").read_text())
    except OSError:
        return {}


def _within(address: str, net: IPNetwork) -> bool:
    try:
        return ipaddress.ip_address(address) in net
    except ValueError:
        return False


def _canonical(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return address


# --- pacing ----------------------------------------------------------------------------------


class Pacer:
    """Spaces starts at least 1/rate seconds apart, in the order they asked."""

    def __init__(self, rate: float) -> None:
        self._gap = 1.0 / rate
        self._next = 0.0

    async def wait(self) -> None:
        now = asyncio.get_running_loop().time()
        slot = max(now, self._next)
        self._next = slot + self._gap
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass
class _Limits:
    bounds: Bounds
    pacer: Pacer
    slots: asyncio.Semaphore

    async def __aenter__(self) -> None:
        await self.slots.acquire()
        try:
            await self.pacer.wait()
        except BaseException:
            self.slots.release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self.slots.release()


# --- the steps -------------------------------------------------------------------------------


async def ping_sweep(targets: Sequence[str], bounds: Bounds) -> set[str]:
    """The addresses that answered an echo request, `rate` addresses per second at most.

    Those silent in the first pass are asked once more: a request sent while the kernel is
    still resolving an address it failed to resolve moments ago is dropped unsent.
    """
    if not targets:
        return set()
    family = socket.AF_INET6 if ":" in targets[0] else socket.AF_INET
    privileged = not ping.unprivileged_allowed(family)
    alive: set[str] = set()
    for _ in range(bounds.ping_passes):
        silent = [t for t in targets if t not in alive]
        if not silent:
            break
        alive |= await _ping_pass(silent, bounds, privileged)
    return alive


async def _ping_pass(targets: Sequence[str], bounds: Bounds, privileged: bool) -> set[str]:
    chunk = max(1, int(bounds.rate))
    alive: set[str] = set()
    loop = asyncio.get_running_loop()
    for start in range(0, len(targets), chunk):
        batch = list(targets[start : start + chunk])
        began = loop.time()
        try:
            hosts = await icmplib.async_multiping(
                batch,
                count=1,
                timeout=bounds.ping_timeout,
                concurrent_tasks=bounds.concurrency,
                privileged=privileged,
            )
        except icmplib.SocketPermissionError:
            raise SweepError(
                "not allowed to send ICMP: run as root or with CAP_NET_RAW, or allow ping "
                "sockets (sysctl net.ipv4.ping_group_range)"
            ) from None
        except (icmplib.ICMPLibError, OSError) as exc:
            raise SweepError(f"ping sweep failed: {exc}") from None
        alive.update(h.address for h in hosts if h.is_alive)
        # A batch of `chunk` addresses takes at least a second: the rate bound holds.
        rest = began + len(batch) / bounds.rate - loop.time()
        if rest > 0:
            await asyncio.sleep(rest)
    return alive


async def open_ports(address: str, ports: Iterable[int], limits: _Limits) -> tuple[int, ...]:
    """The ports that accept a TCP connection (connected, then closed at once)."""
    host = f"[{address}]" if ":" in address else address
    params = tcp.Params()

    async def one(port: int) -> int | None:
        async with limits:
            r = await tcp.run(f"{host}:{port}", params, limits.bounds.connect_timeout)
        return port if r.status is Status.OK else None

    found = await asyncio.gather(*(one(p) for p in ports))
    return tuple(sorted(p for p in found if p is not None))


async def snmp_identify(
    address: str,
    communities: Sequence[str],
    timeout: float,
    *,
    engine: Any = None,
    limits: _Limits | None = None,
) -> tuple[SystemInfo, str] | None:
    """The device's SNMP system group and the first community it answered, if any did."""
    from forewarn.probes import snmp

    target = f"[{address}]" if ":" in address else address
    for community in communities:
        params = snmp.Params(community=community, retries=0)
        try:
            if limits is None:
                info = await snmp.discover(target, params, timeout, engine=engine)
            else:
                async with limits:
                    info = await snmp.discover(target, params, timeout, engine=engine)
        except (snmp.SnmpError, ValueError):
            continue
        return info, community
    return None


async def reverse_name(address: str, resolver: dns.asyncresolver.Resolver, limits: _Limits) -> str:
    """The PTR name of the address, '' when there is none or no answer in time."""
    try:
        async with limits:
            answer = await resolver.resolve_address(address, lifetime=limits.bounds.dns_timeout)
    except (dns.exception.DNSException, OSError):
        return ""
    for rr in answer:
        return str(rr.to_text()).rstrip(".")
    return ""


# --- the sweep -------------------------------------------------------------------------------

Neighbours = Callable[[], Awaitable[dict[str, Neighbour]]]


async def sweep(
    net: IPNetwork,
    *,
    communities: Sequence[str] = (),
    resolver: dns.asyncresolver.Resolver | None = None,
    bounds: Bounds | None = None,
    ports: Sequence[int] = PORTS,
    neighbours: Neighbours | None = None,
) -> SweepResult:
    """Find the devices present on `net` (already checked with `sweepable`) and what they
    answer. Without `resolver` no names are looked up. SweepError when it cannot be done or
    takes longer than `bounds.max_duration`."""
    b = bounds or Bounds()
    read = neighbours or (lambda: read_neighbours(b.neighbour_timeout))
    targets = addresses(net)
    began = monotonic()
    try:
        async with asyncio.timeout(b.max_duration):
            hosts = await _sweep(net, targets, communities, resolver, b, ports, read)
    except TimeoutError:
        raise SweepError(f"the sweep of {net} did not finish within {b.max_duration:g} s") from None
    return SweepResult(str(net), len(targets), hosts, monotonic() - began)


async def _sweep(
    net: IPNetwork,
    targets: list[str],
    communities: Sequence[str],
    resolver: dns.asyncresolver.Resolver | None,
    b: Bounds,
    ports: Sequence[int],
    read: Neighbours,
) -> list[Host]:
    answered = await ping_sweep(targets, b)
    table = {a: n for a, n in (await read()).items() if _within(a, net)}
    wanted = set(targets)
    confirmed = {a for a, n in table.items() if n.state == "REACHABLE" and a in wanted}
    present = sorted(answered | confirmed, key=ipaddress.ip_address)
    limits = _Limits(b, Pacer(b.rate), asyncio.Semaphore(b.concurrency))
    engine = _snmp_engine() if communities else None
    try:

        async def look(address: str) -> Host:
            found_ports, ident, name = await asyncio.gather(
                open_ports(address, ports, limits),
                snmp_identify(address, communities, b.snmp_timeout, engine=engine, limits=limits),
                reverse_name(address, resolver, limits) if resolver else _nothing(),
            )
            neighbour = table.get(address)
            return Host(
                address=address,
                answered_ping=address in answered,
                mac=neighbour.mac if neighbour else "",
                open_ports=found_ports,
                hostname=name,
                system=ident[0] if ident else None,
            )

        return list(await asyncio.gather(*(look(a) for a in present)))
    finally:
        if engine is not None:
            with suppress(Exception):
                engine.close_dispatcher()


async def _nothing() -> str:
    return ""


def _snmp_engine() -> Any:
    # One engine for the whole sweep: each new one costs ~50 ms of CPU (see probes.snmp).
    from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

    return SnmpEngine()

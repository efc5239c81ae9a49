"""ICMP echo probe, judged like Nagios check_ping: round-trip average and packet loss.

`warn` and `crit` are `rta_ms,loss_pct` pairs ("100,20%"): the state is CRITICAL when the
average round trip reaches the critical time or the loss reaches the critical percentage,
WARNING likewise for the warning pair. No reply at all is CRITICAL "host unreachable".

ICMP needs either an unprivileged ICMP datagram socket (Linux allows it to the groups in
sysctl net.ipv4.ping_group_range) or a raw socket (root or CAP_NET_RAW). `privileged="auto"`
uses the datagram socket when the kernel grants it and the raw socket otherwise.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Mapping
from typing import Any, Literal

import icmplib
import pydantic
from pydantic import ConfigDict, Field, field_validator, model_validator

from forewarn.domain.observation import Metric, Result, Status, unknown

_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$", re.I)
_MIN_WAIT = 0.05  # seconds to wait for one reply, however short the budget


class Params(pydantic.BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    count: int = Field(3, ge=1, le=20)
    interval: float = Field(0.2, ge=0.01, le=10)  # seconds between echo requests
    warn: str = "100,20%"  # rta_ms,loss_pct
    crit: str = "500,60%"
    privileged: bool | Literal["auto"] = "auto"

    @field_validator("warn", "crit")
    @classmethod
    def _pair(cls, v: str) -> str:
        rta, loss = parse_pair(v)
        return f"{rta:g},{loss:g}%"

    @field_validator("privileged", mode="before")
    @classmethod
    def _mode(cls, v: object) -> object:
        words = {"auto": "auto", "true": True, "yes": True, "false": False, "no": False}
        if isinstance(v, str) and v.strip().lower() in words:
            return words[v.strip().lower()]
        if isinstance(v, bool):
            return v
        raise ValueError("privileged must be auto, true (raw socket) or false (ping socket)")

    @model_validator(mode="after")
    def _ordered(self) -> Params:
        (wr, wl), (cr, cl) = parse_pair(self.warn), parse_pair(self.crit)
        if wr > cr:
            raise ValueError(f"warning round trip {wr:g} ms is above the critical {cr:g} ms")
        if wl > cl:
            raise ValueError(f"warning packet loss {wl:g}% is above the critical {cl:g}%")
        return self


def parse_pair(text: str) -> tuple[float, float]:
    """`"100,20%"` -> (100.0, 20.0): round-trip average in ms, packet loss in percent."""
    rta_s, sep, loss_s = text.partition(",")
    if not sep:
        raise ValueError(f"{text!r}: write round trip ms and loss %, e.g. '100,20%'")
    try:
        rta, loss = float(rta_s), float(loss_s.strip().removesuffix("%"))
    except ValueError:
        raise ValueError(f"{text!r}: write round trip ms and loss %, e.g. '100,20%'") from None
    if not rta > 0:
        raise ValueError(f"{text!r}: the round trip time must be above 0 ms")
    if not 0 <= loss <= 100:
        raise ValueError(f"{text!r}: packet loss must be from 0 to 100 %")
    return rta, loss


def _check_target(target: str) -> str:
    t = target.strip()
    try:
        return str(ipaddress.ip_address(t))
    except ValueError:
        pass
    labels = t.removesuffix(".").split(".")
    bad = len(t) > 253 or not all(_LABEL.match(label) for label in labels)
    if bad or t.replace(".", "").isdigit():
        raise ValueError(f"{target!r} is neither an IP address nor a host name")
    return t


def validate(target: str, params: Mapping[str, Any]) -> Params:
    """Check a ping definition; ValueError with the reason when it is wrong."""
    _check_target(target)
    return Params.model_validate(dict(params))


def unprivileged_allowed(family: int) -> bool:
    """Whether the kernel lets this process open an ICMP datagram socket ("ping socket").

    Asked at each run (a socket() call) so that a change of the sysctl applies at once.
    """
    proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
    try:
        socket.socket(family, socket.SOCK_DGRAM, proto).close()
    except OSError:
        return False
    return True


def _privileged(p: Params, family: int) -> bool:
    if p.privileged == "auto":
        return not unprivileged_allowed(family)
    return bool(p.privileged)


async def _resolve(host: str) -> str:
    """The address to ping: IPv4 first, as ping does, then IPv6."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_RAW)
    if not infos:
        raise OSError(f"no address for {host}")
    infos.sort(key=lambda i: i[0] != socket.AF_INET)
    return str(infos[0][4][0])


async def run(target: str, params: Params, timeout: float) -> Result:
    """Ping `target`; never raises (but for cancellation)."""
    try:
        async with asyncio.timeout(timeout):
            return await _ping(target, params, timeout)
    except TimeoutError:
        return unknown(
            f"{target}: did not finish in {timeout:g} s "
            f"({params.count} pings {params.interval:g} s apart need more time)"
        )


async def _ping(target: str, p: Params, timeout: float) -> Result:
    try:
        host_name = _check_target(target)
    except ValueError as exc:
        return unknown(str(exc))
    try:
        address = await _resolve(host_name)
    except (OSError, UnicodeError) as exc:
        return unknown(f"cannot resolve host name {target!r}: {exc}")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    privileged = _privileged(p, family)
    # icmplib waits for each reply in turn: share what is left of the budget among them.
    spare = timeout * 0.9 - (p.count - 1) * p.interval
    wait = max(spare / p.count, _MIN_WAIT)
    try:
        host = await icmplib.async_ping(
            address, count=p.count, interval=p.interval, timeout=wait, privileged=privileged
        )
    except icmplib.SocketPermissionError:
        return unknown(
            "not allowed to send ICMP: run as root or with CAP_NET_RAW, or let this group "
            "use ping sockets (sysctl net.ipv4.ping_group_range)"
        )
    except icmplib.ICMPLibError as exc:
        return unknown(f"ping {address} failed: {exc}")
    except OSError as exc:
        return unknown(f"ping {address} failed: {exc}")
    mode = "raw socket (privileged)" if privileged else "ICMP datagram socket (unprivileged)"
    return judge(target, address, p, host.packets_received, host.rtts, mode)


def judge(
    target: str, address: str, p: Params, received: int, rtts: list[float], mode: str = ""
) -> Result:
    """The state of a ping from what came back; pure, for tests."""
    shown = target if target == address else f"{target} ({address})"
    loss = round(100 * (p.count - received) / p.count, 1)
    (wr, wl), (cr, cl) = parse_pair(p.warn), parse_pair(p.crit)
    pl = Metric("pl", loss, "%", f"{wl:g}", f"{cl:g}", min=0, max=100)
    details = f"{received} of {p.count} replies; ICMP via {mode}" if mode else ""
    if not received:
        return Result(Status.CRITICAL, f"{shown}: host unreachable", (pl,), details)
    rta = sum(rtts) / len(rtts)
    metrics = (
        Metric("rta", round(rta, 3), "ms", f"{wr:g}", f"{cr:g}", min=0),
        pl,
        Metric("rtmax", round(max(rtts), 3), "ms", min=0),
        Metric("rtmin", round(min(rtts), 3), "ms", min=0),
    )
    if rta >= cr or loss >= cl:
        status = Status.CRITICAL
    elif rta >= wr or loss >= wl:
        status = Status.WARNING
    else:
        status = Status.OK
    msg = f"{shown}: rta {rta:.3f} ms, loss {loss:g} %"
    return Result(status, msg, metrics, details)

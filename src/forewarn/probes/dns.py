"""DNS probe: ask a resolver for one record of a name, time it, compare with expected answers.

A name that does not exist (NXDOMAIN), a name without the asked record, a resolver that
refuses or does not answer in time are all CRITICAL: each means clients cannot resolve the
name. A problem on our side (no resolver configured) is UNKNOWN.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdata
import dns.rdatatype
import dns.resolver
import dns.reversename
import pydantic
from pydantic import ConfigDict, field_validator

from forewarn.domain.observation import Metric, Result, Status, unknown
from forewarn.domain.thresholds import Range, Thresholds

RecordType = Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS", "PTR", "SRV", "SOA"]
DNS_PORT = 53


class Params(pydantic.BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: RecordType = "A"
    server: str | None = None  # "IP" or "IP:port" ("[v6]:port"); None = the system resolver
    expect: list[str] = []
    warn_time: str | None = None  # seconds, as a Nagios range
    crit_time: str | None = None

    @field_validator("type", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.strip().upper() if isinstance(v, str) else v

    @field_validator("server")
    @classmethod
    def _server(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        host, port = parse_server(v)
        return format_server(host, port)

    @field_validator("warn_time", "crit_time")
    @classmethod
    def _range(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        Range.parse(v)
        return v.strip()

    @field_validator("expect")
    @classmethod
    def _expect(cls, v: list[str]) -> list[str]:
        out = [s.strip() for s in v]
        if any(not s for s in out):
            raise ValueError("an expected answer is empty")
        return out


def parse_server(text: str) -> tuple[str, int]:
    """`1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]:5353` -> (address, port); ValueError if not."""
    t = text.strip()
    port_s = ""
    if t.startswith("["):
        host, sep, rest = t[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"resolver {text!r}: write an IPv6 address with a port as [addr]:port")
        port_s = rest[1:]
    elif t.count(":") == 1:
        host, _, port_s = t.partition(":")
    else:
        host = t
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"resolver {text!r} is not an IP address (write IP or IP:port, e.g. 192.0.2.53:53)"
        ) from None
    port = DNS_PORT
    if port_s or t.endswith(":"):
        if not port_s.isdigit() or not 1 <= int(port_s) <= 65535:
            raise ValueError(f"resolver {text!r}: port must be a number from 1 to 65535")
        port = int(port_s)
    return str(addr), port


def format_server(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}"


def _query_name(target: str, rdtype: str) -> dns.name.Name:
    """The name to ask for; for PTR an IP address becomes its reverse name."""
    t = target.strip()
    if rdtype == "PTR":
        try:
            return dns.reversename.from_address(t)
        except (ValueError, dns.exception.SyntaxError):
            pass
    if not t:
        raise ValueError("the name to resolve is empty")
    try:
        return dns.name.from_text(t)
    except dns.exception.DNSException as exc:
        raise ValueError(f"{target!r} is not a valid DNS name: {exc}") from None


def validate(target: str, params: Mapping[str, Any]) -> Params:
    """Check a DNS check definition; ValueError with the reason when it is wrong."""
    p = Params.model_validate(dict(params))
    _query_name(target, p.type)
    Thresholds.parse(p.warn_time, p.crit_time)
    return p


def _resolver(p: Params) -> dns.asyncresolver.Resolver:
    if p.server is None:
        return dns.asyncresolver.Resolver()  # reads /etc/resolv.conf
    host, port = parse_server(p.server)
    r = dns.asyncresolver.Resolver(configure=False)
    r.nameservers = [host]
    r.port = port
    return r


def _norm(text: str) -> str:
    t = text.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(t))
    except ValueError:
        return t


def _forms(rd: dns.rdata.Rdata) -> set[str]:
    """Ways a user may write this answer: its full text and, where apt, its main part."""
    forms = {_norm(rd.to_text())}
    strings = getattr(rd, "strings", None)  # TXT: the text without quotes
    if strings is not None:
        forms.add(_norm(b"".join(strings).decode("utf-8", "replace")))
    for attr in ("exchange", "target", "mname"):  # MX, SRV/CNAME/PTR/NS, SOA
        v = getattr(rd, attr, None)
        if v is not None:
            forms.add(_norm(v.to_text()))
    return forms


def _answers_text(rds: Iterable[dns.rdata.Rdata]) -> str:
    return ", ".join(rd.to_text() for rd in rds) or "nothing"


async def run(target: str, params: Params, timeout: float) -> Result:
    """Resolve `target`; never raises (but for cancellation)."""
    try:
        qname = _query_name(target, params.type)
        resolver = _resolver(params)
    except ValueError as exc:
        return unknown(str(exc))
    except dns.resolver.NoResolverConfiguration as exc:
        return unknown(f"no system resolver configured: {exc}")
    where = ", ".join(format_server(str(ns), resolver.port) for ns in resolver.nameservers)
    shown = f"{target.strip()} {params.type}"
    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            answer = await resolver.resolve(qname, params.type, lifetime=timeout, search=False)
    except (TimeoutError, dns.exception.Timeout):
        return Result(Status.CRITICAL, f"{shown}: no answer from {where} in {timeout:g} s")
    except dns.resolver.NXDOMAIN:
        return Result(Status.CRITICAL, f"{shown}: no such name (NXDOMAIN) at {where}")
    except dns.resolver.NoAnswer:
        return Result(Status.CRITICAL, f"{shown}: the name exists but has no {params.type} record")
    except dns.resolver.NoNameservers as exc:
        why = str(exc).partition(": ")[2] or str(exc)
        return Result(Status.CRITICAL, f"{shown}: resolver failed: {why}")
    except dns.exception.DNSException as exc:
        return Result(Status.CRITICAL, f"{shown}: {exc}")
    except OSError as exc:
        return unknown(f"{shown}: cannot ask {where}: {exc}")
    elapsed = time.perf_counter() - start
    return _judge(shown, list(answer), elapsed, params)


def _judge(shown: str, rds: list[dns.rdata.Rdata], elapsed: float, p: Params) -> Result:
    thresholds = Thresholds.parse(p.warn_time, p.crit_time)
    metric = Metric("time", round(elapsed, 6), "s", p.warn_time, p.crit_time, min=0)
    found = _answers_text(rds)
    have = set().union(*(_forms(rd) for rd in rds))
    missing = [e for e in p.expect if _norm(e) not in have]
    if missing:
        msg = f"{shown}: expected {', '.join(missing)} not found; got {found}"
        return Result(Status.CRITICAL, msg, (metric,))
    status = thresholds.status(elapsed)
    msg = f"{shown}: {found} in {elapsed * 1000:.1f} ms"
    if status is not Status.OK:
        limit = p.crit_time if status is Status.CRITICAL else p.warn_time
        msg += f" (time outside {limit} s)"
    return Result(status, msg, (metric,))

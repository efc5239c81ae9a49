"""TLS probe: is the certificate of `host[:port]` trusted, for this name, and for how long?

One verified handshake answers the common case. When verification fails, a second handshake
that verifies nothing fetches the certificate anyway, so the message can say both what is
wrong with it ("expired on 2026-01-01") and why OpenSSL refused it. A third handshake limited
to protocol versions below `min_version` tells whether the server still accepts them.

TLS 1.0/1.1 can only be offered when the local OpenSSL still has them; Debian's OpenSSL 3 does
at security level 0 (set on that one probing context only). When it cannot, the result says
so in its details instead of pretending the server refused them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from forewarn.domain.clock import Clock, SystemClock
from forewarn.domain.observation import Metric, Result, Status, worst
from forewarn.domain.targets import split_host_port
from forewarn.domain.thresholds import Thresholds

clock: Clock = SystemClock()  # the one clock; tests may replace it

Version = Literal["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
_VERSIONS: dict[str, ssl.TLSVersion] = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
_BELOW: dict[str, ssl.TLSVersion] = {  # the highest version a server should no longer accept
    "TLSv1.1": ssl.TLSVersion.TLSv1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_1,
    "TLSv1.3": ssl.TLSVersion.TLSv1_2,
}
# OpenSSL verify codes that the probe's own reading of the certificate already explains.
_EXPIRED, _NOT_YET_VALID, _HOST_MISMATCH = 10, 9, 62


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    warn_days: int = Field(21, ge=0, le=3650, description="warn below this many days left")
    crit_days: int = Field(7, ge=0, le=3650, description="critical below this many days left")
    server_name: str | None = Field(None, description="name sent (SNI) and checked; default host")
    min_version: Version = Field("TLSv1.2", description="older versions accepted: WARNING")
    verify_chain: bool = Field(True, description="the chain must lead to a trusted CA")
    verify_host: bool = Field(True, description="the certificate must name the host")
    ca_file: str | None = Field(None, description="PEM file of extra CAs to trust")

    @field_validator("min_version", mode="before")
    @classmethod
    def _version(cls, v: object) -> object:
        if isinstance(v, str):  # "1.2", "tls1.2", "TLSv1.2"
            number = v.strip().lower().removeprefix("tls").removeprefix("v")
            return {"1": "TLSv1", "1.0": "TLSv1", "1.1": "TLSv1.1", "1.2": "TLSv1.2"}.get(
                number, "TLSv1.3" if number == "1.3" else v
            )
        return v

    @field_validator("server_name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and (not v.strip() or any(c.isspace() or c in "/:" for c in v)):
            raise ValueError(f"{v!r} is not a host name")
        return v

    @field_validator("ca_file")
    @classmethod
    def _file(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must not be empty (leave it out instead)")
        return v

    @model_validator(mode="after")
    def _order(self) -> Params:
        if self.crit_days > self.warn_days:
            raise ValueError(
                f"crit_days ({self.crit_days}) must not be above warn_days ({self.warn_days})"
            )
        return self

    @cached_property
    def thresholds(self) -> Thresholds:
        # "21:" alerts below 21: fewer days left than that is the problem.
        return Thresholds.parse(f"{self.warn_days}:", f"{self.crit_days}:")


def validate(target: str, params: Mapping[str, Any]) -> Params:
    """Check `host[:port]` and the params; ValueError says what is wrong. No I/O."""
    host_port(target)
    return Params.model_validate(params)


def host_port(target: str) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 address; the port defaults to 443."""
    try:
        return str(ipaddress.IPv6Address(target.strip())), 443
    except ValueError:
        return split_host_port(target, 443)


@dataclass(frozen=True, slots=True)
class _Handshake:
    cert: bytes | None
    version: str
    verify_error: ssl.SSLCertVerificationError | None = None


async def run(target: str, params: Params, timeout: float) -> Result:
    """Handshake, read the certificate, judge it; never raises except CancelledError."""
    try:
        host, port = host_port(target)
    except ValueError as exc:
        return Result(Status.UNKNOWN, str(exc))
    try:
        verifying = (
            _verifying_context(params.ca_file, params.verify_host, params.min_version)
            if params.verify_chain
            else None
        )
    except (OSError, ssl.SSLError) as exc:
        return Result(Status.UNKNOWN, f"cannot load ca_file {params.ca_file}: {_reason(exc)}")
    name = params.server_name or host
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        async with asyncio.timeout_at(deadline):
            seen = await _handshakes(host, port, name, verifying, params.min_version)
    except TimeoutError:
        return Result(Status.CRITICAL, f"timed out after {timeout:g} s")
    except socket.gaierror as exc:
        return Result(Status.CRITICAL, f"cannot resolve host {host}: {exc.strerror}")
    except ConnectionRefusedError:
        return Result(Status.CRITICAL, "connection refused")
    except OSError as exc:  # ssl.SSLError included
        return Result(Status.CRITICAL, f"TLS handshake failed: {_reason(exc)}")
    except Exception as exc:  # a probe never raises: report what went wrong instead
        return Result(Status.UNKNOWN, f"probe failed: {type(exc).__name__}: {exc}")
    if seen.cert is None:
        return Result(Status.UNKNOWN, f"the server sent no certificate ({seen.version})")
    try:
        cert = x509.load_der_x509_certificate(seen.cert)
    except ValueError as exc:
        return Result(Status.UNKNOWN, f"cannot read the server's certificate: {exc}")
    old: str | None = None
    if params.min_version in _BELOW:
        # Its own try: a server that ignores an old ClientHello must not cost the verdict.
        try:
            async with asyncio.timeout_at(deadline):
                old = await _accepts_below(host, port, name, _BELOW[params.min_version])
        except TimeoutError:
            old = None
    return judge(cert, seen, name, params, clock.now(), old)


async def _handshakes(
    host: str, port: int, name: str, verifying: ssl.SSLContext | None, lowest: str
) -> _Handshake:
    """The verified handshake; and when it is refused, the certificate fetched unverified."""
    verify_error = None
    if verifying is not None:
        try:
            return await _handshake(host, port, name, verifying)
        except ssl.SSLCertVerificationError as exc:
            verify_error = exc
    seen = await _handshake(host, port, name, _unverified_context(lowest))
    return _Handshake(seen.cert, seen.version, verify_error)


async def _handshake(host: str, port: int, name: str, context: ssl.SSLContext) -> _Handshake:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(
        asyncio.Protocol, host, port, ssl=context, server_hostname=name
    )
    try:
        ssl_object = transport.get_extra_info("ssl_object")
        return _Handshake(ssl_object.getpeercert(binary_form=True), ssl_object.version() or "")
    finally:
        transport.abort()  # nothing to say: no need to wait for a close_notify


async def _accepts_below(host: str, port: int, name: str, highest: ssl.TLSVersion) -> str | None:
    """The old version the server agreed to; None if it refused; "" if we could not offer any."""
    context = _legacy_context(highest)
    if context is None:
        return ""
    try:
        seen = await _handshake(host, port, name, context)
    except ssl.SSLError as exc:
        if exc.reason in ("NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE"):
            return ""  # refused by our own OpenSSL before anything was sent
        return None
    except OSError:  # reset, closed: refused all the same
        return None
    return seen.version or "an old version"


def judge(
    cert: x509.Certificate,
    seen: _Handshake,
    name: str,
    params: Params,
    now: datetime,
    old: str | None,
) -> Result:
    """The verdict on one certificate: dates, host name, trust, protocol versions."""
    not_after = cert.not_valid_after_utc
    days_left = (not_after - now).total_seconds() / 86400
    statuses = [params.thresholds.status(days_left)]
    problems: list[str] = []
    expired = now > not_after
    not_yet = now < cert.not_valid_before_utc
    if expired:
        statuses.append(Status.CRITICAL)  # whatever warn_days and crit_days say
        problems.append(f"certificate expired on {not_after:%Y-%m-%d} ({-days_left:.0f} days ago)")
    elif not_yet:
        statuses.append(Status.CRITICAL)
        problems.append(f"certificate not valid before {cert.not_valid_before_utc:%Y-%m-%d}")
    elif statuses[0] is not Status.OK:
        problems.append(f"certificate expires in {int(days_left)} days on {not_after:%Y-%m-%d}")

    names = _names(cert)
    mismatch = params.verify_host and not _matches(name, names)
    if mismatch:
        statuses.append(Status.CRITICAL)
        valid_for = ", ".join(names) if names else "no names (no subjectAltName)"
        problems.append(f"certificate not valid for {name} (valid for {valid_for})")

    error = seen.verify_error
    if error is not None and not (
        (error.verify_code == _EXPIRED and expired)
        or (error.verify_code == _NOT_YET_VALID and not_yet)
        or (error.verify_code == _HOST_MISMATCH and mismatch)
    ):
        statuses.append(Status.CRITICAL)
        problems.append(f"certificate not trusted: {error.verify_message}")

    notes = []
    if old:
        statuses.append(Status.WARNING)
        problems.append(f"server still accepts {old} (minimum wanted {params.min_version})")
    elif old == "":
        notes.append(
            f"could not test for versions below {params.min_version}: "
            "this machine's OpenSSL cannot offer them"
        )

    status = worst(*statuses)
    if problems:
        message = "; ".join(problems) + f" ({seen.version})"
    else:
        message = (
            f"{seen.version}, certificate valid until {not_after:%Y-%m-%d} "
            f"({int(days_left)} days left)"
        )
    metric = Metric(
        "days_left", round(days_left, 2), "", f"{params.warn_days}:", f"{params.crit_days}:"
    )
    details = "\n".join([*_describe(cert, names), *notes])
    return Result(status, message, (metric,), details)


def _names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return [*san.get_values_for_type(x509.DNSName), *ips]


def _matches(name: str, names: list[str]) -> bool:
    """RFC 6125 in short: exact name, IP address, or `*.` standing for one leftmost label."""
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        return any(_same_ip(ip, n) for n in names)
    try:
        wanted = name.rstrip(".").encode("idna").decode().lower()
    except UnicodeError:
        wanted = name.rstrip(".").lower()
    first, _, rest = wanted.partition(".")
    for pattern in (n.rstrip(".").lower() for n in names):
        if pattern == wanted:
            return True
        if pattern.startswith("*.") and rest and first and pattern[2:] == rest:
            return True
    return False


def _same_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, text: str) -> bool:
    try:
        return ipaddress.ip_address(text) == ip
    except ValueError:
        return False


def _describe(cert: x509.Certificate, names: list[str]) -> list[str]:
    fingerprint = cert.fingerprint(hashes.SHA256()).hex(":")
    return [
        f"subject: {cert.subject.rfc4514_string()}",
        f"issuer: {cert.issuer.rfc4514_string()}",
        f"names: {', '.join(names) or '-'}",
        f"valid: {cert.not_valid_before_utc:%Y-%m-%d %H:%M} to "
        f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
        f"serial: {cert.serial_number:x}",
        f"sha256: {fingerprint}",
    ]


def _reason(exc: OSError) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return reason.replace("_", " ").lower()
    return exc.strerror or str(exc) or type(exc).__name__


# Contexts are costly to build (the system CA store is read each time): one per setting.
@lru_cache(maxsize=64)
def _verifying_context(ca_file: str | None, check_host: bool, lowest: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=ca_file)
    context.check_hostname = check_host
    _allow_from(context, lowest)
    return context


@lru_cache(maxsize=8)
def _unverified_context(lowest: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    _allow_from(context, lowest)
    return context


def _allow_from(context: ssl.SSLContext, lowest: str) -> None:
    """Let the main handshakes reach down to `min_version` when it is below TLS 1.2."""
    if _VERSIONS[lowest] < ssl.TLSVersion.TLSv1_2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = _VERSIONS[lowest]
        context.set_ciphers("DEFAULT:@SECLEVEL=0")


@lru_cache(maxsize=4)
def _legacy_context(highest: ssl.TLSVersion) -> ssl.SSLContext | None:
    """A context offering only versions up to `highest`; None when OpenSSL cannot."""
    if highest < ssl.TLSVersion.TLSv1_2 and not (ssl.HAS_TLSv1 or ssl.HAS_TLSv1_1):
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with warnings.catch_warnings():
            # Python deprecates TLS 1.0/1.1; offering them is exactly the point here.
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = highest
        # Old versions need SHA-1 and old ciphers, which OpenSSL 3 refuses above level 0.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        return None
    return context

"""SNMP probe: GET one OID, walk a subtree, or run a template (interface, printer supplies,
UPS, storage, uptime) against a device, over SNMP v2c or v3 (USM).

The fetching lives here; what the answers mean lives in `snmp_templates` as pure functions.
Target `host[:port]` (port 161 by default; IPv6 as `[::1]:1161`). Without `oid`, `walk` or
`template` the check is the `uptime` template: "does the device answer, since when is it up".

Creating an `SnmpEngine` costs ~50 ms of CPU (it builds pysnmp's MIB instrumentation) and a
check on a fresh engine ~95 ms, against ~0.7 ms on a warm one: a poller creates one engine in
its event loop and passes it to every run; `run` makes a private one only when none is given.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import socket
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import aclosing, asynccontextmanager, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pyasn1.type import univ
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pysnmp.hlapi.v3arch.asyncio import (
    USM_AUTH_HMAC96_MD5,
    USM_AUTH_HMAC96_SHA,
    USM_AUTH_HMAC128_SHA224,
    USM_AUTH_HMAC192_SHA256,
    USM_AUTH_HMAC256_SHA384,
    USM_AUTH_HMAC384_SHA512,
    USM_PRIV_CBC56_DES,
    USM_PRIV_CBC168_3DES,
    USM_PRIV_CFB128_AES,
    USM_PRIV_CFB192_AES,
    USM_PRIV_CFB192_AES_BLUMENTHAL,
    USM_PRIV_CFB256_AES,
    USM_PRIV_CFB256_AES_BLUMENTHAL,
    CommunityData,
    ContextData,
    SnmpEngine,
    Udp6TransportTarget,
    UdpTransportTarget,
    UsmUserData,
    bulk_walk_cmd,
    get_cmd,
)
from pysnmp.proto import errind
from pysnmp.proto.rfc1902 import IpAddress
from pysnmp.proto.rfc1905 import EndOfMibView, NoSuchInstance, NoSuchObject

from forewarn.domain.observation import Result, Status, unknown
from forewarn.domain.targets import split_host_port
from forewarn.domain.thresholds import Range, Thresholds
from forewarn.probes import snmp_templates as tpl
from forewarn.probes.snmp_templates import Value

DEFAULT_PORT = 161
MAX_ROWS = 10_000  # a walk stops here: a check never needs a whole routing table
BULK_REPETITIONS = 25

# Names people write (net-snmp's -a/-x spellings, with or without dashes) -> pysnmp's OIDs.
AUTH_PROTOCOLS: dict[str, Any] = {
    "MD5": USM_AUTH_HMAC96_MD5,
    "SHA": USM_AUTH_HMAC96_SHA,
    "SHA224": USM_AUTH_HMAC128_SHA224,
    "SHA256": USM_AUTH_HMAC192_SHA256,
    "SHA384": USM_AUTH_HMAC256_SHA384,
    "SHA512": USM_AUTH_HMAC384_SHA512,
}
_AUTH_ALIASES = {"SHA1": "SHA"}
# net-snmp's AES192/AES256 extend keys the Blumenthal way, AES192C/AES256C the Reeder
# ("Cisco") way; both are in the field, and a device speaks only one.
PRIV_PROTOCOLS: dict[str, Any] = {
    "DES": USM_PRIV_CBC56_DES,
    "3DES": USM_PRIV_CBC168_3DES,
    "AES": USM_PRIV_CFB128_AES,
    "AES192": USM_PRIV_CFB192_AES_BLUMENTHAL,
    "AES256": USM_PRIV_CFB256_AES_BLUMENTHAL,
    "AES192C": USM_PRIV_CFB192_AES,
    "AES256C": USM_PRIV_CFB256_AES,
}
_PRIV_ALIASES = {"AES128": "AES", "3DESEDE": "3DES"}
_V3_FIELDS = ("user", "auth_protocol", "auth_key", "priv_protocol", "priv_key")
_OID = re.compile(r"\.?([0-2])((?:\.\d+)+)")


# --- definition -----------------------------------------------------------------------------


class Params(BaseModel):
    """What to ask a device and how. Keys and community never show in a repr."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field("2c", description="SNMP version: 2c or 3")
    community: str = Field("public", min_length=1, repr=False, description="v2c community")
    user: str | None = Field(None, min_length=1, description="v3 user name")
    auth_protocol: str | None = Field(None, description="v3: MD5, SHA, SHA224 ... SHA512")
    auth_key: str | None = Field(None, repr=False, description="v3 authentication passphrase")
    priv_protocol: str | None = Field(None, description="v3: DES, 3DES, AES, AES192, AES256")
    priv_key: str | None = Field(None, repr=False, description="v3 privacy passphrase")
    retries: int = Field(1, ge=0, le=5, description="resends after a timeout")
    oid: str | None = Field(None, description="numeric OID to GET")
    walk: str | None = Field(None, description="numeric OID whose subtree is walked")
    template: str | None = Field(None, description=", ".join(tpl.TEMPLATES))
    warn: str | None = Field(None, description="warning range (Nagios syntax)")
    crit: str | None = Field(None, description="critical range (Nagios syntax)")
    expect: str | None = Field(None, description="oid: the exact text the value must be")
    label: str | None = Field(None, min_length=1, description="oid/walk: metric name")
    interface: str | None = Field(None, min_length=1, description="interface: ifIndex or name")
    storage: str | None = Field(None, min_length=1, description="storage: description or glob")

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v: object) -> str:
        text = str(v).strip().lower().removeprefix("v")
        if text in ("2", "2c"):
            return "2c"
        if text == "3":
            return "3"
        raise ValueError(f"unknown SNMP version {v!r} (use 2c or 3)")

    @field_validator("oid", "walk")
    @classmethod
    def _oid(cls, v: str | None) -> str | None:
        return None if v is None else parse_oid(v)

    @field_validator("template")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        if v is not None and v not in tpl.TEMPLATES:
            raise ValueError(f"unknown template {v!r} (one of: {', '.join(tpl.TEMPLATES)})")
        return v

    @field_validator("auth_protocol")
    @classmethod
    def _auth_protocol(cls, v: str | None) -> str | None:
        return None if v is None else _protocol(v, AUTH_PROTOCOLS, _AUTH_ALIASES, "auth")

    @field_validator("priv_protocol")
    @classmethod
    def _priv_protocol(cls, v: str | None) -> str | None:
        return None if v is None else _protocol(v, PRIV_PROTOCOLS, _PRIV_ALIASES, "privacy")

    @field_validator("auth_key", "priv_key")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        # RFC 3414 11.2: passphrases are at least 8 octets; net-snmp refuses shorter ones.
        if v is not None and len(v.encode()) < 8:
            raise ValueError("must be at least 8 characters (RFC 3414)")
        return v

    @field_validator("interface", mode="before")
    @classmethod
    def _interface(cls, v: object) -> object:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _consistent(self) -> Params:
        # Judged by value, not by presence: a stored model_dump() must validate again.
        if self.version == "3":
            if self.user is None:
                raise ValueError("SNMP v3 needs a user")
            if self.community != "public":
                raise ValueError("community is for v2c; v3 uses user and keys")
            if self.auth_protocol is not None and self.auth_key is None:
                raise ValueError("auth_protocol given without auth_key")
            if self.priv_protocol is not None and self.priv_key is None:
                raise ValueError("priv_protocol given without priv_key")
            if self.priv_key is not None and self.auth_key is None:
                raise ValueError("privacy needs authentication too: give auth_key")
        else:
            extra = [f for f in _V3_FIELDS if getattr(self, f) is not None]
            if extra:
                raise ValueError(f"{', '.join(extra)} only apply to version 3 (set version: 3)")
        chosen = [f for f in ("oid", "walk", "template") if getattr(self, f) is not None]
        if len(chosen) > 1:
            raise ValueError(f"give one of oid, walk or template, not {' and '.join(chosen)}")
        self._only_with("expect", self.oid is not None, "oid")
        self._only_with("label", self.template is None, "oid or walk")
        self._only_with("interface", self.template == "interface", "template interface")
        self._only_with("storage", self.template == "storage", "template storage")
        if self.template == "interface":
            if self.interface is None:
                raise ValueError("template interface needs interface: an ifIndex or a name")
            if self.warn is not None or self.crit is not None:
                raise ValueError("template interface has no thresholds: its state decides")
        if self.template is not None:
            for name in ("warn", "crit"):
                text = tpl.template_range(self.template, getattr(self, name))
                if text is not None:
                    _range(name, text)
        else:
            _range("warn", self.warn)
            _range("crit", self.crit)
        return self

    def _only_with(self, name: str, allowed: bool, what: str) -> None:
        if getattr(self, name) is not None and not allowed:
            raise ValueError(f"{name} only applies to {what}")

    @property
    def check(self) -> str:
        """What this check does: "oid", "walk" or the template's name."""
        if self.oid is not None:
            return "oid"
        if self.walk is not None:
            return "walk"
        return self.template or "uptime"

    @property
    def security_level(self) -> str:
        """The v3 USM security level the keys given imply."""
        if self.auth_key is None:
            return "noAuthNoPriv"
        return "authNoPriv" if self.priv_key is None else "authPriv"

    @cached_property
    def thresholds(self) -> Thresholds:
        if self.check in ("oid", "walk"):
            return Thresholds.parse(self.warn, self.crit)
        return tpl.template_thresholds(self.check, self.warn, self.crit)

    @cached_property
    def credentials_id(self) -> str:
        """A digest of the v3 credentials: tells apart two sets for the same user name."""
        parts = (self.user, self.auth_protocol, self.auth_key, self.priv_protocol, self.priv_key)
        return hashlib.sha256(repr(parts).encode()).hexdigest()


def _protocol(v: str, known: Mapping[str, Any], aliases: Mapping[str, str], what: str) -> str:
    name = v.strip().upper().replace("-", "").replace("_", "")
    name = aliases.get(name, name)
    if name not in known:
        raise ValueError(f"unknown {what} protocol {v!r} (one of: {', '.join(known)})")
    return name


def _range(name: str, text: str | None) -> None:
    if text is not None:
        try:
            Range.parse(text)
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None


def parse_oid(text: str) -> str:
    """A numeric OID without its leading dot; ValueError for names or malformed ones."""
    t = text.strip()
    m = _OID.fullmatch(t)
    if m is None:
        raise ValueError(
            f"{text!r} is not a numeric OID such as 1.3.6.1.2.1.1.3.0 "
            "(MIB names cannot be resolved: the MIB files are not installed)"
        )
    arcs = [int(a) for a in t.lstrip(".").split(".")]
    if arcs[0] < 2 and arcs[1] >= 40:
        raise ValueError(f"OID {text!r}: under {arcs[0]} the second arc must be below 40")
    return ".".join(str(a) for a in arcs)


def parse_target(target: str) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 address -> (host, port)."""
    if not target.strip():
        raise ValueError("empty target: expected host[:port]")
    return split_host_port(target, DEFAULT_PORT, bare_ipv6=True)


def validate(target: str, params: Mapping[str, Any]) -> Params:
    """The check's Params; ValueError saying, in one line per problem, what is wrong. No I/O."""
    parse_target(target)
    try:
        return Params.model_validate(params)
    except ValidationError as e:
        raise ValueError(_explain(e)) from None


def _explain(e: ValidationError) -> str:
    reasons = []
    for err in e.errors():
        where = ".".join(str(x) for x in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown parameter (known: {', '.join(Params.model_fields)})"
        reasons.append(f"{where}: {msg}" if where else msg)
    return "; ".join(reasons)


# --- talking to the device ------------------------------------------------------------------


class SnmpError(Exception):
    """The device could not be asked; `result` says how, as the check's outcome."""

    def __init__(self, result: Result) -> None:
        super().__init__(result.message)
        self.result = result


def to_value(value: Any) -> Value:
    """A pysnmp value as a plain one: int, str, or None for "no such object/instance"."""
    if isinstance(value, NoSuchObject | NoSuchInstance | EndOfMibView | univ.Null):
        return None
    if isinstance(value, univ.Integer):  # Integer32, Counter32/64, Gauge32, TimeTicks
        return int(value)
    if isinstance(value, univ.ObjectIdentifier):
        return str(value)
    if isinstance(value, IpAddress):
        return str(value.prettyPrint())
    if isinstance(value, univ.OctetString):
        return _text(bytes(value))
    return str(value.prettyPrint())


def _text(raw: bytes) -> str:
    """Text as UTF-8, else Latin-1 (older devices); binary (a MAC address) as 0x-hex."""
    raw = raw.rstrip(b"\x00")
    for encoding in ("utf-8", "latin-1"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if all(c.isprintable() or c in "\t\r\n" for c in text):
            return text
    return "0x" + raw.hex()


@dataclass
class _Session:
    engine: Any
    auth: Any
    transport: Any
    where: str
    timeout: float
    params: Params
    answered: bool = False

    def no_answer(self) -> Result:
        hint = ""
        if self.params.version == "2c":
            hint = " (wrong community?)"
        elif self.params.priv_key is not None:
            hint = " (wrong privacy key?)"
        if self.answered:
            return Result(
                Status.CRITICAL,
                f"SNMP answers from {self.where} stopped before the check finished "
                f"in {tpl.fmt(self.timeout)} s",
            )
        return Result(
            Status.CRITICAL,
            f"no SNMP answer from {self.where} in {tpl.fmt(self.timeout)} s{hint}",
        )

    def _raise_for(self, indication: Any, status: Any, index: Any, oids: Sequence[str]) -> None:
        if indication:
            if isinstance(indication, errind.RequestTimedOut):
                raise SnmpError(self.no_answer())
            raise SnmpError(
                Result(
                    Status.CRITICAL,
                    f"SNMP error from {self.where}: {indication}{_hint(indication)}",
                )
            )
        if status:
            i = int(index) - 1 if index else -1
            at = f" at {oids[i]}" if 0 <= i < len(oids) else ""
            text = status.prettyPrint() if hasattr(status, "prettyPrint") else str(status)
            raise SnmpError(unknown(f"{self.where} answered {text}{at}"))

    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        indication, status, index, binds = await get_cmd(
            self.engine,
            self.auth,
            self.transport,
            ContextData(),
            *[(oid, univ.Null()) for oid in oids],
            lookupMib=False,
        )
        self._raise_for(indication, status, index, oids)
        self.answered = True
        return {str(name): to_value(value) for name, value in binds}

    async def walk(self, oid: str) -> dict[str, Value]:
        """Every row under `oid` (GETBULK), at most MAX_ROWS; a leaf OID gives itself."""
        rows: dict[str, Value] = {}
        walker = bulk_walk_cmd(
            self.engine,
            self.auth,
            self.transport,
            ContextData(),
            0,
            BULK_REPETITIONS,
            (oid, univ.Null()),
            lookupMib=False,
            lexicographicMode=False,
        )
        async with aclosing(walker) as answers:
            async for indication, status, index, binds in answers:
                self._raise_for(indication, status, index, [oid])
                self.answered = True
                for name, value in binds:
                    if isinstance(value, EndOfMibView):
                        break
                    rows[str(name)] = to_value(value)
                if len(rows) >= MAX_ROWS:
                    break
        if not rows:
            # Like snmpwalk: walking an instance (…1.5.0) finds nothing below it; GET it.
            got = await self.get([oid])
            rows = {k: v for k, v in got.items() if v is not None}
        return rows


def _hint(indication: Any) -> str:
    if isinstance(indication, errind.WrongDigest | errind.AuthenticationFailure):
        return " (wrong auth key or auth protocol?)"
    if isinstance(indication, errind.DecryptionError):
        return " (wrong privacy key or privacy protocol?)"
    if isinstance(indication, errind.UnknownUserName):
        return " (the device does not know this user)"
    if isinstance(indication, errind.UnsupportedSecurityLevel):
        return " (this user may not use this security level on the device)"
    return ""


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _auth(params: Params) -> Any:
    if params.version == "2c":
        return CommunityData(params.community, mpModel=1)
    return UsmUserData(
        params.user,
        authKey=params.auth_key,
        privKey=params.priv_key,
        authProtocol=AUTH_PROTOCOLS[params.auth_protocol or "SHA"] if params.auth_key else None,
        privProtocol=PRIV_PROTOCOLS[params.priv_protocol or "AES"] if params.priv_key else None,
    )


async def _transport(host: str, port: int, per_try: float, retries: int) -> Any:
    """A UDP target for the host's first address, IPv4 preferred; UNKNOWN when it has none."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_DGRAM, proto=socket.IPPROTO_UDP
        )
    except OSError as e:
        raise SnmpError(unknown(f"cannot resolve {host}: {e.strerror or e}")) from None
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    family, address = infos[0][0], str(infos[0][4][0])
    kind = UdpTransportTarget if family == socket.AF_INET else Udp6TransportTarget
    return await kind.create((address, port), timeout=per_try, retries=retries)


_V3_CLAIMS = "forewarn_snmp_v3_claims"


@contextmanager
def _claim_v3_user(engine: Any, params: Params) -> Iterator[bool]:
    """May this run use the shared engine for its v3 user? False means "use your own".

    pysnmp keeps one set of keys per user name in an engine: two checks with the same user
    name but different keys, in flight together, would sign each other's requests with the
    wrong keys (measured: the right keys then fail too). So the first credentials to use a
    user name own it while in flight; another set for that name runs on a private engine.
    """
    claims: dict[str, list[Any]] | None = engine.get_user_context(_V3_CLAIMS)
    if claims is None:
        claims = {}
        engine.set_user_context(**{_V3_CLAIMS: claims})
    user = str(params.user)
    claim = claims.get(user)
    if claim is not None and claim[0] != params.credentials_id and claim[1] > 0:
        yield False
        return
    if claim is None or claim[0] != params.credentials_id:
        claim = [params.credentials_id, 0]
        claims[user] = claim
    claim[1] += 1
    try:
        yield True
    finally:
        claim[1] -= 1


@asynccontextmanager
async def _session(
    host: str, port: int, params: Params, timeout: float, shared: Any
) -> AsyncIterator[_Session]:
    engine = shared
    claim = (
        _claim_v3_user(shared, params)
        if shared is not None and params.version == "3"
        else nullcontext(True)
    )
    with claim as may_share:
        own = engine is None or not may_share
        if own:
            engine = SnmpEngine()
        try:
            # pysnmp waits per try; tries share the budget so its own timeout fires first.
            per_try = max(0.01, timeout / (params.retries + 1) * 0.9)
            transport = await _transport(host, port, per_try, params.retries)
            yield _Session(engine, _auth(params), transport, _where(host, port), timeout, params)
        finally:
            if own:
                _close(engine)


def _close(engine: Any) -> None:
    # Closing a private engine must not hide the check's result.
    with suppress(Exception):
        engine.close_dispatcher()


# --- the checks -----------------------------------------------------------------------------


async def run(
    target: str, params: Params, timeout: float, *, engine: SnmpEngine | None = None
) -> Result:
    """Ask the device; never raises (but CancelledError), done within `timeout` seconds.

    `engine` is a shared SnmpEngine, created in this event loop (its sockets belong to it);
    without one the run makes and closes its own.
    """
    try:
        host, port = parse_target(target)
    except ValueError as e:
        return unknown(str(e))
    session: _Session | None = None
    try:
        async with asyncio.timeout(timeout):
            async with _session(host, port, params, timeout, engine) as session:
                return await _check(session, params)
    except SnmpError as e:
        return e.result
    except TimeoutError:
        if session is not None:
            return session.no_answer()
        return Result(
            Status.CRITICAL, f"no SNMP answer from {_where(host, port)} in {tpl.fmt(timeout)} s"
        )
    except Exception as e:  # a probe reports, it does not crash the poller
        return unknown(f"SNMP check of {_where(host, port)} failed: {type(e).__name__}: {e}")


async def _check(s: _Session, p: Params) -> Result:
    th = p.thresholds
    match p.check:
        case "oid":
            assert p.oid is not None
            got = await s.get([p.oid])
            return tpl.evaluate_value(p.oid, got.get(p.oid), th, p.expect, p.label)
        case "walk":
            assert p.walk is not None
            return tpl.evaluate_walk(p.walk, await s.walk(p.walk), th, p.label)
        case "interface":
            return await _interface(s, str(p.interface))
        case "printer_supplies":
            return tpl.evaluate_printer_supplies(await s.walk(tpl.PRT_SUPPLIES_ENTRY), th)
        case "ups":
            return tpl.evaluate_ups(await s.get(tpl.UPS_OIDS), th)
        case "storage":
            return tpl.evaluate_storage(await s.walk(tpl.HR_STORAGE_ENTRY), th, p.storage)
        case _:
            return tpl.evaluate_uptime(await s.get(tpl.UPTIME_OIDS), th)


async def _interface(s: _Session, wanted: str) -> Result:
    index: str | None = wanted
    if not wanted.isdigit():
        descrs = await s.walk(tpl.IF_DESCR)
        index = tpl.find_interface(wanted, descrs, {})
        if index is None:
            index = tpl.find_interface(wanted, {}, await s.walk(tpl.IF_NAME))
        if index is None:
            have = tpl.interface_names(descrs)
            return unknown(f"interface {wanted!r} not found on device (have: {have})")
    answers = await s.get([f"{column}.{index}" for column in tpl.IF_COLUMNS])
    return tpl.evaluate_interface(str(index), answers)


@dataclass(frozen=True, slots=True)
class SystemInfo:
    """Who a device says it is (SNMPv2-MIB system group), for network discovery."""

    name: str
    descr: str
    object_id: str
    uptime_s: float | None


async def discover(
    target: str, params: Params, timeout: float, *, engine: SnmpEngine | None = None
) -> SystemInfo:
    """sysName, sysDescr, sysObjectID and sysUpTime of a device, for network discovery.

    SnmpError (its `result` says why) when the device does not answer as asked; ValueError
    for a target that is not `host[:port]`.
    """
    host, port = parse_target(target)
    oids = [tpl.SYS_NAME, tpl.SYS_DESCR, tpl.SYS_OBJECT_ID, tpl.SYS_UPTIME]
    session: _Session | None = None
    try:
        async with asyncio.timeout(timeout):
            async with _session(host, port, params, timeout, engine) as session:
                got = await session.get(oids)
    except TimeoutError:
        if session is None:
            raise SnmpError(Result(Status.CRITICAL, "no SNMP answer")) from None
        raise SnmpError(session.no_answer()) from None
    uptime = got.get(tpl.SYS_UPTIME)
    return SystemInfo(
        name=str(got.get(tpl.SYS_NAME) or ""),
        descr=str(got.get(tpl.SYS_DESCR) or ""),
        object_id=str(got.get(tpl.SYS_OBJECT_ID) or ""),
        uptime_s=uptime / 100 if isinstance(uptime, int) else None,
    )

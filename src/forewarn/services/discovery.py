"""Network discovery: sweep the networks an admin entered for an organization, show what is
on them with a guess at each device's kind, adopt a device as an asset (with suggested
checks) or ignore it, and raise a finding when a device nobody knows appears.

Only networks stored here are ever swept, and only those `discover.sweepable` allows (at most
a /22 of IPv4 or a /120 of IPv6; never 0.0.0.0/8, multicast, link-local, or loopback unless
the setting `discovery_allow_loopback` is on). A sweep is bounded in rate, concurrency and
duration (`discover.Bounds`) and every run is recorded, failed ones with their reason.

The very first completed run of a network only records its devices: everything is new then,
so nothing is a finding. A device first seen by a later run, that no asset and no earlier
decision accounts for, is a finding "network.unknown_device" (severity medium, keyed by its
MAC address, else its IP address); adopting or ignoring the device resolves it.

`run` is synchronous (it runs the sweep in its own event loop): call it from a thread, such
as an API worker or a scheduled job, not from inside a running event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forewarn.domain.device_kind import Clues, DeviceKind, Guess, describe_ports, guess
from forewarn.domain.inventory import AssetKind, Role
from forewarn.probes import discover
from forewarn.services import agent_config, audit, checks, findings, keys
from forewarn.services.assets import add_asset
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError, conflict, invalid, not_found
from forewarn.services.pagination import Page, paginate, paginate_desc
from forewarn.services.rows import flush_or_conflict
from forewarn.services.schemas import (
    AssetCreate,
    AssetOut,
    CheckCreate,
    CheckOut,
    Id,
    Name,
    Strict,
)
from forewarn.services.scope import SYSTEM, Actor, get_in_scope, get_org_in_scope, scoped
from forewarn.store.models import (
    Agent,
    Asset,
    Check,
    CheckStateRow,
    DiscoveredDevice,
    DiscoveryNetwork,
    DiscoveryRun,
    Finding,
    Site,
)
from forewarn.wire import SweepHost, SweepReport

if TYPE_CHECKING:
    import dns.asyncresolver

T = TypeVar("T")
log = logging.getLogger(__name__)
RULE = "network.unknown_device"
SEVERITY = "medium"
# A run still "running" this long after its start belongs to a process that stopped.
_STALE_AFTER = timedelta(seconds=discover.Bounds().max_duration + 60)
AGENT_DEADLINE = agent_config.SWEEP_DEADLINE

# ---- shapes ---------------------------------------------------------------------------------

Community = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
]
DeviceState = Literal["new", "adopted", "ignored"]


class NetworkCreate(Strict):
    org_id: Id
    cidr: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    site_id: Id | None = Field(None, description="where adopted devices go")
    snmp_communities: list[Community] = Field(
        default_factory=list,
        max_length=10,
        description="SNMP v2c communities tried on found devices, in order; stored encrypted",
    )
    agent_id: Id | None = Field(
        None,
        description="an agent of this organization on that network sweeps it (for networks "
        "the server cannot reach); none: the server's poller sweeps it",
    )


class NetworkOut(BaseModel):
    id: int
    org_id: int
    site_id: int | None
    cidr: str
    agent_id: int | None
    snmp_communities: int = Field(description="how many are stored; they are never shown")
    created_at: datetime


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    network_id: int
    started_at: datetime
    finished_at: datetime | None
    status: str  # running | done | failed
    addresses: int
    found: int
    new: int
    error: str


class DeviceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    network_id: int
    address: str
    mac: str
    hostname: str
    sys_name: str
    sys_descr: str
    open_ports: list[int]
    kind_guess: DeviceKind
    state: DeviceState
    asset_id: int | None
    first_seen: datetime
    last_seen: datetime


class AdoptRequest(Strict):
    name: Name | None = Field(None, description="default: its SNMP or DNS name")
    kind: AssetKind | None = Field(None, description="default: the guess")


class Adopted(BaseModel):
    device: DeviceOut
    asset: AssetOut
    checks: list[CheckOut]


# ---- networks -------------------------------------------------------------------------------


def _network(session: Session, actor: Actor, network_id: int, needed: Role) -> DiscoveryNetwork:
    return _named(
        lambda: get_in_scope(session, actor, DiscoveryNetwork, network_id, needed), "network"
    )


def _device(session: Session, actor: Actor, device_id: int) -> DiscoveredDevice:
    # Adopting and ignoring are a technician's calls.
    return _named(
        lambda: get_in_scope(session, actor, DiscoveredDevice, device_id, Role.TECHNICIAN),
        "discovered device",
    )


def _named(load: Callable[[], T], what: str) -> T:
    """The row, or a 404 that names it in words ("network not found")."""
    try:
        return load()
    except ServiceError as exc:
        if exc.status == 404:
            raise not_found(what) from None
        raise


def _allow_loopback(ctx: Context) -> bool:
    return ctx.settings.discovery_allow_loopback


def _checked_network(ctx: Context, cidr: str) -> discover.IPNetwork:
    try:
        return discover.sweepable(cidr, allow_loopback=_allow_loopback(ctx))
    except ValueError as exc:
        raise invalid(
            str(exc), [{"loc": ["body", "cidr"], "msg": str(exc), "type": "value_error"}]
        ) from None


def _seal(ctx: Context, communities: Sequence[str]) -> str:
    return keys.encrypt(ctx, "\n".join(communities).encode()) if communities else ""


def communities_of(ctx: Context, network: DiscoveryNetwork) -> list[str]:
    """The network's SNMP communities in clear, in the order they are tried."""
    if not network.snmp_communities:
        return []
    return [c for c in keys.decrypt(ctx, network.snmp_communities).decode().split("\n") if c]


def _network_out(ctx: Context, network: DiscoveryNetwork) -> NetworkOut:
    return NetworkOut(
        id=network.id,
        org_id=network.org_id,
        site_id=network.site_id,
        cidr=network.cidr,
        agent_id=network.agent_id,
        snmp_communities=len(communities_of(ctx, network)),
        created_at=network.created_at,
    )


def _snapshot(ctx: Context, network: DiscoveryNetwork) -> dict[str, Any]:
    shown = audit.snapshot(network)
    shown["snmp_communities"] = len(communities_of(ctx, network))
    return shown


def create_network(ctx: Context, actor: Actor, data: NetworkCreate) -> NetworkOut:
    """Allow a network to be swept for the organization (admins only)."""
    net = _checked_network(ctx, data.cidr)
    with ctx.db.transaction() as session:
        get_org_in_scope(session, actor, data.org_id, Role.ADMIN)
        if data.site_id is not None:
            site = session.get(Site, data.site_id)
            if site is None or site.org_id != data.org_id:
                raise invalid(
                    "site_id names no site of this organization",
                    [{"loc": ["body", "site_id"], "msg": "no such site in this organization"}],
                )
        if data.agent_id is not None:
            agent = session.get(Agent, data.agent_id)
            if agent is None or agent.org_id != data.org_id:
                raise invalid(
                    "agent_id names no agent of this organization",
                    [{"loc": ["body", "agent_id"], "msg": "no such agent in this organization"}],
                )
        network = DiscoveryNetwork(
            org_id=data.org_id,
            site_id=data.site_id,
            agent_id=data.agent_id,
            cidr=str(net),
            snmp_communities=_seal(ctx, data.snmp_communities),
            created_at=ctx.clock.now(),
        )
        session.add(network)
        flush_or_conflict(session, "this organization already has that network")
        audit.record(
            session,
            ctx.clock,
            actor,
            "discovery.network.create",
            entity="discovery_network",
            entity_id=network.id,
            org_id=network.org_id,
            after=_snapshot(ctx, network),
        )
        return _network_out(ctx, network)


def list_networks(
    ctx: Context,
    actor: Actor,
    *,
    org_id: int | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[NetworkOut]:
    stmt = scoped(select(DiscoveryNetwork), actor, DiscoveryNetwork.org_id)
    if org_id is not None:
        stmt = stmt.where(DiscoveryNetwork.org_id == org_id)
    with ctx.db.read() as session:
        page = paginate(session, stmt, DiscoveryNetwork.id, limit, cursor)
        return Page([_network_out(ctx, n) for n in page.items], page.next_cursor)


def delete_network(ctx: Context, actor: Actor, network_id: int) -> None:
    """Stop sweeping it; its runs and devices go, its open findings are resolved."""
    with ctx.db.transaction() as session:
        network = _network(session, actor, network_id, Role.ADMIN)
        before = _snapshot(ctx, network)
        devices = session.scalars(
            select(DiscoveredDevice).where(DiscoveredDevice.network_id == network_id)
        )
        now = ctx.clock.now()
        for device in devices:
            if device.state == "new":
                _resolve(session, device, now)
        session.delete(network)
        session.flush()
        audit.record(
            session,
            ctx.clock,
            actor,
            "discovery.network.delete",
            entity="discovery_network",
            entity_id=network_id,
            org_id=before["org_id"],
            before=before,
        )


# ---- runs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """A run recorded as running, and what its sweep needs."""

    run_id: int
    network: discover.IPNetwork
    communities: list[str]
    run: RunOut | None = None  # as recorded, for a run an agent makes


def system_resolver() -> dns.asyncresolver.Resolver | None:
    """The machine's resolver (/etc/resolv.conf); None when it has none."""
    import dns.asyncresolver
    import dns.resolver

    try:
        return dns.asyncresolver.Resolver()
    except dns.resolver.NoResolverConfiguration:
        return None


def run(
    ctx: Context,
    actor: Actor,
    network_id: int,
    *,
    resolver: dns.asyncresolver.Resolver | Literal["system"] | None = "system",
    bounds: discover.Bounds | None = None,
) -> RunOut:
    """Sweep one stored network now (admins, or SYSTEM for a scheduled job) and record it.

    Reverse DNS asks `resolver`: the system's by default, None to look up no names. A sweep
    that cannot be done or does not finish in time is recorded as a failed run and answered
    as such; the devices found so far are then not recorded.
    """
    started = start(ctx, actor, network_id)
    if started.run is not None:  # an agent sweeps it and reports at a later check-in
        return started.run
    try:
        chosen = system_resolver() if isinstance(resolver, str) else resolver
        result = asyncio.run(
            discover.sweep(
                started.network, communities=started.communities, resolver=chosen, bounds=bounds
            )
        )
    except discover.SweepError as exc:
        return fail(ctx, started.run_id, str(exc))
    except BaseException as exc:  # recorded, then raised: a run never stays "running"
        fail(ctx, started.run_id, f"{type(exc).__name__}: {exc}")
        raise
    try:
        return finish(ctx, started.run_id, result)
    except Exception as exc:
        fail(ctx, started.run_id, f"recording the sweep failed: {type(exc).__name__}: {exc}")
        raise


def start(ctx: Context, actor: Actor, network_id: int) -> Started:
    """Record a run of the network as running; 409 while another one is."""
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        network = _network(session, actor, network_id, Role.ADMIN)
        # Serialize starts of one network on PostgreSQL; SQLite has one writer anyway.
        session.refresh(network, with_for_update=True)
        net = _stored_network(ctx, network)
        stale = AGENT_DEADLINE if network.agent_id else _STALE_AFTER
        for other in session.scalars(
            select(DiscoveryRun).where(
                DiscoveryRun.network_id == network_id, DiscoveryRun.status == "running"
            )
        ):
            if other.started_at > now - stale:
                raise conflict(f"a sweep of {network.cidr} is already running (run {other.id})")
            other.status, other.finished_at = "failed", now
            other.error = (
                "the agent did not report this sweep within an hour"
                if network.agent_id
                else "interrupted: the process running it stopped"
            )
        row = DiscoveryRun(
            org_id=network.org_id, network_id=network.id, started_at=now, status="running"
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            ctx.clock,
            actor,
            "discovery.run",
            entity="discovery_run",
            entity_id=row.id,
            org_id=network.org_id,
            after={"network_id": network.id, "cidr": network.cidr},
        )
        if network.agent_id is not None:
            asset_id = session.scalar(select(Agent.asset_id).where(Agent.id == network.agent_id))
            agent_config.refresh(session, [asset_id] if asset_id is not None else [], now)
            return Started(row.id, net, [], RunOut.model_validate(row))
        return Started(row.id, net, communities_of(ctx, network))


def _stored_network(ctx: Context, network: DiscoveryNetwork) -> discover.IPNetwork:
    # Checked again at each run: the rule (or the loopback setting) may be stricter now.
    try:
        return discover.sweepable(network.cidr, allow_loopback=_allow_loopback(ctx))
    except ValueError as exc:
        raise invalid(f"network {network.cidr} may not be swept: {exc}") from None


def fail(ctx: Context, run_id: int, error: str) -> RunOut:
    with ctx.db.transaction() as session:
        row = session.get(DiscoveryRun, run_id)
        if row is None:
            raise not_found("discovery run")
        row.status, row.finished_at, row.error = "failed", ctx.clock.now(), error[:2000]
        return RunOut.model_validate(row)


def finish(ctx: Context, run_id: int, result: discover.SweepResult) -> RunOut:
    """Record what a sweep found: devices created or updated, findings for unknown newcomers."""
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        row = session.get(DiscoveryRun, run_id)
        network = session.get(DiscoveryNetwork, row.network_id) if row else None
        if row is None or network is None:
            raise not_found("discovery run")
        if row.status != "running":
            raise conflict(f"run {row.id} is already {row.status}")
        baseline = (
            session.scalar(
                select(DiscoveryRun.id).where(
                    DiscoveryRun.network_id == network.id, DiscoveryRun.status == "done"
                )
            )
            is None
        )
        rec = _Recorder(session, network, row, now, baseline)
        for host in result.hosts:
            rec.record(host)
        row.status, row.finished_at = "done", now
        row.addresses, row.found, row.new = result.addresses, len(result.hosts), rec.new
        session.flush()
        return RunOut.model_validate(row)


def communities_of_run(ctx: Context, session: Session, run_id: int) -> list[str]:
    """The SNMP communities of the network a run sweeps, in clear (for the agent making it)."""
    row = session.get(DiscoveryRun, run_id)
    network = session.get(DiscoveryNetwork, row.network_id) if row else None
    return communities_of(ctx, network) if network else []


def record_reports(
    ctx: Context, agent_id: int, asset_id: int, reports: Sequence[SweepReport]
) -> None:
    """Record what an agent's sweeps found. Idempotent: a report for a run that is not this
    agent's, or no longer running (a batch sent again), changes nothing."""
    for report in reports:
        with ctx.db.read() as session:
            row = session.get(DiscoveryRun, report.run)
            network = session.get(DiscoveryNetwork, row.network_id) if row else None
            mine = network is not None and network.agent_id == agent_id
            if row is None or not mine or row.status != "running":
                log.info("sweep report for run %s from agent %s ignored", report.run, agent_id)
                continue
            cidr = network.cidr if network else ""
        if report.error:
            fail(ctx, report.run, f"the agent's sweep failed: {report.error}")
        else:
            result = discover.SweepResult(
                cidr, report.addresses, [_host_of(h) for h in report.hosts], report.seconds
            )
            try:
                finish(ctx, report.run, result)
            except ServiceError as exc:  # finished meanwhile by another request
                log.info("sweep report for run %s: %s", report.run, exc.detail)
    with ctx.db.transaction() as session:
        agent_config.refresh(session, [asset_id], ctx.clock.now())


def expire_agent_runs(ctx: Context) -> int:
    """Close as failed the agents' runs past their deadline; how many there were."""
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        late = session.execute(
            select(DiscoveryRun, Agent.asset_id)
            .join(DiscoveryNetwork, DiscoveryNetwork.id == DiscoveryRun.network_id)
            .join(Agent, Agent.id == DiscoveryNetwork.agent_id)
            .where(
                DiscoveryRun.status == "running",
                DiscoveryRun.started_at <= now - AGENT_DEADLINE,
            )
        ).all()
        for run, _ in late:
            run.status, run.finished_at = "failed", now
            run.error = "the agent did not report this sweep within an hour"
        agent_config.refresh(session, [asset_id for _, asset_id in late], now)
        return len(late)


def _host_of(h: SweepHost) -> discover.Host:
    system = None
    if h.sys_name or h.sys_descr or h.sys_object_id:
        from forewarn.probes.snmp import SystemInfo  # loads pysnmp: only when one answered

        system = SystemInfo(h.sys_name, h.sys_descr, h.sys_object_id, None)
    return discover.Host(
        address=h.address,
        answered_ping=h.answered_ping,
        mac=h.mac,
        open_ports=tuple(h.open_ports),
        hostname=h.hostname,
        system=system,
    )


class _Recorder:
    """Applies one sweep's hosts to a network's devices inside one unit of work."""

    def __init__(
        self,
        session: Session,
        network: DiscoveryNetwork,
        run: DiscoveryRun,
        now: datetime,
        baseline: bool,
    ) -> None:
        self.session, self.network, self.run, self.now = session, network, run, now
        self.baseline = baseline
        self.new = 0
        self.devices = {
            d.address: d
            for d in session.scalars(
                select(DiscoveredDevice).where(DiscoveredDevice.network_id == network.id)
            )
        }
        decided = session.scalars(
            select(DiscoveredDevice).where(
                DiscoveredDevice.org_id == network.org_id,
                DiscoveredDevice.state != "new",
                DiscoveredDevice.mac != "",
            )
        )
        self.decided_macs = {d.mac: d for d in decided}
        self.assets = {
            h.lower(): i
            for i, h in session.execute(
                select(Asset.id, Asset.hostname).where(
                    Asset.org_id == network.org_id, Asset.hostname != ""
                )
            )
        }

    def record(self, host: discover.Host) -> None:
        device = self.devices.get(host.address)
        replaced = device is not None and bool(device.mac and host.mac and device.mac != host.mac)
        if device is not None and replaced:
            _resolve(self.session, device, self.now)  # that device left; another took its address
        fresh = device is None or replaced
        if fresh:
            device = self._fresh(device, host)
        assert device is not None
        why = self._update(device, host)
        if device.state != "new":
            return
        if fresh and not self.baseline:
            _raise_finding(self.session, device, self.network, self.run, host, why, self.now)
        elif not fresh:
            _touch(self.session, device, self.now)

    def _fresh(self, old: DiscoveredDevice | None, host: discover.Host) -> DiscoveredDevice:
        device = old or DiscoveredDevice(
            org_id=self.network.org_id, network_id=self.network.id, address=host.address
        )
        device.mac, device.hostname, device.sys_name, device.sys_descr = "", "", "", ""
        device.state, device.asset_id, device.first_seen = "new", None, self.now
        if old is None:
            self.session.add(device)
            self.devices[host.address] = device
        self.new += 1
        known = self.decided_macs.get(host.mac) if host.mac else None
        asset_id = self.assets.get(host.address) or self.assets.get(host.hostname.lower())
        if known is not None and known is not device:
            device.state, device.asset_id = known.state, known.asset_id
        elif asset_id is not None:
            device.state, device.asset_id = "adopted", asset_id
        return device

    def _update(self, device: DiscoveredDevice, host: discover.Host) -> Guess:
        # What this sweep did not learn (no name server, SNMP busy) keeps its last value.
        device.mac = host.mac or device.mac
        device.hostname = (host.hostname or device.hostname)[:255]
        if host.system is not None:
            device.sys_name = host.system.name[:255]
            device.sys_descr = host.system.descr[:10_000]
        device.open_ports = list(host.open_ports)
        object_id = host.system.object_id if host.system else ""
        why = guess(Clues(frozenset(host.open_ports), device.sys_descr, object_id, device.mac))
        device.kind_guess = why.kind.value
        device.last_seen = self.now
        self.session.flush()
        return why


def _keys(device: DiscoveredDevice) -> list[str]:
    return [k for k in (device.mac, device.address) if k]


def _findings(session: Session, device: DiscoveredDevice) -> list[Finding]:
    return list(
        session.scalars(
            select(Finding).where(
                Finding.org_id == device.org_id,
                Finding.rule == RULE,
                Finding.key.in_(_keys(device)),
            )
        )
    )


def _raise_finding(
    session: Session,
    device: DiscoveredDevice,
    network: DiscoveryNetwork,
    run: DiscoveryRun,
    host: discover.Host,
    why: Guess,
    now: datetime,
) -> None:
    key = device.mac or device.address
    shown = f"{device.address} ({device.mac})" if device.mac else device.address
    system = host.system
    evidence: dict[str, Any] = {
        "network_id": network.id,
        "network": network.cidr,
        "run_id": run.id,
        "device_id": device.id,
        "address": device.address,
        "mac": device.mac,
        "hostname": device.hostname,
        "answered_ping": host.answered_ping,
        "open_ports": list(host.open_ports),
        "sys_name": device.sys_name,
        "sys_descr": device.sys_descr[:500],
        "sys_object_id": system.object_id if system else "",
        "kind_guess": why.kind.value,
        "kind_reason": why.reason,
    }
    title = f"Unknown device {shown} appeared on {network.cidr}"[:300]
    ports = describe_ports(host.open_ports) or "none"
    detail = (
        f"Network discovery found a device no asset accounts for (looks like: {why.kind.value}; "
        f"{why.reason}; open TCP ports: {ports}). Adopt it as an asset or ignore it."
    )
    findings.raise_or_refresh(
        session,
        device.org_id,
        RULE,
        findings.Raised(key=key, severity=SEVERITY, title=title, detail=detail, evidence=evidence),
        now,
    )


def _touch(session: Session, device: DiscoveredDevice, now: datetime) -> None:
    for finding in _findings(session, device):
        if finding.status == "open":
            finding.last_seen = now


def _resolve(
    session: Session, device: DiscoveredDevice, now: datetime, asset_id: int | None = None
) -> None:
    for finding in _findings(session, device):
        if finding.status == "open":
            finding.status, finding.resolved_at = "resolved", now
            finding.asset_id = asset_id or finding.asset_id


def list_runs(
    ctx: Context,
    actor: Actor,
    *,
    org_id: int | None = None,
    network_id: int | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[RunOut]:
    """Newest first."""
    stmt = scoped(select(DiscoveryRun), actor, DiscoveryRun.org_id)
    if org_id is not None:
        stmt = stmt.where(DiscoveryRun.org_id == org_id)
    if network_id is not None:
        stmt = stmt.where(DiscoveryRun.network_id == network_id)
    with ctx.db.read() as session:
        page = paginate_desc(session, stmt, DiscoveryRun.id, limit, cursor)
        return Page([RunOut.model_validate(r) for r in page.items], page.next_cursor)


# ---- devices --------------------------------------------------------------------------------


def list_devices(
    ctx: Context,
    actor: Actor,
    *,
    org_id: int | None = None,
    network_id: int | None = None,
    state: DeviceState | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[DeviceOut]:
    stmt = scoped(select(DiscoveredDevice), actor, DiscoveredDevice.org_id)
    if org_id is not None:
        stmt = stmt.where(DiscoveredDevice.org_id == org_id)
    if network_id is not None:
        stmt = stmt.where(DiscoveredDevice.network_id == network_id)
    if state is not None:
        stmt = stmt.where(DiscoveredDevice.state == state)
    with ctx.db.read() as session:
        page = paginate(session, stmt, DiscoveredDevice.id, limit, cursor)
        return Page([DeviceOut.model_validate(d) for d in page.items], page.next_cursor)


def _asset_kind(kind: str) -> tuple[AssetKind, list[str]]:
    """The asset kind for a guess, with a tag for kinds assets do not have (a NAS)."""
    if kind == DeviceKind.NAS:
        return AssetKind.SERVER, ["nas"]
    try:
        return AssetKind(kind), []
    except ValueError:
        return AssetKind.OTHER, []


def suggested_checks(
    kind: AssetKind | str, address: str, open_ports: Iterable[int], community: str | None
) -> list[dict[str, Any]]:
    """The checks an adopted device starts with: ping always, then by what it answered."""
    ports = set(open_ports)
    host = f"[{address}]" if ":" in address else address
    out: list[dict[str, Any]] = [{"name": "ping", "type": "ping", "target": address}]
    if 80 in ports:
        out.append({"name": "http", "type": "http", "target": f"http://{host}/"})
    if 443 in ports:
        # Devices reached by address rarely have a certificate for it: watch that the page
        # answers; a TLS check can watch the certificate where it matters.
        out.append(
            {
                "name": "https",
                "type": "http",
                "target": f"https://{host}/",
                "params": {"verify_tls": False},
            }
        )
    for port, name in ((22, "ssh"), (3389, "rdp")):
        if port in ports:
            out.append({"name": name, "type": "tcp", "target": f"{host}:{port}"})
    templates = {
        AssetKind.PRINTER: ("printer supplies", "printer_supplies"),
        AssetKind.NETWORK_DEVICE: ("snmp uptime", "uptime"),
        AssetKind.UPS: ("ups", "ups"),
    }
    if community is not None and kind in templates:
        name, template = templates[AssetKind(kind)]
        params = {"template": template, "community": community}
        out.append({"name": name, "type": "snmp", "target": address, "params": params})
    return out


def adopt(ctx: Context, actor: Actor, device_id: int, data: AdoptRequest) -> Adopted:
    """Make the device an asset in its network's site, with suggested checks; resolves its
    finding. Technicians and above."""
    with ctx.db.read() as session:
        device = _device(session, actor, device_id)
        _not_adopted(device)
        network = session.get(DiscoveryNetwork, device.network_id)
        assert network is not None
        # The communities only matter to a device that answered SNMP.
        communities = communities_of(ctx, network) if device.sys_name or device.sys_descr else []
        if len(communities) > 1:
            _stored_network(ctx, network)  # only ever ask inside a network that may be swept
    community = _community_for(device.address, communities)
    with ctx.db.transaction() as session:
        device = _device(session, actor, device_id)
        _not_adopted(device)
        network = session.get(DiscoveryNetwork, device.network_id)
        assert network is not None
        kind, tags = _asset_kind(device.kind_guess)
        if data.kind is not None:
            kind, tags = data.kind, []
        fields = {
            "org_id": device.org_id,
            "site_id": network.site_id,
            "kind": kind,
            "name": data.name or _free_name(session, device, kind),
            "hostname": device.hostname or device.address,
            "tags": ["discovered", *tags],
            "notes": _notes(device, network),
        }
        try:
            spec = AssetCreate.model_validate(fields)
        except ValidationError:  # a reverse DNS name our asset rules do not take
            spec = AssetCreate.model_validate({**fields, "hostname": device.address})
        asset = add_asset(session, ctx, actor, spec)
        made = _add_checks(session, ctx, actor, asset, device, community)
        before = audit.snapshot(device)
        device.state, device.asset_id = "adopted", asset.id
        _resolve(session, device, ctx.clock.now(), asset.id)
        session.flush()
        audit.record(
            session,
            ctx.clock,
            actor,
            "discovery.adopt",
            entity="discovered_device",
            entity_id=device.id,
            org_id=device.org_id,
            before=before,
            after=audit.snapshot(device),
        )
        states = {
            s.check_id: s
            for s in session.scalars(
                select(CheckStateRow).where(CheckStateRow.check_id.in_([c.id for c in made]))
            )
        }
        return Adopted(
            device=DeviceOut.model_validate(device),
            asset=AssetOut.model_validate(asset),
            checks=[checks.to_out(c, states.get(c.id)) for c in made],
        )


def _not_adopted(device: DiscoveredDevice) -> None:
    if device.state == "adopted":
        raise conflict(f"this device is already adopted (asset {device.asset_id})")


def _community_for(address: str, communities: list[str]) -> str | None:
    """The community the device answers SNMP with; asks it again only when several could
    (which one answered is not stored)."""
    if len(communities) <= 1:
        return communities[0] if communities else None
    found = asyncio.run(
        discover.snmp_identify(address, communities, discover.Bounds().snmp_timeout)
    )
    return found[1] if found else None


def _free_name(session: Session, device: DiscoveredDevice, kind: AssetKind) -> str:
    label = device.sys_name or device.hostname.split(".", 1)[0]
    base = (label or f"{kind.value}-{device.address}").strip()[:150] or device.address
    taken = set(
        session.scalars(
            select(Asset.name).where(
                Asset.org_id == device.org_id, Asset.name.in_([base, f"{base} ({device.address})"])
            )
        )
    )
    return base if base not in taken else f"{base} ({device.address})"


def _notes(device: DiscoveredDevice, network: DiscoveryNetwork) -> str:
    lines = [f"Found by network discovery on {network.cidr} at {device.address}."]
    if device.mac:
        lines.append(f"MAC address: {device.mac}")
    if device.sys_descr:
        lines.append(f"SNMP sysDescr: {device.sys_descr[:500]}")
    return "\n".join(lines)


def _add_checks(
    session: Session,
    ctx: Context,
    actor: Actor,
    asset: Asset,
    device: DiscoveredDevice,
    community: str | None,
) -> list[Check]:
    have = set(session.scalars(select(Check.name).where(Check.asset_id == asset.id)))
    made = []
    for spec in suggested_checks(asset.kind, device.address, device.open_ports, community):
        if spec["name"] in have:
            continue  # a policy already gives the asset a check of that name
        spec_data = CheckCreate(asset_id=asset.id, **spec)
        made.append(checks.add_by_hand(session, ctx, actor, asset, spec_data))
    return made


def ignore(ctx: Context, actor: Actor, device_id: int) -> DeviceOut:
    """Mark the device as known and not wanted as an asset; resolves its finding."""
    with ctx.db.transaction() as session:
        device = _device(session, actor, device_id)
        if device.state == "adopted":
            raise conflict(f"this device is adopted (asset {device.asset_id}); delete the asset")
        before = audit.snapshot(device)
        device.state = "ignored"
        _resolve(session, device, ctx.clock.now())
        session.flush()
        audit.record(
            session,
            ctx.clock,
            actor,
            "discovery.ignore",
            entity="discovered_device",
            entity_id=device.id,
            org_id=device.org_id,
            before=before,
            after=audit.snapshot(device),
        )
        return DeviceOut.model_validate(device)


# ---- schedule ---------------------------------------------------------------------------------

SWEEP_EVERY = timedelta(hours=24)


def sweep_due(ctx: Context) -> RunOut | None:
    """The scheduled job: sweep the one network whose last run is oldest, if that was more
    than a day ago (or never). One per turn keeps a turn within a sweep's bound (120 s).
    Runs an agent never reported are closed as failed first."""
    now = ctx.clock.now()
    expire_agent_runs(ctx)
    with ctx.db.read() as session:
        last = (
            select(DiscoveryRun.network_id, func.max(DiscoveryRun.started_at).label("at"))
            .group_by(DiscoveryRun.network_id)
            .subquery()
        )
        row = session.execute(
            select(DiscoveryNetwork.id, last.c.at)
            .outerjoin(last, last.c.network_id == DiscoveryNetwork.id)
            .order_by(last.c.at.is_not(None), last.c.at, DiscoveryNetwork.id)
            .limit(1)
        ).first()
    if row is None or (row.at is not None and now - row.at < SWEEP_EVERY):
        return None
    try:
        return run(ctx, SYSTEM, row.id)
    except ServiceError as exc:  # a run already going (409) or the network just deleted
        log.info("scheduled sweep of network %s skipped: %s", row.id, exc.detail)
        return None

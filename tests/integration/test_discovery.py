"""Network discovery against real hosts: each a network namespace this test makes itself.

From the root namespace a /29 of 10.231.X.0 (X random, checked unused) holds the lab: a
"printer" (Debian's snmpd and a listener on TCP 9100), a "server" (listeners on 22 and 443)
and a host that only answers ping; later a fourth host joins. They hang off a bridge in a
namespace of their own, which also runs dnsmasq for their reverse names. Traffic goes only
to these namespaces: the root side's own address lies outside the swept /29, and the route
to the lab is checked to be our veth before every sweep.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.asyncresolver
import pytest
from fastapi.testclient import TestClient

from forewarn.api.app import create_app
from forewarn.api.routers import discovery as discovery_routes
from forewarn.domain.device_kind import DeviceKind
from forewarn.probes import discover
from forewarn.services import checks, discovery, findings, secret_params, sites
from forewarn.services.context import Context
from forewarn.services.discovery import NetworkCreate
from forewarn.services.errors import ServiceError
from forewarn.services.schemas import SiteCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import Check, DiscoveryNetwork, DiscoveryRun
from tests.conftest import Person, make_org, make_person

SNMPD = Path("/usr/sbin/snmpd")
DNSMASQ = Path("/usr/sbin/dnsmasq")
WAIT = 10.0  # seconds any lab process gets to be ready

_LISTENER = """
import selectors, socket, sys
sel = selectors.DefaultSelector()
for port in sys.argv[2:]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], int(port)))
    s.listen(64)
    sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        conn, _ = key.fileobj.accept()
        conn.close()
"""


def _sh(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=30).stdout


@dataclass
class LabHost:
    netns: str
    address: str
    mac: str


@dataclass
class Lab:
    tag: str
    third: int
    bridge_ns: str
    root_if: str
    community: str
    directory: Path
    hosts: dict[str, LabHost] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)

    @property
    def network(self) -> str:
        return f"10.231.{self.third}.0/29"

    @property
    def dns_server(self) -> str:
        return f"10.231.{self.third}.13"

    def address(self, index: int) -> str:
        return f"10.231.{self.third}.{index}"

    def resolver(self) -> dns.asyncresolver.Resolver:
        r = dns.asyncresolver.Resolver(configure=False)
        r.nameservers = [self.dns_server]
        return r

    def add_host(self, key: str, index: int) -> LabHost:
        """A namespace with one address on the lab's bridge and a known MAC address."""
        ns = f"fw-lab-{self.tag}-{index}"
        inner, outer = f"fwl{self.tag}h{index}", f"fwl{self.tag}p{index}"
        mac = f"02:00:0a:e7:{self.third:02x}:{index:02x}"
        _sh("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        _sh("ip", "link", "add", inner, "type", "veth", "peer", "name", outer)
        _sh("ip", "link", "set", outer, "netns", self.bridge_ns)
        _sh("ip", "link", "set", inner, "netns", ns)
        _sh("ip", "-n", self.bridge_ns, "link", "set", outer, "master", "br0", "up")
        _sh("ip", "-n", ns, "link", "set", inner, "name", "eth0")
        _sh("ip", "-n", ns, "link", "set", "eth0", "address", mac)
        _sh("ip", "-n", ns, "addr", "add", f"{self.address(index)}/28", "dev", "eth0")
        _sh("ip", "-n", ns, "link", "set", "eth0", "up")
        _sh("ip", "-n", ns, "link", "set", "lo", "up")
        host = LabHost(ns, self.address(index), mac)
        self.hosts[key] = host
        return host

    def listen(self, host: LabHost, *ports: int) -> None:
        cmd = [sys.executable, "-c", _LISTENER, host.address, *map(str, ports)]
        proc = self._start(host.netns, cmd, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], WAIT)
        line = proc.stdout.readline() if ready else b""
        assert line.strip() == b"ready", f"listener on {host.address} did not start"

    def snmpd(self, host: LabHost, sys_name: str, sys_descr: str) -> None:
        conf = self.directory / f"snmpd-{host.address}.conf"
        conf.write_text(
            f"rocommunity {self.community} 10.231.{self.third}.0/28\n"
            f"sysName {sys_name}\nsysDescr {sys_descr}\n"
        )
        persist = self.directory / "snmp-persist"
        persist.mkdir(exist_ok=True)
        log = self.directory / f"snmpd-{host.address}.log"
        env = {**os.environ, "MIBS": "", "SNMP_PERSISTENT_DIR": str(persist)}
        cmd = [str(SNMPD), "-f", "-Lo", "-C", "-c", str(conf), "-I", "-smux"]
        with log.open("wb") as out:
            proc = self._start(host.netns, [*cmd, f"udp:{host.address}:161"], stdout=out, env=env)
        _wait_for(lambda: "NET-SNMP version" in log.read_text(errors="replace"), proc, log)

    def dnsmasq(self, names: dict[str, str]) -> None:
        records = [f"--host-record={name},{address}" for name, address in names.items()]
        cmd = [
            str(DNSMASQ),
            "--no-daemon",
            "--conf-file=/dev/null",
            "--pid-file",
            "--no-resolv",
            "--no-hosts",
            f"--listen-address={self.dns_server}",
            "--bind-interfaces",
            "--user=root",
            *records,
        ]
        log = self.directory / "dnsmasq.log"
        with log.open("wb") as out:
            proc = self._start(self.bridge_ns, cmd, stdout=out)

        def answers() -> bool:
            return asyncio.run(_ptr(self.resolver(), next(iter(names.values())))) != ""

        _wait_for(answers, proc, log)

    def _start(self, ns: str, cmd: list[str], **kw: Any) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, *cmd],
            stdin=subprocess.DEVNULL,
            stderr=subprocess.STDOUT if "stdout" in kw else subprocess.DEVNULL,
            **kw,
        )
        self.procs.append(proc)
        return proc

    def assert_routed_to_lab(self) -> None:
        """Refuse to sweep unless the lab's addresses leave through our own veth."""
        for index in (1, 6):
            out = _sh("ip", "route", "get", self.address(index))
            assert f" dev {self.root_if} " in out, f"{self.address(index)} is not ours: {out}"

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            if proc.stdout is not None:
                proc.stdout.close()
        for ns in [*self.namespaces, self.bridge_ns]:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", self.root_if], capture_output=True, timeout=30)


async def _ptr(resolver: dns.asyncresolver.Resolver, address: str) -> str:
    try:
        answer = await resolver.resolve_address(address, lifetime=0.5)
    except Exception:
        return ""
    return str(answer[0]).rstrip(".")


def _wait_for(ready: Any, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if ready():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"{proc.args!r} did not start:\n{log.read_text(errors='replace')}")


def _free_third() -> int:
    used = _sh("ip", "-4", "route", "show", "table", "all") + _sh("ip", "-4", "addr")
    for third in random.sample(range(1, 251), 250):
        if f"10.231.{third}." not in used and "10.231.0.0/16" not in used:
            return third
    raise RuntimeError("no free 10.231.X.0/28 for the lab")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("the lab needs root and iproute2 (ip netns) for its network namespaces")
    if not SNMPD.exists() or not DNSMASQ.exists():
        pytest.skip("the lab needs Debian's snmpd and dnsmasq (.ci/run installs them)")
    tag = secrets.token_hex(3)
    bridge_ns = f"fw-lab-{tag}"
    try:
        _sh("ip", "netns", "add", bridge_ns)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"ip netns is not available here: {exc.stderr.strip()}")
    third = _free_third()
    lab = Lab(tag, third, bridge_ns, f"fwl{tag}r", secrets.token_hex(8), tmp_path)
    try:
        _sh("ip", "-n", bridge_ns, "link", "add", "br0", "type", "bridge")
        _sh("ip", "-n", bridge_ns, "addr", "add", f"{lab.dns_server}/28", "dev", "br0")
        _sh("ip", "-n", bridge_ns, "link", "set", "br0", "up")
        _sh("ip", "link", "add", lab.root_if, "type", "veth", "peer", "name", f"fwl{tag}u")
        _sh("ip", "link", "set", f"fwl{tag}u", "netns", bridge_ns)
        _sh("ip", "-n", bridge_ns, "link", "set", f"fwl{tag}u", "master", "br0", "up")
        _sh("ip", "addr", "add", f"10.231.{third}.14/28", "dev", lab.root_if)
        _sh("ip", "link", "set", lab.root_if, "up")
        printer = lab.add_host("printer", 1)
        server = lab.add_host("server", 2)
        lab.add_host("quiet", 3)
        lab.snmpd(printer, "lab-printer", "HP LaserJet test")
        lab.listen(printer, 9100)
        lab.listen(server, 22, 443)
        lab.dnsmasq(
            {"lab-printer.lab.test": printer.address, "lab-server.lab.test": server.address}
        )
        yield lab
    finally:
        lab.close()


@pytest.fixture
def api(ctx: Context) -> Iterator[TestClient]:
    """The app, with the discovery routes whether or not the app factory has them yet."""
    app = create_app(ctx)
    if not any(getattr(r, "path", "") == "/api/v1/findings" for r in app.routes):
        app.include_router(discovery_routes.router)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@dataclass
class Org:
    id: int
    site_id: int
    admin: Person
    tech: Person
    viewer: Person


@pytest.fixture
def org(ctx: Context) -> Org:
    org_id = make_org(ctx, "Lab Dental")
    site_id = sites.create(ctx, SYSTEM, SiteCreate(org_id=org_id, name="Lab office")).id
    return Org(
        org_id,
        site_id,
        make_person(ctx, "lab-admin", roles={org_id: "admin"}),
        make_person(ctx, "lab-tech", roles={org_id: "technician"}),
        make_person(ctx, "lab-viewer", roles={org_id: "viewer"}),
    )


def _devices(api: TestClient, who: Person, org_id: int, **params: Any) -> dict[str, Any]:
    r = api.get(
        "/api/v1/discovery/devices", params={"org_id": org_id, **params}, headers=who.headers
    )
    assert r.status_code == 200, r.text
    return {d["address"]: d for d in r.json()["items"]}


def _findings(api: TestClient, who: Person, org_id: int, status: str) -> list[dict[str, Any]]:
    r = api.get(
        "/api/v1/findings", params={"org_id": org_id, "status": status}, headers=who.headers
    )
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


# --- a sweep of the lab ----------------------------------------------------------------------


@pytest.mark.slow
def test_sweep_adopt_and_unknown_newcomer(
    ctx: Context, api: TestClient, org: Org, lab: Lab, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = api.post(
        "/api/v1/discovery/networks",
        json={
            "org_id": org.id,
            "cidr": lab.network,
            "site_id": org.site_id,
            # The first is wrong: the sweep tries the next, and adopting asks again which.
            "snmp_communities": ["not-this-one", lab.community],
        },
        headers=org.admin.headers,
    )
    assert r.status_code == 201, r.text
    network = r.json()
    assert network["snmp_communities"] == 2 and lab.community not in r.text

    # First run: every device is recorded, none is a finding.
    lab.assert_routed_to_lab()
    first = discovery.run(ctx, SYSTEM, network["id"], resolver=lab.resolver())
    assert (first.status, first.error) == ("done", "")
    assert (first.addresses, first.found, first.new) == (6, 3, 3)
    seen = _devices(api, org.viewer, org.id)
    printer, server, quiet = (seen[lab.hosts[k].address] for k in ("printer", "server", "quiet"))
    assert printer["open_ports"] == [9100]
    assert printer["mac"] == lab.hosts["printer"].mac
    assert printer["sys_name"] == "lab-printer"
    assert printer["sys_descr"] == "HP LaserJet test"
    assert printer["hostname"] == "lab-printer.lab.test"
    assert printer["kind_guess"] == "printer"
    assert server["open_ports"] == [22, 443]
    assert server["mac"] == lab.hosts["server"].mac
    assert server["sys_name"] == "" and server["hostname"] == "lab-server.lab.test"
    assert server["kind_guess"] == "server"
    assert quiet["open_ports"] == [] and quiet["mac"] == lab.hosts["quiet"].mac
    assert quiet["kind_guess"] == "other" and quiet["hostname"] == ""
    assert {d["state"] for d in seen.values()} == {"new"}
    assert _findings(api, org.viewer, org.id, "open") == []

    # A technician adopts the printer: an asset in the network's site, with its checks.
    lab.assert_routed_to_lab()
    r = api.post(
        f"/api/v1/discovery/devices/{printer['id']}/adopt", json={}, headers=org.tech.headers
    )
    assert r.status_code == 201, r.text
    adopted = r.json()
    asset = adopted["asset"]
    assert (asset["kind"], asset["name"], asset["hostname"]) == (
        "printer",
        "lab-printer",
        "lab-printer.lab.test",
    )
    assert asset["site_id"] == org.site_id
    assert adopted["device"]["state"] == "adopted"
    assert adopted["device"]["asset_id"] == asset["id"]
    made = checks.list_(ctx, SYSTEM, asset_id=asset["id"]).items
    assert sorted((c.name, c.type, c.target) for c in made) == [
        ("ping", "ping", printer["address"]),
        ("printer supplies", "snmp", printer["address"]),
    ]
    with ctx.db.read() as session:
        snmp_check = session.query(Check).filter_by(asset_id=asset["id"], type="snmp").one()
        opened = secret_params.open_params(ctx, snmp_check.params)
    assert opened["template"] == "printer_supplies" and opened["community"] == lab.community
    assert lab.community not in r.text  # shown masked

    # A fourth device joins; the next run (over the API this time) makes it a finding.
    newcomer = lab.add_host("newcomer", 4)
    lab.listen(newcomer, 80)
    clock.advance(3600)
    monkeypatch.setattr(discovery, "system_resolver", lab.resolver)
    lab.assert_routed_to_lab()
    r = api.post(f"/api/v1/discovery/networks/{network['id']}/run", headers=org.admin.headers)
    assert r.status_code == 200, r.text
    second = r.json()
    assert (second["status"], second["found"], second["new"]) == ("done", 4, 1), second
    seen = _devices(api, org.viewer, org.id, state="new")
    assert set(seen) == {lab.hosts[k].address for k in ("server", "quiet", "newcomer")}
    assert seen[newcomer.address]["open_ports"] == [80]
    opened_findings = _findings(api, org.viewer, org.id, "open")
    assert len(opened_findings) == 1, opened_findings
    finding = opened_findings[0]
    assert finding["rule"] == "network.unknown_device"
    assert finding["key"] == newcomer.mac
    assert finding["severity"] == "medium"
    assert finding["title"] == (
        f"Unknown device {newcomer.address} ({newcomer.mac}) appeared on {lab.network}"
    )
    assert finding["evidence"]["address"] == newcomer.address
    assert finding["evidence"]["open_ports"] == [80]
    assert finding["resolved_at"] is None

    # Ignoring it resolves the finding; the next run leaves it resolved.
    device_id = seen[newcomer.address]["id"]
    r = api.post(f"/api/v1/discovery/devices/{device_id}/ignore", headers=org.tech.headers)
    assert r.status_code == 200 and r.json()["state"] == "ignored", r.text
    assert _findings(api, org.viewer, org.id, "open") == []
    resolved = _findings(api, org.viewer, org.id, "resolved")
    assert [f["id"] for f in resolved] == [finding["id"]]
    assert resolved[0]["resolved_at"] is not None
    clock.advance(3600)
    lab.assert_routed_to_lab()
    third = discovery.run(ctx, SYSTEM, network["id"], resolver=None)
    assert (third.status, third.found, third.new) == ("done", 4, 0)
    assert _findings(api, org.viewer, org.id, "open") == []
    # Without a resolver this run, the names learned before are kept.
    assert _devices(api, org.viewer, org.id)[server["address"]]["hostname"] == (
        "lab-server.lab.test"
    )
    runs = api.get(
        "/api/v1/discovery/runs", params={"network_id": network["id"]}, headers=org.viewer.headers
    )
    assert [x["id"] for x in runs.json()["items"]] == [third.id, second["id"], first.id]


@pytest.mark.slow
def test_a_sweep_over_its_time_limit_is_a_failed_run(ctx: Context, org: Org, lab: Lab) -> None:
    network = discovery.create_network(ctx, SYSTEM, NetworkCreate(org_id=org.id, cidr=lab.network))
    lab.assert_routed_to_lab()
    bounds = discover.Bounds(max_duration=0.05)
    result = discovery.run(ctx, SYSTEM, network.id, resolver=None, bounds=bounds)
    assert result.status == "failed"
    assert "did not finish within 0.05 s" in result.error
    assert result.finished_at is not None
    page = discovery.list_devices(ctx, SYSTEM, network_id=network.id)
    assert page.items == []  # a failed run records no devices


# --- refusals (no traffic) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cidr", "says"),
    [
        ("10.1.0.0/16", "at most 1,024"),
        ("10.1.0.0/21", "at most 1,024"),
        ("127.0.0.0/24", "loopback"),
        ("169.254.1.0/24", "link-local"),
        ("224.0.0.0/24", "multicast"),
        ("0.0.0.0/24", "0.0.0.0/8"),
        ("255.255.255.255/32", "broadcast"),
        ("2001:db8::/64", "/120"),
        ("fe80::/120", "link-local"),
        ("::ffff:10.1.2.0/120", "IPv4-mapped"),
        ("10.1.2.300/24", "not a network"),
    ],
)
def test_networks_that_may_not_be_swept_are_refused(
    api: TestClient, org: Org, cidr: str, says: str
) -> None:
    r = api.post(
        "/api/v1/discovery/networks",
        json={"org_id": org.id, "cidr": cidr},
        headers=org.admin.headers,
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert says in r.json()["detail"]
    listed = api.get(
        "/api/v1/discovery/networks", params={"org_id": org.id}, headers=org.admin.headers
    )
    assert listed.json()["items"] == []


def test_communities_are_kept_secret_and_one_a_line(
    ctx: Context, api: TestClient, org: Org
) -> None:
    h = org.admin.headers
    body = {"org_id": org.id, "cidr": "10.5.0.0/24", "snmp_communities": ["a\nb"]}
    assert api.post("/api/v1/discovery/networks", json=body, headers=h).status_code == 422
    body["snmp_communities"] = ["s3cret one", "other"]
    r = api.post("/api/v1/discovery/networks", json=body, headers=h)
    assert r.status_code == 201 and "s3cret" not in r.text, r.text
    with ctx.db.read() as session:
        stored = session.get(DiscoveryNetwork, r.json()["id"])
        assert stored is not None and "s3cret" not in stored.snmp_communities
        assert discovery.communities_of(ctx, stored) == ["s3cret one", "other"]
    trail = api.get("/api/v1/audit-events", params={"org_id": org.id}, headers=h).text
    assert "discovery.network.create" in trail and "s3cret" not in trail


def test_roles_and_other_organizations(ctx: Context, api: TestClient, org: Org) -> None:
    other = make_org(ctx, "Elsewhere Ltd")
    theirs = discovery.create_network(
        ctx, SYSTEM, NetworkCreate(org_id=other, cidr="10.77.0.0/24", snmp_communities=["x"])
    )
    started = discovery.start(ctx, SYSTEM, theirs.id)
    discovery.finish(
        ctx,
        started.run_id,
        discover.SweepResult("10.77.0.0/24", 254, [discover.Host("10.77.0.9", True)]),
    )
    their_device = discovery.list_devices(ctx, SYSTEM, org_id=other).items[0]
    h = org.admin.headers
    r = api.post(f"/api/v1/discovery/networks/{theirs.id}/run", headers=h)
    assert (r.status_code, r.json()["detail"]) == (404, "network not found")
    assert api.delete(f"/api/v1/discovery/networks/{theirs.id}", headers=h).status_code == 404
    for action in ("adopt", "ignore"):
        r = api.post(f"/api/v1/discovery/devices/{their_device.id}/{action}", headers=h)
        assert r.status_code == 404, r.text
    assert _devices(api, org.admin, other) == {}
    assert api.get("/api/v1/findings", params={"org_id": other}, headers=h).json()["items"] == []

    # Sweeping and entering networks is for admins; a technician may not.
    body = {"org_id": org.id, "cidr": "10.88.0.0/24"}
    r = api.post("/api/v1/discovery/networks", json=body, headers=org.tech.headers)
    assert r.status_code == 403, r.text
    mine = api.post("/api/v1/discovery/networks", json=body, headers=h).json()
    assert mine["cidr"] == "10.88.0.0/24"
    again = api.post("/api/v1/discovery/networks", json=body, headers=h)
    assert again.status_code == 409, again.text
    r = api.post(f"/api/v1/discovery/networks/{mine['id']}/run", headers=org.tech.headers)
    assert r.status_code == 403, r.text
    with ctx.db.read() as session:
        assert session.query(DiscoveryRun).filter_by(network_id=mine["id"]).count() == 0


def test_unknown_newcomers_are_findings_only_after_the_first_run(
    ctx: Context, org: Org, clock: Any
) -> None:
    """Recording alone (no sweep): what the first run sees is the baseline."""
    net = discovery.create_network(ctx, SYSTEM, NetworkCreate(org_id=org.id, cidr="10.9.0.0/24"))

    def record(*hosts: discover.Host) -> discovery.RunOut:
        clock.advance(600)
        started = discovery.start(ctx, SYSTEM, net.id)
        return discovery.finish(
            ctx, started.run_id, discover.SweepResult(net.cidr, 254, list(hosts))
        )

    a = discover.Host("10.9.0.2", True, mac="02:00:00:00:00:02", open_ports=(22,))
    b = discover.Host("10.9.0.3", True, mac="02:00:00:00:00:03")
    assert record(a).new == 1
    assert findings.list_findings(ctx, SYSTEM, org_id=org.id).items == []
    assert record(a, b).new == 1
    (finding,) = findings.list_findings(ctx, SYSTEM, org_id=org.id, status="open").items
    assert finding.key == b.mac
    assert finding.last_seen == finding.first_seen
    record(a, b)  # seen again: the same finding, later last_seen
    (again,) = findings.list_findings(ctx, SYSTEM, org_id=org.id, status="open").items
    assert again.id == finding.id and again.last_seen > finding.last_seen

    # Another device takes b's address: b's finding is resolved, the newcomer gets its own.
    c = discover.Host("10.9.0.3", True, mac="02:00:00:00:00:0c")
    assert record(a, c).new == 1
    open_now = findings.list_findings(ctx, SYSTEM, org_id=org.id, status="open").items
    assert [f.key for f in open_now] == [c.mac]

    # A device whose address an asset already names is known, not a finding.
    device = discovery.list_devices(ctx, SYSTEM, network_id=net.id, state="new").items
    ignored = discovery.ignore(ctx, SYSTEM, next(d.id for d in device if d.address == c.address))
    assert ignored.state == "ignored"
    from forewarn.services import assets
    from forewarn.services.schemas import AssetCreate

    asset = assets.create(
        ctx, SYSTEM, AssetCreate(org_id=org.id, name="nas01", kind="server", hostname="10.9.0.7")
    )
    d = discover.Host("10.9.0.7", True, mac="02:00:00:00:00:07")
    assert record(a, c, d).new == 1
    assert findings.list_findings(ctx, SYSTEM, org_id=org.id, status="open").items == []
    known = discovery.list_devices(ctx, SYSTEM, network_id=net.id, state="adopted").items
    assert [(x.address, x.asset_id) for x in known] == [("10.9.0.7", asset.id)]
    # The ignored device moving to another address stays ignored.
    moved = discover.Host("10.9.0.8", True, mac=c.mac)
    record(a, moved, d)
    assert findings.list_findings(ctx, SYSTEM, org_id=org.id, status="open").items == []
    states = {x.address: x.state for x in discovery.list_devices(ctx, SYSTEM, org_id=org.id).items}
    assert states["10.9.0.8"] == "ignored"


def test_a_second_run_of_a_network_waits_for_the_first(ctx: Context, org: Org) -> None:
    net = discovery.create_network(ctx, SYSTEM, NetworkCreate(org_id=org.id, cidr="10.9.1.0/24"))
    discovery.start(ctx, SYSTEM, net.id)
    with pytest.raises(ServiceError) as err:
        discovery.start(ctx, SYSTEM, net.id)
    assert err.value.status == 409


# --- pure helpers -----------------------------------------------------------------------------


def test_sweepable_normalizes_and_bounds() -> None:
    assert str(discover.sweepable(" 192.168.1.77/24 ")) == "192.168.1.0/24"
    assert discover.sweepable("10.0.0.0/22").num_addresses == 1024
    assert discover.sweepable("2001:db8::/120").num_addresses == 256
    assert str(discover.sweepable("127.0.0.0/29", allow_loopback=True)) == "127.0.0.0/29"
    assert discover.addresses(discover.sweepable("10.0.0.0/29")) == [
        f"10.0.0.{i}" for i in range(1, 7)
    ]


def test_neighbour_tables_are_read_from_either_source() -> None:
    proc = (
        "IP address       HW type     Flags       HW address            Mask     Device\n"
        "10.0.0.1         0x1         0x2         AA:BB:CC:00:11:22     *        eth0\n"
        "10.0.0.9         0x1         0x0         00:00:00:00:00:00     *        eth0\n"
    )
    assert discover.parse_proc_arp(proc) == {
        "10.0.0.1": discover.Neighbour("aa:bb:cc:00:11:22", "")
    }
    ip_json = (
        '[{"dst":"10.0.0.2","dev":"eth0","lladdr":"02:00:00:00:00:02","state":["REACHABLE"]},'
        '{"dst":"fd00::1","dev":"eth0","state":["FAILED"]},'
        '{"dst":"FD00::0002","dev":"eth0","lladdr":"02:00:00:00:00:03","state":["STALE"]}]'
    )
    assert discover.parse_ip_neigh(ip_json) == {
        "10.0.0.2": discover.Neighbour("02:00:00:00:00:02", "REACHABLE"),
        "fd00::2": discover.Neighbour("02:00:00:00:00:03", "STALE"),
    }


def test_the_pacer_spaces_starts() -> None:
    async def starts() -> float:
        pacer = discover.Pacer(rate=50)
        loop = asyncio.get_running_loop()
        began = loop.time()
        for _ in range(11):
            await pacer.wait()
        return loop.time() - began

    assert asyncio.run(starts()) >= 10 / 50 - 0.01


def test_suggested_checks_follow_what_the_device_answered() -> None:
    names = [
        c["name"]
        for c in discovery.suggested_checks("server", "10.0.0.5", [22, 80, 443, 3389], "public")
    ]
    assert names == ["ping", "http", "https", "ssh", "rdp"]
    switch = discovery.suggested_checks("network_device", "10.0.0.1", [], "public")
    assert [(c["name"], c.get("params", {}).get("template")) for c in switch] == [
        ("ping", None),
        ("snmp uptime", "uptime"),
    ]
    assert [c["name"] for c in discovery.suggested_checks("printer", "10.0.0.2", [9100], None)] == [
        "ping"
    ]
    v6 = discovery.suggested_checks("server", "fd00::5", [22, 443], None)
    assert [c["target"] for c in v6] == ["fd00::5", "https://[fd00::5]/", "[fd00::5]:22"]
    assert DeviceKind("nas") is DeviceKind.NAS

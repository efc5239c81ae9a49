"""A real SNMP agent for the SNMP probe tests: Debian's net-snmp snmpd on loopback.

snmpd itself serves the system group, IF-MIB and HOST-RESOURCES (real interfaces, real file
systems). A printer, a UPS and one switch port are faked with snmpd's `pass` directive: it
runs a small script per request, which answers from a JSON file the tests rewrite to set the
scene. A v2c community and a v3 authPriv user (SHA/AES) are configured.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SNMPD = Path("/usr/sbin/snmpd")
COMMUNITY = "fw-test-ro"
V3_USER = "fwtest"
AUTH_KEY = "fw-auth-secret"
PRIV_KEY = "fw-priv-secret"
FAKE_IF = 2000000001  # an ifIndex no real interface has

UPS = ".1.3.6.1.2.1.33"
PRINTER = ".1.3.6.1.2.1.43.11"
# The fake port's columns: descr, admin status, oper status, HC in / out octets. Registered one
# by one inside snmpd's own ifTable, so they answer GETs (walks only see the real rows).
FAKE_IF_OIDS = tuple(
    f"{column}.{FAKE_IF}"
    for column in (
        ".1.3.6.1.2.1.2.2.1.2",
        ".1.3.6.1.2.1.2.2.1.7",
        ".1.3.6.1.2.1.2.2.1.8",
        ".1.3.6.1.2.1.31.1.1.1.6",
        ".1.3.6.1.2.1.31.1.1.1.10",
    )
)
PREFIXES = (UPS, PRINTER, *FAKE_IF_OIDS)

# The pass protocol: `-g OID` (get) or `-n OID` (get next) in argv; print OID, type, value
# on three lines, or nothing for "no such object". Runs with the tests' own Python.
_PASS_SCRIPT = """#!{python}
import json, pathlib, sys

data = json.loads(pathlib.Path({values!r}).read_text())

def key(oid):
    return tuple(int(x) for x in oid.strip(".").split("."))

values = {{key(o): v for o, v in data["values"].items()}}
mode, oid = sys.argv[1], key(sys.argv[2])
hit = None
if mode == "-g":
    hit = oid if oid in values else None
elif mode == "-n":
    # Stay inside the subtree this request came through: snmpd asks each `pass` separately.
    under = [p for p in map(key, data["prefixes"]) if oid[: len(p)] == p]
    if under:
        top = max(under, key=len)
        later = sorted(o for o in values if o > oid and o[: len(top)] == top)
        hit = later[0] if later else None
if hit is not None:
    kind, value = values[hit]
    print("." + ".".join(map(str, hit)))
    print(kind)
    print(value)
"""

Served = Mapping[str, tuple[str, int | str]]  # OID -> (pass type, value)


@dataclass
class Agent:
    port: int
    directory: Path
    ipv6: bool

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def serve(self, values: Served) -> None:
        """What the fake printer, UPS and port answer from now on (replacing what was served)."""
        path = self.directory / "values.json"
        tmp = path.with_suffix(".tmp")
        body = {"prefixes": PREFIXES, "values": {k: list(v) for k, v in values.items()}}
        tmp.write_text(json.dumps(body))
        tmp.replace(path)  # atomic: a pass run never reads half a file


def snmpd_available() -> bool:
    return SNMPD.exists()


def _free_udp_port(ipv6: bool) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    if ipv6:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s6:
            s6.bind(("::1", port))
    return port


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def _config(directory: Path) -> Path:
    script = directory / "fake_agent.py"
    script.write_text(
        _PASS_SCRIPT.format(python=sys.executable, values=str(directory / "values.json"))
    )
    script.chmod(0o755)
    lines = [
        f"rocommunity {COMMUNITY} 127.0.0.1",
        f"rocommunity6 {COMMUNITY} ::1",
        f'createUser {V3_USER} SHA "{AUTH_KEY}" AES "{PRIV_KEY}"',
        f"rouser {V3_USER} priv",
        *(f"pass {prefix} {script}" for prefix in PREFIXES),
    ]
    conf = directory / "snmpd.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


@contextmanager
def snmpd(directory: Path, initial: Served) -> Iterator[Agent]:
    """Run snmpd on 127.0.0.1 (and ::1 when there is one) on a free port until the block ends."""
    ipv6 = _has_ipv6_loopback()
    conf = _config(directory)
    persist = directory / "persist"  # createUser is turned into keys here, not in /var/lib
    persist.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "MIBS": "",  # no MIB files to load (the standard ones are not installed anyway)
        "MIBDIRS": str(directory),
        "SNMP_PERSISTENT_DIR": str(persist),
    }
    for _attempt in range(3):
        port = _free_udp_port(ipv6)
        agent = Agent(port, directory, ipv6)
        agent.serve(initial)
        endpoints = f"udp:127.0.0.1:{port}" + (f",udp6:[::1]:{port}" if ipv6 else "")
        log = directory / f"snmpd-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                # -C: no system config; -I -smux: no SMUX listener on the fixed port 199.
                [str(SNMPD), "-f", "-Lo", "-C", "-c", str(conf), "-I", "-smux", endpoints],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        try:
            if _wait_ready(proc, log):
                yield agent
                return
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if "Error opening specified endpoint" not in log.read_text(errors="replace"):
            break  # not a lost race for the port: retrying will not help
    raise RuntimeError(f"snmpd did not start:\n{log.read_text(errors='replace')}")


def _wait_ready(proc: subprocess.Popen[bytes], log: Path) -> bool:
    """snmpd logs its version once it listens; give up after 5 s or when it exits."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if "NET-SNMP version" in log.read_text(errors="replace"):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False

"""The SNMP probe against a real net-snmp agent on loopback (see _snmpd.py).

Real values (sysName, interfaces, file systems, uptime) come from snmpd itself; the printer,
the UPS and one switch port are faked through snmpd's `pass` so each state can be set.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

from forewarn.domain.observation import Result, Status
from forewarn.probes import snmp

from ._snmpd import (
    AUTH_KEY,
    COMMUNITY,
    FAKE_IF,
    PRIV_KEY,
    V3_USER,
    Agent,
    Served,
    snmpd,
    snmpd_available,
)

pytestmark = pytest.mark.slow

SUPPLY = ".1.3.6.1.2.1.43.11.1.1"
UPS_MIB = ".1.3.6.1.2.1.33.1"
HOSTNAME = socket.gethostname()


def printer(*supplies: tuple[str, int, int]) -> Served:
    """(description, max capacity, level) per supply, indexed 1.1, 1.2, ..."""
    served: dict[str, tuple[str, int | str]] = {}
    for i, (descr, cap, level) in enumerate(supplies, start=1):
        served[f"{SUPPLY}.6.1.{i}"] = ("string", descr)
        served[f"{SUPPLY}.8.1.{i}"] = ("integer", cap)
        served[f"{SUPPLY}.9.1.{i}"] = ("integer", level)
    return served


def ups(battery: int, charge: int, minutes: int, source: int) -> Served:
    return {
        f"{UPS_MIB}.2.1.0": ("integer", battery),
        f"{UPS_MIB}.2.3.0": ("integer", minutes),
        f"{UPS_MIB}.2.4.0": ("integer", charge),
        f"{UPS_MIB}.4.1.0": ("integer", source),
    }


def port(oper: int, admin: int) -> Served:
    return {
        f".1.3.6.1.2.1.2.2.1.2.{FAKE_IF}": ("string", "fakeport0"),
        f".1.3.6.1.2.1.2.2.1.7.{FAKE_IF}": ("integer", admin),
        f".1.3.6.1.2.1.2.2.1.8.{FAKE_IF}": ("integer", oper),
        f".1.3.6.1.2.1.31.1.1.1.6.{FAKE_IF}": ("counter64", 12_345_678_901),
        f".1.3.6.1.2.1.31.1.1.1.10.{FAKE_IF}": ("counter64", 42),
    }


HEALTHY: Served = {
    **printer(("Black Toner", 1000, 800)),
    **ups(battery=2, charge=100, minutes=60, source=3),
    **port(oper=1, admin=1),
}


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    if not snmpd_available():
        pytest.skip("snmpd is not installed (/usr/sbin/snmpd, Debian package snmpd)")
    with snmpd(tmp_path_factory.mktemp("snmpd"), HEALTHY) as a:
        yield a


@pytest.fixture
def fresh(agent: Agent) -> Iterator[Agent]:
    """The agent with healthy fake devices; a test serves its own scene on top."""
    agent.serve(HEALTHY)
    yield agent
    agent.serve(HEALTHY)


V3: dict[str, Any] = {"version": "3", "user": V3_USER, "auth_key": AUTH_KEY, "priv_key": PRIV_KEY}


def check(target: str, timeout: float = 3, **params: Any) -> Result:
    return asyncio.run(snmp.run(target, snmp.validate(target, params), timeout))


# --- v2c and v3 basics ------------------------------------------------------------------------


def test_v2c_get_reports_the_string_value(agent: Agent) -> None:
    r = check(agent.target, community=COMMUNITY, oid="1.3.6.1.2.1.1.5.0")
    assert r.status is Status.OK, r.message
    assert r.message == f"1.3.6.1.2.1.1.5.0 = {HOSTNAME!r}"
    assert r.metrics == ()


def test_v2c_get_thresholds_a_number(fresh: Agent) -> None:
    fresh.serve({**HEALTHY, **ups(battery=2, charge=30, minutes=9, source=3)})
    r = check(fresh.target, community=COMMUNITY, oid=".1.3.6.1.2.1.33.1.2.4.0", warn="50:")
    assert r.status is Status.WARNING, r.message
    assert "outside warning range 50:" in r.message
    assert [(m.name, m.value, m.warn) for m in r.metrics] == [("value", 30.0, "50:")]
    assert check(fresh.target, community=COMMUNITY, oid="1.3.6.1.2.1.1.5.0", expect="x").status is (
        Status.CRITICAL
    )


def test_unknown_oid_is_unknown(agent: Agent) -> None:
    r = check(agent.target, community=COMMUNITY, oid="1.3.6.1.2.1.1.99.0")
    assert r.status is Status.UNKNOWN
    assert r.message == "OID 1.3.6.1.2.1.1.99.0 not found on device"
    r = check(agent.target, community=COMMUNITY, walk="1.3.6.1.4.1.99999")
    assert r.status is Status.UNKNOWN
    assert "not found on device" in r.message


def test_wrong_community_is_critical_within_the_timeout(agent: Agent) -> None:
    started = time.monotonic()
    r = check(agent.target, timeout=0.5, community="not-the-community", oid="1.3.6.1.2.1.1.5.0")
    elapsed = time.monotonic() - started
    assert r.status is Status.CRITICAL
    assert r.message == f"no SNMP answer from {agent.target} in 0.5 s (wrong community?)"
    assert elapsed < 1.0  # the contract: done within the timeout (plus scheduling slack)


def test_v3_auth_priv_answers(agent: Agent) -> None:
    r = check(agent.target, **V3, oid="1.3.6.1.2.1.1.5.0")
    assert r.status is Status.OK, r.message
    assert HOSTNAME in r.message


def test_v3_wrong_auth_key_is_critical_with_pysnmps_reason(agent: Agent) -> None:
    r = check(agent.target, **{**V3, "auth_key": "not-the-auth-key"})
    assert r.status is Status.CRITICAL
    assert "Wrong SNMP PDU digest" in r.message
    assert "wrong auth key" in r.message


def test_v3_wrong_priv_key_goes_unanswered(agent: Agent) -> None:
    # snmpd drops what it cannot decrypt without a word, so this is a timeout.
    r = check(agent.target, timeout=0.5, **{**V3, "priv_key": "not-the-priv-key"})
    assert r.status is Status.CRITICAL
    assert r.message == f"no SNMP answer from {agent.target} in 0.5 s (wrong privacy key?)"


def test_v3_unknown_user_is_critical(agent: Agent) -> None:
    r = check(agent.target, **{**V3, "user": "nobody-here"})
    assert r.status is Status.CRITICAL
    assert "Unknown USM user" in r.message


def test_ipv6_target(agent: Agent) -> None:
    if not agent.ipv6:
        pytest.skip("no IPv6 loopback (::1) on this machine")
    target = f"[::1]:{agent.port}"
    r = check(target, community=COMMUNITY, oid="1.3.6.1.2.1.1.5.0")
    assert r.status is Status.OK, r.message


# --- a shared engine ------------------------------------------------------------------------


def test_shared_engine_serves_many_checks_at_once(agent: Agent) -> None:
    async def main() -> list[Result]:
        engine = SnmpEngine()
        p = snmp.validate(agent.target, {"community": COMMUNITY, "oid": "1.3.6.1.2.1.1.5.0"})
        bad = snmp.validate(agent.target, {"community": "wrong", "oid": "1.3.6.1.2.1.1.5.0"})
        runs = [snmp.run(agent.target, p, 3, engine=engine) for _ in range(20)]
        runs.append(snmp.run(agent.target, bad, 0.5, engine=engine))
        try:
            return await asyncio.gather(*runs)
        finally:
            engine.close_dispatcher()

    *good, bad = asyncio.run(main())
    assert [r.status for r in good] == [Status.OK] * 20
    assert bad.status is Status.CRITICAL


def test_shared_engine_keeps_two_keys_for_one_user_apart(agent: Agent) -> None:
    # pysnmp keeps one key set per user name in an engine; without care the wrong key of one
    # check in flight would break the right one running beside it.
    async def main() -> list[Result]:
        engine = SnmpEngine()
        right = snmp.validate(agent.target, V3)
        wrong = snmp.validate(agent.target, {**V3, "auth_key": "not-the-auth-key"})
        try:
            return await asyncio.gather(
                *(snmp.run(agent.target, p, 2, engine=engine) for p in [right, wrong] * 3)
            )
        finally:
            engine.close_dispatcher()

    results = asyncio.run(main())
    assert [r.status for r in results[0::2]] == [Status.OK] * 3, [r.message for r in results]
    assert [r.status for r in results[1::2]] == [Status.CRITICAL] * 3


# --- walk -----------------------------------------------------------------------------------


def test_walk_applies_thresholds_to_every_row(fresh: Agent) -> None:
    fresh.serve({**HEALTHY, **printer(("A", 100, 90), ("B", 100, 4), ("C", 100, 50))})
    r = check(fresh.target, community=COMMUNITY, walk=f"{SUPPLY}.9", warn="40:", crit="5:")
    assert r.status is Status.CRITICAL, r.message
    assert r.message == f"{SUPPLY[1:]}.9.1.2 = 4 (critical); 2 other rows ok"
    assert [(m.name, m.value) for m in r.metrics] == [("1.1", 90), ("1.2", 4), ("1.3", 50)]


# --- templates ------------------------------------------------------------------------------


def test_interface_by_name_on_the_real_loopback(agent: Agent) -> None:
    r = check(agent.target, community=COMMUNITY, template="interface", interface="lo")
    assert r.status is Status.OK, r.message
    assert r.message == "lo is up"
    counters = {m.name: m for m in r.metrics}
    assert set(counters) == {"in_octets", "out_octets"}
    assert counters["in_octets"].unit == "c"
    assert counters["in_octets"].value > 0  # our own SNMP packets crossed it


def test_interface_down_is_critical(fresh: Agent) -> None:
    fresh.serve({**HEALTHY, **port(oper=2, admin=2)})
    r = check(fresh.target, community=COMMUNITY, template="interface", interface=FAKE_IF)
    assert r.status is Status.CRITICAL
    assert r.message == "fakeport0 is down (administratively down)"
    assert {m.name: m.value for m in r.metrics} == {"in_octets": 12_345_678_901, "out_octets": 42}


def test_interface_that_does_not_exist(agent: Agent) -> None:
    r = check(agent.target, community=COMMUNITY, template="interface", interface="nope0")
    assert r.status is Status.UNKNOWN
    assert "'nope0' not found" in r.message and "lo" in r.message


def test_printer_supplies(fresh: Agent) -> None:
    fresh.serve(
        {**HEALTHY, **printer(("Black Toner", 1000, 25), ("Cyan Toner", -2, -3), ("Drum", 100, 80))}
    )
    r = check(fresh.target, community=COMMUNITY, template="printer_supplies")
    assert r.status is Status.CRITICAL
    assert r.message == "Black Toner 2.5 % (critical); 2 other supplies ok"
    assert "Cyan Toner some remaining" in r.details
    assert {m.name: m.value for m in r.metrics} == {"Black Toner": 2.5, "Drum": 80}

    fresh.serve({**HEALTHY, **printer(("Black Toner", 1000, 900), ("Waste", 100, -2))})
    r = check(fresh.target, community=COMMUNITY, template="printer_supplies")
    assert r.status is Status.UNKNOWN
    assert r.message == "Waste level cannot be read (unknown); 1 other supply ok"


def test_ups_on_battery_is_a_warning(fresh: Agent) -> None:
    fresh.serve({**HEALTHY, **ups(battery=2, charge=90, minutes=35, source=5)})
    r = check(fresh.target, community=COMMUNITY, template="ups")
    assert r.status is Status.WARNING
    assert r.message == "on battery, battery normal, charge 90 %, 35 min remaining"
    assert {m.name: m.value for m in r.metrics} == {"charge": 90, "minutes_remaining": 35}


def test_ups_battery_low_is_critical(fresh: Agent) -> None:
    fresh.serve({**HEALTHY, **ups(battery=3, charge=15, minutes=4, source=5)})
    r = check(fresh.target, community=COMMUNITY, template="ups")
    assert r.status is Status.CRITICAL
    assert "battery low" in r.message and "charge 15 % (critical)" in r.message


def test_storage_of_the_root_file_system(agent: Agent) -> None:
    st = os.statvfs("/")
    expected = 100 * (st.f_blocks - st.f_bfree) / st.f_blocks
    r = check(agent.target, community=COMMUNITY, template="storage", storage="/")
    assert r.status in (Status.OK, Status.WARNING, Status.CRITICAL), r.message
    (metric,) = r.metrics
    assert metric.name == "/" and metric.unit == "%"
    assert metric.value == pytest.approx(expected, abs=2)
    assert (metric.warn, metric.crit) == ("85", "95")

    r = check(agent.target, community=COMMUNITY, template="storage", storage="/", crit="@0:100")
    assert r.status is Status.CRITICAL
    assert r.message.startswith("/ ") and "% used" in r.message


def test_storage_filter_that_matches_nothing(agent: Agent) -> None:
    r = check(agent.target, community=COMMUNITY, template="storage", storage="/no/such/mount")
    assert r.status is Status.UNKNOWN
    assert r.message == "no storage matching '/no/such/mount' found in hrStorageTable"


def test_uptime_is_the_default_check(agent: Agent) -> None:
    r = check(agent.target, community=COMMUNITY)
    assert r.status is Status.OK, r.message
    assert r.message.startswith("up ") and HOSTNAME in r.message
    (metric,) = r.metrics
    assert metric.name == "uptime" and metric.unit == "s" and metric.value > 0

    r = check(agent.target, community=COMMUNITY, template="uptime", warn="1000000000")
    assert r.status is Status.WARNING
    assert "rebooted recently" in r.message


def test_discover(agent: Agent) -> None:
    p = snmp.validate(agent.target, {"community": COMMUNITY})
    info = asyncio.run(snmp.discover(agent.target, p, 3))
    assert info.name == HOSTNAME
    assert info.object_id.startswith("1.3.6.1.4.1.8072.")  # net-snmp's enterprise number
    assert info.uptime_s is not None and info.uptime_s >= 0

    bad = snmp.validate(agent.target, {"community": "wrong"})
    with pytest.raises(snmp.SnmpError, match="no SNMP answer"):
        asyncio.run(snmp.discover(agent.target, bad, 0.5))


def test_no_agent_on_the_port_is_critical(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))  # held, so nothing else answers there
        target = f"127.0.0.1:{s.getsockname()[1]}"
        r = check(target, timeout=0.5, community=COMMUNITY)
    assert r.status is Status.CRITICAL
    assert r.message.startswith(f"no SNMP answer from {target} in 0.5 s")

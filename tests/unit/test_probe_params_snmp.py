"""The SNMP probe without a device: validate() refuses bad definitions with a reason, and the
templates turn fetched varbinds into the right Result."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pysnmp.proto import rfc1902
from pysnmp.proto.rfc1905 import EndOfMibView, NoSuchInstance, NoSuchObject

from forewarn.domain.observation import Status
from forewarn.domain.thresholds import Thresholds
from forewarn.probes import snmp
from forewarn.probes import snmp_templates as tpl

V3 = {"version": "3", "user": "monitor", "auth_key": "auth-secret", "priv_key": "priv-secret"}


def ok(params: dict[str, Any], target: str = "192.0.2.7") -> snmp.Params:
    return snmp.validate(target, params)


def refused(params: dict[str, Any], target: str = "192.0.2.7") -> str:
    with pytest.raises(ValueError) as info:
        snmp.validate(target, params)
    return str(info.value)


# --- validate(): what is accepted ------------------------------------------------------------


def test_defaults_check_uptime_over_v2c_public() -> None:
    p = ok({})
    assert (p.version, p.community, p.retries, p.check) == ("2c", "public", 1, "uptime")
    assert p.security_level == "noAuthNoPriv"


@pytest.mark.parametrize(("given", "version"), [(2, "2c"), ("2c", "2c"), ("v2c", "2c"), (3, "3")])
def test_version_spellings(given: object, version: str) -> None:
    extra = {} if version == "2c" else {"user": "monitor"}
    assert ok({"version": given, **extra}).version == version


@pytest.mark.parametrize("oid", [".1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.5.0", " 1.3.6.1.2.1.1.5.0 "])
def test_oids_are_normalised(oid: str) -> None:
    assert ok({"oid": oid}).oid == "1.3.6.1.2.1.1.5.0"
    assert ok({"walk": oid}).walk == "1.3.6.1.2.1.1.5.0"


def test_v3_protocol_spellings_and_security_levels() -> None:
    p = ok({**V3, "auth_protocol": "sha-256", "priv_protocol": "aes128"})
    assert (p.auth_protocol, p.priv_protocol, p.security_level) == ("SHA256", "AES", "authPriv")
    assert ok({**V3, "priv_protocol": "AES-256-C"}).priv_protocol == "AES256C"
    auth_only = {k: v for k, v in V3.items() if k != "priv_key"}
    assert ok(auth_only).security_level == "authNoPriv"
    assert ok({"version": 3, "user": "monitor"}).security_level == "noAuthNoPriv"


def test_keys_never_show_in_a_repr() -> None:
    text = repr(ok(V3)) + repr(ok({"community": "s3cret-community"}))
    assert "auth-secret" not in text and "priv-secret" not in text and "s3cret" not in text


def test_two_key_sets_for_one_user_are_told_apart() -> None:
    assert ok(V3).credentials_id == ok(dict(V3)).credentials_id
    assert ok(V3).credentials_id != ok({**V3, "auth_key": "other-secret"}).credentials_id


@pytest.mark.parametrize(
    "params",
    [
        {},
        V3,
        {**V3, "auth_protocol": "SHA512", "priv_protocol": "AES256C", "oid": ".1.3.6.1.2.1.1.3.0"},
        {"template": "interface", "interface": 3},
        {"template": "printer_supplies", "warn": "20"},
        {"walk": "1.3.6.1.2.1.2.2.1.8", "crit": "1:1", "label": "oper"},
    ],
)
def test_a_stored_definition_validates_again(params: dict[str, Any]) -> None:
    p = ok(params)
    assert ok(p.model_dump()) == p
    assert ok(p.model_dump(exclude_defaults=True)) == p


@pytest.mark.parametrize(
    ("target", "parsed"),
    [
        ("printer.example", ("printer.example", 161)),
        ("10.0.0.5:1161", ("10.0.0.5", 1161)),
        ("[::1]:1161", ("::1", 1161)),
        ("[2001:db8::1]", ("2001:db8::1", 161)),
        ("::1", ("::1", 161)),
    ],
)
def test_target_forms(target: str, parsed: tuple[str, int]) -> None:
    assert snmp.parse_target(target) == parsed
    ok({}, target=target)


# --- validate(): what is refused, and why --------------------------------------------------


@pytest.mark.parametrize("version", ["1", "v1", 4, "2b", ""])
def test_unknown_versions(version: object) -> None:
    assert "unknown SNMP version" in refused({"version": version})


@pytest.mark.parametrize("oid", ["sysName.0", "1", "1.3.6.x", "3.1.2", "1.3..6", "", "1.40.1"])
def test_bad_oids(oid: str) -> None:
    msg = refused({"oid": oid})
    assert msg.startswith("oid: ")
    assert "numeric OID" in msg or "second arc" in msg


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"version": 3}, "needs a user"),
        ({**V3, "auth_key": "short"}, "auth_key: must be at least 8 characters"),
        ({**V3, "priv_key": "1234567"}, "priv_key: must be at least 8 characters"),
        ({"version": 3, "user": "u", "priv_key": "priv-secret"}, "privacy needs authentication"),
        ({"version": 3, "user": "u", "auth_protocol": "SHA"}, "auth_protocol given without"),
        ({**V3, "auth_protocol": "SHA3"}, "unknown auth protocol 'SHA3'"),
        ({**V3, "priv_protocol": "blowfish"}, "unknown privacy protocol"),
        ({**V3, "community": "private"}, "community is for v2c"),
        ({"user": "monitor", "auth_key": "auth-secret"}, "user, auth_key only apply to version 3"),
    ],
)
def test_bad_v3_definitions(params: dict[str, Any], why: str) -> None:
    assert why in refused(params)


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"template": "toaster"}, "unknown template 'toaster'"),
        ({"template": "interface"}, "needs interface"),
        ({"template": "interface", "interface": "eth0", "warn": "1"}, "no thresholds"),
        ({"interface": "eth0"}, "interface only applies to template interface"),
        ({"template": "ups", "storage": "/"}, "storage only applies to template storage"),
        ({"walk": "1.3.6.1.2.1.2", "expect": "up"}, "expect only applies to oid"),
        ({"oid": "1.3.6.1.2.1.1.5.0", "walk": "1.3.6.1.2.1.2"}, "not oid and walk"),
        ({"template": "ups", "label": "x"}, "label only applies to oid or walk"),
        ({"oid": "1.3.6.1.2.1.1.3.0", "warn": "abc"}, "warn: threshold range"),
        ({"oid": "1.3.6.1.2.1.1.3.0", "crit": "20:10"}, "crit: threshold range"),
        ({"template": "printer_supplies", "warn": "ten"}, "warn: threshold range"),
        ({"retries": 9}, "retries"),
        ({"colour": "red"}, "colour: unknown parameter"),
    ],
)
def test_bad_check_definitions(params: dict[str, Any], why: str) -> None:
    msg = refused(params)
    assert why in msg
    assert "validation error" not in msg and "pydantic" not in msg  # said for people


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("", "empty target"),
        ("host:0", "port"),
        ("host:99999", "port"),
        ("host:snmp", "port"),
        ("[::1", "missing ']'"),
        ("[::1]x", "expected ':port'"),
        ("[printer]:161", "not an IPv6 address"),
        ("a b", "not a host name"),
    ],
)
def test_bad_targets(target: str, why: str) -> None:
    assert why in refused({}, target=target)


def test_run_with_a_bad_target_reports_instead_of_raising() -> None:
    r = asyncio.run(snmp.run("host:0", ok({}), 1))
    assert r.status is Status.UNKNOWN and "port" in r.message


# --- thresholds per template ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "warn", "crit"),
    [
        ({"template": "printer_supplies"}, "10:", "3:"),
        ({"template": "printer_supplies", "warn": "15", "crit": "~:2"}, "15:", "~:2"),
        ({"template": "ups"}, "50:", "20:"),
        ({"template": "storage"}, "85", "95"),
        ({"template": "storage", "warn": "0:70"}, "0:70", "95"),
        ({"template": "uptime", "warn": "3600"}, "3600:", None),
        ({"oid": "1.3.6.1.2.1.1.3.0", "warn": "10"}, "10", None),
    ],
)
def test_template_thresholds(params: dict[str, Any], warn: str | None, crit: str | None) -> None:
    th = ok(params).thresholds
    assert (th.warn and th.warn.text, th.crit and th.crit.text) == (warn, crit)


# --- pysnmp values to plain ones ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        (rfc1902.Integer32(-5), -5),
        (rfc1902.Counter64(2**63), 2**63),
        (rfc1902.TimeTicks(12345), 12345),
        (rfc1902.Gauge32(7), 7),
        (rfc1902.OctetString("Black Toner"), "Black Toner"),
        (rfc1902.OctetString("Bürodrucker 2. OG".encode()), "Bürodrucker 2. OG"),
        (rfc1902.OctetString("Bürodrucker".encode("latin-1")), "Bürodrucker"),
        (rfc1902.OctetString(b"Toner\x00\x00"), "Toner"),
        (rfc1902.OctetString(hexValue="00163e5a0b01"), "0x00163e5a0b01"),
        (rfc1902.OctetString(b"\x80\x01\xfe"), "0x8001fe"),
        (rfc1902.ObjectIdentifier("1.3.6.1.4.1.8072.3.2.10"), "1.3.6.1.4.1.8072.3.2.10"),
        (rfc1902.IpAddress("192.0.2.1"), "192.0.2.1"),
        (NoSuchObject(""), None),
        (NoSuchInstance(""), None),
        (EndOfMibView(""), None),
    ],
)
def test_to_value(value: object, plain: object) -> None:
    assert snmp.to_value(value) == plain


# --- one OID and a walk ---------------------------------------------------------------------

NONE = Thresholds()


def test_value_missing_is_unknown() -> None:
    r = tpl.evaluate_value("1.3.6.1.2.1.1.99.0", None, NONE)
    assert (r.status, r.message) == (Status.UNKNOWN, "OID 1.3.6.1.2.1.1.99.0 not found on device")


def test_value_string_is_reported_and_expect_compared() -> None:
    r = tpl.evaluate_value("1.3.6.1.2.1.1.5.0", "core-sw1", NONE)
    assert (r.status, r.message, r.metrics) == (Status.OK, "1.3.6.1.2.1.1.5.0 = 'core-sw1'", ())
    r = tpl.evaluate_value("1.3.6.1.2.1.1.5.0", "core-sw1", NONE, expect="core-sw2")
    assert r.status is Status.CRITICAL and "expected 'core-sw2'" in r.message
    assert tpl.evaluate_value("1.3", "up", NONE, expect="up").status is Status.OK


def test_value_number_is_thresholded_with_a_metric() -> None:
    th = Thresholds.parse("80", "90")
    r = tpl.evaluate_value("1.3.6.1.4.1.1.1.0", 93, th, label="temperature")
    assert r.status is Status.CRITICAL
    assert r.message == "temperature = 93 (outside critical range 90)"
    (m,) = r.metrics
    assert (m.name, m.value, m.warn, m.crit) == ("temperature", 93, "80", "90")
    # UCD-SNMP's laLoad is a string holding a number: thresholds still apply.
    assert tpl.evaluate_value("1.3.6.1.4.1.2021.10.1.3.1", "0.42", th).status is Status.OK
    r = tpl.evaluate_value("1.3.6.1.2.1.1.5.0", "core-sw1", th)
    assert r.status is Status.UNKNOWN and "not a number" in r.message


def test_walk_worst_row_wins_and_is_named() -> None:
    base = "1.3.6.1.4.1.9.9.13.1.3.1.3"
    rows = {f"{base}.1": 30, f"{base}.2": 85, f"{base}.3": 95, f"{base}.4": "n/a"}
    r = tpl.evaluate_walk(base, rows, Thresholds.parse("80", "90"), label="temp")
    assert r.status is Status.CRITICAL
    assert r.message == f"{base}.3 = 95 (critical), {base}.2 = 85 (warning); 1 other row ok"
    assert [(m.name, m.value) for m in r.metrics] == [
        ("temp.1", 30),
        ("temp.2", 85),
        ("temp.3", 95),
    ]


def test_walk_edge_cases() -> None:
    assert tpl.evaluate_walk("1.3.6.1.9", {}, NONE).status is Status.UNKNOWN
    names = {"1.3.6.1.2.1.2.2.1.2.1": "lo", "1.3.6.1.2.1.2.2.1.2.2": "eth0"}
    r = tpl.evaluate_walk("1.3.6.1.2.1.2.2.1.2", names, NONE)
    assert r.status is Status.OK and r.message.startswith("2 rows under")
    assert tpl.evaluate_walk("1.3.6.1.2.1.2.2.1.2", names, Thresholds.parse("1", None)).status is (
        Status.UNKNOWN
    )


# --- interface ------------------------------------------------------------------------------


def iface(index: str, oper: int | None, admin: int = 1, **more: tpl.Value) -> dict[str, tpl.Value]:
    answers: dict[str, tpl.Value] = {
        f"{tpl.IF_DESCR}.{index}": "GigabitEthernet0/1",
        f"{tpl.IF_NAME}.{index}": "Gi0/1",
        f"{tpl.IF_ADMIN_STATUS}.{index}": admin,
        f"{tpl.IF_OPER_STATUS}.{index}": oper,
        f"{tpl.IF_HC_IN_OCTETS}.{index}": 1000,
        f"{tpl.IF_HC_OUT_OCTETS}.{index}": 2000,
    }
    answers.update({f"{getattr(tpl, k)}.{index}": v for k, v in more.items()})
    return answers


@pytest.mark.parametrize(
    ("oper", "admin", "status", "message"),
    [
        (1, 1, Status.OK, "Gi0/1 is up"),
        (2, 1, Status.CRITICAL, "Gi0/1 is down"),
        (2, 2, Status.CRITICAL, "Gi0/1 is down (administratively down)"),
        (5, 1, Status.WARNING, "Gi0/1 is dormant"),
        (7, 1, Status.WARNING, "Gi0/1 is lowerLayerDown"),
        (9, 1, Status.WARNING, "Gi0/1 is status 9"),
    ],
)
def test_interface_states(oper: int, admin: int, status: Status, message: str) -> None:
    r = tpl.evaluate_interface("3", iface("3", oper, admin))
    assert (r.status, r.message) == (status, message)
    assert [(m.name, m.value, m.unit) for m in r.metrics] == [
        ("in_octets", 1000, "c"),
        ("out_octets", 2000, "c"),
    ]


def test_interface_alias_and_32_bit_counters() -> None:
    answers = iface("3", 1, IF_ALIAS="uplink to core", IF_IN_OCTETS=5, IF_OUT_OCTETS=6)
    answers[f"{tpl.IF_HC_IN_OCTETS}.3"] = None  # an old device without ifXTable counters
    answers[f"{tpl.IF_HC_OUT_OCTETS}.3"] = None
    r = tpl.evaluate_interface("3", answers)
    assert r.message == "Gi0/1 (uplink to core) is up"
    assert [(m.name, m.value) for m in r.metrics] == [("in_octets", 5), ("out_octets", 6)]


def test_interface_missing_is_unknown() -> None:
    r = tpl.evaluate_interface("42", iface("42", None))
    assert r.status is Status.UNKNOWN and "ifIndex 42 not found" in r.message


def test_find_interface_by_descr_then_name_then_any_case() -> None:
    descrs = {f"{tpl.IF_DESCR}.1": "lo", f"{tpl.IF_DESCR}.10101": "GigabitEthernet0/1"}
    names = {f"{tpl.IF_NAME}.1": "lo", f"{tpl.IF_NAME}.10101": "Gi0/1"}
    assert tpl.find_interface("GigabitEthernet0/1", descrs, names) == "10101"
    assert tpl.find_interface("Gi0/1", descrs, names) == "10101"
    assert tpl.find_interface("gigabitethernet0/1", descrs, names) == "10101"
    assert tpl.find_interface("Gi0/2", descrs, names) is None
    assert tpl.interface_names(descrs) == "lo, GigabitEthernet0/1"


# --- printer supplies -----------------------------------------------------------------------

E = tpl.PRT_SUPPLIES_ENTRY
PRINTER_TH = tpl.template_thresholds("printer_supplies", None, None)


def supplies(*rows: tuple[str, int, int, int]) -> dict[str, tpl.Value]:
    """(description, class, max capacity, level) per supply."""
    out: dict[str, tpl.Value] = {}
    for i, (descr, cls, cap, level) in enumerate(rows, start=1):
        out |= {f"{E}.4.1.{i}": cls, f"{E}.6.1.{i}": descr, f"{E}.8.1.{i}": cap}
        out[f"{E}.9.1.{i}"] = level
    return out


def test_printer_levels_as_percent_against_default_thresholds() -> None:
    rows = supplies(("Black", 3, 2000, 1000), ("Cyan", 3, 100, 8), ("Magenta", 3, 100, 2))
    r = tpl.evaluate_printer_supplies(rows, PRINTER_TH)
    assert r.status is Status.CRITICAL
    assert r.message == "Magenta 2 % (critical), Cyan 8 % (warning); 1 other supply ok"
    assert [(m.name, m.value, m.unit, m.warn, m.crit) for m in r.metrics] == [
        ("Black", 50, "%", "10:", "3:"),
        ("Cyan", 8, "%", "10:", "3:"),
        ("Magenta", 2, "%", "10:", "3:"),
    ]


def test_printer_some_remaining_is_ok_with_a_note() -> None:
    r = tpl.evaluate_printer_supplies(supplies(("Black", 3, -2, -3)), PRINTER_TH)
    assert r.status is Status.OK
    assert r.message == "1 supply ok: Black some remaining (level not reported)"
    assert r.metrics == ()


@pytest.mark.parametrize(("cap", "level"), [(100, -2), (100, -1), (-2, 40)])
def test_printer_unknown_level_is_an_unknown_row(cap: int, level: int) -> None:
    r = tpl.evaluate_printer_supplies(
        supplies(("Black", 3, 100, 90), ("Drum", 3, cap, level)), PRINTER_TH
    )
    assert r.status is Status.UNKNOWN
    assert r.message.startswith("Drum ") and r.message.endswith("(unknown); 1 other supply ok")


def test_printer_unknown_row_never_hides_a_low_one() -> None:
    rows = supplies(("Black", 3, 100, 1), ("Drum", 3, 100, -2))
    assert tpl.evaluate_printer_supplies(rows, PRINTER_TH).status is Status.CRITICAL


def test_printer_waste_box_is_judged_by_the_room_left() -> None:
    r = tpl.evaluate_printer_supplies(supplies(("Waste Toner", 4, 100, 98)), PRINTER_TH)
    assert r.status is Status.CRITICAL
    assert r.message == "Waste Toner 98 % full (critical)"
    assert [(m.name, m.value) for m in r.metrics] == [("Waste Toner free", 2)]
    assert tpl.evaluate_printer_supplies(supplies(("Waste", 4, 100, 10)), PRINTER_TH).status is (
        Status.OK
    )


def test_printer_duplicate_and_empty_names_stay_apart() -> None:
    r = tpl.evaluate_printer_supplies(
        supplies(("Toner", 3, 100, 50), ("Toner", 3, 100, 60), ("", 3, 100, 70)), PRINTER_TH
    )
    assert [m.name for m in r.metrics] == ["Toner", "Toner (1.2)", "#1.3"]


def test_printer_without_supplies_is_unknown() -> None:
    r = tpl.evaluate_printer_supplies({}, PRINTER_TH)
    assert r.status is Status.UNKNOWN and "no printer supplies" in r.message


# --- UPS ------------------------------------------------------------------------------------

UPS_TH = tpl.template_thresholds("ups", None, None)


def ups(battery: int | None, charge: int | None = 100, minutes: int = 60, source: int = 3) -> dict:
    return {
        tpl.UPS_BATTERY_STATUS: battery,
        tpl.UPS_CHARGE_REMAINING: charge,
        tpl.UPS_MINUTES_REMAINING: minutes,
        tpl.UPS_OUTPUT_SOURCE: source,
    }


@pytest.mark.parametrize(
    ("answers", "status", "message"),
    [
        (ups(2), Status.OK, "battery normal, charge 100 %, 60 min remaining"),
        (ups(2, source=5), Status.WARNING, "on battery, battery normal, charge 100 %"),
        (ups(3, charge=60), Status.CRITICAL, "battery low, charge 60 %"),
        (ups(4, charge=0), Status.CRITICAL, "battery depleted, charge 0 % (critical)"),
        (ups(1), Status.UNKNOWN, "battery status unknown"),
        (ups(2, charge=40), Status.WARNING, "battery normal, charge 40 % (warning)"),
        (ups(2, charge=15, source=5), Status.CRITICAL, "on battery, battery normal, charge 15 %"),
        (ups(2, source=2), Status.CRITICAL, "output off"),
        (ups(2, source=4), Status.WARNING, "on bypass"),
        (ups(2, charge=None), Status.OK, "battery normal, 60 min remaining"),
    ],
)
def test_ups(answers: dict, status: Status, message: str) -> None:
    r = tpl.evaluate_ups(answers, UPS_TH)
    assert r.status is status
    assert r.message.startswith(message), r.message


def test_ups_metrics_and_missing_mib() -> None:
    r = tpl.evaluate_ups(ups(2, charge=97, minutes=42), UPS_TH)
    assert [(m.name, m.value, m.unit) for m in r.metrics] == [
        ("charge", 97, "%"),
        ("minutes_remaining", 42, ""),
    ]
    r = tpl.evaluate_ups(ups(None), UPS_TH)
    assert r.status is Status.UNKNOWN and "no UPS-MIB" in r.message


# --- storage --------------------------------------------------------------------------------

S = tpl.HR_STORAGE_ENTRY
DISK, RAM = tpl.HR_STORAGE_FIXED_DISK, "1.3.6.1.2.1.25.2.1.2"
STORAGE_TH = tpl.template_thresholds("storage", None, None)


def storage(*rows: tuple[int, str, str, int, int, int]) -> dict[str, tpl.Value]:
    """(index, type, description, allocation units, size, used) per storage."""
    out: dict[str, tpl.Value] = {}
    for i, kind, descr, units, size, used in rows:
        out |= {f"{S}.2.{i}": kind, f"{S}.3.{i}": descr, f"{S}.4.{i}": units}
        out |= {f"{S}.5.{i}": size, f"{S}.6.{i}": used}
    return out


ROWS = storage(
    (1, RAM, "Physical memory", 1024, 1000, 990),
    (31, DISK, "/", 4096, 1000, 900),
    (36, DISK, "/var", 4096, 1000, 500),
    (37, DISK, "/run/netns", 4096, 0, 0),
)


def test_storage_fixed_disks_by_default() -> None:
    r = tpl.evaluate_storage(ROWS, STORAGE_TH, None)
    assert r.status is Status.WARNING
    assert r.message == "/ 90 % used (3.5 MiB of 3.9 MiB) (warning); 1 other storage ok"
    assert [(m.name, m.value, m.warn, m.crit) for m in r.metrics] == [
        ("/", 90, "85", "95"),
        ("/var", 50, "85", "95"),
    ]


def test_storage_name_filter_takes_any_type_and_globs() -> None:
    r = tpl.evaluate_storage(ROWS, STORAGE_TH, "Physical memory")
    assert r.status is Status.CRITICAL and r.message.startswith("Physical memory 99 % used")
    assert [m.name for m in tpl.evaluate_storage(ROWS, STORAGE_TH, "/v*").metrics] == ["/var"]
    r = tpl.evaluate_storage(ROWS, STORAGE_TH, "/srv")
    assert r.status is Status.UNKNOWN and "matching '/srv'" in r.message


def test_storage_sizes_that_wrapped_negative() -> None:
    rows = storage((1, DISK, "/big", 65536, -(2**31), -(2**31) + 1000))
    (m,) = tpl.evaluate_storage(rows, STORAGE_TH, None).metrics
    assert m.value == pytest.approx(100 * (2**31 + 1000) / 2**31, abs=0.01)


# --- uptime ---------------------------------------------------------------------------------


def test_uptime_prefers_the_hosts_own() -> None:
    answers = {
        tpl.HR_SYSTEM_UPTIME: 9_000_000,
        tpl.SYS_UPTIME: 1_000,
        tpl.SYS_NAME: "nas1",
        tpl.SYS_DESCR: "Linux nas1 6.1.0\nsecond line",
    }
    r = tpl.evaluate_uptime(answers, Thresholds())
    assert r.status is Status.OK
    assert r.message == "up 1 d 1 h - nas1: Linux nas1 6.1.0"
    assert [(m.name, m.value, m.unit) for m in r.metrics] == [("uptime", 90000, "s")]


def test_uptime_falls_back_to_sysuptime_and_warns_after_a_reboot() -> None:
    answers = {tpl.HR_SYSTEM_UPTIME: None, tpl.SYS_UPTIME: 30_000}
    th = tpl.template_thresholds("uptime", "3600", None)
    r = tpl.evaluate_uptime(answers, th)
    assert r.status is Status.WARNING
    assert r.message == "up 5 min 0 s (rebooted recently) (outside warning range 3600:)"
    assert tpl.evaluate_uptime({tpl.SYS_UPTIME: None}, th).status is Status.UNKNOWN


def test_summary_lists_the_worst_first() -> None:
    rows = [(Status.WARNING, "a"), (Status.OK, "b"), (Status.CRITICAL, "c"), (Status.UNKNOWN, "d")]
    status, message, details = tpl.summarize(rows, ("row", "rows"))
    assert status is Status.CRITICAL
    assert message == "c (critical), a (warning), d (unknown); 1 other row ok"
    assert details.splitlines() == ["WARNING a", "OK b", "CRITICAL c", "UNKNOWN d"]

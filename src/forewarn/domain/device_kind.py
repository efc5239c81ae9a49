"""A guess at what a device found by a network sweep is, from what it showed of itself.

The clues, strongest first: the vendor SNMP names in sysObjectID (an IANA private enterprise
number, sometimes a product line below it), words in sysDescr, the vendor part (OUI) of its
MAC address, and last the TCP ports it accepts connections on. The guess is a suggestion a
technician confirms when adopting the device, never a fact; every guess says why.

The vendor tables are small on purpose and hold only assignments from the registries
(IANA enterprise numbers, IEEE OUIs) for makers whose products are mostly of one kind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class DeviceKind(StrEnum):
    PRINTER = "printer"
    NETWORK_DEVICE = "network_device"  # switch, router, access point, firewall
    NAS = "nas"
    SERVER = "server"
    WORKSTATION = "workstation"
    UPS = "ups"
    OTHER = "other"


P, NET, NAS, UPS = DeviceKind.PRINTER, DeviceKind.NETWORK_DEVICE, DeviceKind.NAS, DeviceKind.UPS

# IANA private enterprise numbers (1.3.6.1.4.1.N) -> maker, and its kind when the maker's
# SNMP-speaking products are nearly all of one kind (None: it depends on the product).
ENTERPRISES: dict[int, tuple[str, DeviceKind | None]] = {
    9: ("Cisco", NET),
    2636: ("Juniper", NET),
    4526: ("Netgear", NET),
    14988: ("MikroTik", NET),
    41112: ("Ubiquiti", NET),
    30065: ("Arista", NET),
    14823: ("Aruba", NET),
    11863: ("TP-Link", NET),
    171: ("D-Link", NET),
    2011: ("Huawei", NET),
    12356: ("Fortinet", NET),
    25461: ("Palo Alto Networks", NET),
    6574: ("Synology", NAS),
    24681: ("QNAP", NAS),
    318: ("APC", UPS),
    534: ("Eaton", UPS),
    2435: ("Brother", P),
    1602: ("Canon", P),
    1248: ("Epson", P),
    367: ("Ricoh", P),
    253: ("Xerox", P),
    641: ("Lexmark", P),
    1347: ("Kyocera", P),
    11: ("HP", None),
    311: ("Microsoft", None),
    8072: ("net-snmp", None),
}
_ENTERPRISES_ROOT = "1.3.6.1.4.1."

# Product lines below a maker whose kind depends on the product, longest prefix wins.
PRODUCT_LINES: dict[str, DeviceKind] = {
    "1.3.6.1.4.1.11.2.3.9": P,  # HP network printers (JetDirect)
    "1.3.6.1.4.1.11.2.3.7": NET,  # HP ProCurve switches
    "1.3.6.1.4.1.311.1.1.3.1.1": DeviceKind.WORKSTATION,  # Windows workstation
    "1.3.6.1.4.1.311.1.1.3.1.2": DeviceKind.SERVER,  # Windows server
    "1.3.6.1.4.1.311.1.1.3.1.3": DeviceKind.SERVER,  # Windows domain controller
}

# IEEE OUIs of makers whose devices are nearly all of one kind.
OUIS: dict[str, tuple[str, DeviceKind]] = {
    "00:11:32": ("Synology", NAS),
    "90:09:d0": ("Synology", NAS),
    "24:5e:be": ("QNAP", NAS),
    "00:c0:b7": ("APC", UPS),
    "00:80:77": ("Brother", P),
    "fc:ec:da": ("Ubiquiti", NET),
}

# Words in sysDescr, checked in this order: appliances before the operating systems they run
# (a Synology's sysDescr says "Linux", a printer's may say "VxWorks").
_WORDS: tuple[tuple[DeviceKind, tuple[str, ...]], ...] = (
    (UPS, ("ups", "smart-ups", "network management card", "powerware")),
    (
        P,
        (
            "printer",
            "laserjet",
            "officejet",
            "deskjet",
            "pagewide",
            "designjet",
            "jetdirect",
            "imagerunner",
            "workcentre",
            "versalink",
            "ecosys",
            "taskalfa",
            "bizhub",
        ),
    ),
    (NAS, ("synology", "diskstation", "rackstation", "qnap", "readynas", "truenas", "freenas")),
    (
        NET,
        (
            "cisco ios",
            "ios-xe",
            "nx-os",
            "junos",
            "routeros",
            "edgeos",
            "edgeswitch",
            "unifi",
            "procurve",
            "arubaos",
            "fortigate",
            "pan-os",
            "openwrt",
            "switch",
            "router",
            "access point",
            "firewall",
        ),
    ),
    (DeviceKind.SERVER, ("windows server", "esxi", "vmware", "proxmox")),
    (DeviceKind.WORKSTATION, ("windows 10", "windows 11", "mac os x", "macos", "darwin")),
)
_PATTERNS = tuple(
    (kind, re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE))
    for kind, words in _WORDS
)

PORT_NAMES: dict[int, str] = {
    22: "ssh",
    25: "smtp",
    53: "dns",
    80: "http",
    139: "netbios",
    443: "https",
    445: "smb",
    515: "lpd",
    631: "ipp",
    3306: "mysql",
    3389: "rdp",
    5000: "synology dsm",
    5001: "synology dsm (https)",
    5432: "postgresql",
    8080: "http-alt",
    9100: "raw printing",
}
_SERVER_PORTS = frozenset({25, 53, 3306, 5432})
_SMB = frozenset({139, 445})


@dataclass(frozen=True)
class Clues:
    """What a sweep saw of one device."""

    open_ports: frozenset[int] = frozenset()
    sys_descr: str = ""
    sys_object_id: str = ""
    mac: str = ""


@dataclass(frozen=True)
class Guess:
    kind: DeviceKind
    reason: str


def guess(clues: Clues) -> Guess:
    """The most likely kind of device, and the clue that decided it."""
    for decide in (_by_object_id, _by_descr, _by_mac, _by_ports):
        found = decide(clues)
        if found is not None:
            return found
    return Guess(DeviceKind.OTHER, "nothing it showed names a kind")


def enterprise(sys_object_id: str) -> int | None:
    """The IANA enterprise number in a sysObjectID (1.3.6.1.4.1.N...), if it has one."""
    oid = sys_object_id.strip().lstrip(".")
    if not oid.startswith(_ENTERPRISES_ROOT):
        return None
    head = oid[len(_ENTERPRISES_ROOT) :].split(".", 1)[0]
    return int(head) if head.isdigit() else None


def mac_vendor(mac: str) -> str | None:
    """The maker of a MAC address, when its OUI is one of the few in the table."""
    hit = OUIS.get(normalize_mac(mac)[:8])
    return hit[0] if hit else None


def normalize_mac(mac: str) -> str:
    """aa:bb:cc:dd:ee:ff, lower case, from the usual spellings ('-', '.', none); '' if not one."""
    digits = re.sub(r"[^0-9a-fA-F]", "", mac).lower()
    if len(digits) != 12 or re.search(r"[^0-9a-fA-F:.\-\s]", mac):
        return ""
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def describe_ports(ports: Iterable[int]) -> str:
    return ", ".join(f"{p} ({PORT_NAMES[p]})" if p in PORT_NAMES else str(p) for p in sorted(ports))


def _by_object_id(c: Clues) -> Guess | None:
    oid = c.sys_object_id.strip().lstrip(".")
    lines = [p for p in PRODUCT_LINES if oid == p or oid.startswith(p + ".")]
    if lines:
        line = max(lines, key=len)
        return Guess(PRODUCT_LINES[line], f"sysObjectID {oid} is under {line}")
    number = enterprise(oid)
    if number is None or number not in ENTERPRISES:
        return None
    maker, kind = ENTERPRISES[number]
    if kind is None:
        return None
    return Guess(kind, f"sysObjectID names {maker} (enterprise {number})")


def _by_descr(c: Clues) -> Guess | None:
    for kind, pattern in _PATTERNS:
        m = pattern.search(c.sys_descr)
        if m:
            return Guess(kind, f"sysDescr mentions {m.group(1)!r}")
    return None


def _by_mac(c: Clues) -> Guess | None:
    hit = OUIS.get(normalize_mac(c.mac)[:8])
    if hit is None:
        return None
    maker, kind = hit
    return Guess(kind, f"MAC address of {maker}")


def _by_ports(c: Clues) -> Guess | None:
    ports = c.open_ports
    if not ports:
        return None
    shown = f"open TCP ports {describe_ports(ports)}"
    if 9100 in ports or 515 in ports:
        return Guess(P, shown)
    if ports & {5000, 5001} and ports & _SMB:
        return Guess(NAS, shown)
    if ports & _SERVER_PORTS:
        return Guess(DeviceKind.SERVER, shown)
    if 3389 in ports or ports & _SMB:
        return Guess(DeviceKind.WORKSTATION, shown)
    if 22 in ports:
        return Guess(DeviceKind.SERVER, shown)
    if 631 in ports:
        return Guess(P, shown)
    return None

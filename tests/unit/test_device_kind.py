"""The guess at a found device's kind, from its ports, SNMP answers and MAC address."""

from __future__ import annotations

import pytest

from forewarn.domain.device_kind import (
    Clues,
    DeviceKind,
    enterprise,
    guess,
    mac_vendor,
    normalize_mac,
)

K = DeviceKind


@pytest.mark.parametrize(
    ("clues", "kind"),
    [
        # Ports alone.
        (Clues(frozenset({9100})), K.PRINTER),
        (Clues(frozenset({80, 443, 515, 631})), K.PRINTER),
        (Clues(frozenset({80, 631})), K.PRINTER),
        (Clues(frozenset({22, 443})), K.SERVER),
        (Clues(frozenset({22, 631})), K.SERVER),  # a Linux box that shares a printer
        (Clues(frozenset({25, 443})), K.SERVER),
        (Clues(frozenset({53, 445, 3389})), K.SERVER),  # a Windows domain controller
        (Clues(frozenset({5432})), K.SERVER),
        (Clues(frozenset({139, 445, 3389})), K.WORKSTATION),
        (Clues(frozenset({3389})), K.WORKSTATION),
        (Clues(frozenset({139, 445, 5000, 5001})), K.NAS),
        (Clues(frozenset({80, 443})), K.OTHER),
        (Clues(frozenset({5000})), K.OTHER),
        (Clues(), K.OTHER),
        # sysDescr outweighs ports.
        (Clues(frozenset({22, 80}), "HP LaserJet test"), K.PRINTER),
        (Clues(frozenset({22, 443}), "Cisco IOS Software, C2960 Software"), K.NETWORK_DEVICE),
        (Clues(frozenset({22, 443}), "RouterOS CCR1009"), K.NETWORK_DEVICE),
        (Clues(frozenset({22, 5000}), "Linux DiskStation 4.4.180+ #42962 SMP"), K.NAS),
        (Clues(frozenset({80}), "APC Smart-UPS 1500"), K.UPS),
        (Clues(frozenset(), "Linux fs01 6.1.0-18-amd64 #1 SMP Debian"), K.OTHER),
        (Clues(frozenset({22}), "Linux fs01 6.1.0-18-amd64 #1 SMP Debian"), K.SERVER),
        (Clues(frozenset(), "VMware ESXi 8.0.2 build-22380479"), K.SERVER),
        # "ups" is a word, not a part of one.
        (Clues(frozenset({3389}), "Terminal server for groups"), K.WORKSTATION),
        # sysObjectID outweighs sysDescr; product lines outweigh the maker.
        (Clues(frozenset({9100}), "Linux", "1.3.6.1.4.1.9.1.1208"), K.NETWORK_DEVICE),
        (Clues(frozenset(), "", ".1.3.6.1.4.1.6574.1"), K.NAS),
        (Clues(frozenset(), "", "1.3.6.1.4.1.318.1.3.27"), K.UPS),
        (Clues(frozenset(), "", "1.3.6.1.4.1.2435.2.3.9.1"), K.PRINTER),
        (Clues(frozenset(), "", "1.3.6.1.4.1.11.2.3.9.1"), K.PRINTER),
        (Clues(frozenset(), "", "1.3.6.1.4.1.11.2.3.7.11.87"), K.NETWORK_DEVICE),
        (Clues(frozenset(), "", "1.3.6.1.4.1.311.1.1.3.1.1"), K.WORKSTATION),
        (Clues(frozenset(), "", "1.3.6.1.4.1.311.1.1.3.1.2"), K.SERVER),
        # A maker of many kinds decides nothing: the next clue does.
        (Clues(frozenset({22}), "", "1.3.6.1.4.1.8072.3.2.10"), K.SERVER),
        (Clues(frozenset(), "HP ETHERNET MULTI-ENVIRONMENT", "1.3.6.1.4.1.11.9"), K.OTHER),
        # The MAC address's maker, before ports.
        (Clues(frozenset({22, 80}), mac="00:11:32:aa:bb:cc"), K.NAS),
        (Clues(frozenset({80}), mac="00-C0-B7-12-34-56"), K.UPS),
        (Clues(frozenset({80}), mac="0080.77ab.cdef"), K.PRINTER),
        (Clues(frozenset({22}), mac="02:00:0a:e7:01:02"), K.SERVER),
    ],
)
def test_guess(clues: Clues, kind: DeviceKind) -> None:
    g = guess(clues)
    assert g.kind is kind, g.reason
    assert g.reason


def test_every_guess_says_why() -> None:
    assert "9100 (raw printing)" in guess(Clues(frozenset({9100, 80}))).reason
    assert "Synology" in guess(Clues(frozenset(), "", "1.3.6.1.4.1.6574.1")).reason
    assert "'laserjet'" in guess(Clues(frozenset(), "HP LaserJet 400")).reason.lower()
    assert "APC" in guess(Clues(mac="00:c0:b7:00:00:01")).reason


def test_enterprise_numbers_and_mac_addresses() -> None:
    assert enterprise("1.3.6.1.4.1.9.1.1208") == 9
    assert enterprise(".1.3.6.1.4.1.41112") == 41112
    assert enterprise("1.3.6.1.2.1.1") is None
    assert enterprise("") is None
    assert normalize_mac("AA-BB-CC-DD-EE-FF") == "aa:bb:cc:dd:ee:ff"
    assert normalize_mac("aabb.ccdd.eeff") == "aa:bb:cc:dd:ee:ff"
    assert normalize_mac("aa:bb:cc:dd:ee") == ""
    assert normalize_mac("zz:bb:cc:dd:ee:ff") == ""
    assert mac_vendor("00:11:32:01:02:03") == "Synology"
    assert mac_vendor("02:00:00:00:00:01") is None

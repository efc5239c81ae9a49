"""Network interfaces: name, hardware address, IP addresses, link state and speed."""

from __future__ import annotations

import socket
from typing import Any

import psutil

MAX_INTERFACES = 1000
MAX_ADDRESSES = 256
IP_FAMILIES = (socket.AF_INET, socket.AF_INET6)


def interface_entry(name: str, addrs: list[Any], stats: Any | None) -> dict[str, Any]:
    """One Interface from psutil's address list and stats (None when stats are missing)."""
    mac = ""
    addresses: set[str] = set()
    for a in addrs:
        if a.family == psutil.AF_LINK:
            mac = (a.address or "").lower()
        elif a.family in IP_FAMILIES and a.address:
            addresses.add(a.address)
    speed = getattr(stats, "speed", 0) or 0
    return {
        "name": name[:255],
        "mac": mac[:255],
        "addresses": sorted(a[:255] for a in addresses)[:MAX_ADDRESSES],
        "up": bool(getattr(stats, "isup", True)),
        # psutil says 0 when the driver does not know (virtual NICs, Wi-Fi on some drivers).
        "speed_mbps": int(speed) if speed > 0 else None,
    }


def collect() -> list[dict[str, Any]] | None:
    """The Interfaces section of the inventory; None when the system refused to list them."""
    try:
        addrs = psutil.net_if_addrs()
    except (OSError, RuntimeError):
        return None
    try:
        stats = psutil.net_if_stats()
    except (OSError, RuntimeError):
        stats = {}
    names = sorted(addrs.keys() | stats.keys())[:MAX_INTERFACES]
    return [interface_entry(n, addrs.get(n, []), stats.get(n)) for n in names]

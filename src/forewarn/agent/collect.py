"""The inventory: every collector's section in one dict, and change detection per section.

The runtime sends an inventory only when a section changed (`changed_sections`) and in full
once a day (`collect_inventory` as is). Sections are compared by hash, computed over a
canonical form in which list order does not matter, so the order a tool happens to print
things in never looks like a change.

A collector that could not read its facts this time answers None; its section is then left
out, which the server reads as "unchanged" — better than an empty list it would read as
"everything was removed".
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from forewarn.agent.collectors import (
    accounts,
    disks,
    firewall,
    hardware,
    interfaces,
    listeners,
    logins,
    packages,
    services,
    system,
    timesync,
    updates,
)

log = logging.getLogger(__name__)

# In the order of wire.Inventory's fields; tests check the two agree.
COLLECTORS: dict[str, Callable[[], Any]] = {
    "system": system.collect,
    "hardware": hardware.collect,
    "disks": disks.collect,
    "interfaces": interfaces.collect,
    "packages": packages.collect,
    "services": services.collect,
    "listeners": listeners.collect,
    "accounts": accounts.collect,
    "logins": logins.collect,
    "time_sync": timesync.collect,
    "firewall": firewall.collect,
    "updates": updates.collect,
}
SECTIONS = tuple(COLLECTORS)


def collect_section(name: str) -> Any:
    """One section's current value, or None when its collector failed unexpectedly.

    Collectors handle what a system may lack themselves; this guard is for bugs, so that one
    broken collector costs its own section and not the whole inventory.
    """
    try:
        return COLLECTORS[name]()
    except Exception:
        log.exception("inventory: collecting %s failed; leaving it out", name)
        return None


def collect_inventory() -> dict[str, Any]:
    """A full Inventory dict: every section that could be collected, and "full": True."""
    inventory: dict[str, Any] = {"full": True}
    for name in SECTIONS:
        value = collect_section(name)
        if value is not None:
            inventory[name] = value
    return inventory


def canonical(value: Any) -> Any:
    """`value` with every list sorted, so equal contents give equal JSON whatever the order.

    Lists in the inventory are sets by meaning (packages, addresses of an interface), so
    sorting them loses nothing.
    """
    if isinstance(value, Mapping):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [canonical(v) for v in value]
        return sorted(items, key=_json)
    return value


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def section_hash(value: Any) -> str:
    """A stable digest of one section's content."""
    return hashlib.sha256(_json(canonical(value)).encode()).hexdigest()


def section_hashes(inventory: Mapping[str, Any]) -> dict[str, str]:
    """A digest per section present in `inventory` (sections left out have none)."""
    return {
        name: section_hash(inventory[name]) for name in SECTIONS if inventory.get(name) is not None
    }


def changed_sections(
    inventory: Mapping[str, Any], last_hashes: Mapping[str, str]
) -> dict[str, Any]:
    """An Inventory dict ("full": False) holding only sections whose hash differs from before.

    `last_hashes` are the digests of what the server last acknowledged. After it
    acknowledges this one, merge section_hashes(inventory) over them: a section left out
    because it could not be read keeps its old digest.
    """
    out: dict[str, Any] = {"full": False}
    for name, digest in section_hashes(inventory).items():
        if last_hashes.get(name) != digest:
            out[name] = inventory[name]
    return out

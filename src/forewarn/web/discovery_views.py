"""Network discovery on the pages: an organization's networks with their last sweep, the
devices found (filtered by state, newest first, a page at a time) and the words for them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from forewarn.domain.device_kind import Clues, DeviceKind, describe_ports, guess
from forewarn.domain.inventory import AssetKind
from forewarn.services import agents, discovery, findings, sites
from forewarn.services.context import Context
from forewarn.services.discovery import DeviceOut, NetworkOut, RunOut
from forewarn.services.errors import not_found
from forewarn.services.findings import FindingOut
from forewarn.services.pagination import MAX_LIMIT, Page
from forewarn.services.schemas import MAX_ID
from forewarn.services.scope import Actor
from forewarn.web.labels import kind_label

T = TypeVar("T")
PAGE_SIZE = 50
# The state filter of the devices list, as it stands in the URL; "new" needs someone.
STATES = [("new", "New"), ("adopted", "Adopted"), ("ignored", "Ignored"), ("all", "All")]
_STATE_KEYS = {key for key, _ in STATES}
# What the sweep button and the empty state promise; the figures are discover.Bounds'.
SWEEP_NOTE = (
    "A sweep runs while you wait and may take up to two minutes: it pings each address, "
    "tries a few common TCP ports, asks SNMP with the communities given and looks up "
    "reverse DNS names, at most 200 probes a second, and stops after 120 s."
)
NEVER_SWEPT = (
    "Only the networks entered here are swept, each at most a /22 of IPv4 (1,024 addresses) "
    "or a /120 of IPv6. Loopback, link-local (169.254.0.0/16, fe80::/10), multicast, "
    "broadcast and 0.0.0.0/8 are never swept."
)


def _every(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every item of a paginated service list."""
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        yield from page.items
        if not page.next_cursor:
            return
        cursor = page.next_cursor


# ---- networks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkRow:
    network: NetworkOut
    site_name: str
    last_run: RunOut | None
    agent_name: str = ""  # the agent that sweeps it; "" when the server does


def networks(ctx: Context, actor: Actor, org_id: int) -> list[NetworkOut]:
    return list(
        _every(
            lambda c: discovery.list_networks(ctx, actor, org_id=org_id, limit=MAX_LIMIT, cursor=c)
        )
    )


def site_names(ctx: Context, actor: Actor, org_id: int) -> dict[int, str]:
    found = _every(lambda c: sites.list_(ctx, actor, org_id=org_id, limit=MAX_LIMIT, cursor=c))
    return {s.id: s.name for s in found}


def agent_names(ctx: Context, actor: Actor, org_id: int) -> dict[int, str]:
    """The organization's agents by id, named by their machine's host name."""
    found = _every(
        lambda c: agents.list_agents(ctx, actor, org_id=org_id, limit=MAX_LIMIT, cursor=c)
    )
    return {a.id: a.hostname or f"agent {a.id}" for a in found}


def network_rows(
    ctx: Context,
    actor: Actor,
    found: list[NetworkOut],
    names: dict[int, str],
    agent_names: dict[int, str],
) -> list[NetworkRow]:
    """Each network with its site's name, its agent and its latest run (one small query each)."""
    rows = []
    for net in found:
        runs = discovery.list_runs(ctx, actor, org_id=net.org_id, network_id=net.id, limit=1)
        site = names.get(net.site_id, "") if net.site_id else ""
        agent = agent_names.get(net.agent_id, f"agent {net.agent_id}") if net.agent_id else ""
        rows.append(NetworkRow(net, site, runs.items[0] if runs.items else None, agent))
    return rows


def run_state(status: str) -> tuple[str, str]:
    """A run's state in the one palette, with its own word."""
    return {
        "done": ("ok", "Done"),
        "failed": ("critical", "Failed"),
        "running": ("unknown", "Running"),
    }.get(status, ("unknown", status.capitalize()))


def communities_text(count: int) -> str:
    return "none" if count == 0 else f"{count} {'community' if count == 1 else 'communities'}"


# ---- devices ----------------------------------------------------------------------------------


def org_devices(ctx: Context, actor: Actor, org_id: int) -> list[DeviceOut]:
    """All the organization's devices, newest first (the service lists oldest first).

    Newest is the latest first sighting; a device whose address another took counts anew.
    """
    found = _every(
        lambda c: discovery.list_devices(ctx, actor, org_id=org_id, limit=MAX_LIMIT, cursor=c)
    )
    return sorted(found, key=lambda d: (d.first_seen, d.id), reverse=True)


def find_device(ctx: Context, actor: Actor, org_id: int, device_id: int) -> DeviceOut:
    for device in org_devices(ctx, actor, org_id):
        if device.id == device_id:
            return device
    raise not_found("discovered device")


def all_findings(ctx: Context, actor: Actor, org_id: int) -> list[FindingOut]:
    """Every finding of the organization, newest first."""
    return list(
        _every(
            lambda c: findings.list_findings(ctx, actor, org_id=org_id, limit=MAX_LIMIT, cursor=c)
        )
    )


def read_state(value: str | None) -> str:
    """The state filter; anything unknown reads as the default, "new"."""
    return value if value in _STATE_KEYS else "new"


def read_id(value: str | None) -> int | None:
    """An id from the URL; anything else is no filter."""
    if not value or len(value) > 10 or not value.isdigit():
        return None
    return int(value) if 0 < int(value) <= MAX_ID else None


def read_page(value: str | None) -> int:
    try:
        return max(1, min(int(value or "1"), 100_000))
    except ValueError:
        return 1


@dataclass(frozen=True)
class DeviceTable:
    org_id: int
    state: str
    page: int
    items: list[DeviceOut]
    total: int
    counts: dict[str, int]
    network_id: int | None = None

    def url(self, state: str | None = None, page: int = 1) -> str:
        return devices_url(self.org_id, state or self.state, page, self.network_id)

    @property
    def all_networks_url(self) -> str:
        return devices_url(self.org_id, self.state)

    @property
    def next_url(self) -> str | None:
        more = self.page * PAGE_SIZE < self.total
        return self.url(page=self.page + 1) if more else None

    @property
    def previous_url(self) -> str | None:
        return self.url(page=self.page - 1) if self.page > 1 else None

    @property
    def first_index(self) -> int:
        return (self.page - 1) * PAGE_SIZE + 1


def devices_url(org_id: int, state: str, page: int = 1, network_id: int | None = None) -> str:
    """The devices list with its filters, as it can be bookmarked and shared."""
    params = {"state": state}
    if network_id:
        params["network"] = str(network_id)
    if page > 1:
        params["page"] = str(page)
    return f"/orgs/{org_id}/discovery/devices?{urlencode(params)}"


def device_table(
    devices: list[DeviceOut], org_id: int, state: str, page: int, network_id: int | None = None
) -> DeviceTable:
    """One page of the devices in `state` (of one network, when given), with the counts of
    each state that the filter links show."""
    if network_id is not None:
        devices = [d for d in devices if d.network_id == network_id]
    counts = {key: 0 for key in _STATE_KEYS}
    for d in devices:
        counts[d.state] = counts.get(d.state, 0) + 1
    counts["all"] = len(devices)
    chosen = devices if state == "all" else [d for d in devices if d.state == state]
    last_page = max(1, -(-len(chosen) // PAGE_SIZE))
    page = min(page, last_page)
    start = (page - 1) * PAGE_SIZE
    shown = chosen[start : start + PAGE_SIZE]
    return DeviceTable(org_id, state, page, shown, len(chosen), counts, network_id)


def guess_label(kind: str) -> str:
    return "NAS" if kind == DeviceKind.NAS else kind_label(kind)


def kind_reason(device: DeviceOut, evidence: dict[str, Any] | None = None) -> str:
    """Why the sweep guessed this kind.

    The device row keeps the guess, not its reason: the reason is asked again of the same
    rule with the clues that were stored. The SNMP sysObjectID is not stored, so when the
    answer differs that was the deciding clue; a finding's evidence has it word for word.
    """
    if evidence and evidence.get("kind_guess") == device.kind_guess and evidence.get("kind_reason"):
        return str(evidence["kind_reason"])
    again = guess(Clues(frozenset(device.open_ports), device.sys_descr, "", device.mac))
    if again.kind == device.kind_guess:
        return again.reason
    return "the maker named in its SNMP sysObjectID"


def ports_text(ports: list[int]) -> str:
    return describe_ports(ports) or "none"


def device_label(device: DeviceOut) -> str:
    """How the pages name a device: its SNMP name, its DNS name, else its address."""
    return device.sys_name or device.hostname or device.address


def default_kind(device: DeviceOut) -> str:
    """The asset kind adopting proposes: the guess, a NAS as a server (the service tags it)."""
    if device.kind_guess == DeviceKind.NAS:
        return AssetKind.SERVER.value
    kinds = {k.value for k in AssetKind}
    return device.kind_guess if device.kind_guess in kinds else AssetKind.OTHER.value


def default_name(device: DeviceOut) -> str:
    """The asset name adopting proposes, as the service would choose it (before it makes a
    taken name unique by adding the address)."""
    label = device.sys_name or device.hostname.split(".", 1)[0]
    return (label or f"{default_kind(device)}-{device.address}").strip()[:150] or device.address


KIND_OPTIONS = [(k.value, kind_label(k.value)) for k in AssetKind]

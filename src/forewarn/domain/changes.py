"""What changed on a machine between two inventories: pure, so it is tested without a database.

Each list section has a natural key (a package by name and architecture, a listener by
protocol, address and port); an item present only after is "added", only before is "removed",
and one whose watched fields differ is "changed". Single-object sections (system, hardware,
time sync) are compared field by field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Item = dict[str, Any]


@dataclass(frozen=True)
class Change:
    section: str
    change: str  # added | removed | changed
    key: str
    summary: str
    before: Any
    after: Any


@dataclass(frozen=True)
class ListRule:
    key: Callable[[Item], str]
    watched: tuple[str, ...]
    noun: str
    describe: Callable[[Item], str]


def _pkg(i: Item) -> str:
    return f"{i.get('name', '')}:{i.get('arch', '')}" if i.get("arch") else str(i.get("name", ""))


LIST_RULES: dict[str, ListRule] = {
    "packages": ListRule(_pkg, ("version",), "package", lambda i: f"{i['name']} {i['version']}"),
    "services": ListRule(
        lambda i: str(i["name"]),
        ("state", "enabled"),
        "service",
        lambda i: f"{i['name']} ({i.get('state', '')})",
    ),
    "listeners": ListRule(
        lambda i: f"{i['proto']} {i['address']}:{i['port']}",
        ("process",),
        "listening port",
        lambda i: (
            f"{i['proto']} {i['address']}:{i['port']}"
            + (f" ({i['process']})" if i.get("process") else "")
        ),
    ),
    "accounts": ListRule(
        lambda i: str(i["name"]),
        ("uid", "admin", "locked", "shell"),
        "account",
        lambda i: str(i["name"]) + (" (administrator)" if i.get("admin") else ""),
    ),
    "disks": ListRule(
        lambda i: str(i["mount"]),
        ("device", "fstype", "total_bytes"),
        "file system",
        lambda i: f"{i['mount']} ({i.get('device', '')})",
    ),
    "interfaces": ListRule(
        lambda i: str(i["name"]),
        ("mac", "addresses", "up"),
        "network interface",
        lambda i: str(i["name"]),
    ),
}
# Logins are a log, not a state: each new one is "added", none is ever "removed".
OBJECT_SECTIONS = {"system", "hardware", "time_sync", "firewall"}
OBJECT_WATCHED = {
    "system": ("hostname", "os_name", "os_version", "kernel", "arch", "timezone"),
    "hardware": ("cpu_model", "cpu_cores", "memory_bytes", "vendor", "model", "serial"),
    "time_sync": ("synchronized", "service"),
    "firewall": ("active", "tool", "input_policy"),
}


def _changed_summary(section: str, rule: ListRule, before: Item, after: Item) -> str:
    name = rule.key(after)
    if section == "packages":
        return f"{after['name']} upgraded {before.get('version')} → {after.get('version')}"
    if section == "services":
        was, now = before.get("state"), after.get("state")
        if was != now:
            verb = {"active": "started", "failed": "failed", "inactive": "stopped"}.get(
                str(now), f"is {now}"
            )
            return f"service {name} {verb} (was {was})"
        return f"service {name} now {after.get('enabled')} at boot (was {before.get('enabled')})"
    if section == "accounts" and before.get("admin") != after.get("admin"):
        became = "became" if after.get("admin") else "is no longer"
        return f"{name} {became} an administrator"
    fields = [f for f in rule.watched if before.get(f) != after.get(f)]
    return f"{rule.noun} {name}: {', '.join(fields)} changed"


def diff_list(section: str, before: list[Item] | None, after: list[Item]) -> list[Change]:
    rule = LIST_RULES[section]
    old = {rule.key(i): i for i in before or []}
    new = {rule.key(i): i for i in after}
    out: list[Change] = []
    for key in sorted(new.keys() - old.keys()):
        item = new[key]
        verb = "installed" if section == "packages" else "appeared"
        if section == "accounts" and item.get("admin"):
            verb = "added, with administrator rights"
        out.append(
            Change(section, "added", key, f"{rule.noun} {rule.describe(item)} {verb}", None, item)
        )
    for key in sorted(old.keys() - new.keys()):
        item = old[key]
        verb = "removed" if section == "packages" else "gone"
        out.append(
            Change(section, "removed", key, f"{rule.noun} {rule.describe(item)} {verb}", item, None)
        )
    for key in sorted(old.keys() & new.keys()):
        a, b = old[key], new[key]
        if any(a.get(f) != b.get(f) for f in rule.watched):
            out.append(Change(section, "changed", key, _changed_summary(section, rule, a, b), a, b))
    return out


def diff_object(section: str, before: Item | None, after: Item) -> list[Change]:
    if before is None:
        return []
    out = []
    for f in OBJECT_WATCHED[section]:
        if before.get(f) != after.get(f):
            what = f"{section.replace('_', ' ')} {f.replace('_', ' ')}"
            summary = f"{what}: {before.get(f)} → {after.get(f)}"
            out.append(Change(section, "changed", f, summary, before.get(f), after.get(f)))
    return out


def diff_logins(before: list[Item] | None, after: list[Item]) -> list[Change]:
    def key(i: Item) -> str:
        return f"{i.get('user')}@{i.get('at')}:{i.get('terminal', '')}"

    seen = {key(i) for i in before or []}
    newest = max((float(i.get("at", 0)) for i in before or []), default=0.0)
    return [
        Change(
            "logins",
            "added",
            key(i),
            f"login by {i['user']}" + (f" from {i['host']}" if i.get("host") else ""),
            None,
            i,
        )
        for i in sorted(after, key=lambda i: float(i.get("at", 0)))
        if key(i) not in seen and float(i.get("at", 0)) > newest
    ]


def diff_section(section: str, before: Any, after: Any) -> list[Change]:
    """The changes from `before` (None when the section was never seen) to `after`.

    The first inventory of a machine is its baseline, not a change: nothing is reported.
    """
    if before is None:
        return []
    if section in OBJECT_SECTIONS:
        return diff_object(section, before, after)
    if section == "logins":
        return diff_logins(before, after)
    if section in LIST_RULES:
        return diff_list(section, before, after)
    return []

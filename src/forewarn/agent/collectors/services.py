"""Services and their state: what runs, what failed, what starts at boot (systemd).

Two listings are joined: list-units says what is loaded and running, list-unit-files says
what starts at boot. A unit file that is not loaded is not running, so it is "inactive".
"""

from __future__ import annotations

import os
from typing import Any

from forewarn.agent.collectors._run import find_tool, run_tool

Service = dict[str, Any]
MAX_SERVICES = 50_000
LIST_UNITS = [
    "systemctl", "list-units", "--type=service", "--all", "--no-legend", "--no-pager", "--plain",
]  # fmt: skip
LIST_UNIT_FILES = ["systemctl", "list-unit-files", "--type=service", "--no-legend", "--no-pager"]
# systemctl marks failed or not-found units with a bullet ("*" when the locale is C).
MARKERS = ("●", "*", "○")
SUFFIX = ".service"


def _strip_marker(line: str) -> str:
    stripped = line.strip()
    for marker in MARKERS:
        if stripped.startswith(marker):
            return stripped[len(marker) :].strip()
    return stripped


def parse_list_units(text: str) -> dict[str, Service]:
    """Loaded service units by name, from `systemctl list-units --plain --no-legend` text.

    Columns: UNIT LOAD ACTIVE SUB DESCRIPTION; the description may contain spaces.
    """
    out: dict[str, Service] = {}
    for line in text.splitlines():
        fields = _strip_marker(line).split(None, 4)
        if len(fields) < 4 or not fields[0].endswith(SUFFIX):
            continue
        unit, _load, active, sub = fields[:4]
        out[unit] = {
            "name": unit[:255],
            "state": active[:255],
            "sub": sub[:255],
            "enabled": "",
            "description": (fields[4].strip() if len(fields) > 4 else "")[:255],
        }
    return out


def parse_list_unit_files(text: str) -> dict[str, str]:
    """Each service unit file's boot state (enabled, disabled, static, masked, alias, ...)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].endswith(SUFFIX):
            out[fields[0]] = fields[1]
    return out


def join_units(units: dict[str, Service], files: dict[str, str]) -> list[Service]:
    """Loaded units with their boot state, plus unit files installed but not loaded.

    Templates ("getty@.service") are not services until instantiated, and aliases are
    other names of a unit already listed, so neither is a service of its own.
    """
    merged = {name: dict(svc) for name, svc in units.items()}
    for name, svc in merged.items():
        svc["enabled"] = files.get(name, files.get(_template_of(name), ""))[:255]
    for name, state in files.items():
        if name in merged or name.endswith("@" + SUFFIX) or state == "alias":
            continue
        merged[name] = {
            "name": name[:255],
            "state": "inactive",
            "sub": "dead",
            "enabled": state[:255],
            "description": "",
        }
    return [merged[n] for n in sorted(merged)][:MAX_SERVICES]


def _template_of(unit: str) -> str:
    """ "getty@tty1.service" -> "getty@.service": an instance is enabled through its template."""
    if "@" not in unit:
        return ""
    return unit.split("@", 1)[0] + "@" + SUFFIX


def systemd_running() -> bool:
    """Whether systemd is this machine's service manager (sd_booted(3)'s own test)."""
    return os.path.isdir("/run/systemd/system")


def collect() -> list[Service] | None:
    """The Services section: [] without systemd (containers, other systems), None on failure."""
    if find_tool("systemctl") is None or not systemd_running():
        return []
    units_text = run_tool(LIST_UNITS)
    files_text = run_tool(LIST_UNIT_FILES) if units_text is not None else None
    # Half an answer would read as every service changing its boot state: send none.
    if units_text is None or files_text is None:
        return None
    return join_units(parse_list_units(units_text), parse_list_unit_files(files_text))

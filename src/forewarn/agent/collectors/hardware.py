"""What the machine is made of: processor, memory and the maker's identification (DMI)."""

from __future__ import annotations

from typing import Any

import psutil

from forewarn.agent.collectors._run import read_line, read_text

DMI_DIR = "/sys/class/dmi/id"
# /proc/cpuinfo names the processor differently per architecture; first match wins.
CPU_MODEL_KEYS = ("model name", "Processor", "cpu model", "cpu", "uarch", "Hardware")
# Firmware fills fields the maker left empty with these; they identify nothing.
DMI_PLACEHOLDERS = frozenset(
    s.lower()
    for s in (
        "To be filled by O.E.M.",
        "To Be Filled By O.E.M.",
        "Default string",
        "System Product Name",
        "System manufacturer",
        "System Serial Number",
        "System Version",
        "Not Specified",
        "Not Applicable",
        "None",
        "N/A",
        "OEM",
        "O.E.M.",
        "0",
        "0123456789",
        "123456789",
        "Type1ProductConfigId",
        "INVALID",
    )
)


def parse_cpuinfo_model(text: str) -> str:
    """The processor's model name from /proc/cpuinfo text; "" when it names none."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if sep and key and value and key not in fields:
            fields[key] = value
    for key in CPU_MODEL_KEYS:
        value = fields.get(key, "")
        # ARM's "Processor : 0" style lines number the processor rather than name it.
        if value and not value.isdigit():
            return " ".join(value.split())
    return ""


def clean_dmi(value: str) -> str:
    """A DMI field with whitespace tidied, or "" when it holds a firmware placeholder."""
    value = " ".join(value.split())
    return "" if value.lower() in DMI_PLACEHOLDERS else value


def read_dmi(name: str) -> str:
    """One DMI field; "" when there is no DMI (containers, ARM boards) or it is root-only."""
    return clean_dmi(read_line(f"{DMI_DIR}/{name}"))


def _cpu_counts() -> tuple[int | None, int | None]:
    try:
        return psutil.cpu_count(logical=False), psutil.cpu_count(logical=True)
    except (OSError, RuntimeError):
        return None, None


def _memory_bytes() -> int | None:
    try:
        return int(psutil.virtual_memory().total)
    except (OSError, RuntimeError):
        return None


def collect() -> dict[str, Any]:
    """The Hardware section of the inventory."""
    cores, threads = _cpu_counts()
    return {
        "cpu_model": parse_cpuinfo_model(read_text("/proc/cpuinfo", 1024 * 1024) or "")[:255],
        "cpu_cores": cores,
        "cpu_threads": threads,
        "memory_bytes": _memory_bytes(),
        "vendor": read_dmi("sys_vendor")[:255],
        "model": read_dmi("product_name")[:255],
        "serial": read_dmi("product_serial")[:255],
        "bios_version": read_dmi("bios_version")[:255],
    }

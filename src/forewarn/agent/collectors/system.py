"""The machine's identity: host name, operating system, kernel, boot time, time zone."""

from __future__ import annotations

import os
import platform
import socket
from typing import Any

import psutil

from forewarn.agent.collectors._run import read_line, read_text

OS_RELEASE_PATHS = ("/etc/os-release", "/usr/lib/os-release")
MACHINE_ID_PATHS = ("/etc/machine-id", "/var/lib/dbus/machine-id")
# The wire refuses times before 2001: a machine whose clock was never set reports 1970.
MIN_EPOCH = 978_307_200.0
MAX_EPOCH = 4_102_444_800.0


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value pairs of an os-release file, with shell-style quotes and escapes removed."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip()
        if not key.isidentifier():
            continue
        out[key] = _unquote(value.strip())
    return out


def _unquote(value: str) -> str:
    """Undo the shell quoting os-release(5) allows: "double" (with \\ escapes) or 'single'."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        if value[0] == "'":
            return inner
        out, i = [], 0
        while i < len(inner):
            if inner[i] == "\\" and i + 1 < len(inner) and inner[i + 1] in '\\"$`':
                out.append(inner[i + 1])
                i += 2
            else:
                out.append(inner[i])
                i += 1
        return "".join(out)
    return value


def timezone_from_link(target: str) -> str:
    """The zone name in a /etc/localtime link target (".../zoneinfo/Europe/Paris")."""
    marker = "zoneinfo/"
    pos = target.find(marker)
    if pos < 0:
        return ""
    zone = target[pos + len(marker) :]
    # Debian keeps "posix/" and "right/" variants of each zone; the name is the same.
    for prefix in ("posix/", "right/"):
        if zone.startswith(prefix):
            zone = zone[len(prefix) :]
    return zone


def read_timezone() -> str:
    """The configured time zone: /etc/timezone, else the /etc/localtime link, else ""."""
    zone = read_line("/etc/timezone")
    if zone:
        return zone
    try:
        return timezone_from_link(os.readlink("/etc/localtime"))
    except OSError:
        return ""


def read_os_release() -> dict[str, str]:
    """The first readable os-release file, parsed; {} when there is none (not Linux)."""
    for path in OS_RELEASE_PATHS:
        text = read_text(path, 65536)
        if text is not None:
            return parse_os_release(text)
    return {}


def read_machine_id() -> str:
    """systemd's machine id, "" when there is none."""
    for path in MACHINE_ID_PATHS:
        value = read_line(path)
        if value:
            return value
    return ""


def read_boot_time() -> float | None:
    """When the machine started, in whole seconds (so it hashes the same each time)."""
    try:
        boot = float(round(psutil.boot_time()))
    except (OSError, RuntimeError):
        return None
    return boot if MIN_EPOCH <= boot <= MAX_EPOCH else None


def collect() -> dict[str, Any]:
    """The System section of the inventory."""
    release = read_os_release()
    return {
        "hostname": socket.gethostname()[:255],
        "os_id": release.get("ID", "")[:255] or platform.system().lower(),
        "os_name": release.get("NAME", "")[:255] or platform.system(),
        "os_version": release.get("VERSION_ID", "")[:255],
        "kernel": platform.release()[:255],
        "arch": platform.machine()[:255],
        "boot_time": read_boot_time(),
        "machine_id": read_machine_id()[:255],
        "timezone": read_timezone()[:255],
    }

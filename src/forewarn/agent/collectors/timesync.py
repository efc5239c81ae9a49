"""Whether the clock is kept in time, by which service, and how far off it is.

Sources, best first: timedatectl (systemd's view of the kernel's sync flag), chronyc (the
offset, and the sync state where timedatectl is absent), and the kernel itself through
adjtimex(2), which also answers in containers, whose clock is the host's.
"""

from __future__ import annotations

import sys
from typing import Any

import psutil

from forewarn.agent.collectors._run import run_tool

TIMEDATECTL = ["timedatectl", "show", "-p", "NTPSynchronized", "-p", "NTP"]
# -n: numeric addresses, so asking never waits on DNS.
CHRONYC = ["chronyc", "-n", "tracking"]
# Process name -> the service that keeps time.
DAEMONS = {
    "chronyd": "chrony",
    "ntpd": "ntp",
    "openntpd": "openntpd",
    "systemd-timesyncd": "systemd-timesyncd",
    "systemd-timesyn": "systemd-timesyncd",  # names are cut at 15 characters
    "timesyncd": "systemd-timesyncd",
    "ptp4l": "ptp",
}
TIME_ERROR = 5  # adjtimex's answer when the kernel considers the clock unsynchronized


def _yes_no(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value.strip().lower())


def parse_timedatectl(text: str) -> tuple[bool | None, bool | None]:
    """(synchronized, NTP enabled) from `timedatectl show` KEY=value lines."""
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return _yes_no(values.get("NTPSynchronized", "")), _yes_no(values.get("NTP", ""))


def parse_chronyc_tracking(text: str) -> tuple[bool | None, float | None]:
    """(synchronized, offset in ms) from `chronyc tracking`.

    The offset is how far the system clock is ahead of true time: "fast" is positive,
    "slow" negative, following chrony's "System time : X seconds fast of NTP time".
    """
    synced: bool | None = None
    offset: float | None = None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, words = key.strip(), value.split()
        if key == "Leap status" and words:
            synced = " ".join(words).lower() != "not synchronised"
        elif key == "System time" and len(words) >= 3:
            try:
                seconds = float(words[0])
            except ValueError:
                continue
            sign = -1.0 if words[2] == "slow" else 1.0
            offset = sign * seconds * 1000.0
    return synced, offset


def time_service(names: set[str]) -> str:
    """The time service among running process names, "" when none is known to run."""
    for name in sorted(names):
        service = DAEMONS.get(name)
        if service:
            return service
    return ""


def running_names() -> set[str]:
    """Names of running processes; those the system hides are simply absent."""
    names = set()
    for proc in psutil.process_iter(["name"]):
        name = proc.info.get("name")
        if name:
            names.add(name)
    return names


def kernel_synchronized() -> bool | None:
    """The kernel's own sync flag via adjtimex(2), read-only; None off Linux or if refused."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        # Larger than any struct timex; zeroed, so modes == 0 asks without changing anything.
        buf = ctypes.create_string_buffer(1024)
        state = int(libc.adjtimex(buf))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != TIME_ERROR


def collect() -> dict[str, Any]:
    """The TimeSync section; fields stay None or "" where nothing could tell."""
    synced: bool | None = None
    offset: float | None = None
    text = run_tool(TIMEDATECTL)  # fails where systemd does not run
    if text is not None:
        synced, _ntp = parse_timedatectl(text)
    text = run_tool(CHRONYC)
    if text is not None:
        chrony_synced, offset = parse_chronyc_tracking(text)
        synced = synced if synced is not None else chrony_synced
    if synced is None:
        synced = kernel_synchronized()
    try:
        service = time_service(running_names())
    except (psutil.Error, OSError):
        service = ""
    return {"synchronized": synced, "service": service, "offset_ms": offset}

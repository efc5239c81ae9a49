"""Pending updates: what the package manager would upgrade now, which of it is security,
whether the machine waits for a reboot, and when it was last patched.

Only what the package manager already knows is read: apt's simulated upgrade over the lists
it last downloaded, dnf's cache (-C). The agent never refreshes the lists itself (that is the
machine's own timer's job, and a network call the agent should not make).

SOURCES is a registry, like packages.SOURCES: each source answers a dict with its pending
updates, [] semantics as there: None when its tool is absent, "failed" when the tool is present
but did not answer. Windows Update and macOS softwareupdate slot in as further sources with
the same shape (their `source` names are already in wire.PendingUpdate).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from forewarn.agent.collectors._run import find_tool, read_text, run_tool

Update = dict[str, Any]
UPDATE_TIMEOUT = 60.0  # apt's resolver on a big machine takes several seconds
MAX_UPDATES = 5000
MAX_REBOOT_PACKAGES = 200
HISTORY_BYTES = 8 * 1024 * 1024
FAILED = "failed"

# "Inst libssl3 [3.0.16-1~deb12u1] (3.0.19-1~deb12u2 Debian-Security:12/oldstable-security
#  [amd64])": name, installed version (absent for a new package), candidate, origins, arch.
_INST = re.compile(
    r"^Inst (?P<name>\S+)(?: \[(?P<installed>[^\]]*)\])? \((?P<candidate>\S+) "
    r"(?P<origins>.*?)(?: \[(?P<arch>[^\]]*)\])?\)"
)


def apt_argv(root: str = "/") -> list[str]:
    """apt-get simulating a full upgrade, without the lock, for the system at `root`."""
    argv = ["apt-get", "-s", "-q", "-o", "Debug::NoLocking=1"]
    if root != "/":
        r = root.rstrip("/")
        argv += [
            "-o",
            f"Dir={r}",
            "-o",
            f"Dir::State::status={r}/var/lib/dpkg/status",
            "-o",
            f"Dir::Etc::Parts={r}/etc/apt/apt.conf.d",
        ]
    return [*argv, "dist-upgrade"]


def is_security_origin(origins: str) -> bool:
    """True when one of apt's origins is a security suite (Debian-Security:12/bookworm-security,
    Ubuntu:22.04/jammy-security)."""
    return any(
        "-security" in o.lower() or o.lower().startswith("debian-security:")
        for o in origins.split(",")
    )


def parse_apt_simulation(text: str) -> list[Update]:
    """Pending upgrades from `apt-get -s dist-upgrade` output: its "Inst" lines.

    A package apt would newly install (a new dependency) has no installed version and is
    not an update of anything on the machine, so it is left out.
    """
    out: list[Update] = []
    for line in text.splitlines():
        m = _INST.match(line.strip())
        if m is None or not m.group("installed"):
            continue
        origins = m.group("origins").strip()
        out.append(
            {
                "name": m.group("name")[:255],
                "installed": m.group("installed")[:255],
                "candidate": m.group("candidate")[:255],
                "arch": (m.group("arch") or "")[:255],
                "security": is_security_origin(origins),
                "origin": origins[:255],
                "source": "apt",
            }
        )
    return out


def apt_updates(root: str = "/") -> list[Update] | str | None:
    """apt's pending upgrades: None without apt or without dpkg's database at `root` (apt
    beside dnf, as a tool, manages nothing), FAILED when apt did not answer."""
    if find_tool("apt-get") is None:
        return None
    if not os.path.exists(os.path.join(root, "var/lib/dpkg/status")):
        return None
    text = run_tool(apt_argv(root), timeout=UPDATE_TIMEOUT)
    return FAILED if text is None else parse_apt_simulation(text)


_DNF_SKIP = ("Obsoleting", "Last metadata", "Security:", "Loaded plugins")


def parse_dnf_check_update(text: str) -> list[Update]:
    """Pending updates from `dnf check-update` (name.arch, version, repository per line)."""
    out: list[Update] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith((" ", *_DNF_SKIP)):
            if line.startswith("Obsoleting"):
                break  # what follows are obsoletes, two lines each, not updates
            continue
        fields = line.split()
        if len(fields) != 3 or "." not in fields[0]:
            continue
        name, _, arch = fields[0].rpartition(".")
        out.append(
            {
                "name": name[:255],
                "installed": "",
                "candidate": fields[1][:255],
                "arch": arch[:255],
                "security": False,
                "origin": fields[2][:255],
                "source": "dnf",
            }
        )
    return out


def rpm_managed(root: str = "/") -> bool | None:
    """Whether RPM's database at `root` holds packages (None: rpm did not answer).

    dnf installed on a Debian machine (as a tool, not its package manager) has no
    repositories and fails; it must not count as a source there. The database's folder is
    looked for first, so a root without one is not given an empty database by asking.
    """
    if find_tool("rpm") is None:
        return False
    dbpath = (run_tool(["rpm", "--eval", "%{_dbpath}"]) or "").strip()
    if not dbpath.startswith("/") or not os.path.isdir(os.path.join(root, dbpath.lstrip("/"))):
        return False
    listed = run_tool(["rpm", f"--root={root}", "-qa", "--qf", "."], timeout=UPDATE_TIMEOUT)
    return None if listed is None else bool(listed.strip())


def dnf_updates(root: str = "/") -> list[Update] | str | None:
    """dnf's (or yum's) pending updates from its cache, security ones marked; None where
    dnf is absent or RPM does not manage the machine's packages."""
    tool = "dnf" if find_tool("dnf") else "yum" if find_tool("yum") else None
    if tool is None:
        return None
    managed = rpm_managed(root)
    if managed is None:
        return FAILED
    if not managed:
        return None
    base = [tool, "-q", "-C", *([f"--installroot={root}"] if root != "/" else []), "check-update"]
    # check-update exits 100 when updates are available, 0 when none.
    text = run_tool(base, timeout=UPDATE_TIMEOUT, ok_codes=(0, 100))
    if text is None:
        return FAILED
    updates = parse_dnf_check_update(text)
    security = run_tool([*base, "--security"], timeout=UPDATE_TIMEOUT, ok_codes=(0, 100))
    flagged = {(u["name"], u["arch"]) for u in parse_dnf_check_update(security or "")}
    for u in updates:
        u["source"] = tool
        u["security"] = (u["name"], u["arch"]) in flagged
    return updates


SOURCES: dict[str, Callable[[str], list[Update] | str | None]] = {
    "apt": apt_updates,
    "dnf": dnf_updates,
}


def reboot_required(root: str = "/") -> tuple[bool, list[str]]:
    """Debian's and Ubuntu's flag file and the packages that asked for the reboot; on
    RHEL-like systems `needs-restarting -r` (exit 1: a reboot is needed)."""
    flag = os.path.join(root, "var/run/reboot-required")
    if os.path.exists(flag) or os.path.exists(os.path.join(root, "run/reboot-required")):
        text = read_text(flag + ".pkgs", 256 * 1024) or ""
        names = sorted({n.strip()[:255] for n in text.splitlines() if n.strip()})
        return True, names[:MAX_REBOOT_PACKAGES]
    if (
        root == "/"
        and find_tool("needs-restarting")
        and find_tool("rpm")
        and run_tool(["needs-restarting", "-r"], timeout=20.0, ok_codes=(1,)) is not None
    ):
        return True, []
    return False, []


def _log_texts(folder: str, base: str) -> list[str]:
    """A log and its rotations (base.1, base.2.gz, ...), newest first, bounded in all."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    pattern = re.compile(re.escape(base) + r"(?:\.(\d+))?(?:\.gz)?$")

    def order(name: str) -> int:
        m = pattern.match(name)
        return -1 if m is None else int(m.group(1) or 0)

    texts: list[str] = []
    budget = HISTORY_BYTES
    for name in sorted((n for n in names if order(n) >= 0), key=order)[:10]:
        path = os.path.join(folder, name)
        try:
            if name.endswith(".gz"):
                with gzip.open(path, "rb") as z:
                    data = z.read(budget)
            else:
                with open(path, "rb") as f:
                    # the newest entries are at the end: read the last `budget` bytes
                    f.seek(max(0, os.fstat(f.fileno()).st_size - budget))
                    data = f.read(budget)
        except (OSError, EOFError):
            continue
        budget -= len(data)
        texts.append(data.decode("utf-8", "replace"))
        if budget <= 0:
            break
    return texts


def parse_dpkg_log(text: str) -> datetime | None:
    """When dpkg last finished upgrading a package, from dpkg.log: the "status installed"
    line of a package at the version an "upgrade" line named (an upgrade that failed never
    gets there). Local time, answered in UTC."""
    upgraded: set[tuple[str, str]] = set()
    last: str | None = None
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 6 and fields[2] == "upgrade":
            upgraded.add((fields[3], fields[5]))
        elif (
            len(fields) == 6
            and fields[2:4] == ["status", "installed"]
            and (fields[4], fields[5]) in upgraded
        ):
            stamp = f"{fields[0]} {fields[1]}"
            last = stamp if last is None or stamp > last else last
    if last is None:
        return None
    try:
        return datetime.strptime(last, "%Y-%m-%d %H:%M:%S").astimezone(UTC)
    except ValueError:
        return None


def parse_apt_history(text: str) -> datetime | None:
    """The End-Date of the last entry of apt's history that upgraded packages without error.

    The log's times are the machine's local time without a zone; they are read as local
    time and answered in UTC.
    """
    last: datetime | None = None
    for entry in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in entry.splitlines():
            key, sep, value = line.partition(": ")
            if sep:
                fields[key.strip()] = value.strip()
        if "Upgrade" not in fields or "Error" in fields or "End-Date" not in fields:
            continue
        try:
            local = datetime.strptime(" ".join(fields["End-Date"].split()), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            continue
        at = local.astimezone(UTC)
        if last is None or at > last:
            last = at
    return last


# dnf 4's transaction history (libdnf's swdb): a transaction's state 1 is done; an item's
# action 6 is "upgrade" (the new build of an upgraded package).
DNF_HISTORY = "var/lib/dnf/history.sqlite"
_DNF_LAST_UPGRADE = (
    "SELECT MAX(t.dt_end) FROM trans t WHERE t.state = 1 AND EXISTS "
    "(SELECT 1 FROM trans_item i WHERE i.trans_id = t.id AND i.action = 6)"
)


def dnf_last_upgrade(path: str) -> datetime | None:
    """When dnf last finished a transaction that upgraded packages, from its history database
    (read-only; None when there is none, it is unreadable, or of another shape)."""
    if not os.path.isfile(path):
        return None
    import sqlite3

    try:
        with contextlib.closing(
            sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0)
        ) as db:
            (end,) = db.execute(_DNF_LAST_UPGRADE).fetchone()
    except sqlite3.Error:
        return None
    if not isinstance(end, int) or end <= 0:
        return None
    return datetime.fromtimestamp(end, UTC)


def last_patched(root: str = "/") -> datetime | None:
    """When packages were last upgraded successfully: apt's history, else dpkg's log (an
    upgrade with dpkg alone, or apt's history turned off), and dnf's history; None when
    unknown."""
    apt = os.path.join(root, "var/log/apt")
    found = [t for t in map(parse_apt_history, _log_texts(apt, "history.log")) if t]
    if not found:
        dpkg = os.path.join(root, "var/log")
        found = [t for t in map(parse_dpkg_log, _log_texts(dpkg, "dpkg.log")) if t]
    dnf = dnf_last_upgrade(os.path.join(root, DNF_HISTORY))
    if dnf is not None:
        found.append(dnf)
    return max(found) if found else None


def collect(root: str = "/") -> dict[str, Any] | None:
    """The Updates section: None when a package manager present failed to answer (a partial
    list would read as "those updates were installed") or none is present."""
    pending: list[Update] = []
    sources: list[str] = []
    for name, source in SOURCES.items():
        answer = source(root)
        if answer == FAILED:
            return None
        if isinstance(answer, list):
            sources.append(name)
            pending += answer
    if not sources:
        return None
    pending.sort(key=lambda u: (not u["security"], u["source"], u["name"], u["arch"]))
    reboot, reboot_packages = reboot_required(root)
    patched = last_patched(root)
    return {
        "sources": sources,
        "total": len(pending),
        "security_total": sum(1 for u in pending if u["security"]),
        "pending": pending[:MAX_UPDATES],
        "reboot_required": reboot,
        "reboot_packages": reboot_packages,
        "last_patched": round(patched.timestamp(), 3) if patched else None,
    }

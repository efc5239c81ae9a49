"""Local accounts: who exists, who is an administrator, whose password login is locked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from forewarn.agent.collectors._run import read_text

Account = dict[str, Any]
ADMIN_GROUPS = frozenset({"sudo", "wheel", "admin"})
NO_LOGIN_SHELLS = ("nologin", "false")
DEFAULT_UID_MIN = 1000
MAX_ACCOUNTS = 50_000


@dataclass(frozen=True)
class PasswdEntry:
    name: str
    uid: int
    gid: int
    home: str
    shell: str


def parse_passwd(text: str) -> list[PasswdEntry]:
    """Entries of /etc/passwd; malformed lines and NIS "+" includes are skipped."""
    out = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) != 7 or not fields[0] or fields[0][0] in "+-#":
            continue
        try:
            uid, gid = int(fields[2]), int(fields[3])
        except ValueError:
            continue
        if not -1 <= uid <= 2**32:
            continue
        out.append(PasswdEntry(fields[0], uid, gid, fields[5], fields[6].strip()))
    return out


def parse_admin_members(
    text: str, admin_groups: frozenset[str] = ADMIN_GROUPS
) -> tuple[set[str], set[int]]:
    """From /etc/group text: the named members of administrator groups, and those groups' gids.

    The gids matter because a user whose primary group is "wheel" is a member without being
    listed on the group's line.
    """
    members: set[str] = set()
    gids: set[int] = set()
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) != 4 or fields[0] not in admin_groups:
            continue
        if fields[2].isdigit():
            gids.add(int(fields[2]))
        members.update(m.strip() for m in fields[3].split(",") if m.strip())
    return members, gids


def parse_shadow_locked(text: str) -> dict[str, bool]:
    """Whether each account's password login is locked ("!" or "*" hash prefix)."""
    out = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) < 2 or not fields[0]:
            continue
        out[fields[0]] = fields[1].startswith(("!", "*"))
    return out


def parse_uid_min(text: str) -> int:
    """UID_MIN from /etc/login.defs: where accounts for people start."""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "UID_MIN" and fields[1].isdigit():
            return int(fields[1])
    return DEFAULT_UID_MIN


def is_system_account(entry: PasswdEntry, uid_min: int = DEFAULT_UID_MIN) -> bool:
    """A service account rather than a person: a low uid (but not root) or no login shell."""
    if entry.shell.rsplit("/", 1)[-1] in NO_LOGIN_SHELLS:
        return True
    return 0 < entry.uid < uid_min


def build_accounts(
    entries: list[PasswdEntry],
    admin_members: set[str],
    admin_gids: set[int],
    locked: dict[str, bool] | None,
    uid_min: int = DEFAULT_UID_MIN,
) -> list[Account]:
    """Account dicts from parsed files; `locked` None means the shadow file was unreadable."""
    out: list[Account] = []
    seen: set[str] = set()
    for e in entries:
        # The first line of a duplicated name is the one the system uses.
        if e.name in seen:
            continue
        seen.add(e.name)
        admin = e.uid == 0 or e.name in admin_members or e.gid in admin_gids
        out.append(
            {
                "name": e.name[:255],
                "uid": e.uid,
                "shell": e.shell[:255],
                "home": e.home[:1000],
                "admin": admin,
                "locked": None if locked is None else locked.get(e.name),
                "system": is_system_account(e, uid_min),
            }
        )
    out.sort(key=lambda a: str(a["name"]))
    return out[:MAX_ACCOUNTS]


def collect() -> list[Account] | None:
    """The Accounts section; None without a readable /etc/passwd (not a Unix system)."""
    passwd = read_text("/etc/passwd")
    if passwd is None:
        return None
    members, gids = parse_admin_members(read_text("/etc/group") or "")
    shadow = read_text("/etc/shadow")  # readable by root only
    locked = parse_shadow_locked(shadow) if shadow is not None else None
    uid_min = parse_uid_min(read_text("/etc/login.defs") or "")
    return build_accounts(parse_passwd(passwd), members, gids, locked, uid_min)

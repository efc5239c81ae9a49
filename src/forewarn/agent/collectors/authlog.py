"""Authentication events: SSH and console logins, sudo and su, from journald or the auth log.

The server judges them (forewarn.domain.activity): a burst of failed logins, a login after
many failures, a login at night. The agent only reads and parses, from where it stopped:

- journald, when this machine keeps a journal: `journalctl -o json` over the auth and
  authpriv facilities, after the cursor of the last entry read;
- otherwise /var/log/auth.log (Debian, Ubuntu) or /var/log/secure (Red Hat), from a saved
  offset. A rotated file is finished from its new name (auth.log.1) before the new one is
  read from its start; a truncated one is read again from its start.

A new reader starts at the end: old lines are history, not news. Each read is bounded
(entries and bytes); the rest waits for the next tick. A batch carries at most MAX_EVENTS
events, the successes first; the failures beyond that go as counts per account and source.

`FOREWARN_AGENT_AUTH_LOG` names the source instead: a file path, or `journal`. sshd started
with `-E file` writes lines without a syslog header; those are read too, timed when read.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from forewarn.agent.collectors._run import find_tool

AuthEvent = dict[str, Any]
AUTH_LOG_ENV = "FOREWARN_AGENT_AUTH_LOG"
AUTH_FILES = ("/var/log/auth.log", "/var/log/secure")
JOURNAL_DIRS = ("/var/log/journal", "/run/log/journal")
MAX_EVENTS = 200
MAX_LINE = 500
READ_LIMIT = 4 * 1024 * 1024
TAIL = 64  # bytes kept from before the offset, to tell a truncated file that grew back
JOURNAL_ENTRIES = 5_000
JOURNAL_TIMEOUT = 5.0
# auth (4) and authpriv (10): where sshd, sudo, su and login log.
JOURNAL_MATCHES = ("SYSLOG_FACILITY=4", "SYSLOG_FACILITY=10")
MIN_EPOCH = 978_307_200.0
MAX_EPOCH = 4_102_444_800.0

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
# "2024-03-10T02:15:01.123456+01:00 host sshd[812]: msg" (rsyslog's high-precision format)
_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\s+\S+\s+(.*)$"
)
# "Mar 10 02:15:01 host sshd[812]: msg" (the traditional format, without a year)
_BSD = re.compile(r"^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})\s+\S+\s+(.*)$")
_TAG = re.compile(r"^([\w./-]+?)(?:\[\d+\])?: (.*)$")

_IP = r"(?P<source>[0-9A-Fa-f.:]+)"
_SSHD = [
    (
        re.compile(
            r"^Failed (?P<method>[\w-]+) for (?P<invalid>invalid user )?(?P<user>\S*) from "
            + _IP
            + r" port (?P<port>\d+)"
        ),
        "failure",
    ),
    (
        re.compile(
            r"^Accepted (?P<method>[\w-]+) for (?P<user>\S+) from " + _IP + r" port (?P<port>\d+)"
        ),
        "success",
    ),
    (re.compile(r"^Invalid user (?P<user>\S*) from " + _IP + r" port (?P<port>\d+)"), "invalid"),
]
_SUDO = re.compile(r"^\s*(?P<user>\S+) : (?P<what>.*?)(?:TTY=|PWD=|USER=)")
_SUDO_TARGET = re.compile(r"\bUSER=(\S+?)\s*;")
_SUDO_TRIES = re.compile(r"(\d+) incorrect password attempts?")
_SU = re.compile(r"^(?P<failed>FAILED SU )?\(to (?P<target>\S+)\) (?P<user>\S+) on (?P<tty>\S+)")
_LOGIN_FAILED = re.compile(r"^FAILED LOGIN \(\d+\) on '(?P<tty>[^']*)' FOR '(?P<user>[^']*)'")
_LOGIN_ROOT = re.compile(r"^ROOT LOGIN +on '(?P<tty>[^']*)'")
_LOGIN_SESSION = re.compile(
    r"^pam_unix\(login:session\): session opened for user (?P<user>[^(\s]+)"
)


# ---- parsing: pure ----------------------------------------------------------------------------


def _event(
    at: float, service: str, action: str, outcome: str, line: str, **fields: Any
) -> AuthEvent:
    event: AuthEvent = {
        "at": at,
        "service": service[:255],
        "action": action,
        "outcome": outcome,
        "line": line.strip()[:MAX_LINE],
    }
    # Defaults are left out: the server fills them in, and the batch stays small.
    for key, value in fields.items():
        if isinstance(value, str):
            if value:
                event[key] = value[:255]
        elif isinstance(value, bool):
            if value:
                event[key] = True
        elif value is not None and not (key == "count" and value == 1):
            event[key] = value
    return event


def parse_message(program: str, message: str, at: float, line: str = "") -> AuthEvent | None:
    """The event one log message tells of, or None for every other message.

    `program` is the syslog tag (sshd, sudo, su, login); "" when the line had no header, as
    sshd writes with -E, in which case only sshd's own messages are recognised. PAM's
    duplicates of what the program itself logs (pam_unix(sshd:auth) failures) are skipped,
    so one attempt counts once.
    """
    text = message.strip()
    evidence = line or text
    prog = os.path.basename(program).lower()
    if prog in ("", "sshd") or prog.startswith("sshd"):
        for pattern, kind in _SSHD:
            m = pattern.match(text)
            if m is None:
                continue
            g = m.groupdict()
            return _event(
                at,
                "sshd",
                "login",
                "success" if kind == "success" else "failure",
                evidence,
                user=g["user"],
                source=g["source"],
                method=g.get("method") or "",
                invalid_user=kind == "invalid" or bool(g.get("invalid")),
                port=int(g["port"]),
            )
        return None
    if prog == "sudo":
        return _sudo(text, at, evidence)
    if prog == "su":
        m = _SU.match(text)
        if m is None:
            return None
        outcome = "failure" if m["failed"] else "success"
        return _event(at, "su", "su", outcome, evidence, user=m["user"], target=m["target"])
    if prog == "login":
        return _login(text, at, evidence)
    return None


def _sudo(text: str, at: float, evidence: str) -> AuthEvent | None:
    m = _SUDO.match(text)
    if m is None or "COMMAND=" not in text:
        return None
    target = _SUDO_TARGET.search(text + ";")
    what = m["what"].strip().rstrip(";").strip()
    tries = _SUDO_TRIES.search(what)
    failed = bool(what) and (tries is not None or "NOT in sudoers" in what or "not allowed" in what)
    return _event(
        at,
        "sudo",
        "sudo",
        "failure" if failed else "success",
        evidence,
        user=m["user"],
        target=target.group(1) if target else "root",
        count=min(int(tries.group(1)), 1000) if tries else 1,
    )


def _login(text: str, at: float, evidence: str) -> AuthEvent | None:
    m = _LOGIN_FAILED.match(text)
    if m:
        return _event(at, "login", "login", "failure", evidence, user=m["user"], method=m["tty"])
    m = _LOGIN_ROOT.match(text)
    if m:
        return _event(at, "login", "login", "success", evidence, user="root", method=m["tty"])
    m = _LOGIN_SESSION.match(text)
    if m and m["user"] != "root":  # root's console login is told by ROOT LOGIN
        return _event(at, "login", "login", "success", evidence, user=m["user"])
    return None


def syslog_time(month: str, day: int, hh: int, mm: int, ss: int, now: float) -> float | None:
    """A yearless syslog time, in this machine's zone, in the year that puts it not after now
    (a December line read in January belongs to last year)."""
    year = time.localtime(now).tm_year
    for y in (year, year - 1):
        try:
            at = time.mktime((y, _MONTHS[month], day, hh, mm, ss, 0, 0, -1))
        except (OverflowError, ValueError, KeyError):
            return None
        if at <= now + 86_400:
            return at
    return None


def parse_line(line: str, now: float) -> AuthEvent | None:
    """One line of auth.log / secure (either syslog format), or of a header-less sshd -E log.

    `now` is when the line was read: the year of a traditional syslog line, and the time of a
    header-less one.
    """
    line = line.rstrip("\r\n")
    if not line.strip():
        return None
    m = _RFC3339.match(line)
    if m:
        try:
            at = datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
        rest = m.group(2)
    else:
        b = _BSD.match(line)
        if b:
            mon, day, hh, mm, ss, rest = b.groups()
            stamp = syslog_time(mon, int(day), int(hh), int(mm), int(ss), now)
            if stamp is None:
                return None
            at = stamp
        else:
            return _bounded(parse_message("", line, now, line))
    tag = _TAG.match(rest)
    if tag is None:
        return None
    return _bounded(parse_message(tag.group(1), tag.group(2), at, line))


def parse_journal_entry(entry: dict[str, Any]) -> AuthEvent | None:
    """One entry of `journalctl -o json`."""
    message = entry.get("MESSAGE")
    if isinstance(message, list):  # journald gives non-UTF-8 messages as byte arrays
        message = bytes(b for b in message if isinstance(b, int) and 0 <= b < 256).decode(
            "utf-8", "replace"
        )
    if not isinstance(message, str):
        return None
    program = entry.get("SYSLOG_IDENTIFIER") or entry.get("_COMM") or ""
    try:
        at = int(entry.get("__REALTIME_TIMESTAMP", "0")) / 1e6
    except (TypeError, ValueError):
        return None
    pid = entry.get("_PID") or entry.get("SYSLOG_PID") or ""
    line = f"{program}[{pid}]: {message}" if pid else f"{program}: {message}"
    return _bounded(parse_message(str(program), message, at, line))


def _bounded(event: AuthEvent | None) -> AuthEvent | None:
    if event is None or not MIN_EPOCH <= event["at"] <= MAX_EPOCH:
        return None
    return event


def pair_invalid_users(events: Sequence[AuthEvent]) -> list[AuthEvent]:
    """The events without sshd's "Invalid user" notes that a "Failed ... for invalid user"
    from the same connection (address and port) follows: each attempt counts once, and an
    invalid user that never got as far as a password (a key-only server) still counts."""
    failed = {
        (e.get("user"), e.get("source"), e.get("port"))
        for e in events
        if e["service"] == "sshd" and e.get("method") and e.get("invalid_user")
    }
    out = []
    for e in events:
        key = (e.get("user"), e.get("source"), e.get("port"))
        note = e["service"] == "sshd" and e.get("invalid_user") and not e.get("method")
        if note and key in failed:
            continue
        out.append({k: v for k, v in e.items() if k != "port"})
    return out


def bound(events: Sequence[AuthEvent], limit: int = MAX_EVENTS) -> tuple[list[AuthEvent], list]:
    """At most `limit` events, the rarer kinds first (successes, sudo, su), then failed logins
    in time order; the failed logins left over are counted per (service, account, source)."""
    if len(events) <= limit:
        return list(events), []
    order = sorted(
        range(len(events)),
        key=lambda i: (events[i]["outcome"] == "failure" and events[i]["action"] == "login", i),
    )
    keep = sorted(order[:limit])
    kept = [events[i] for i in keep]
    groups: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
    for i in order[limit:]:
        e = events[i]
        key = (e["service"], e["action"], e["outcome"], e.get("user", ""), e.get("source", ""))
        if key not in groups and len(groups) >= limit:
            key = (e["service"], e["action"], e["outcome"], "", "")  # the rest, in one count
        g = groups.setdefault(
            key,
            {
                "service": key[0],
                "action": key[1],
                "outcome": key[2],
                "user": key[3],
                "source": key[4],
                "count": 0,
                "first": e["at"],
                "last": e["at"],
            },
        )
        g["count"] += e.get("count", 1)
        g["first"], g["last"] = min(g["first"], e["at"]), max(g["last"], e["at"])
    return kept, list(groups.values())


# ---- reading: from where it stopped -----------------------------------------------------------


@dataclass
class Taken:
    """One tick's report (None: nothing new) and the position to keep once it is buffered."""

    report: dict[str, Any] | None
    state: dict[str, Any] = field(default_factory=dict)


def journal_available() -> bool:
    if find_tool("journalctl") is None:
        return False
    for d in JOURNAL_DIRS:
        try:
            if any(os.scandir(d)):
                return True
        except OSError:
            continue
    return False


def choose_source(env: dict[str, str] | None = None) -> str:
    """'journal', a file path, or '' when this machine has neither."""
    override = (env if env is not None else os.environ).get(AUTH_LOG_ENV, "").strip()
    if override:
        return override
    if journal_available():
        return "journal"
    for path in AUTH_FILES:
        if os.path.exists(path):
            return path
    return ""


class AuthReader:
    """Reads new authentication events each tick, from a journal cursor or a file offset."""

    def __init__(self, source: str | None = None, *, read_limit: int = READ_LIMIT) -> None:
        self.source = choose_source() if source is None else source
        self.read_limit = read_limit
        self.state: dict[str, Any] = {}

    def restore(self, state_json: str | None) -> None:
        try:
            state = json.loads(state_json) if state_json else {}
        except ValueError:
            state = {}
        ok = isinstance(state, dict) and state.get("source") == self.source
        self.state = state if ok else {}

    def commit(self, taken: Taken) -> str:
        self.state = taken.state
        return json.dumps(self.state, separators=(",", ":"))

    def take(self, now: float) -> Taken:
        """The events logged since the last commit (a report only when there is news)."""
        st = dict(self.state) or {"source": self.source}
        if not self.source:
            return Taken(None, st)
        if self.source == "journal":
            events, error = self._read_journal(st, now)
        else:
            events, error = self._read_file(st, now)
        report = None
        if events or error != st.get("error", ""):
            kept, more = bound(pair_invalid_users(events))
            origin = self.source
            report = {"events": kept, "more": more, "origin": origin[:255], "error": error}
        st["error"] = error
        return Taken(report, st)

    # ---- the auth log file ----------------------------------------------------------------

    def _read_file(self, st: dict[str, Any], now: float) -> tuple[list[AuthEvent], str]:
        path = self.source
        try:
            info = os.stat(path)
        except FileNotFoundError:
            st["inode"], st["offset"] = None, 0  # when it appears, all of it is new
            return [], "no such file"
        except OSError as exc:
            return [], exc.strerror or str(exc)
        if st.get("offset") is None:  # a new reader starts at the end
            st["inode"], st["offset"] = info.st_ino, info.st_size
            st["tail"] = _tail_before(path, info.st_size).hex()
            return [], ""
        text = ""
        if st.get("inode") not in (None, info.st_ino):
            # Rotated: finish the old file under its new name, then read the new one.
            old = _renamed(path, st["inode"])
            if old is not None:
                text += self._chunk(old, st["offset"])[0]
            st["inode"], st["offset"] = info.st_ino, 0
        elif info.st_size < st["offset"] or not _same_tail(path, st):
            # Truncated (copytruncate), even if it has grown back past where we were.
            st["inode"], st["offset"] = info.st_ino, 0
        try:
            chunk, used, tail = self._chunk(path, st["offset"])
        except PermissionError:
            return [], "permission denied"
        except OSError as exc:
            return [], exc.strerror or str(exc)
        st["inode"], st["offset"] = info.st_ino, st["offset"] + used
        if used:
            st["tail"] = tail.hex()
        text += chunk
        events = [e for e in (parse_line(line, now) for line in text.splitlines()) if e]
        return events, ""

    def _chunk(self, path: str, offset: int) -> tuple[str, int, bytes]:
        """Whole lines from `offset`, at most read_limit bytes: (text, bytes consumed, the
        last TAIL bytes consumed)."""
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                data = fh.read(self.read_limit)
        except FileNotFoundError:
            return "", 0, b""
        end = data.rfind(b"\n") + 1
        if end == 0:
            # half a line so far: wait for its end, unless it alone fills the limit
            end = len(data) if len(data) >= self.read_limit else 0
        return data[:end].decode("utf-8", "replace"), end, data[max(0, end - TAIL) : end]

    # ---- journald -------------------------------------------------------------------------

    def _read_journal(self, st: dict[str, Any], now: float) -> tuple[list[AuthEvent], str]:
        exe = find_tool("journalctl")
        if exe is None:
            return [], "journalctl not found"
        base = [exe, "-o", "json", "--no-pager", "-q", *JOURNAL_MATCHES]
        cursor = st.get("cursor")
        if not cursor and st.get("since") is None:
            st["since"] = int(now)  # a new reader starts now
            return [], ""
        if cursor:
            argv = [*base, f"--after-cursor={cursor}"]
        else:
            argv = [*base, f"--since=@{int(st['since'])}"]
        entries, error = _journal_lines(argv, JOURNAL_ENTRIES, JOURNAL_TIMEOUT)
        events = []
        for entry in entries:
            if isinstance(entry.get("__CURSOR"), str):
                st["cursor"] = entry["__CURSOR"]
            event = parse_journal_entry(entry)
            if event is not None:
                events.append(event)
        return events, error


def _same_tail(path: str, st: dict[str, Any]) -> bool:
    """Whether the bytes before the kept offset are still the ones read there."""
    try:
        tail = bytes.fromhex(st.get("tail") or "")
    except ValueError:
        return True
    if not tail or st["offset"] < len(tail):
        return True
    return _tail_before(path, st["offset"], len(tail)) == tail


def _tail_before(path: str, offset: int, size: int = TAIL) -> bytes:
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, offset - size))
            return fh.read(min(size, offset))
    except OSError:
        return b""


def _renamed(path: str, inode: int) -> str | None:
    """The file next to `path` (auth.log.1, ...) that is the inode we were reading."""
    directory, base = os.path.split(path)
    try:
        with os.scandir(directory or ".") as it:
            for entry in it:
                rotated = entry.name.startswith(base) and entry.name != base
                if rotated and entry.is_file() and entry.inode() == inode:
                    return entry.path
    except OSError:
        return None
    return None


def _journal_lines(argv: list[str], limit: int, timeout: float) -> tuple[list[dict], str]:
    """The first `limit` JSON entries journalctl prints, within `timeout` seconds."""
    env = dict(os.environ, LC_ALL="C", SYSTEMD_PAGER="")
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    except OSError as exc:
        return [], f"journalctl: {exc.strerror or exc}"
    assert proc.stdout is not None
    entries: list[dict] = []
    deadline = time.monotonic() + timeout
    try:
        for raw in _lines_until(proc.stdout, deadline):
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if isinstance(entry, dict):
                entries.append(entry)
            if len(entries) >= limit:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
    return entries, ""


def _lines_until(stream: IO[bytes], deadline: float) -> Iterable[bytes]:
    import selectors

    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                return
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            yield from lines
    if buf:
        yield buf

"""Posture checks: the server's policies evaluated on this machine, hourly and on change.

The policies arrive taken apart (forewarn.security.posture_policy.Policy.to_agent) in the
agent's configuration. `evaluate` is pure over a small I/O boundary (`Io`): it reads files,
lists directories, looks at the process table, runs commands and reads the inventory only
through it, so tests give it a fake machine. `RealIo` is this machine.

A rule is true, false, or not applicable (None) when what it needs to look at is not there:
a content rule on a file that does not exist, a command that is not installed. A check with
such a rule is "na" rather than failed, unless the check says `missing: fail` (no firewall
tool at all means no firewall).

Commands are the one risky part: the policy comes from the server, and a stolen server
database must not become a shell on every client machine. So commands run without a shell,
with a timeout and bounded output, and only programs on a read-only allow-list below (and
for some, only their read-only subcommands) are run at all; anything else is "na" with the
reason. File contents seen in sensitive files (shadow, private keys) are never sent back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import operator
import os
import re
import select
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger("forewarn.agent")

INTERVAL = 3600.0  # evaluate every hour, and at once when the policies change
BUDGET = 120.0  # seconds one run may take; checks past it are reported "error"
COMMAND_TIMEOUT = 15.0
MAX_OUTPUT = 1024 * 1024
MAX_FILE = 4 * 1024 * 1024
MAX_DIR_FILES = 200
MAX_EVIDENCE = 10
MAX_EVIDENCE_CHARS = 300
META_POSTURE = "posture_state"
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Files whose lines are never quoted in evidence: hashes and keys stay on the machine.
SENSITIVE = re.compile(r"^/etc/(g?shadow|sudoers)|/\.ssh/|ssh_host_.*_key$|\.key$|\.pem$")

# Read-only programs a policy may run. None: any arguments (but see FORBIDDEN_ARGS); a set:
# the first argument must be one of these.
ALLOWED: dict[str, frozenset[str] | None] = {
    "sysctl": None,
    "sshd": frozenset({"-T"}),
    "nft": frozenset({"list", "-a", "-n", "-s"}),
    "iptables": frozenset({"-S", "-L", "-n", "--list", "--list-rules", "-nL"}),
    "ip6tables": frozenset({"-S", "-L", "-n", "--list", "--list-rules", "-nL"}),
    "ufw": frozenset({"status"}),
    "firewall-cmd": frozenset(
        {"--state", "--list-all", "--get-default-zone", "--get-active-zones"}
    ),
    "systemctl": frozenset(
        {"is-active", "is-enabled", "is-failed", "show", "status", "list-units", "list-unit-files"}
    ),
    "timedatectl": frozenset({"show", "status", "timesync-status"}),
    "chronyc": frozenset({"tracking", "sources", "-n"}),
    "ntpq": frozenset({"-p", "-pn", "-c"}),
    "auditctl": frozenset({"-s", "-l"}),
    "findmnt": None,
    "lsblk": None,
    "stat": None,
    "getent": None,
    "lastlog": None,
    "lastlog2": None,
    "gsettings": frozenset({"get"}),
    "apt-config": frozenset({"dump", "shell"}),
    "dpkg-query": None,
    "rpm": frozenset({"-q", "-qa"}),
    "passwd": frozenset({"-S"}),
    "chage": frozenset({"-l"}),
    "ss": None,
    "id": None,
    "find": None,
    "cryptsetup": frozenset({"status", "isLuks"}),
    "dmsetup": frozenset({"ls", "status", "table", "info"}),
    "loginctl": frozenset({"show-session", "list-sessions", "show-user"}),
    "journalctl": frozenset({"--header", "--disk-usage"}),
    "ulimit": None,
    "ls": None,
    "grep": None,
    "cat": None,
    "uname": None,
}
# Arguments that would make a read-only program write, delete or execute.
FORBIDDEN_ARGS = re.compile(
    r"^-(exec|execdir|ok|okdir|delete|fprint|fprint0|fprintf|fls|w|-write|-set|i)$|=|^>"
)

Result = tuple[bool | None, str]  # (true, false or not applicable; what was seen)


class Io(Protocol):
    """What the evaluator may look at on a machine."""

    def read_lines(self, path: str) -> list[str] | None: ...

    def exists(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def list_dir(self, path: str) -> list[str] | None: ...

    def process_names(self) -> set[str]: ...

    def run(self, argv: list[str]) -> tuple[int, str] | str: ...

    def facts(self, section: str) -> Any: ...


# ---- the pure evaluator ---------------------------------------------------------------------


def os_family(platform: str = sys.platform) -> str:
    if platform.startswith("linux"):
        return "linux"
    if platform.startswith("win"):
        return "windows"
    return "darwin" if platform == "darwin" else platform


def evaluate(
    policy: dict[str, Any],
    io: Io,
    *,
    deadline: float = float("inf"),
    monotonic: Callable[[], float] = time.monotonic,
) -> list[dict[str, Any]]:
    """Each check of the policy as {"check", "status": pass|fail|na|error, "evidence"}."""
    checks = policy.get("checks") or []
    cache = _Cache(io)
    missing = [r for r in policy.get("requires") or [] if rule(r, cache)[0] is not True]
    out = []
    for check in checks:
        if missing:
            why = f"the policy's requirement is not met: {missing[0].get('text', '')}"
            out.append(_result(check, "na", [why]))
        elif monotonic() > deadline:
            out.append(_result(check, "error", ["not evaluated: the run's time budget was spent"]))
        else:
            try:
                out.append(evaluate_check(check, cache))
            except Exception as exc:  # a bug must cost one check, not the run
                log.exception("posture check %s failed", check.get("id"))
                out.append(_result(check, "error", [f"evaluation failed: {exc}"[:200]]))
    return out


def evaluate_check(check: dict[str, Any], io: Io) -> dict[str, Any]:
    for req in check.get("requires") or []:
        value, seen = rule(req, io)
        if value is not True:
            return _result(check, "na", [f"not applicable: {seen}"])
    values: list[bool | None] = []
    evidence: list[str] = []
    missing_fails = check.get("missing") == "fail"
    for r in check.get("rules") or []:
        value, seen = rule(r, io)
        if value is None and missing_fails:
            value = False
        values.append(value)
        evidence.append(seen)
    return _result(check, combine(check.get("condition", "all"), values), evidence)


def combine(condition: str, values: Sequence[bool | None]) -> str:
    """pass / fail / na of a check from its rules' values (None: not applicable)."""
    if condition == "all":
        if False in values:
            return "fail"
        return "na" if None in values else "pass"
    if condition == "any":
        if True in values:
            return "pass"
        return "na" if None in values else "fail"
    if True in values:  # none
        return "fail"
    return "na" if None in values else "pass"


def rule(r: dict[str, Any], io: Io) -> Result:
    kind = r.get("type")
    target = str(r.get("target", ""))
    if kind == "f":
        value, seen = _file(target, r, io)
    elif kind == "d":
        value, seen = _directory(target, r, io)
    elif kind == "p":
        running = target in io.process_names()
        value, seen = running, f"process {target} {'is' if running else 'is not'} running"
    elif kind == "c":
        value, seen = _command(target, r, io)
    elif kind == "fact":
        value, seen = _fact(target, r, io)
    else:
        return None, f"unknown rule type {kind!r}"
    if r.get("neg") and value is not None:
        value = not value
    return value, seen[:MAX_EVIDENCE_CHARS]


def _file(path: str, r: dict[str, Any], io: Io) -> Result:
    tests = r.get("tests") or []
    if not tests:
        there = io.exists(path)
        return there, f"{path} {'exists' if there else 'does not exist'}"
    lines = io.read_lines(path)
    if lines is None:
        return None, f"{path} does not exist or cannot be read"
    return _lines(lines, tests, path, quote=not SENSITIVE.search(path))


def _directory(path: str, r: dict[str, Any], io: Io) -> Result:
    names = r.get("names")
    if not names:
        there = io.is_dir(path)
        return there, f"directory {path} {'exists' if there else 'does not exist'}"
    listing = io.list_dir(path)
    if listing is None:
        return None, f"directory {path} does not exist or cannot be read"
    pattern = re.compile(names)
    found = sorted(n for n in listing if pattern.search(n))[:MAX_DIR_FILES]
    tests = r.get("tests") or []
    if not tests:
        if found:
            return True, f"{path} holds {', '.join(found[:MAX_EVIDENCE])}"
        return False, f"nothing in {path} matches {names}"
    for name in found:
        full = os.path.join(path, name)
        lines = io.read_lines(full)
        if lines is None:
            continue
        value, seen = _lines(lines, tests, full, quote=not SENSITIVE.search(full))
        if value:
            return True, seen
    return False, f"no file in {path} matching {names} has a matching line"


def _command(command: str, r: dict[str, Any], io: Io) -> Result:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        return None, f"cannot read the command {command!r}: {exc}"
    got = io.run(argv)
    if isinstance(got, str):
        return None, f"{command}: {got}"
    code, output = got
    tests = r.get("tests") or []
    if not tests:
        return code == 0, f"{command} exited with status {code}"
    return _lines(output.splitlines(), tests, f"output of {command}", quote=True)


def _lines(lines: list[str], tests: list[dict[str, Any]], where: str, *, quote: bool) -> Result:
    compiled = [(t, re.compile(t["re"])) for t in tests]
    for number, line in enumerate(lines, 1):
        if all(_test(t, p, line) for t, p in compiled):
            said = f": {line.strip()}" if quote else ""
            return True, f"line {number} of {where}{said}"
    wanted = " && ".join(_describe(t) for t in tests)
    near = ""
    word = _keyword(tests[0]["re"]) if quote else ""
    if word:  # the line the rule was about, as it is: "PASS_MAX_DAYS 99999"
        near = next(
            (
                f"; seen: {line.strip()}"
                for line in lines
                if word in line.lower() and not line.lstrip().startswith("#")
            ),
            "",
        )
    return False, f"no line of {where} matches {wanted}{near}"


def _keyword(pattern: str) -> str:
    """The setting a pattern is about ("permitrootlogin" of ^\\s*PermitRootLogin\\s+no)."""
    m = re.match(r"^\^?(?:\\s[*+])?([A-Za-z][A-Za-z0-9_.]{2,})", pattern)
    return m.group(1).replace("\\.", ".").lower() if m else ""


def _describe(t: dict[str, Any]) -> str:
    text = ("!" if t.get("neg") else "") + f"{t['k']}:{t['re']}"
    return f"{text} compare {t['op']} {t['value']:g}" if t["k"] == "n" else text


_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def _test(t: dict[str, Any], pattern: re.Pattern[str], line: str) -> bool:
    m = pattern.search(line)
    if t["k"] == "n":
        if m is None:
            hit = False
        else:
            try:
                hit = _OPS[t["op"]](float(m.group(1)), float(t["value"]))
            except (ValueError, TypeError, IndexError, KeyError):
                hit = False
    else:
        hit = m is not None
    return not hit if t.get("neg") else hit


def _fact(section: str, r: dict[str, Any], io: Io) -> Result:
    data = io.facts(section)
    if data is None:
        return None, f"the inventory has no {section}"
    items = data if isinstance(data, list) else [data]
    where = [tuple(w) for w in r.get("where") or []]
    matched = [i for i in items if isinstance(i, dict) and all(_matches(i, *w) for w in where)]
    op, limit = r.get("count") or (">=", 1)
    value = _OPS[op](len(matched), limit)
    names = [_label(i) for i in matched[:MAX_EVIDENCE]]
    more = f" and {len(matched) - len(names)} more" if len(matched) > len(names) else ""
    listed = f": {', '.join(names)}{more}" if names else ""
    return value, f"{len(matched)} of {section} match{listed}"


def _matches(item: dict[str, Any], name: str, op: str, expected: str) -> bool:
    actual = item.get(name)
    text = (
        "" if actual is None else str(actual).lower() if isinstance(actual, bool) else str(actual)
    )
    if op == "~":
        return re.search(expected, text) is not None
    same = text == expected
    return same if op == "=" else not same


def _label(item: dict[str, Any]) -> str:
    if "name" in item:
        return str(item["name"])
    if "port" in item:
        return f"{item.get('address', '')}:{item['port']} {item.get('process', '')}".strip()
    return json.dumps(item, sort_keys=True)[:80]


def _result(check: dict[str, Any], status: str, evidence: list[str]) -> dict[str, Any]:
    kept = [e[:MAX_EVIDENCE_CHARS] for e in evidence if e][:MAX_EVIDENCE]
    return {"check": str(check.get("id", "")), "status": status, "evidence": kept}


class _Cache:
    """One run's view of the machine: each file, listing, command and section read once."""

    def __init__(self, io: Io) -> None:
        self.io = io
        self._memo: dict[tuple[str, str], Any] = {}

    def _get(self, kind: str, key: str, read: Callable[[], Any]) -> Any:
        if (kind, key) not in self._memo:
            self._memo[kind, key] = read()
        return self._memo[kind, key]

    def read_lines(self, path: str) -> list[str] | None:
        return self._get("f", path, lambda: self.io.read_lines(path))  # type: ignore[no-any-return]

    def exists(self, path: str) -> bool:
        return self._get("e", path, lambda: self.io.exists(path))  # type: ignore[no-any-return]

    def is_dir(self, path: str) -> bool:
        return self._get("d", path, lambda: self.io.is_dir(path))  # type: ignore[no-any-return]

    def list_dir(self, path: str) -> list[str] | None:
        return self._get("l", path, lambda: self.io.list_dir(path))  # type: ignore[no-any-return]

    def process_names(self) -> set[str]:
        return self._get("p", "", self.io.process_names)  # type: ignore[no-any-return]

    def run(self, argv: list[str]) -> tuple[int, str] | str:
        return self._get("c", "\0".join(argv), lambda: self.io.run(argv))  # type: ignore[no-any-return]

    def facts(self, section: str) -> Any:
        return self._get("i", section, lambda: self.io.facts(section))


# ---- this machine ---------------------------------------------------------------------------


def allowed(argv: Sequence[str]) -> str:
    """Why this command may not run ("" when it may)."""
    if not argv:
        return "empty command"
    program = os.path.basename(argv[0])
    if program not in ALLOWED:
        return f"{program} is not on the agent's list of read-only programs"
    firsts = ALLOWED[program]
    if firsts is not None and (len(argv) < 2 or argv[1] not in firsts):
        return f"{program} may run only with {', '.join(sorted(firsts))}"
    bad = next((a for a in argv[1:] if FORBIDDEN_ARGS.search(a)), None)
    if bad is not None and program not in ("grep", "getent"):
        return f"the argument {bad!r} is not allowed"
    return ""


@dataclass
class RealIo:
    """This machine, read-only, bounded."""

    command_timeout: float = COMMAND_TIMEOUT
    facts_of: Callable[[str], Any] | None = None
    _procs: set[str] | None = field(default=None, repr=False)

    def read_lines(self, path: str) -> list[str] | None:
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_FILE)
        except OSError:
            return None
        return data.decode("utf-8", "replace").splitlines()

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    def list_dir(self, path: str) -> list[str] | None:
        try:
            with os.scandir(path) as it:
                return [e.name for _, e in zip(range(10_000), it, strict=False)]
        except OSError:
            return None

    def process_names(self) -> set[str]:
        import psutil

        return {p.info.get("name") or "" for p in psutil.process_iter(["name"])}

    def run(self, argv: list[str]) -> tuple[int, str] | str:
        why = allowed(argv)
        if why:
            return why
        program = shutil.which(argv[0], path=SEARCH_PATH)
        if program is None:
            return "not installed"
        env = {"PATH": SEARCH_PATH, "LC_ALL": "C", "LANG": "C"}
        try:
            proc = subprocess.Popen(
                [program, *argv[1:]],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            return f"cannot run: {exc.strerror or exc}"
        output, timed_out = _read_bounded(proc, self.command_timeout)
        if timed_out:
            return f"no answer within {self.command_timeout:g} s"
        return proc.returncode, output.decode("utf-8", "replace")

    def facts(self, section: str) -> Any:
        if self.facts_of is not None:
            return self.facts_of(section)
        from forewarn.agent import collect

        if section not in collect.COLLECTORS:
            return None
        return collect.collect_section(section)


def _read_bounded(proc: subprocess.Popen[bytes], timeout: float) -> tuple[bytes, bool]:
    """The first MAX_OUTPUT bytes of the command's output; (output, True) if it overran."""
    assert proc.stdout is not None
    end = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    fd = proc.stdout.fileno()
    try:
        while True:
            left = end - time.monotonic()
            if left <= 0:
                proc.kill()
                proc.wait()
                return b"", True
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            if size < MAX_OUTPUT:
                chunks.append(chunk[: MAX_OUTPUT - size])
                size += len(chunks[-1])
            else:  # enough: the rest is not read, and the program is stopped
                proc.kill()
                break
        proc.wait(max(end - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return b"", True
    finally:
        proc.stdout.close()
    return b"".join(chunks), False


# ---- when to run ----------------------------------------------------------------------------


def digest(policies: Sequence[dict[str, Any]]) -> str:
    canonical = json.dumps(list(policies), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class Assessor:
    """Runs the policies hourly and whenever they change; reports go out in the next batch."""

    def __init__(
        self,
        io: Io | None = None,
        *,
        interval: float = INTERVAL,
        budget: float = BUDGET,
        monotonic: Callable[[], float] = time.monotonic,
        family: str | None = None,
    ) -> None:
        self.io = io or RealIo()
        self.interval = interval
        self.budget = budget
        self._monotonic = monotonic
        self.family = family or os_family()
        self.last_at: float | None = None
        self.last_digest = ""

    def restore(self, state_json: str | None) -> None:
        try:
            state = json.loads(state_json) if state_json else {}
        except ValueError:
            state = {}
        at = state.get("at") if isinstance(state, dict) else None
        self.last_at = float(at) if isinstance(at, int | float) else None
        self.last_digest = str(state.get("digest", "")) if isinstance(state, dict) else ""

    def due(self, policies: Sequence[dict[str, Any]], now: float) -> bool:
        if not policies:
            return False
        if digest(policies) != self.last_digest or self.last_at is None:
            return True
        return not 0 <= now - self.last_at < self.interval

    def take(self, policies: Sequence[dict[str, Any]], now: float) -> list[dict[str, Any]]:
        """Reports of every policy for this OS (empty when not due)."""
        if not self.due(policies, now):
            return []
        start = self._monotonic()
        deadline = start + self.budget
        reports = []
        for policy in policies:
            if self.family not in (policy.get("os") or ["linux"]):
                continue
            t0 = self._monotonic()
            results = evaluate(policy, self.io, deadline=deadline, monotonic=self._monotonic)
            reports.append(
                {
                    "policy": str(policy.get("id", "")),
                    "ts": now,
                    "seconds": round(max(self._monotonic() - t0, 0.0), 3),
                    "results": results,
                }
            )
        log.info(
            "posture: %d policies evaluated in %.1f s", len(reports), self._monotonic() - start
        )
        return reports

    def remember(self, policies: Sequence[dict[str, Any]], now: float) -> str:
        """Mark this run done (once the batch carrying it is buffered); the meta to keep."""
        self.last_at, self.last_digest = now, digest(policies)
        return json.dumps({"at": now, "digest": self.last_digest})

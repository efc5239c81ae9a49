"""Watches the server asked for: processes to count and log files to search.

The server sends the whole list (wire.AgentConfig) in a check-in answer whenever the rev this
agent reports is not its own; `Watcher.apply` checks it and keeps it in the buffer's meta
table, so a restarted agent goes on watching without asking again. Each tick `take` counts:

- a process watch gives `watch.process_count{check=ID}`, the processes named so (or whose
  command line contains the name);
- a log watch gives `watch.log_matches{check=ID}`, the lines added to the file since the last
  tick that match the pattern, and a reading with the last such line. A new watch starts at
  the file's end (old lines are history, not news); a file that was rotated or truncated is
  read from its start. At most `read_limit` bytes are read per file and tick; the rest waits
  for the next tick, so a log that grows by gigabytes cannot stall the agent.

Only files under the agent's log directories (`/var/log` unless told otherwise) are read:
the server names the files, but it is this machine's owner who decides what may be read.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("forewarn.agent")

DEFAULT_LOG_DIRS = ("/var/log",)
LOG_DIRS_ENV = "FOREWARN_AGENT_LOG_DIRS"  # colon-separated, like PATH
READ_LIMIT = 4 * 1024 * 1024
MAX_WATCHES = 500
MAX_LINE = 500
META_CONFIG = "watch_config"
META_STATE = "watch_state"
META_WATCH_TS = "watch_ts"  # the time of the last watch sample (agent.runner)

Point = dict[str, Any]
Reading = dict[str, Any]


@dataclass(frozen=True)
class ProcessWatch:
    check: int
    name: str
    cmdline: bool


@dataclass(frozen=True)
class LogWatch:
    check: int
    path: str
    pattern: re.Pattern[str] | None  # None: the pattern did not compile (error says why)
    error: str = ""


@dataclass(frozen=True)
class Config:
    rev: str = ""
    processes: tuple[ProcessWatch, ...] = ()
    logs: tuple[LogWatch, ...] = ()
    # discovery runs to make (forewarn.agent.sweeps): {"run", "network", "ports", "communities"}
    sweeps: tuple[dict[str, Any], ...] = ()
    # posture policies to evaluate (forewarn.agent.posture), as the server sent them
    posture: tuple[dict[str, Any], ...] = ()


@dataclass
class Taken:
    """One tick's numbers and words, and the file positions to keep once they are buffered."""

    points: list[Point]
    readings: list[Reading]
    state: dict[str, Any] = field(default_factory=dict)


def log_dirs_from_env(env: dict[str, str] | None = None) -> tuple[str, ...]:
    value = (env if env is not None else os.environ).get(LOG_DIRS_ENV, "")
    dirs = tuple(d for d in value.split(":") if d)
    return dirs or DEFAULT_LOG_DIRS


def parse_config(doc: object) -> Config:
    """The server's document as watches; ValueError if it is not the expected shape."""
    if not isinstance(doc, dict):
        raise ValueError("the watch configuration is not an object")
    rev = doc.get("rev", "")
    if not isinstance(rev, str) or len(rev) > 32:
        raise ValueError("the watch configuration has no valid rev")
    processes = []
    for item in _items(doc, "processes"):
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("a process watch has no name")
        processes.append(ProcessWatch(_check_id(item), name, bool(item.get("cmdline", False))))
    logs = []
    for item in _items(doc, "logs"):
        path, pattern = item.get("path"), item.get("pattern")
        if not isinstance(path, str) or not isinstance(pattern, str):
            raise ValueError("a log watch needs a path and a pattern")
        flags = re.IGNORECASE if item.get("ignore_case") else 0
        try:
            logs.append(LogWatch(_check_id(item), path, re.compile(pattern, flags)))
        except re.error as exc:
            logs.append(LogWatch(_check_id(item), path, None, f"bad pattern: {exc}"))
    sweeps = []
    for item in _items(doc, "sweeps"):
        network = item.get("network")
        ports = item.get("ports") or []
        communities = item.get("communities") or []
        if not isinstance(network, str) or not isinstance(ports, list):
            raise ValueError("a sweep needs a network")
        if not all(isinstance(p, int) and 0 < p < 65536 for p in ports):
            raise ValueError("a sweep's ports are not port numbers")
        if not isinstance(communities, list) or not all(isinstance(c, str) for c in communities):
            raise ValueError("a sweep's communities are not strings")
        sweeps.append(
            {"run": _check_id(item), "network": network, "ports": ports, "communities": communities}
        )
    posture = doc.get("posture") or []
    if not isinstance(posture, list) or not all(isinstance(p, dict) for p in posture):
        raise ValueError("the posture policies are not a list of objects")
    return Config(rev, tuple(processes), tuple(logs), tuple(sweeps), tuple(posture))


def _items(doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = doc.get(key) or []
    if not isinstance(items, list) or len(items) > MAX_WATCHES:
        raise ValueError(f"the watch configuration's {key} is not a list of at most 500")
    if not all(isinstance(i, dict) for i in items):
        raise ValueError(f"an entry of {key} is not an object")
    return items


def _check_id(item: dict[str, Any]) -> int:
    check = item.get("check", item.get("run"))
    if not isinstance(check, int) or isinstance(check, bool) or check < 1:
        raise ValueError("a watch or sweep has no valid id")
    return check


def running_processes(with_cmdline: bool) -> list[tuple[str, str]]:
    """(name, command line) of every process this agent can see."""
    import psutil

    attrs = ["name", "cmdline"] if with_cmdline else ["name"]
    out = []
    for proc in psutil.process_iter(attrs):
        info = proc.info
        cmd = info.get("cmdline") or []
        out.append((info.get("name") or "", " ".join(cmd) if with_cmdline else ""))
    return out


def count_processes(
    watches: Sequence[ProcessWatch], processes: Iterable[tuple[str, str]]
) -> dict[int, int]:
    """How many processes each watch matches: by exact name, or within the command line."""
    counts = dict.fromkeys((w.check for w in watches), 0)
    table = list(processes)
    for w in watches:
        if w.cmdline:
            counts[w.check] = sum(1 for _, cmd in table if w.name in cmd)
        else:
            counts[w.check] = sum(1 for name, _ in table if name == w.name)
    return counts


class Watcher:
    def __init__(
        self,
        log_dirs: Sequence[str] = DEFAULT_LOG_DIRS,
        *,
        read_limit: int = READ_LIMIT,
        processes: Callable[[bool], list[tuple[str, str]]] = running_processes,
    ) -> None:
        self.log_dirs = tuple(os.path.realpath(d) for d in log_dirs)
        self.read_limit = read_limit
        self._processes = processes
        self.config = Config()
        # check id -> {"path", "inode", "offset", "error"}: where each log was read up to and
        # the error last reported (so a reading goes out only when it changes)
        self.state: dict[str, dict[str, Any]] = {}

    @property
    def rev(self) -> str:
        return self.config.rev

    # ---- configuration -------------------------------------------------------------------

    def restore(self, config_json: str | None, state_json: str | None) -> None:
        """What the buffer's meta kept from the last run; anything unreadable is dropped."""
        try:
            self.config = parse_config(json.loads(config_json)) if config_json else Config()
        except ValueError:
            log.warning("the kept watch configuration is unreadable; waiting for the server's")
            self.config = Config()
        try:
            state = json.loads(state_json) if state_json else {}
        except ValueError:
            state = {}
        self.state = state if isinstance(state, dict) else {}

    def apply(self, doc: object) -> str | None:
        """Take the server's document; the JSON to keep in the meta table (None if refused)."""
        try:
            config = parse_config(doc)
        except ValueError as exc:
            log.warning("watch configuration from the server refused: %s", exc)
            return None
        if config != self.config:
            log.info(
                "now watching %d processes and %d logs (rev %s)",
                len(config.processes),
                len(config.logs),
                config.rev or "-",
            )
        self.config = config
        keep = {str(w.check) for w in config.logs}
        self.state = {k: v for k, v in self.state.items() if k in keep}
        return json.dumps(doc, separators=(",", ":"))

    # ---- each tick -----------------------------------------------------------------------

    def take(self, now: float) -> Taken:
        """This tick's points and readings; `commit` the state once they are buffered."""
        taken = Taken([], [], {k: dict(v) for k, v in self.state.items()})
        if self.config.processes:
            self._take_processes(taken)
        for w in self.config.logs:
            self._take_log(w, now, taken)
        return taken

    def commit(self, taken: Taken) -> str:
        self.state = taken.state
        return json.dumps(self.state, separators=(",", ":"))

    def _take_processes(self, taken: Taken) -> None:
        watches = self.config.processes
        try:
            table = self._processes(any(w.cmdline for w in watches))
        except Exception:  # a vanished /proc, a psutil error: no numbers this tick
            log.exception("reading the process table failed")
            return
        for check, count in count_processes(watches, table).items():
            taken.points.append(_point("watch.process_count", check, count))

    def _take_log(self, w: LogWatch, now: float, taken: Taken) -> None:
        key = str(w.check)
        st = taken.state.get(key)
        if st is None or st.get("path") != w.path:
            st = {"path": w.path, "inode": None, "offset": None, "error": ""}
            taken.state[key] = st
        error, count, last = self._read(w, st)
        if error:
            if error != st.get("error"):
                taken.readings.append({"check": w.check, "ts": now, "error": error})
            st["error"] = error
            return
        taken.points.append(_point("watch.log_matches", w.check, count))
        if last or st.get("error"):
            taken.readings.append({"check": w.check, "ts": now, "line": last, "error": ""})
        st["error"] = ""

    def _read(self, w: LogWatch, st: dict[str, Any]) -> tuple[str, int, str]:
        """(error, matching lines, last matching line) since the position in `st`."""
        if w.pattern is None:
            return w.error, 0, ""
        real = os.path.realpath(w.path)
        if not any(real == d or real.startswith(d.rstrip("/") + "/") for d in self.log_dirs):
            allowed = ", ".join(self.log_dirs)
            return f"outside the agent's log directories ({allowed})", 0, ""
        try:
            with open(real, "rb") as fh:
                info = os.fstat(fh.fileno())
                if st.get("offset") is None:  # a new watch starts at the end
                    st["inode"], st["offset"] = info.st_ino, info.st_size
                    return "", 0, ""
                if info.st_ino != st.get("inode") or info.st_size < st["offset"]:
                    st["inode"], st["offset"] = info.st_ino, 0  # rotated or truncated
                fh.seek(st["offset"])
                chunk = fh.read(self.read_limit)
        except FileNotFoundError:
            st["inode"], st["offset"] = None, 0  # when it appears, all of it is new
            return "no such file", 0, ""
        except PermissionError:
            return "permission denied", 0, ""
        except OSError as exc:
            return exc.strerror or str(exc), 0, ""
        end = chunk.rfind(b"\n") + 1
        if end == 0 and len(chunk) < self.read_limit:
            return "", 0, ""  # half a line so far: wait for its end
        if end == 0:
            end = len(chunk)  # one line longer than the limit: take it as it is
        st["offset"] += end
        count, last = 0, ""
        for line in chunk[:end].decode("utf-8", "replace").splitlines():
            if w.pattern.search(line):
                count += 1
                last = line
        return "", count, last.strip()[:MAX_LINE]


def _point(name: str, check: int, value: float) -> Point:
    return {"name": name, "labels": {"check": str(check)}, "value": value}

"""The agent's watches: counting processes and the new matching lines of log files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from forewarn.agent.watch import (
    ProcessWatch,
    Watcher,
    count_processes,
    log_dirs_from_env,
    parse_config,
)
from forewarn.domain.observation import Status
from forewarn.probes import agent as agent_probe

T = 1_790_000_000.0


def config(tmp_path: Path, **log: object) -> dict[str, object]:
    entry = {"check": 7, "path": str(tmp_path / "app.log"), "pattern": "ERROR", **log}
    return {"rev": "ab12", "processes": [], "logs": [entry]}


def watcher(tmp_path: Path, **kw: object) -> Watcher:
    w = Watcher([str(tmp_path)], **kw)  # type: ignore[arg-type]
    return w


def take(w: Watcher, at: float = T):
    taken = w.take(at)
    w.commit(taken)
    points = {p["name"]: p["value"] for p in taken.points}
    return points.get("watch.log_matches"), taken.readings


def test_a_new_log_watch_starts_at_the_end_then_counts_new_matching_lines(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("old ERROR that is history\n")
    w = watcher(tmp_path)
    assert w.apply(config(tmp_path)) is not None
    assert take(w) == (0, [])

    with log.open("a") as fh:
        fh.write("INFO fine\nERROR disk full\nwarning\nERROR db gone\npartial ERR")
    count, readings = take(w, T + 60)
    assert count == 2
    assert readings == [{"check": 7, "ts": T + 60, "line": "ERROR db gone", "error": ""}]

    with log.open("a") as fh:  # the half line is finished: it is read whole, and matches
        fh.write("OR in the tail\n")
    assert take(w, T + 120)[0] == 1


def test_a_rotated_or_truncated_log_is_read_from_its_start(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("x" * 100 + "\n")
    w = watcher(tmp_path)
    w.apply(config(tmp_path))
    take(w)
    os.rename(log, tmp_path / "app.log.1")
    log.write_text("ERROR after rotation\n")
    assert take(w, T + 60)[0] == 1
    log.write_text("")  # truncated (copytruncate)
    log.write_text("error lower case\n")
    assert take(w, T + 120)[0] == 0  # the pattern is case-sensitive unless told
    w.apply(config(tmp_path, ignore_case=True))
    log.write_text("error again\n")
    assert take(w, T + 180)[0] == 1


def test_errors_are_reported_once_and_cleared(tmp_path):
    w = watcher(tmp_path)
    w.apply(config(tmp_path))
    count, readings = take(w)
    assert count is None and readings[0]["error"] == "no such file"
    assert take(w, T + 60) == (None, [])  # the same error is not sent again
    (tmp_path / "app.log").write_text("ERROR written before the agent saw the file\n")
    count, readings = take(w, T + 120)
    assert count == 1  # a file that appears is all new
    assert readings == [
        {
            "check": 7,
            "ts": T + 120,
            "line": "ERROR written before the agent saw the file",
            "error": "",
        }
    ]


def test_files_outside_the_log_directories_are_not_read(tmp_path):
    outside = tmp_path.parent / "secret.txt"
    outside.write_text("ERROR\n")
    w = watcher(tmp_path)
    w.apply({"rev": "1", "logs": [{"check": 1, "path": str(outside), "pattern": "."}]})
    count, readings = take(w)
    assert count is None
    assert "outside the agent's log directories" in readings[0]["error"]
    # Nor through a link placed inside one.
    (tmp_path / "link.log").symlink_to(outside)
    w.apply(
        {"rev": "2", "logs": [{"check": 1, "path": str(tmp_path / "link.log"), "pattern": "."}]}
    )
    assert take(w)[0] is None


def test_reading_is_bounded_per_tick(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("")
    w = watcher(tmp_path, read_limit=1000)
    w.apply(config(tmp_path))
    take(w)
    log.write_text("ERROR line\n" * 300)  # 3,300 bytes
    counts = [take(w, T + i)[0] for i in range(5)]
    assert counts[0] < 300 and sum(c or 0 for c in counts) == 300


def test_state_survives_a_restart_through_the_kept_json(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("")
    w = watcher(tmp_path)
    kept_config = w.apply(config(tmp_path))
    kept_state = w.commit(w.take(T))
    log.write_text("ERROR while the agent was stopped\n")
    again = watcher(tmp_path)
    again.restore(kept_config, kept_state)
    assert again.rev == "ab12"
    assert take(again, T + 60)[0] == 1


def test_process_counts_by_name_or_command_line():
    table = [("nginx", "nginx: master"), ("nginx", "nginx: worker"), ("python3", "python3 app.py")]
    watches = [
        ProcessWatch(1, "nginx", False),
        ProcessWatch(2, "app.py", True),
        ProcessWatch(3, "postgres", False),
        ProcessWatch(4, "app.py", False),
    ]
    assert count_processes(watches, table) == {1: 2, 2: 1, 3: 0, 4: 0}


def test_process_points_come_from_the_process_table():
    w = Watcher(processes=lambda cmdline: [("sshd", "/usr/sbin/sshd -D")])
    w.apply({"rev": "9", "processes": [{"check": 3, "name": "sshd"}]})
    taken = w.take(T)
    assert taken.points == [{"name": "watch.process_count", "labels": {"check": "3"}, "value": 1}]


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"rev": 5},
        {"rev": "1", "processes": [{"name": "x"}]},
        {"rev": "1", "processes": [{"check": True, "name": "x"}]},
        {"rev": "1", "logs": [{"check": 1, "path": "/var/log/x"}]},
        {"rev": "1", "logs": "nope"},
    ],
)
def test_a_malformed_document_is_refused_and_the_old_one_kept(doc):
    w = Watcher()
    w.apply({"rev": "1", "processes": [{"check": 1, "name": "cron"}]})
    assert w.apply(doc) is None
    assert w.rev == "1" and len(w.config.processes) == 1
    with pytest.raises(ValueError):
        parse_config(doc)


def test_a_bad_pattern_becomes_that_watch_s_error(tmp_path):
    w = watcher(tmp_path)
    w.apply(config(tmp_path, pattern="(unclosed"))
    count, readings = take(w)
    assert count is None and readings[0]["error"].startswith("bad pattern")


def test_log_directories_from_the_environment():
    assert log_dirs_from_env({}) == ("/var/log",)
    assert log_dirs_from_env({"FOREWARN_AGENT_LOG_DIRS": "/srv/logs:/opt/app/log"}) == (
        "/srv/logs",
        "/opt/app/log",
    )


# ---- judged on the server -------------------------------------------------------------------


def params(**kw: object) -> agent_probe.Params:
    return agent_probe.validate("", kw)


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ({"kind": "process"}, "names its process"),
        ({"kind": "process", "process": "x", "min_count": 3, "max_count": 1}, "below min_count"),
        ({"kind": "log", "path": "var/log/syslog", "pattern": "x"}, "absolute"),
        ({"kind": "log", "path": "/var/log/../../etc/shadow", "pattern": "x"}, "absolute"),
        ({"kind": "log", "path": "/var/log/syslog", "pattern": "("}, "not a regular expression"),
        ({"kind": "log", "path": "/var/log/syslog"}, "needs a pattern"),
        ({"kind": "log", "path": "/var/log/x", "pattern": "x", "window_s": 10}, "at least 60"),
    ],
)
def test_bad_watch_definitions_are_refused(bad, why):
    with pytest.raises(ValueError, match=why):
        params(**bad)


def test_process_verdicts():
    p = params(kind="process", process="nginx", min_count=2, max_count=4)
    facts = agent_probe.AgentFacts
    assert agent_probe.evaluate(p, facts(online=True)).status is Status.UNKNOWN
    low = agent_probe.evaluate(p, facts(online=True, watch_value=1))
    assert low.status is Status.CRITICAL and "at least 2" in low.message
    assert agent_probe.evaluate(p, facts(online=True, watch_value=3)).status is Status.OK
    assert agent_probe.evaluate(p, facts(online=True, watch_value=5)).status is Status.WARNING
    offline = agent_probe.evaluate(p, facts(online=False, watch_value=3))
    assert offline.status is Status.UNKNOWN


def test_log_verdicts_default_to_critical_on_any_match():
    p = params(kind="log", path="/var/log/app.log", pattern="ERROR")
    facts = agent_probe.AgentFacts
    quiet = agent_probe.evaluate(p, facts(online=True, watch_value=0))
    assert quiet.status is Status.OK and "0 lines" in quiet.message
    hit = agent_probe.evaluate(p, facts(online=True, watch_value=2, watch_line="ERROR db"))
    assert hit.status is Status.CRITICAL and hit.message.endswith("last: ERROR db")
    broken = agent_probe.evaluate(p, facts(online=True, watch_error="permission denied"))
    assert broken.status is Status.UNKNOWN and "permission denied" in broken.message
    lenient = params(kind="log", path="/var/log/app.log", pattern="WARN", warn="5", crit="20")
    assert agent_probe.evaluate(lenient, facts(online=True, watch_value=3)).status is Status.OK
    assert agent_probe.evaluate(lenient, facts(online=True, watch_value=6)).status is Status.WARNING

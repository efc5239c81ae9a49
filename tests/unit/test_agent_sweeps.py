"""The agent's side of discovery: one sweep at a time in a child process, bounded in time,
each run reported once."""

from __future__ import annotations

import sys
import time

from forewarn.agent.sweep_child import sweep
from forewarn.agent.sweeps import Sweeper

ECHO = (
    "import json, sys; t = json.load(sys.stdin); "
    "json.dump({'run': t['run'], 'addresses': 2, 'hosts': [{'address': t['network']}]}, sys.stdout)"
)


def task(run: int) -> dict[str, object]:
    return {"run": run, "network": f"192.0.2.{run}/32", "ports": [80], "communities": []}


def until_reported(s: Sweeper, tasks, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reports = s.poll(tasks)
        if reports:
            return reports
        time.sleep(0.02)
    raise AssertionError("no report")


def test_tasks_run_one_at_a_time_and_each_is_reported_once(tmp_path):
    s = Sweeper(tmp_path, command=lambda: [sys.executable, "-c", ECHO])
    tasks = [task(1), task(2)]
    first = until_reported(s, tasks)
    assert first == [{"run": 1, "addresses": 2, "hosts": [{"address": "192.0.2.1/32"}]}]
    s.remember(first)
    second = until_reported(s, tasks)
    assert [r["run"] for r in second] == [2]
    kept = s.remember(second)
    # Still listed until the server hears of them: not swept again, also after a restart.
    again = Sweeper(tmp_path, command=lambda: [sys.executable, "-c", ECHO])
    again.restore(kept)
    assert again.poll(tasks) == [] and again._child is None
    assert list(tmp_path.iterdir()) == []  # report files are removed


def test_a_hung_sweep_is_killed_and_reported_as_failed(tmp_path):
    clock = [0.0]
    s = Sweeper(
        tmp_path,
        command=lambda: [sys.executable, "-c", "import time; time.sleep(60)"],
        max_seconds=5,
        monotonic=lambda: clock[0],
    )
    assert s.poll([task(3)]) == []
    child = s._child
    assert child is not None
    clock[0] = 6.0
    assert s.poll([task(3)]) == [{"run": 3, "error": "the sweep did not end within 5 s"}]
    assert child.proc.poll() is not None  # killed


def test_a_crashing_or_missing_sweeper_is_a_failed_report(tmp_path):
    s = Sweeper(tmp_path, command=lambda: [sys.executable, "-c", "raise SystemExit(3)"])
    assert until_reported(s, [task(4)]) == [
        {"run": 4, "error": "the sweep process failed (exit status 3)"}
    ]
    missing = Sweeper(tmp_path, command=lambda: [str(tmp_path / "no-such-program")])
    [report] = missing.poll([task(5)])
    assert report["run"] == 5 and report["error"].startswith("cannot start the sweep")


def test_the_child_refuses_what_the_rules_forbid_without_sending_anything():
    too_big = sweep({"run": 9, "network": "10.0.0.0/8"})
    assert too_big["run"] == 9 and "at most 1,024" in too_big["error"]
    multicast = sweep({"run": 9, "network": "224.0.0.0/28"})
    assert "multicast" in multicast["error"]
    assert "not a network" in sweep({"run": 9, "network": "nonsense"})["error"]

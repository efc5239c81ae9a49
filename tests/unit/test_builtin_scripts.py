"""The shipped maintenance tasks, run on this machine the way the agent runs a library script
(a signed job, real bash, the agent's bare environment), on real trees in temporary folders."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from forewarn.agent.jobs import JobRunner
from forewarn.services.builtin_scripts import builtin, parse
from tests.unit.test_agent_jobs import NOW, PUB, envelope, order

DAY = 86400


def task(name: str) -> Any:
    found = [b for b in builtin() if b.name == name]
    assert found, f"no shipped task {name}"
    return found[0]


def run(name: str, **params: str) -> dict[str, Any]:
    """Run a shipped task as a job: its defaults, overridden by `params`."""
    b = task(name)
    values = {p["name"]: p["default"] for p in b.parameters}
    values.update(params)
    jobs = JobRunner(5, PUB, clock=lambda: NOW + 1)
    env = envelope(payload={"language": "bash", "body": b.body, "params": values, "timeout": 60})
    out = jobs.handle(order(env), persist=lambda s: None)
    assert out is not None
    return out


def aged(path: Path, days: float, size: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    then = time.time() - days * DAY
    os.utime(path, (then, then))
    return path


def test_every_shipped_task_parses_with_a_description_and_parameters_it_uses() -> None:
    names = {b.name for b in builtin()}
    assert names == {
        "clean-package-caches",
        "clean-temp-files",
        "trim-logs",
        "smart-health",
        "free-disk-space",
    }
    for b in builtin():
        assert b.description and 1 <= b.timeout_s <= 3600
        for p in b.parameters:
            assert f"{p['name']}" in b.body.split("\n", 10)[-1] and p["description"], (b.name, p)


def test_a_header_without_a_name_is_refused() -> None:
    with pytest.raises(ValueError, match="name"):
        parse("#!/bin/bash\n# description: x\necho\n")
    with pytest.raises(ValueError, match="parameter"):
        parse("#!/bin/bash\n# name: x\n# param: lower=1\n")


def test_the_temp_cleaner_deletes_only_old_files_on_a_real_tree(tmp_path: Path) -> None:
    old = [aged(tmp_path / "t" / "a.tmp", 10), aged(tmp_path / "t" / "deep" / "b.tmp", 30, 50)]
    new = aged(tmp_path / "t" / "fresh.tmp", 1)
    other = aged(tmp_path / "v" / "c.tmp", 9)
    out = run("clean-temp-files", DAYS="7", DIRS=f"{tmp_path / 't'} {tmp_path / 'v'}")
    assert out["state"] == "succeeded", out
    assert not any(p.exists() for p in [*old, other]) and new.exists()
    assert "total: 3 files, 250 bytes freed" in out["output"]


@pytest.mark.parametrize("days", ["x", "0", "-1", ""])
def test_the_temp_cleaner_refuses_a_bad_age_and_deletes_nothing(tmp_path: Path, days: str) -> None:
    old = aged(tmp_path / "a.tmp", 30)
    out = run("clean-temp-files", DAYS=days, DIRS=str(tmp_path))
    assert (out["state"], out["exit_code"]) == ("failed", 3) and old.exists()


def test_the_temp_cleaner_refuses_a_system_directory() -> None:
    out = run("clean-temp-files", DIRS="/etc")
    assert out["exit_code"] == 3 and "not a temporary directory" in out["output"]


def test_trim_logs_removes_old_rotated_logs_and_keeps_current_ones(tmp_path: Path) -> None:
    logs = tmp_path / "log"
    current = aged(logs / "syslog", 40)  # old but current: never touched
    rotated_old = [aged(logs / "syslog.2.gz", 20), aged(logs / "app" / "app.log.1", 30)]
    rotated_new = aged(logs / "syslog.1.gz", 2)
    out = run("trim-logs", DAYS="14", LOG_DIR=str(logs), VACUUM_JOURNAL="no")
    assert out["state"] == "succeeded", out
    assert current.exists() and rotated_new.exists()
    assert not any(p.exists() for p in rotated_old)
    assert "deleted 2 rotated logs, 200 bytes" in out["output"]


def test_smart_health_says_when_smartctl_is_missing_or_reads_the_disks() -> None:
    out = run("smart-health")
    if shutil.which(
        "smartctl", path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    ):
        assert out["exit_code"] in (0, 1, 2, 3), out
    else:
        assert out["exit_code"] == 3 and "smartctl not installed" in out["output"]


def test_the_package_cache_cleaner_names_what_it_would_clean() -> None:
    out = run("clean-package-caches", DRY_RUN="yes")
    if shutil.which("apt-get"):
        assert out["state"] == "succeeded" and "would run apt-get clean" in out["output"]
    else:
        assert out["exit_code"] in (0, 3)


def test_free_disk_space_cleans_and_reports_before_and_after(tmp_path: Path) -> None:
    old = aged(tmp_path / "tmp" / "big.bin", 10, size=4 * 1024 * 1024)
    log = aged(tmp_path / "log" / "x.log.3.gz", 10)
    out = run(
        "free-disk-space",
        MOUNT=str(tmp_path),
        DIRS=str(tmp_path / "tmp"),
        LOG_DIR=str(tmp_path / "log"),
        CLEAN_PACKAGES="no",
        VACUUM_JOURNAL="no",
    )
    assert out["state"] == "succeeded", out
    assert not old.exists() and not log.exists()
    assert "deleted 1 old files" in out["output"] and "deleted 1 rotated logs" in out["output"]
    assert f"free on {tmp_path}: before" in out["output"]

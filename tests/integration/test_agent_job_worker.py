"""Jobs run beside the agent's loop, with the real agent and a real server on loopback.

`forewarn serve` and `forewarn-agent run` are real processes. A library script that runs for
a minute is started by the agent's worker; the server hears that it is running while it runs
(the loop is not blocked by it). The agent is then killed mid-job (SIGKILL: no farewell) and
started again: it reports the job as interrupted, and the server shows why.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration import test_agent_e2e
from tests.integration.test_agent_e2e import BIN, Server, enrolment_token

server = test_agent_e2e.server  # the fixture: a real `forewarn serve` on loopback

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]


def _job(server: Server, job_id: int) -> dict[str, Any]:
    got: dict[str, Any] = server.api(f"/api/v1/jobs/{job_id}")
    return got


def _wait_job(server: Server, job_id: int, states: set[str], timeout: float = 40) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = _job(server, job_id)
        if job["state"] in states:
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['state']}"
        time.sleep(0.2)


def _issue_sleeper(server: Server, tmp_path: Path, asset_id: int, org_id: int) -> int:
    script = server.api(
        "/api/v1/scripts",
        {
            "org_id": org_id,
            "name": "long chore",
            "language": "bash",
            "body": 'echo $$ > "$PIDFILE"; echo started; sleep 60; echo done',
            "parameters": [{"name": "PIDFILE", "default": ""}],
            "timeout_s": 120,
        },
    )
    run = server.api(
        f"/api/v1/scripts/{script['id']}/run",
        {"org_id": org_id, "asset_ids": [asset_id], "params": {"PIDFILE": str(tmp_path / "pid")}},
    )
    (job_id,) = run["jobs"]
    return int(job_id)


def test_a_job_runs_beside_the_loop_and_one_cut_off_by_a_crash_is_reported(
    server: Server,
    tmp_path: Path,
) -> None:
    token = enrolment_token(server)
    server.forewarn("agent", "enroll", "--server", server.url, "--token", token)
    state = json.loads((Path(server.env["FOREWARN_AGENT_STATE_DIR"]) / "agent.json").read_text())
    job_id = _issue_sleeper(server, tmp_path, state["asset_id"], state["org_id"])
    assert _job(server, job_id)["state"] == "queued"

    agent = subprocess.Popen(
        [str(BIN / "forewarn-agent"), "run", "--interval", "10"],
        env=server.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pid_file = tmp_path / "pid"
    try:
        running = _wait_job(server, job_id, {"running", "succeeded", "failed", "refused"})
        # Told while the script still sleeps: the check-in loop went on beside it.
        assert running["state"] == "running", running
        assert running["started_at"] is not None and running["finished_at"] is None
        deadline = time.monotonic() + 10
        while not pid_file.exists() or not pid_file.read_text().strip():
            assert time.monotonic() < deadline, "the script never started"
            time.sleep(0.1)
        job_pid = int(pid_file.read_text())
        os.kill(job_pid, 0)  # really running
        # The agent goes away mid-job, with no chance to say anything.
        agent.send_signal(signal.SIGKILL)
        agent.wait(timeout=10)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait(timeout=10)
        if pid_file.exists() and pid_file.read_text().strip():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(pid_file.read_text()), signal.SIGKILL)
    assert _job(server, job_id)["state"] == "running"  # the server cannot know yet

    back = server.forewarn("agent", "run", "--once", check=False)
    assert back.returncode == 0, back.stderr
    job = _job(server, job_id)
    assert job["state"] == "failed", job
    assert job["reason"] == "the agent stopped while the job ran"
    assert job["started_at"] is not None and job["finished_at"] is not None
    # Reported once: another run leaves it as it is, and does not run it again.
    again = server.forewarn("agent", "run", "--once", check=False)
    assert again.returncode == 0, again.stderr
    assert _job(server, job_id) == job


def test_the_long_poll_brings_a_job_long_before_the_next_check_in(
    server: Server,
    tmp_path: Path,
) -> None:
    token = enrolment_token(server)
    server.forewarn("agent", "enroll", "--server", server.url, "--token", token)
    state = json.loads((Path(server.env["FOREWARN_AGENT_STATE_DIR"]) / "agent.json").read_text())
    # Check-ins every 10 minutes: a job can only arrive within this test by the fast path.
    agent = subprocess.Popen(
        [str(BIN / "forewarn-agent"), "run", "--interval", "600"],
        env=server.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while "last delivery: 20" not in server.forewarn("agent", "status").stdout:
            assert time.monotonic() < deadline, "no first check-in within 30 s"
            time.sleep(0.2)
        script = server.api(
            "/api/v1/scripts",
            {"org_id": state["org_id"], "name": "quick", "language": "bash", "body": "echo fast"},
        )
        run = server.api(
            f"/api/v1/scripts/{script['id']}/run",
            {"org_id": state["org_id"], "asset_ids": [state["asset_id"]]},
        )
        (job_id,) = run["jobs"]
        job = _wait_job(server, job_id, {"succeeded", "failed", "refused", "timed_out"})
        assert (job["state"], job["output"]) == ("succeeded", "fast\n"), job
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(timeout=20)
        finally:
            if agent.poll() is None:
                agent.kill()

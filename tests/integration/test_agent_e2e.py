"""The real agent against a real server: enrol, check in, and find the machine in the API.

Starts `forewarn serve` on a free loopback port over a temporary data directory, creates an
organization and an enrolment token with the CLI, then runs the installed `forewarn agent`
commands as an administrator would, and reads back through the REST API what the agent
reported about this very machine.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from forewarn.wire import Batch

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

BIN = Path(sys.executable).parent
PASSWORD = "e2e-admin-password"
# What `forewarn agent ...` must never load: they would triple the agent's memory.
HEAVY = ("pydantic", "sqlalchemy", "typer", "rich", "fastapi", "forewarn.wire", "forewarn.cli")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    port: int
    env: dict[str, str]
    token: str = ""

    def forewarn(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the installed `forewarn` command with this server's environment."""
        return subprocess.run(
            [str(BIN / "forewarn"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=check,
        )

    def api(self, path: str, body: dict[str, Any] | None = None) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        method = "POST" if body is not None else "GET"
        conn.request(method, path, json.dumps(body) if body else None, headers)
        response = conn.getresponse()
        data = response.read()
        assert response.status in (200, 201), f"{method} {path}: {response.status} {data[:500]!r}"
        return json.loads(data)


def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "forewarn serve exited during start"
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("forewarn serve not ready within 30 s")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    env = {
        **os.environ,
        "FOREWARN_DATA_DIR": str(tmp_path / "server"),
        "FOREWARN_ADMIN_PASSWORD": PASSWORD,
        "FOREWARN_SECRET_KEY": "e2e-secret-key",
        "FOREWARN_BIND": f"127.0.0.1:{port}",
        "FOREWARN_AGENT_STATE_DIR": str(tmp_path / "agent"),
        # The agent's discovery test sweeps this machine's own loopback address.
        "FOREWARN_DISCOVERY_ALLOW_LOOPBACK": "true",
    }
    env.pop("FOREWARN_DATABASE_URL", None)
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(BIN / "forewarn"), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_ready(port, proc)
        srv = Server(f"http://127.0.0.1:{port}", port, env)
        srv.token = srv.api("/api/v1/auth/token", {"username": "admin", "password": PASSWORD})[
            "access_token"
        ]
        yield srv
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def enrolment_token(server: Server) -> str:
    server.forewarn("org", "create", "Acme Dental", "--slug", "acme")
    return server.forewarn("enroll-token", "create", "--org", "acme").stdout.strip()


def test_an_enrolled_agent_reports_this_machine(server: Server) -> None:
    token = enrolment_token(server)

    enrolled = server.forewarn("agent", "enroll", "--server", server.url, "--token", token)
    assert "enrolled as agent" in enrolled.stdout
    once = server.forewarn("agent", "run", "--once", check=False)
    assert once.returncode == 0, once.stderr

    state = json.loads((Path(server.env["FOREWARN_AGENT_STATE_DIR"]) / "agent.json").read_text())
    asset_id = state["asset_id"]
    asset = server.api(f"/api/v1/assets/{asset_id}")
    assert asset["hostname"] == socket.gethostname()

    packages = server.api(f"/api/v1/assets/{asset_id}/inventory/packages")["data"]
    assert "bash" in {p["name"] for p in packages}
    accounts = server.api(f"/api/v1/assets/{asset_id}/inventory/accounts")["data"]
    root = next(a for a in accounts if a["name"] == "root")
    assert root["uid"] == 0 and root["admin"] is True

    series = {s["name"] for s in server.api(f"/api/v1/assets/{asset_id}/metrics/series")}
    assert {"load.1", "disk.used_percent"} <= series
    agent = server.api(f"/api/v1/assets/{asset_id}/agent")["agent"]
    assert agent["status"] == "online"

    status = server.forewarn("agent", "status")
    assert "0 batches waiting" in status.stdout
    assert "last delivery: 20" in status.stdout


def test_enrolment_is_not_replaced_silently(server: Server) -> None:
    token = enrolment_token(server)
    server.forewarn("agent", "enroll", "--server", server.url, "--token", token)

    again = server.forewarn(
        "agent", "enroll", "--server", server.url, "--token", token, check=False
    )

    assert again.returncode == 1
    assert "already enrolled" in again.stderr and "--force" in again.stderr


def test_a_bad_enrolment_token_is_a_clear_failure(server: Server) -> None:
    result = server.forewarn(
        "agent", "enroll", "--server", server.url, "--token", "fwe_not-a-real-token", check=False
    )
    assert result.returncode == 1
    assert "enrolment token refused" in result.stderr
    assert not (Path(server.env["FOREWARN_AGENT_STATE_DIR"]) / "agent.json").exists()


def test_the_agent_stops_cleanly_on_sigterm(server: Server) -> None:
    token = enrolment_token(server)
    server.forewarn("agent", "enroll", "--server", server.url, "--token", token)
    state_dir = Path(server.env["FOREWARN_AGENT_STATE_DIR"])

    agent = subprocess.Popen(
        [str(BIN / "forewarn-agent"), "run"],
        env=server.env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while "last delivery: 20" not in server.forewarn("agent", "status").stdout:
            assert time.monotonic() < deadline, "no check-in within 30 s"
            time.sleep(0.2)
        agent.send_signal(signal.SIGTERM)
        _, stderr = agent.communicate(timeout=15)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert agent.returncode == 0, stderr
    assert "stopped" in stderr
    assert (state_dir / "buffer.db").exists()


def wait_for_state(server: Server, check_id: int, wanted: str, timeout: float = 45) -> Any:
    """The check's state once its message contains `wanted` (the poller judges every 10 s)."""
    deadline = time.monotonic() + timeout
    while True:
        state = server.api(f"/api/v1/checks/{check_id}")["state"]
        if state and wanted in state["message"]:
            return state
        assert time.monotonic() < deadline, f"check {check_id}: {state}"
        time.sleep(0.5)


def test_process_and_log_checks_are_watched_by_the_real_agent(
    server: Server, tmp_path: Path
) -> None:
    token = enrolment_token(server)
    server.forewarn("agent", "enroll", "--server", server.url, "--token", token)
    state_dir = Path(server.env["FOREWARN_AGENT_STATE_DIR"])
    asset_id = json.loads((state_dir / "agent.json").read_text())["asset_id"]
    logs = tmp_path / "logs"
    logs.mkdir()
    app_log = logs / "app.log"
    app_log.write_text("ERROR from before the watch: history, not news\n")
    marker = f"forewarn-e2e-{os.getpid()}"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", marker])
    common = {"asset_id": asset_id, "type": "agent", "interval_s": 10, "max_attempts": 1}
    proc_check = server.api(
        "/api/v1/checks",
        {
            **common,
            "name": "worker running",
            "params": {"kind": "process", "process": marker, "cmdline": True},
        },
    )["id"]
    log_check = server.api(
        "/api/v1/checks",
        {
            **common,
            "name": "app errors",
            "params": {"kind": "log", "path": str(app_log), "pattern": "ERROR", "window_s": 60},
        },
    )["id"]
    try:

        def agent_once() -> None:
            done = server.forewarn("agent", "run", "--once", "--log-dir", str(logs), check=False)
            assert done.returncode == 0, done.stderr

        agent_once()  # learns its watches from the answer
        agent_once()  # counts: the worker runs; the log is read from its end
        wait_for_state(server, proc_check, f"1 process with command lines containing '{marker}'")
        wait_for_state(server, log_check, "0 lines matching 'ERROR'")

        with app_log.open("a") as fh:
            fh.write("INFO all fine\nERROR payment gateway timeout\n")
        sleeper.kill()
        sleeper.wait(timeout=10)
        agent_once()
        state = wait_for_state(server, log_check, "last: ERROR payment gateway timeout")
        assert state["status"] == "critical"
        assert "1 line matching 'ERROR'" in state["message"]
        state = wait_for_state(server, proc_check, "0 processes")
        assert state["status"] == "critical"
    finally:
        sleeper.kill()
        sleeper.wait(timeout=10)


def test_the_agent_sweeps_a_network_for_the_server(server: Server) -> None:
    token = enrolment_token(server)
    server.forewarn("agent", "enroll", "--server", server.url, "--token", token)
    enrolled = json.loads((Path(server.env["FOREWARN_AGENT_STATE_DIR"]) / "agent.json").read_text())
    network = server.api(
        "/api/v1/discovery/networks",
        {"org_id": enrolled["org_id"], "cidr": "127.0.0.1/32", "agent_id": enrolled["agent_id"]},
    )
    run = server.api(f"/api/v1/discovery/networks/{network['id']}/run", {})
    assert run["status"] == "running"  # waiting for the agent

    agent = subprocess.Popen(
        [str(BIN / "forewarn-agent"), "run", "--interval", "1"],
        env=server.env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            runs = server.api(f"/api/v1/discovery/runs?network_id={network['id']}")["items"]
            if runs[0]["status"] != "running":
                break
            assert time.monotonic() < deadline, "the agent did not report its sweep in 60 s"
            time.sleep(0.5)
    finally:
        agent.send_signal(signal.SIGTERM)
        _, stderr = agent.communicate(timeout=20)
    assert runs[0]["status"] == "done", (runs[0], stderr[-2000:])
    assert runs[0]["addresses"] == 1
    assert "sweeping 127.0.0.1/32 for discovery run" in stderr


def test_agent_commands_load_none_of_the_server_libraries() -> None:
    probe = (
        "import json, sys\n"
        "from forewarn.entry import main\n"
        "sys.argv = ['forewarn', 'agent', 'collect', '--once', '--json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(json.dumps([code, heavy]), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )

    assert json.loads(result.stderr.strip().splitlines()[-1]) == [0, []]
    batch = Batch.model_validate_json(result.stdout)  # exactly what the server accepts
    assert batch.inventory is not None and batch.inventory.full
    assert batch.samples and batch.samples[0].points


def test_forewarn_help_still_reaches_the_server_cli() -> None:
    result = subprocess.run(
        [str(BIN / "forewarn"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "serve" in result.stdout

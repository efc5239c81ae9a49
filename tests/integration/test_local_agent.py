"""`make run` shows this machine at once: `forewarn serve --local-agent` enrols a real agent."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

BIN = Path(sys.executable).parent
PASSWORD = "local-agent-admin-pw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(port: int, path: str, token: str = "", body: dict[str, Any] | None = None) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request("POST" if body else "GET", path, json.dumps(body) if body else None, headers)
    answer = conn.getresponse()
    return answer.status, json.loads(answer.read() or b"null")


def test_serve_with_local_agent_reports_this_machine(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "FOREWARN_DATA_DIR": str(tmp_path), "FOREWARN_ADMIN_PASSWORD": PASSWORD}
    env.pop("FOREWARN_DATABASE_URL", None)
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(BIN / "forewarn"), "serve", "--bind", f"127.0.0.1:{port}", "--local-agent"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline, token, packages = time.monotonic() + 60, "", None
        while time.monotonic() < deadline and packages is None:
            time.sleep(0.5)
            try:
                if not token:
                    status, answer = call(
                        port, "/api/v1/auth/token", body={"username": "admin", "password": PASSWORD}
                    )
                    token = answer["access_token"] if status == 200 else ""
                    continue
                _, orgs = call(port, "/api/v1/orgs?q=this-machine", token)
                if not orgs["items"]:
                    continue
                _, assets = call(port, f"/api/v1/assets?org_id={orgs['items'][0]['id']}", token)
                if assets["items"]:
                    _, inv = call(
                        port, f"/api/v1/assets/{assets['items'][0]['id']}/inventory/packages", token
                    )
                    packages = inv["data"]
            except OSError:
                continue
        assert packages, "this machine's agent reported no packages within a minute"
        assert "bash" in {p["name"] for p in packages}
        # The server's own poller runs checks: one on the agent's data, one over the network.
        asset_id = assets["items"][0]["id"]
        made = [
            call(port, "/api/v1/checks", token, body=b)
            for b in (
                {
                    "asset_id": asset_id,
                    "name": "agent",
                    "type": "agent",
                    "params": {"kind": "online"},
                },
                {"asset_id": asset_id, "name": "web", "type": "tcp", "target": f"127.0.0.1:{port}"},
            )
        ]
        assert [status for status, _ in made] == [201, 201], made
        states: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and states != ["ok", "ok"]:
            time.sleep(0.5)
            states = [
                call(port, f"/api/v1/checks/{c['id']}", token)[1]["state"]["display"]
                for _, c in made
            ]
        assert states == ["ok", "ok"], states
        # A stop is not held by the agent's job long-poll (held up to 25 s): the server tells
        # it to answer at once, well inside the 10 s after which requests are cut short.
        asked = time.monotonic()
        server.send_signal(signal.SIGTERM)
        server.wait(20)
        assert time.monotonic() - asked < 8, "the stop waited for a held long-poll"
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(20)
        log.close()
    pattern = f"agent run --state-dir {tmp_path}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = subprocess.run(["pgrep", "-f", "--", pattern], capture_output=True, check=False)
        if left.returncode == 1:  # no process matched
            break
        time.sleep(0.2)
    assert left.returncode == 1, "the agent outlived its server"

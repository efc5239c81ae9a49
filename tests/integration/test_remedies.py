"""Remedies with real parts, on both engines: a real daemon on loopback, watched by a real tcp
check run by the real poller, restarted by the real agent code through a small real
supervisor (this container has no systemd: restart_service calls the agent's own
FOREWARN_AGENT_SERVICE_MANAGER, here a bash script that really kills and starts the daemon).

The daemon really goes down, the check sees it, the alert is held while the remedy runs, the
daemon really comes back, the check sees that, and nobody is told. When the remedy cannot fix
it, the alert goes out; when no agent answers, it goes out at the end of the hold.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from forewarn.agent.buffer import Buffer
from forewarn.agent.jobs import JobRunner
from forewarn.agent.runner import Outcome, Runner
from forewarn.services import alerts, checks, notify, remedies
from forewarn.services.context import Context
from forewarn.services.poller import Poller
from forewarn.services.schemas import CheckCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import AlertEvent, AlertRow, Delivery, RemedyAttempt
from tests.conftest import Person, make_org, make_person
from tests.integration.test_agent_jobs import InProcessSender, quiet_sources
from tests.integration.test_ingest import enroll

pytestmark = pytest.mark.timeout(90)

SUPERVISOR = """#!/bin/bash
# A tiny service manager: `supervise {{start|restart|stop}} -- NAME`, one daemon named fwdemo.
set -u
STATE={state}
action=$1; shift; [ "${{1:-}}" = "--" ] && shift; name=$1
[ "$name" = fwdemo ] || {{ echo "unknown service $name"; exit 5; }}
if [ -s "$STATE/pid" ]; then kill -9 "$(cat "$STATE/pid")" 2>/dev/null; fi
[ "$action" = stop ] && exit 0
if [ -e "$STATE/broken" ]; then echo "fwdemo: cannot start (broken)"; exit 1; fi
if [ -e "$STATE/lies" ]; then echo "fwdemo $action: ok (it is not)"; exit 0; fi
setsid {python} -m http.server --bind 127.0.0.1 {port} >"$STATE/log" 2>&1 </dev/null &
echo $! > "$STATE/pid"
for i in $(seq 1 50); do
  {python} -c "import socket; socket.create_connection(('127.0.0.1', {port}), 0.2).close()" \\
    2>/dev/null && {{ echo "fwdemo $action: running as $(cat "$STATE/pid")"; exit 0; }}
  sleep 0.1
done
echo "fwdemo did not come up"; exit 1
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


class Daemon:
    """The real service: started, killed and restarted only through the supervisor."""

    def __init__(self, folder: Path) -> None:
        self.state = folder
        self.port = _free_port()
        self.supervisor = folder / "supervise"
        self.supervisor.write_text(
            SUPERVISOR.format(state=folder, python=sys.executable, port=self.port)
        )
        self.supervisor.chmod(0o755)

    @property
    def pid(self) -> int:
        return int((self.state / "pid").read_text())

    def start(self) -> None:
        subprocess.run([str(self.supervisor), "start", "--", "fwdemo"], check=True, timeout=20)

    def crash(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while _answers(self.port):
            assert time.monotonic() < deadline, "the daemon did not go down"
            time.sleep(0.05)

    def stop(self) -> None:
        subprocess.run([str(self.supervisor), "stop", "--", "fwdemo"], timeout=20)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    folder = tmp_path / "svc"
    folder.mkdir()
    d = Daemon(folder)
    d.start()
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture
def world(client: TestClient, ctx: Context, daemon: Daemon) -> dict[str, Any]:
    org = make_org(ctx, "Healing Dental")
    agent = enroll(client, ctx, org)
    check = checks.create(
        ctx,
        SYSTEM,
        CheckCreate(
            asset_id=agent["asset_id"],
            name="fwdemo port",
            type="tcp",
            target=f"127.0.0.1:{daemon.port}",
            interval_s=30,
            max_attempts=1,
            timeout_s=2,
        ),
    ).id
    channel = notify.create_channel(
        ctx, SYSTEM, notify.ChannelCreate(org_id=org, name="duty", url="json://127.0.0.1:9/x")
    )
    notify.create_route(
        ctx,
        SYSTEM,
        notify.RouteCreate(
            org_id=org, name="all", steps=[{"after_s": 0, "channels": [channel.id]}]
        ),
    )
    tech = make_person(ctx, "heal-tech", roles={org: "technician"})
    return {"org": org, "agent": agent, "check": check, "tech": tech}


def _poll(ctx: Context) -> int:
    return asyncio.run(Poller(ctx, owner="p").tick())


def _agent(client: TestClient, ctx: Context, agent: dict[str, Any], tmp: Path, d: Daemon) -> Runner:
    return Runner(
        Buffer(tmp / "buffer.db"),
        InProcessSender(client, agent["agent_token"]),
        quiet_sources(),
        clock=ctx.clock,
        sleep=lambda s: None,
        jobs=JobRunner(
            agent["agent_id"],
            agent["server_public_key"],
            clock=lambda: ctx.clock.now().timestamp(),
            service_manager=str(d.supervisor),  # the agent's own FOREWARN_AGENT_SERVICE_MANAGER
        ),
    )


def _deliveries(ctx: Context, alert_id: int) -> int:
    with ctx.db.read() as s:
        return int(s.scalar(select(func.count()).where(Delivery.alert_id == alert_id)) or 0)


def _alert(ctx: Context, check_id: int) -> AlertRow:
    with ctx.db.read() as s:
        row = s.scalars(
            select(AlertRow).where(AlertRow.check_id == check_id).order_by(AlertRow.id.desc())
        ).first()
        assert row is not None
        s.expunge(row)
        return row


def _attempts(ctx: Context) -> list[tuple[int, str, str]]:
    with ctx.db.read() as s:
        rows = s.execute(
            select(RemedyAttempt.number, RemedyAttempt.state, RemedyAttempt.outcome).order_by(
                RemedyAttempt.id
            )
        ).all()
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _remedy(client: TestClient, world: dict[str, Any], **kw: Any) -> dict[str, Any]:
    body = {"check_id": world["check"], "kind": "restart_service", "service": "fwdemo", **kw}
    r = client.post("/api/v1/remedies", json=body, headers=world["tech"].headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_remedy_restarts_a_real_daemon_and_nobody_is_told(
    client: TestClient, ctx: Context, world: dict[str, Any], daemon: Daemon, tmp_path: Path
) -> None:
    _remedy(client, world, cooldown_s=0)
    assert _poll(ctx) >= 1
    assert checks.get(ctx, SYSTEM, world["check"]).state.display == "ok"

    first_pid = daemon.pid
    daemon.crash()  # really down: nothing answers on its port
    ctx.clock.advance(30)
    assert _poll(ctx) >= 1
    assert checks.get(ctx, SYSTEM, world["check"]).state.display == "critical"
    alert = _alert(ctx, world["check"])
    assert alert.state == "open" and _deliveries(ctx, alert.id) == 0  # held, not told
    assert alerts.escalate(ctx) == 0  # the hold is not up: nothing is routed
    assert _attempts(ctx) == [(1, "pending", "")]

    assert remedies.turn(ctx) == 1  # the signed restart_service job is issued
    runner = _agent(client, ctx, world["agent"], tmp_path, daemon)
    try:
        assert runner.run_once() is Outcome.SENT  # the real agent runs the real supervisor
    finally:
        runner.close()
        runner.buffer.close()
    assert _answers(daemon.port) and daemon.pid != first_pid  # really back, a new process
    os.kill(daemon.pid, 0)

    assert remedies.turn(ctx) == 1  # the job succeeded: the check is asked again now
    assert _attempts(ctx) == [(1, "verifying", "")]
    assert _poll(ctx) >= 1  # due at once, not in 30 s
    assert checks.get(ctx, SYSTEM, world["check"]).state.display == "ok"
    assert remedies.turn(ctx) == 1
    assert _attempts(ctx) == [(1, "done", "fixed")]
    alert = _alert(ctx, world["check"])
    assert alert.state == "resolved"
    ctx.clock.advance(3600)
    alerts.escalate(ctx)
    assert _deliveries(ctx, alert.id) == 0  # fixed before anyone had to be told
    with ctx.db.read() as s:
        kinds = list(s.scalars(select(AlertEvent.kind).where(AlertEvent.alert_id == alert.id)))
    assert "held" in kinds and "remedy" in kinds

    stats = client.get(f"/api/v1/orgs/{world['org']}/remedies", headers=world["tech"].headers)
    body = stats.json()
    assert (body["attempts"], body["fixed"], body["success_rate"]) == (1, 1, 100.0)
    assert body["remedies"][0]["success_rate"] == 100.0
    job = client.get(f"/api/v1/jobs/{_job_of_last_attempt(ctx)}", headers=world["tech"].headers)
    assert job.json()["kind"] == "restart_service" and "running as" in job.json()["output"]


def _job_of_last_attempt(ctx: Context) -> int:
    with ctx.db.read() as s:
        job = s.scalar(select(RemedyAttempt.job_id).order_by(RemedyAttempt.id.desc()).limit(1))
        assert job is not None
        return int(job)


def test_a_remedy_that_cannot_fix_it_lets_the_alert_go_out(
    client: TestClient, ctx: Context, world: dict[str, Any], daemon: Daemon, tmp_path: Path
) -> None:
    _remedy(client, world, max_attempts=2, cooldown_s=0)
    assert _poll(ctx) >= 1
    (daemon.state / "broken").touch()  # the supervisor cannot start it any more
    daemon.crash()
    ctx.clock.advance(30)
    assert _poll(ctx) >= 1
    alert = _alert(ctx, world["check"])
    runner = _agent(client, ctx, world["agent"], tmp_path, daemon)
    try:
        for _attempt in (1, 2):
            assert remedies.turn(ctx) == 1  # issued
            assert runner.run_once() is Outcome.SENT
            assert not _answers(daemon.port)  # still down, really
            assert remedies.turn(ctx) == 1  # the job failed: try again, or give up
            assert _deliveries(ctx, alert.id) == 0  # held while it tries
    finally:
        runner.close()
        runner.buffer.close()
    assert _attempts(ctx) == [(1, "done", "job_failed"), (2, "done", "job_failed")]
    # Released: the escalation turn routes it now, long before the hold would have ended.
    assert alerts.escalate(ctx) == 1
    assert _deliveries(ctx, alert.id) == 1
    body = client.get(f"/api/v1/orgs/{world['org']}/remedies", headers=world["tech"].headers).json()
    assert (body["attempts"], body["finished"], body["success_rate"]) == (2, 2, 0.0)


def test_a_held_alert_goes_out_at_the_end_of_the_hold_when_no_agent_answers(
    client: TestClient, ctx: Context, world: dict[str, Any], daemon: Daemon
) -> None:
    _remedy(client, world, timeout_s=300)
    assert _poll(ctx) >= 1
    daemon.crash()
    ctx.clock.advance(30)
    assert _poll(ctx) >= 1
    alert = _alert(ctx, world["check"])
    assert remedies.turn(ctx) == 1  # issued; the agent never checks in
    ctx.clock.advance(299)
    assert alerts.escalate(ctx) == 0 and _deliveries(ctx, alert.id) == 0
    ctx.clock.advance(1)
    assert alerts.escalate(ctx) == 1  # never dropped: told at the end of the hold
    assert _deliveries(ctx, alert.id) == 1
    assert remedies.turn(ctx) == 1
    assert _attempts(ctx) == [(1, "done", "timed_out")]


def test_remedies_are_refused_clearly(
    client: TestClient, ctx: Context, world: dict[str, Any], owner: Person
) -> None:
    tech = world["tech"].headers
    bad = {"check_id": world["check"], "kind": "restart_service", "service": "--now x"}
    assert client.post("/api/v1/remedies", json=bad, headers=tech).status_code == 422
    both = {"check_id": world["check"], "kind": "restart_service"}
    assert client.post("/api/v1/remedies", json=both, headers=tech).status_code == 422
    _remedy(client, world)
    r = client.post(
        "/api/v1/remedies",
        json={"check_id": world["check"], "kind": "restart_service", "service": "x"},
        headers=tech,
    )
    assert r.status_code == 409
    viewer = make_person(ctx, "heal-viewer", roles={world["org"]: "viewer"})
    r = client.post(
        "/api/v1/remedies",
        json={"check_id": world["check"], "kind": "restart_service", "service": "x"},
        headers=viewer.headers,
    )
    assert r.status_code == 403
    assert (
        len(client.get(f"/api/v1/orgs/{world['org']}/remedies", headers=tech).json()["remedies"])
        == 1
    )


def test_restart_and_reboot_by_hand(
    client: TestClient, ctx: Context, world: dict[str, Any], daemon: Daemon, tmp_path: Path
) -> None:
    asset, tech = world["agent"]["asset_id"], world["tech"].headers
    base = f"/api/v1/assets/{asset}/jobs"
    bad = client.post(f"{base}/restart-service", json={"service": "-x; reboot"}, headers=tech)
    assert bad.status_code == 422
    r = client.post(f"{base}/restart-service", json={"service": "fwdemo"}, headers=tech)
    assert r.status_code == 201, r.text
    job_id = r.json()["job"]
    first_pid = daemon.pid
    runner = _agent(client, ctx, world["agent"], tmp_path, daemon)
    try:
        assert runner.run_once() is Outcome.SENT
    finally:
        runner.close()
        runner.buffer.close()
    assert daemon.pid != first_pid and _answers(daemon.port)  # really restarted
    job = client.get(f"/api/v1/jobs/{job_id}", headers=tech).json()
    assert (job["kind"], job["state"]) == ("restart_service", "succeeded")

    # A reboot outside a maintenance window is refused and nothing is issued.
    before = client.get("/api/v1/jobs", params={"org_id": world["org"]}, headers=tech).json()
    r = client.post(f"/api/v1/assets/{asset}/reboot", headers=tech)
    assert r.status_code == 409 and "maintenance window" in r.json()["detail"]
    after = client.get("/api/v1/jobs", params={"org_id": world["org"]}, headers=tech).json()
    assert after == before
    viewer = make_person(ctx, "heal-viewer2", roles={world["org"]: "viewer"})
    assert client.post(f"/api/v1/assets/{asset}/reboot", headers=viewer.headers).status_code == 403
    now = ctx.clock.now()
    window = {
        "org_id": world["org"],
        "name": "now",
        "start_local": (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
        "duration_min": 60,
    }
    admin = make_person(ctx, "heal-admin", roles={world["org"]: "admin"})
    w = client.post("/api/v1/maintenance-windows", json=window, headers=admin.headers)
    assert w.status_code == 201, w.text
    r = client.post(f"/api/v1/assets/{asset}/reboot", headers=tech)
    assert r.status_code == 201, r.text
    job = client.get(f"/api/v1/jobs/{r.json()['job']}", headers=tech).json()
    assert job["kind"] == "reboot" and '"in_window":true' in _envelope(ctx, job["id"])


def _envelope(ctx: Context, job_id: int) -> str:
    from forewarn.store.models import AgentJob

    with ctx.db.read() as s:
        row = s.get(AgentJob, job_id)
        assert row is not None
        return row.envelope


def test_a_problem_gone_before_the_remedy_ran_issues_nothing(
    client: TestClient, ctx: Context, world: dict[str, Any], daemon: Daemon
) -> None:
    _remedy(client, world, cooldown_s=0)
    assert _poll(ctx) >= 1
    daemon.crash()
    ctx.clock.advance(30)
    assert _poll(ctx) >= 1
    daemon.start()  # someone restarted it by hand meanwhile
    ctx.clock.advance(30)
    assert _poll(ctx) >= 1
    assert _alert(ctx, world["check"]).state == "resolved"
    assert remedies.turn(ctx) == 1
    assert _attempts(ctx) == [(1, "done", "not_needed")]
    jobs = client.get(
        "/api/v1/jobs", params={"org_id": world["org"]}, headers=world["tech"].headers
    ).json()
    assert jobs["items"] == []
    body = client.get(f"/api/v1/orgs/{world['org']}/remedies", headers=world["tech"].headers).json()
    assert (body["attempts"], body["finished"], body["success_rate"]) == (1, 0, None)


def test_a_restart_that_reports_success_but_leaves_it_down_is_not_fixed(
    client: TestClient, ctx: Context, world: dict[str, Any], daemon: Daemon, tmp_path: Path
) -> None:
    _remedy(client, world, cooldown_s=0)
    assert _poll(ctx) >= 1
    (daemon.state / "lies").touch()  # the service manager says ok, the service stays down
    daemon.crash()
    ctx.clock.advance(30)
    assert _poll(ctx) >= 1
    alert = _alert(ctx, world["check"])
    assert remedies.turn(ctx) == 1
    runner = _agent(client, ctx, world["agent"], tmp_path, daemon)
    try:
        assert runner.run_once() is Outcome.SENT
    finally:
        runner.close()
        runner.buffer.close()
    assert remedies.turn(ctx) == 1 and _attempts(ctx) == [(1, "verifying", "")]
    assert _poll(ctx) >= 1  # asked again at once: still refused
    assert remedies.turn(ctx) == 0  # a slow start gets its 30 s before it counts
    ctx.clock.advance(30)
    assert _poll(ctx) >= 1
    assert remedies.turn(ctx) == 1
    assert _attempts(ctx) == [(1, "done", "not_fixed")]
    assert not _answers(daemon.port)
    assert alerts.escalate(ctx) == 1 and _deliveries(ctx, alert.id) == 1  # told, at last

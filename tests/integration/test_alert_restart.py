"""Killing the server between an alert and its delivery loses nothing (a real process).

`forewarn serve` (all roles, its own SQLite data directory) watches a TCP port that is
closed, so its check goes hard critical at the first result; the alert is routed to a
signed webhook whose receiver is not listening yet. Once the alert and its delivery are in
the database (its first try refused, a retry due 10 s later) the server is killed with
SIGKILL; the receiver starts; the server starts
again and the receiver gets that alert, once, with a valid HMAC.

Exactly once is what the outbox promises here: it is at-least-once only for a send that
reached the receiver and whose outcome the dying worker never recorded (services.notify:
a claimed delivery goes to the next worker after its lease). Nothing reached the receiver
before the kill, so a second copy would be a defect.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from forewarn.config import Settings
from forewarn.domain.clock import SystemClock
from forewarn.services import assets, checks, notify
from forewarn.services.context import Context
from forewarn.services.schemas import AssetCreate, CheckCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.db import Database
from tests.conftest import make_org
from tests.integration.test_alerts import Hook
from tests.integration.test_ingest_faults import Serve, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

SECRET = "restart-test-shared-secret"
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], seconds: float) -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {seconds} s")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    s = Serve(tmp_path)
    s.start()
    yield s
    s.stop()
    s.log.close()


def server_ctx(serve: Serve) -> Context:
    """The server's database, reached the way its services reach it (same sealing key)."""
    settings = Settings(
        database_url=f"sqlite:///{serve.data / 'forewarn.db'}",
        data_dir=serve.data,
        secret_key=serve.env["FOREWARN_SECRET_KEY"],
        run_jobs=False,
        run_poller=False,
    )
    return Context(Database(settings.effective_database_url), settings, SystemClock())


def test_a_server_killed_before_delivering_an_alert_delivers_it_after_the_restart(
    serve: Serve,
) -> None:
    receiver_port = free_port()  # nobody listens there yet
    ctx = server_ctx(serve)
    try:
        org = make_org(ctx, "Restart Ltd")
        asset = assets.create(ctx, SYSTEM, AssetCreate(org_id=org, name="fs01", kind="server"))
        check = checks.create(
            ctx,
            SYSTEM,
            CheckCreate(
                asset_id=asset.id,
                name="smb",
                type="tcp",
                target=f"127.0.0.1:{free_port()}",  # closed: refused at once
                max_attempts=1,
                interval_s=10,
                timeout_s=2,
            ),
        ).id
        channel = notify.create_channel(
            ctx,
            SYSTEM,
            notify.ChannelCreate(
                org_id=org,
                name="psa",
                url=f"http://127.0.0.1:{receiver_port}/in",
                secret=SECRET,
            ),
        ).id
        notify.create_route(
            ctx, SYSTEM, notify.RouteCreate(org_id=org, name="all", steps=[{"channels": [channel]}])
        )
    finally:
        ctx.db.dispose()

    def queued() -> Any:
        rows = serve.sql(
            "SELECT d.id, d.alert_id, d.state, d.attempts, d.lease_until FROM deliveries d "
            f"JOIN alerts a ON a.id = d.alert_id WHERE a.check_id = {check} AND d.kind = 'alert'"
        )
        return rows[0] if rows else None

    def refused_once() -> Any:
        # Killed while no worker holds it: a lease held at the kill would only delay the
        # restart's send by its 120 s (test_alerts covers a worker dying with the lease).
        row = queued()
        return row if row is not None and row.attempts >= 1 and row.lease_until is None else None

    delivery_id, alert_id, state, attempts, _ = wait_for("alert and delivery", refused_once, 40)
    serve.kill()
    [(alert_state,)] = serve.sql(f"SELECT state FROM alerts WHERE id = {alert_id}")
    assert alert_state == "open"
    _, _, state, attempts, _ = queued()
    assert state == "pending", "nothing could have been sent: the receiver was not there"

    hook = Hook(receiver_port)
    try:
        serve.start()
        wait_for("the alert at the receiver", lambda: hook.raw, 60)
        wait_for(
            "the delivery recorded as sent",
            lambda: queued()[2] == "sent",
            20,
        )
        time.sleep(1.0)  # a second copy would follow at once (the notifier turns every 50 ms)
        [(headers, body)] = hook.raw
    finally:
        hook.server.shutdown()
        hook.server.server_close()

    mac = hmac.new(
        SECRET.encode(), headers["X-Forewarn-Timestamp"].encode() + b"." + body, hashlib.sha256
    )
    assert headers["X-Forewarn-Signature"] == "sha256=" + mac.hexdigest()
    payload = json.loads(body)
    assert headers["X-Forewarn-Delivery"] == str(delivery_id) == str(payload["delivery"])
    assert payload["kind"] == "alert"
    assert payload["alert"]["id"] == alert_id and payload["alert"]["check_id"] == check
    assert payload["alert"]["state"] == "open" and payload["alert"]["severity"] == "critical"
    assert "fs01" in payload["title"]
    [(sent_attempts,)] = serve.sql(f"SELECT attempts FROM deliveries WHERE id = {delivery_id}")
    assert sent_attempts == attempts + 1  # the tries before the kill failed, the next one went
    [(alerts_of_check,)] = serve.sql(f"SELECT COUNT(*) FROM alerts WHERE check_id = {check}")
    assert alerts_of_check == 1

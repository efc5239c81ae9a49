"""Alerts from hard state changes, told through real channels: an SMTP server (aiosmtpd) and
a webhook receiver, both on loopback, reached through apprise as a user would set them up."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from forewarn.domain.observation import Observation, Result, Status
from forewarn.services import (
    alerts,
    assets,
    checks,
    external,
    maintenance,
    notify,
    results,
    silences,
)
from forewarn.services.alerts import AckRequest
from forewarn.services.context import Context
from forewarn.services.ingest import SeriesCache
from forewarn.services.schemas import AssetCreate, CheckCreate, MaintenanceCreate
from forewarn.services.scope import SYSTEM
from forewarn.services.silences import SilenceFromAlert
from tests.conftest import Person, make_org


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def subject(m: Message) -> str:
    return str(make_header(decode_header(m["Subject"])))


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


class Hook:
    def __init__(self, port: int = 0) -> None:
        self.posts: list[dict[str, Any]] = []
        self.raw: list[tuple[dict[str, str], bytes]] = []  # headers and body as received
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.posts.append(json.loads(body))
                hook.raw.append((dict(self.headers), body))
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    try:
        yield h
    finally:
        h.server.shutdown()
        h.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as p:
        yield p


def deliver(ctx: Context, pool: ThreadPoolExecutor) -> int:
    return notify.deliver_due(ctx, "test", pool)


def observe(ctx: Context, check_id: int, status: Status, message: str) -> None:
    results.record(
        ctx, [Observation(check_id, ctx.clock.now(), Result(status, message))], series=SeriesCache()
    )


@pytest.fixture
def site(ctx: Context, mailbox, hook) -> dict[str, Any]:
    org = make_org(ctx, "Acme Dental")
    asset = assets.create(ctx, SYSTEM, AssetCreate(org_id=org, name="fs01", kind="server")).id
    check = checks.create(
        ctx,
        SYSTEM,
        CheckCreate(
            asset_id=asset,
            name="website",
            type="http",
            target="http://127.0.0.1:9/",
            max_attempts=1,
        ),
    ).id
    _, smtp_port = mailbox
    mail = notify.create_channel(
        ctx,
        SYSTEM,
        notify.ChannelCreate(
            org_id=org,
            name="on duty",
            url=f"mailto://127.0.0.1:{smtp_port}?from=alerts@forewarn.test&to=tech@acme.test",
        ),
    )
    webhook = notify.create_channel(
        ctx,
        SYSTEM,
        notify.ChannelCreate(
            org_id=org, name="on call", url=f"json://127.0.0.1:{hook.port}/forewarn"
        ),
    )
    route = notify.create_route(
        ctx,
        SYSTEM,
        notify.RouteCreate(
            org_id=org,
            name="everything",
            steps=[
                {"after_s": 0, "channels": [mail.id]},
                {"after_s": 900, "channels": [webhook.id]},
            ],
        ),
    )
    return {
        "org": org,
        "asset": asset,
        "check": check,
        "mail": mail,
        "hook": webhook,
        "route": route,
    }


def test_one_message_per_problem_escalation_and_resolution(ctx, site, mailbox, hook, pool):
    box, _ = mailbox
    observe(ctx, site["check"], Status.CRITICAL, "connection refused")
    [alert] = alerts.list_(ctx, SYSTEM, org_id=site["org"]).items
    assert (alert.state, alert.severity, alert.check_id) == ("open", "critical", site["check"])
    assert alert.summary == "fs01 · website: connection refused"

    assert deliver(ctx, pool) == 1
    [mail] = box.messages
    assert "fs01" in subject(mail) and "critical" in subject(mail).lower()
    body = mail.get_payload(0).get_payload(decode=True).decode()
    assert "connection refused" in body and "Acme Dental" in body and f"/alerts/{alert.id}" in body

    # The check keeps failing: the same alert, no second message.
    ctx.clock.advance(60)
    observe(ctx, site["check"], Status.CRITICAL, "connection refused")
    alerts.escalate(ctx)
    assert deliver(ctx, pool) == 0 and len(box.messages) == 1
    assert len(alerts.list_(ctx, SYSTEM, org_id=site["org"]).items) == 1

    # Nobody acknowledged within 15 minutes: the on-call webhook too.
    ctx.clock.advance(900)
    assert alerts.escalate(ctx) == 1
    assert deliver(ctx, pool) == 1
    [post] = hook.posts
    assert "fs01" in post["title"] and "connection refused" in post["message"]

    # Recovery resolves it and tells both channels once.
    ctx.clock.advance(60)
    observe(ctx, site["check"], Status.OK, "200 OK in 12 ms")
    detail = alerts.get(ctx, SYSTEM, alert.id)
    assert (detail.state, detail.resolved_by) == ("resolved", "auto")
    assert [e.kind for e in detail.events] == ["opened", "resolved"]
    assert deliver(ctx, pool) == 2
    assert subject(box.messages[-1]).startswith("RESOLVED")
    assert hook.posts[-1]["title"].startswith("RESOLVED")
    assert deliver(ctx, pool) == 0

    log = notify.list_deliveries(ctx, SYSTEM, org_id=site["org"]).items
    assert sorted(d.kind for d in log) == ["alert", "escalation", "resolved", "resolved"]
    assert all(d.state == "sent" and d.attempts == 1 for d in log)


def test_the_message_links_to_the_alerts_own_page(ctx, site, mailbox, hook, pool):
    """The link in a message opens the alert (acknowledge and resolve are there), at the
    address people open (FOREWARN_PUBLIC_URL)."""
    box, _ = mailbox
    ctx.settings.public_url = "https://forewarn.example.com"
    observe(ctx, site["check"], Status.CRITICAL, "connection refused")
    [alert] = alerts.list_(ctx, SYSTEM, org_id=site["org"]).items
    assert deliver(ctx, pool) == 1
    link = f"https://forewarn.example.com/alerts/{alert.id}"
    [mail] = box.messages
    assert link in mail.get_payload(0).get_payload(decode=True).decode()
    ctx.clock.advance(60)
    observe(ctx, site["check"], Status.OK, "200 OK")
    assert deliver(ctx, pool) == 1
    assert link in box.messages[-1].get_payload(0).get_payload(decode=True).decode()
    assert "/checks/" not in "".join(
        m.get_payload(0).get_payload(decode=True).decode() for m in box.messages
    )


def test_an_acknowledged_alert_does_not_escalate(ctx, site, hook, pool):
    observe(ctx, site["check"], Status.CRITICAL, "timeout")
    [alert] = alerts.list_(ctx, SYSTEM, org_id=site["org"]).items
    acked = alerts.acknowledge(ctx, SYSTEM, alert.id, AckRequest(comment="on my way"))
    assert acked.state == "acknowledged" and acked.acked_by == "system"
    assert [e.kind for e in acked.events][-2:] == ["acknowledged", "comment"]
    ctx.clock.advance(3600)
    assert alerts.escalate(ctx) == 0
    deliver(ctx, pool)
    assert hook.posts == []

    # An acknowledgement for a set time runs out, and escalation resumes.
    ctx.clock.advance(60)
    observe(ctx, site["check"], Status.OK, "fine")
    observe(ctx, site["check"], Status.CRITICAL, "timeout again")
    [new, old] = alerts.list_(ctx, SYSTEM, org_id=site["org"]).items
    assert old.state == "resolved" and new.state == "open" and new.id != old.id
    until = ctx.clock.now() + timedelta(minutes=10)
    alerts.acknowledge(ctx, SYSTEM, new.id, AckRequest(until=until))
    ctx.clock.advance(minutes=20)
    assert alerts.escalate(ctx) == 1
    kinds = [e.kind for e in alerts.get(ctx, SYSTEM, new.id).events]
    assert "ack_expired" in kinds


def test_planned_maintenance_wakes_nobody_unless_the_problem_outlives_it(ctx, site, pool, mailbox):
    box, _ = mailbox
    now = ctx.clock.now()
    maintenance.create(
        ctx,
        SYSTEM,
        MaintenanceCreate(
            org_id=site["org"],
            name="patching",
            start_local=(now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
            duration_min=60,
        ),
    )
    observe(ctx, site["check"], Status.CRITICAL, "rebooting")
    alerts.escalate(ctx)
    assert alerts.list_(ctx, SYSTEM, org_id=site["org"]).items == []
    assert deliver(ctx, pool) == 0 and box.messages == []
    # The window ends with the check still down: that was not the plan, so now it is told.
    ctx.clock.advance(minutes=56)
    alerts.escalate(ctx)
    [alert] = alerts.list_(ctx, SYSTEM, org_id=site["org"]).items
    assert alert.summary.endswith("(still failing after maintenance)")
    assert deliver(ctx, pool) == 1 and len(box.messages) == 1
    alerts.escalate(ctx)
    assert len(alerts.list_(ctx, SYSTEM, org_id=site["org"]).items) == 1  # once


def test_a_channel_that_is_down_is_retried_then_failed_visibly(ctx, site, pool):
    dead = notify.create_channel(
        ctx,
        SYSTEM,
        notify.ChannelCreate(
            org_id=site["org"], name="dead", url=f"json://127.0.0.1:{free_port()}/"
        ),
    )
    notify.create_route(
        ctx,
        SYSTEM,
        notify.RouteCreate(
            org_id=site["org"], name="to the dead one", position=0, steps=[{"channels": [dead.id]}]
        ),
    )
    notify.delete_route(ctx, SYSTEM, site["route"].id)
    observe(ctx, site["check"], Status.CRITICAL, "down")
    assert deliver(ctx, pool) == 1
    [d] = notify.list_deliveries(ctx, SYSTEM, channel_id=dead.id).items
    assert (d.state, d.attempts) == ("pending", 1) and d.last_error
    assert d.next_at == ctx.clock.now() + timedelta(seconds=10)
    assert deliver(ctx, pool) == 0  # not before its time
    for _ in range(notify.MAX_ATTEMPTS - 1):
        ctx.clock.advance(hours=1)
        assert deliver(ctx, pool) == 1
    [d] = notify.list_deliveries(ctx, SYSTEM, channel_id=dead.id).items
    assert (d.state, d.attempts) == ("failed", notify.MAX_ATTEMPTS)
    # The alert itself is kept, whatever became of its message.
    assert alerts.list_(ctx, SYSTEM, org_id=site["org"], state="open").items


def test_a_test_message_from_the_api(client: TestClient, owner: Person, site, mailbox) -> None:
    box, _ = mailbox
    r = client.post(f"/api/v1/channels/{site['mail'].id}/test", headers=owner.headers)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "sent"
    assert subject(box.messages[-1]) == "Forewarn test message"
    listed = client.get(f"/api/v1/channels?org_id={site['org']}", headers=owner.headers).json()
    assert {c["name"]: c["kind"] for c in listed["items"]} == {
        "on duty": "mailto",
        "on call": "json",
    }
    assert "127.0.0.1" not in json.dumps(listed)  # URLs are never shown


@pytest.mark.parametrize(
    ("path", "body", "why"),
    [
        ("/api/v1/channels", {"name": "x", "url": "not a url"}, "looks like"),
        ("/api/v1/channels", {"name": "x", "url": "nosuchservice://x"}, "apprise cannot use"),
        ("/api/v1/alert-routes", {"name": "x", "steps": []}, "steps"),
        ("/api/v1/alert-routes", {"name": "x", "steps": [{"channels": []}]}, "channels"),
        (
            "/api/v1/alert-routes",
            {"name": "x", "steps": [{"channels": [99999]}]},
            "not one this route may use",
        ),
        (
            "/api/v1/alert-routes",
            {"name": "x", "matchers": ["severity=~(bad"], "steps": [{"channels": ["MAIL"]}]},
            "matcher",
        ),
    ],
)
def test_bad_channels_and_routes_are_refused(client, owner, site, path, body, why):
    body = json.loads(json.dumps(body).replace('"MAIL"', str(site["mail"].id)))
    body["org_id"] = site["org"]
    before = client.get(path + f"?org_id={site['org']}", headers=owner.headers).json()
    r = client.post(path, json=body, headers=owner.headers)
    assert r.status_code == 422, r.text
    assert why in r.text
    assert client.get(path + f"?org_id={site['org']}", headers=owner.headers).json() == before


def test_acknowledging_badly_is_refused(client, owner, ctx, site):
    observe(ctx, site["check"], Status.CRITICAL, "down")
    [alert] = alerts.list_(ctx, SYSTEM, org_id=site["org"]).items
    past = (ctx.clock.now() - timedelta(minutes=1)).isoformat()
    r = client.post(f"/api/v1/alerts/{alert.id}/ack", json={"until": past}, headers=owner.headers)
    assert r.status_code == 422 and "must last past now" in r.text
    assert (
        client.post(f"/api/v1/alerts/{alert.id}/resolve", json={}, headers=owner.headers).json()[
            "state"
        ]
        == "resolved"
    )
    r = client.post(f"/api/v1/alerts/{alert.id}/ack", json={}, headers=owner.headers)
    assert r.status_code == 422 and "resolved" in r.text


def test_a_worker_that_dies_mid_delivery_loses_nothing(ctx, site, mailbox, pool):
    """Claimed by a worker that then died (never recorded an outcome): after its lease, the
    next worker sends it; before, nobody does (so it is never sent twice)."""
    box, _ = mailbox
    observe(ctx, site["check"], Status.CRITICAL, "down")
    assert len(notify.claim(ctx, "dead-worker", ctx.clock.now(), 10)) == 1
    assert deliver(ctx, pool) == 0 and box.messages == []
    ctx.clock.advance(notify.LEASE.total_seconds() + 1)
    assert deliver(ctx, pool) == 1 and len(box.messages) == 1


def test_a_silence_holds_messages_for_the_length_of_a_job(client, owner, ctx, site, mailbox, pool):
    box, _ = mailbox
    observe(ctx, site["check"], Status.WARNING, "slow")
    ctx.clock.advance(60)
    observe(ctx, site["check"], Status.OK, "fine")
    deliver(ctx, pool)
    box.messages.clear()
    [first] = alerts.list_(ctx, SYSTEM, org_id=site["org"]).items
    r = client.post(
        f"/api/v1/alerts/{first.id}/silence",
        json={"duration_min": 30, "comment": "replacing the switch"},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["matchers"] == [f"org={site['org']}", f"check={site['check']}"]

    ctx.clock.advance(60)
    observe(ctx, site["check"], Status.CRITICAL, "down during the job")
    [alert, _] = alerts.list_(ctx, SYSTEM, org_id=site["org"]).items
    assert alert.state == "open"  # it is there, in the inbox
    assert "silenced" in [e.kind for e in alerts.get(ctx, SYSTEM, alert.id).events]
    alerts.escalate(ctx)
    assert deliver(ctx, pool) == 0 and box.messages == []

    # The job is over and the problem is still there: now it is told, with every step its
    # age has reached (31 min: the on-call webhook too).
    ctx.clock.advance(minutes=31)
    alerts.escalate(ctx)
    assert deliver(ctx, pool) == 2
    [mail] = box.messages
    assert "down during the job" in mail.get_payload(0).get_payload(decode=True).decode()


def test_a_silence_ended_early_tells_at_the_next_turn(ctx, site, mailbox, pool):
    """The job took a minute, not the two hours planned: ending the silence releases what it
    held, told at the next escalation turn rather than at the silence's planned end."""
    box, _ = mailbox
    observe(ctx, site["check"], Status.WARNING, "slow")
    ctx.clock.advance(60)
    observe(ctx, site["check"], Status.OK, "fine")
    deliver(ctx, pool)
    box.messages.clear()
    [first] = alerts.list_(ctx, SYSTEM, org_id=site["org"]).items
    held = silences.silence_alert(ctx, SYSTEM, first.id, SilenceFromAlert(duration_min=120))
    ctx.clock.advance(60)
    observe(ctx, site["check"], Status.CRITICAL, "down after the job")
    alerts.escalate(ctx)
    assert deliver(ctx, pool) == 0 and box.messages == []

    ctx.clock.advance(60)
    silences.expire(ctx, SYSTEM, held.id)
    ctx.clock.advance(seconds=1)
    alerts.escalate(ctx)
    assert deliver(ctx, pool) == 1
    [mail] = box.messages
    assert "down after the job" in mail.get_payload(0).get_payload(decode=True).decode()
    # Told once: the silence's old end brings nothing more.
    ctx.clock.advance(minutes=5)
    alerts.escalate(ctx)
    assert deliver(ctx, pool) == 0


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"matchers": ["check=1"]}, "needs an end"),
        (
            {"matchers": ["check=1"], "duration_min": 60, "ends_at": "2030-01-01T00:00:00Z"},
            "one of",
        ),
        ({"matchers": ["type!=ping"], "duration_min": 60}, "requires a value"),
        ({"matchers": ["check=~("], "duration_min": 60}, "check"),
        ({"matchers": [], "duration_min": 60}, "matchers"),
        ({"matchers": ["check=1"], "duration_min": 60 * 24 * 40}, "duration_min"),
    ],
)
def test_bad_silences_are_refused(client, owner, site, body, why):
    r = client.post("/api/v1/silences", json={"org_id": site["org"], **body}, headers=owner.headers)
    assert r.status_code == 422, r.text
    assert why in r.text
    assert client.get("/api/v1/silences", headers=owner.headers).json()["items"] == []


def test_alertmanager_alerts_are_received_routed_and_resolved(
    client, owner, ctx, site, mailbox, pool
):
    box, _ = mailbox
    url = f"/api/v1/orgs/{site['org']}/alertmanager"
    r = client.post(url, json=external.example_payload("firing"), headers=owner.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"firing": 1, "resolved": 0}
    [alert] = alerts.list_(ctx, SYSTEM, org_id=site["org"]).items
    assert alert.labels["kind"] == "external" and alert.labels["alertname"] == "DiskFull"
    assert alert.labels["am_severity"] == "critical" and alert.severity == "critical"
    assert alert.summary == "DiskFull on nas01:9100: /srv is 97 % full"
    assert (
        deliver(ctx, pool) == 1
        and "DiskFull" in box.messages[0].get_payload(0).get_payload(decode=True).decode()
    )
    # Sent again while still firing (Alertmanager repeats): the same alert, no new message.
    client.post(url, json=external.example_payload("firing"), headers=owner.headers)
    assert len(alerts.list_(ctx, SYSTEM, org_id=site["org"]).items) == 1
    assert deliver(ctx, pool) == 0

    r = client.post(url, json=external.example_payload("resolved"), headers=owner.headers)
    assert r.json() == {"firing": 0, "resolved": 1}
    assert alerts.get(ctx, SYSTEM, alert.id).state == "resolved"
    assert deliver(ctx, pool) == 1 and subject(box.messages[-1]).startswith("RESOLVED")


def test_a_malformed_alertmanager_payload_changes_nothing(client, owner, ctx, site):
    url = f"/api/v1/orgs/{site['org']}/alertmanager"
    bad = external.example_payload()
    bad["alerts"][0]["status"] = "exploded"
    r = client.post(url, json=bad, headers=owner.headers)
    assert r.status_code == 422
    assert alerts.list_(ctx, SYSTEM, org_id=site["org"]).items == []


def test_signed_webhooks_carry_the_alert_and_an_hmac_the_receiver_can_check(
    client, owner, ctx, site, hook, pool
):
    secret = "s3cret-shared-with-the-psa-tool"
    r = client.post(
        "/api/v1/channels",
        json={
            "org_id": site["org"],
            "name": "psa",
            "url": f"http://127.0.0.1:{hook.port}/in",
            "secret": secret,
        },
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "webhook"
    channel = r.json()["id"]
    notify.delete_route(ctx, SYSTEM, site["route"].id)
    notify.create_route(
        ctx,
        SYSTEM,
        notify.RouteCreate(org_id=site["org"], name="psa", steps=[{"channels": [channel]}]),
    )
    observe(ctx, site["check"], Status.CRITICAL, "connection refused")
    assert deliver(ctx, pool) == 1
    [(headers, body)] = hook.raw
    expected = hmac.new(
        secret.encode(), headers["X-Forewarn-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-Forewarn-Signature"] == f"sha256={expected}"
    payload = json.loads(body)
    assert payload["kind"] == "alert" and payload["alert"]["check_id"] == site["check"]
    assert payload["alert"]["severity"] == "critical"
    assert headers["X-Forewarn-Delivery"] == str(payload["delivery"])

    # A receiver that answers 500 is retried, and its words are kept.
    hook.status = 500
    ctx.clock.advance(60)
    observe(ctx, site["check"], Status.OK, "fine")
    assert deliver(ctx, pool) == 1
    [pending] = notify.list_deliveries(ctx, SYSTEM, state="pending").items
    assert pending.last_error.startswith("HTTP 500") and pending.attempts == 1


def test_a_signed_webhook_needs_an_http_url(client, owner, site):
    r = client.post(
        "/api/v1/channels",
        json={"org_id": site["org"], "name": "x", "url": "mailto://a@b", "secret": "x" * 16},
        headers=owner.headers,
    )
    assert r.status_code == 422 and "http:// or https://" in r.text


def test_a_burst_leaves_as_one_message_listing_what_is_affected(ctx, site, hook, pool):
    """A site losing its link: five checks go critical within ten seconds; with a 30 s group
    wait the on-call webhook gets one message naming all five, and a lone alert later still
    goes out on its own once its wait is over."""
    org = site["org"]
    down = [site["check"]]
    for i in range(4):
        asset = assets.create(
            ctx, SYSTEM, AssetCreate(org_id=org, name=f"pc{i:02d}", kind="workstation")
        ).id
        down.append(
            checks.create(
                ctx,
                SYSTEM,
                CheckCreate(
                    asset_id=asset,
                    name="ping",
                    type="http",
                    target="http://127.0.0.1:9/",
                    max_attempts=1,
                ),
            ).id
        )
    notify.delete_route(ctx, SYSTEM, site["route"].id)
    notify.create_route(
        ctx,
        SYSTEM,
        notify.RouteCreate(
            org_id=org, name="grouped", steps=[{"channels": [site["hook"].id]}], group_wait_s=30
        ),
    )
    for check_id in down:
        observe(ctx, check_id, Status.CRITICAL, "no route to host")
        ctx.clock.advance(2)
    assert deliver(ctx, pool) == 0  # the burst is still gathering
    ctx.clock.advance(25)
    assert deliver(ctx, pool) == 1
    [post] = hook.posts
    assert "5 alerts on 5 assets" in post["title"]
    assert all(name in post["message"] for name in ("fs01", "pc00", "pc03"))
    log = notify.list_deliveries(ctx, SYSTEM, org_id=org).items
    assert sorted(d.state for d in log) == ["merged"] * 5 + ["sent"]

    ctx.clock.advance(60)
    observe(ctx, down[0], Status.OK, "back")
    deliver(ctx, pool)  # its resolution goes at once
    observe(ctx, down[0], Status.CRITICAL, "again")
    assert deliver(ctx, pool) == 0
    ctx.clock.advance(31)
    assert deliver(ctx, pool) == 1
    assert hook.posts[-1]["title"].endswith("website on fs01")


def test_a_problem_that_gets_worse_is_told_again_unless_someone_took_it(ctx, site, mailbox, pool):
    box, _ = mailbox
    observe(ctx, site["check"], Status.WARNING, "slow: 2.1 s")
    assert deliver(ctx, pool) == 1
    ctx.clock.advance(60)
    observe(ctx, site["check"], Status.CRITICAL, "down")
    assert deliver(ctx, pool) == 1
    assert subject(box.messages[-1]).endswith("(was warning)")
    assert "CRITICAL" in subject(box.messages[-1])
    [alert] = alerts.list_(ctx, SYSTEM, org_id=site["org"]).items  # still one alert
    ctx.clock.advance(60)
    observe(ctx, site["check"], Status.WARNING, "slow again")
    assert deliver(ctx, pool) == 0  # better is not news
    alerts.acknowledge(ctx, SYSTEM, alert.id, AckRequest())
    ctx.clock.advance(60)
    observe(ctx, site["check"], Status.CRITICAL, "down again")
    assert deliver(ctx, pool) == 0  # acknowledged: whoever took it is on it


def test_the_delivery_log_of_one_alert(client, owner, ctx, site, pool):
    observe(ctx, site["check"], Status.CRITICAL, "down")
    other = checks.create(
        ctx,
        SYSTEM,
        CheckCreate(
            asset_id=site["asset"],
            name="second",
            type="http",
            target="http://127.0.0.1:9/x",
            max_attempts=1,
        ),
    ).id
    observe(ctx, other, Status.CRITICAL, "down too")
    deliver(ctx, pool)
    first, second = sorted(a.id for a in alerts.list_(ctx, SYSTEM, org_id=site["org"]).items)
    r = client.get("/api/v1/deliveries", params={"alert_id": first}, headers=owner.headers)
    assert [d["alert_id"] for d in r.json()["items"]] == [first]
    r = client.get("/api/v1/deliveries", params={"alert_id": second}, headers=owner.headers)
    assert [d["alert_id"] for d in r.json()["items"]] == [second]


def test_a_disabled_channel_is_skipped_until_switched_back_on(client, owner, ctx, site, pool):
    url = f"/api/v1/channels/{site['mail'].id}"
    r = client.patch(url, json={"enabled": False, "name": "on duty (off)"}, headers=owner.headers)
    assert r.status_code == 200 and r.json() == {
        **r.json(),
        "enabled": False,
        "name": "on duty (off)",
    }
    observe(ctx, site["check"], Status.CRITICAL, "down")
    assert deliver(ctx, pool) == 0  # the route's only first step is switched off
    assert client.patch(url, json={"enabled": True}, headers=owner.headers).json()["enabled"]
    clash = client.patch(url, json={"name": site["hook"].name}, headers=owner.headers)
    assert clash.status_code == 409

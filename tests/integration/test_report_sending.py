"""Sending the monthly report: a real SMTP server on loopback (aiosmtpd) receives it through
apprise with the PDF attached, on both engines; a mail server that is down is retried and the
report not lost; generating a month twice sends it once; bad recipients change nothing."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from forewarn.reports import monthly as paper
from forewarn.services import monthly_report, notify, report_sending
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError
from forewarn.services.scope import SYSTEM
from forewarn.store.db import Database
from forewarn.store.models import Delivery, Organization, ReportRecipient
from tests.conftest import Person, make_org, make_person
from tests.integration.test_alerts import Hook, Mailbox, free_port, subject
from tests.integration.test_reports import TZ, needs_pdftotext, pdf_text, seed_october

MONTH = "2026-10"


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


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as p:
        yield p


@pytest.fixture
def org(ctx: Context) -> int:
    org = make_org(ctx, "Delta Dental & Co", timezone=TZ, currency="EUR")
    with ctx.db.transaction() as session:  # a client since before October
        session.execute(
            update(Organization)
            .where(Organization.id == org)
            .values(created_at=datetime(2026, 1, 1, tzinfo=UTC))
        )
    return org


def mail_channel(ctx: Context, org: int, port: int, name: str = "owner") -> int:
    url = f"mailto://127.0.0.1:{port}?from=reports@forewarn.test&to=owner@delta.test"
    return notify.create_channel(
        ctx, SYSTEM, notify.ChannelCreate(org_id=org, name=name, url=url)
    ).id


def choose(ctx: Context, org: int, *channels: int) -> None:
    report_sending.set_recipients(
        ctx, SYSTEM, org, report_sending.RecipientsIn(channels=list(channels))
    )


def deliver(ctx: Context, pool: ThreadPoolExecutor) -> int:
    return notify.deliver_due(ctx, "test", pool)


def report_deliveries(ctx: Context, org: int) -> list[notify.DeliveryOut]:
    return [d for d in notify.list_deliveries(ctx, SYSTEM, org_id=org).items if d.kind == "report"]


def pdf_parts(m: Message) -> list[Message]:
    return [p for p in m.walk() if p.get_content_type() == "application/pdf"]


def text_of(m: Message) -> str:
    parts = [p for p in m.walk() if p.get_content_type() == "text/plain"]
    return " ".join(str(p.get_payload(decode=True).decode()) for p in parts)  # type: ignore[union-attr]


@needs_pdftotext
def test_the_owner_receives_the_report_with_its_pdf(
    ctx, org, mailbox, pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    box, port = mailbox
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the PDF is printed to
    seed_october(ctx, org)
    choose(ctx, org, mail_channel(ctx, org, port))
    report = monthly_report.generate(ctx, SYSTEM, org, MONTH)
    headline = report.document["headline"]["text"]
    assert headline == "1 of 2 problems were caught before anyone reported them."
    # Stored means queued: the delivery is in the outbox before anything is sent.
    [queued] = report_deliveries(ctx, org)
    assert (queued.state, queued.report_id) == ("pending", report.id)
    assert monthly_report.get(ctx, SYSTEM, report.id).queued_at == ctx.clock.now()
    assert box.messages == []

    assert deliver(ctx, pool) == 1
    assert list(scratch.iterdir()) == []  # the printed PDF was removed once sent
    [m] = box.messages
    assert subject(m) == "Delta Dental & Co: IT report for October 2026"
    body = text_of(m)
    assert headline in body
    assert "Uptime: 99.60 %" in body
    assert "Time to acknowledge (MTTA): 6 min" in body
    assert "Patch compliance: —" in body
    assert f"/reports/{report.id}/pdf" in body
    [part] = pdf_parts(m)
    assert part.get_filename() == f"forewarn-{org}-monthly-{MONTH}.pdf"
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes) and data.startswith(b"%PDF-")
    assert headline in pdf_text(data, tmp_path)
    [sent] = report_deliveries(ctx, org)
    assert (sent.state, sent.attempts) == ("sent", 1)


def test_generating_a_month_twice_sends_it_once_unless_asked(ctx, org, mailbox, pool):
    box, port = mailbox
    choose(ctx, org, mail_channel(ctx, org, port))
    assert monthly_report.generate_last_month(ctx) == 1  # the scheduled turn queues it
    report = monthly_report.generate(ctx, SYSTEM, org, MONTH)  # a person makes it again
    assert monthly_report.generate_last_month(ctx) == 0
    assert len(report_deliveries(ctx, org)) == 1
    assert deliver(ctx, pool) == 1 and len(box.messages) == 1
    assert deliver(ctx, pool) == 0 and len(box.messages) == 1

    again = report_sending.send_again(ctx, SYSTEM, report.id)
    assert again.queued == 1
    assert deliver(ctx, pool) == 1 and len(box.messages) == 2
    assert all(pdf_parts(m) for m in box.messages)


def test_each_channel_gets_the_pdf_only_if_it_takes_files(ctx, org, pool) -> None:
    """apprise's JSON webhook takes files (the PDF arrives base64 in its JSON); Gotify takes
    none, so it gets the text alone. Each listens on its own loopback server."""
    takes, refuses = Hook(), Hook()
    try:
        chosen = [
            notify.create_channel(
                ctx, SYSTEM, notify.ChannelCreate(org_id=org, name=name, url=url)
            ).id
            for name, url in (
                ("json", f"json://127.0.0.1:{takes.port}/in"),
                ("gotify", f"gotify://127.0.0.1:{refuses.port}/Atoken12345"),
            )
        ]
        choose(ctx, org, *chosen)
        report = monthly_report.generate(ctx, SYSTEM, org, MONTH)
        assert deliver(ctx, pool) == 2
    finally:
        for h in (takes, refuses):
            h.server.shutdown()
            h.server.server_close()
    assert {d.state for d in report_deliveries(ctx, org)} == {"sent"}
    headline = report.document["headline"]["text"]
    [as_json], [as_gotify] = takes.posts, refuses.posts
    assert headline in str(as_json["message"]) and headline in str(as_gotify["message"])
    [pdf] = as_json["attachments"]
    assert pdf["filename"] == f"forewarn-{org}-monthly-{MONTH}.pdf"
    assert base64.b64decode(pdf["base64"]).startswith(b"%PDF-")
    assert "attachments" not in as_gotify


def test_a_mail_server_that_is_down_is_retried_and_the_report_not_lost(ctx, org, pool):
    port = free_port()  # nothing listens there yet
    choose(ctx, org, mail_channel(ctx, org, port))
    monthly_report.generate(ctx, SYSTEM, org, MONTH)
    assert deliver(ctx, pool) == 1
    [d] = report_deliveries(ctx, org)
    assert (d.state, d.attempts) == ("pending", 1) and d.last_error
    assert d.next_at == ctx.clock.now() + notify.RETRY_DELAYS[0]
    assert deliver(ctx, pool) == 0  # not before its time

    # The server restarts: a new connection pool over the same database finds it waiting.
    ctx.db.dispose()
    ctx = Context(Database(ctx.settings.effective_database_url), ctx.settings, ctx.clock)

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        ctx.clock.advance(seconds=notify.RETRY_DELAYS[0].total_seconds())
        assert deliver(ctx, pool) == 1
    finally:
        controller.stop()
    [m] = box.messages
    assert pdf_parts(m)
    [d] = report_deliveries(ctx, org)
    assert (d.state, d.attempts, d.last_error) == ("sent", 2, "")
    ctx.db.dispose()


def test_a_disabled_recipient_is_skipped_and_sending_to_nobody_is_refused(ctx, org, mailbox):
    _, port = mailbox
    channel = mail_channel(ctx, org, port)
    choose(ctx, org, channel)
    notify.update_channel(ctx, SYSTEM, channel, notify.ChannelUpdate(enabled=False))
    report = monthly_report.generate(ctx, SYSTEM, org, MONTH)
    assert report_deliveries(ctx, org) == [] and report.queued_at is None
    with pytest.raises(ServiceError) as refused:
        report_sending.send_again(ctx, SYSTEM, report.id)
    assert refused.value.status == 422 and "nobody receives" in refused.value.detail
    # Switched back on, the month not yet sent goes out when it is made again.
    notify.update_channel(ctx, SYSTEM, channel, notify.ChannelUpdate(enabled=True))
    monthly_report.generate(ctx, SYSTEM, org, MONTH)
    assert len(report_deliveries(ctx, org)) == 1


def recipients_rows(ctx: Context) -> int:
    with ctx.db.read() as session:
        return int(session.scalar(select(func.count(ReportRecipient.id))) or 0)


def test_bad_recipients_are_refused_with_the_reason_and_change_nothing(
    client: TestClient, owner: Person, ctx, org
) -> None:
    mine = mail_channel(ctx, org, 25)
    choose(ctx, org, mine)
    other = make_org(ctx, "Other Dental")
    theirs = mail_channel(ctx, other, 25)
    providers = notify.create_channel(
        ctx,
        SYSTEM,
        notify.ChannelCreate(
            name="noc", url="mailto://127.0.0.1:25?from=fw@msp.test&to=noc@msp.test"
        ),
    ).id
    gone = mail_channel(ctx, org, 25, name="gone")
    notify.delete_channel(ctx, SYSTEM, gone)
    path = f"/api/v1/orgs/{org}/reports/recipients"
    for bad in (theirs, providers, gone):
        r = client.put(path, json={"channels": [mine, bad]}, headers=owner.headers)
        assert r.status_code == 422, r.text
        assert f"channel {bad} is not one of this organization's channels" in r.text
    for body in ({"channels": [0]}, {"channels": ["x"]}, {"channels": [mine], "to": "me"}, {}):
        assert client.put(path, json=body, headers=owner.headers).status_code == 422
    r = client.get(path, headers=owner.headers)
    assert [c["channel_id"] for c in r.json()["channels"]] == [mine]
    assert recipients_rows(ctx) == 1

    viewer = make_person(ctx, "vera", roles={org: "viewer"})
    assert client.put(path, json={"channels": []}, headers=viewer.headers).status_code == 403
    tech = make_person(ctx, "tess", roles={org: "technician"})
    r = client.put(path, json={"channels": []}, headers=tech.headers)
    assert r.status_code == 200 and r.json()["channels"] == []
    assert recipients_rows(ctx) == 0


def test_deleting_a_channel_takes_it_off_the_recipients(ctx, org) -> None:
    channel = mail_channel(ctx, org, 25)
    choose(ctx, org, channel)
    notify.delete_channel(ctx, SYSTEM, channel)
    assert report_sending.get_recipients(ctx, SYSTEM, org).channels == []


def test_the_send_again_route_queues_the_report(client, owner, ctx, org, mailbox) -> None:
    _, port = mailbox
    choose(ctx, org, mail_channel(ctx, org, port))
    report = monthly_report.generate(ctx, SYSTEM, org, MONTH)
    r = client.post(f"/api/v1/reports/{report.id}/send", headers=owner.headers)
    assert r.status_code == 202, r.text
    assert r.json()["queued"] == 1
    with ctx.db.read() as session:
        kinds = session.scalars(select(Delivery.kind).where(Delivery.report_id == report.id))
        assert list(kinds) == ["report", "report"]


def test_the_message_reads_the_risk_trend() -> None:
    doc = {
        "org": {"name": "Acme"},
        "period": {"month": "2026-10", "label": "October 2026"},
        "headline": {"text": "3 of 4 problems were caught before anyone reported them."},
        "uptime": {"percent": 99.5},
        "tickets": {"mtta_s": 600, "mttr_s": 7200},
        "patching": {"compliance": 90.0},
        "risk_trend": [
            {"period": "2026-09", "health_score": 70, "assessment_score": None},
            {"period": "2026-10", "health_score": 78, "assessment_score": 64.4},
        ],
    }
    title, body = paper.message(doc, "https://fw.example/reports/7/pdf")
    assert title == "Acme: IT report for October 2026"
    assert body.splitlines() == [
        "3 of 4 problems were caught before anyone reported them.",
        "",
        "Uptime: 99.50 %",
        "Time to acknowledge (MTTA): 10 min",
        "Time to resolve (MTTR): 2 h",
        "Patch compliance: 90.0 %",
        "Risk trend: Health score: 78 (70 in 2026-09, up 8); Assessment score: 64",
        "",
        "The full report: https://fw.example/reports/7/pdf",
    ]
    _, empty = paper.message({}, "x")
    assert "Risk trend: no score yet" in empty


def test_a_delivery_moved_past_its_lease_is_sent_once(ctx, org, mailbox, pool) -> None:
    """A worker that claimed the report and died: the next one sends it after the lease."""
    box, port = mailbox
    choose(ctx, org, mail_channel(ctx, org, port))
    monthly_report.generate(ctx, SYSTEM, org, MONTH)
    assert len(notify.claim(ctx, "dead-worker", ctx.clock.now(), 10)) == 1
    assert deliver(ctx, pool) == 0 and box.messages == []
    ctx.clock.advance(seconds=notify.LEASE.total_seconds() + 1)
    assert deliver(ctx, pool) == 1 and len(box.messages) == 1

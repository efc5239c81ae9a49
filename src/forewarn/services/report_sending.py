"""Sending the monthly report: the organization's recipients (some of its own notification
channels) and the deliveries that carry each month's report to them.

A month's report is put in the outbox (services.notify, kind "report") in the same transaction
that stores it, one delivery per recipient, so it survives a restart and an outage of the mail
server and is retried like any message. The delivery carries a short text (reports.monthly
.message) and points at the stored report, whose PDF is printed from its JSON when it is sent
and attached where the channel takes files (email does). Generating the month again does not
send it again; "send again" (send_again) does, on purpose.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from forewarn.domain.inventory import Role
from forewarn.reports import monthly as paper
from forewarn.services import alerts, audit
from forewarn.services.context import Context
from forewarn.services.errors import invalid
from forewarn.services.schemas import Id
from forewarn.services.scope import Actor, get_in_scope, get_org_in_scope
from forewarn.store.models import Channel, ClientReport, ReportRecipient

KIND = "report"  # the deliveries' kind, beside alert, escalation, repeat, resolved, test
MAX_RECIPIENTS = 20


# ---- shapes -----------------------------------------------------------------------------------


class RecipientsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: list[Id] = Field(
        max_length=MAX_RECIPIENTS,
        description="ids of the organization's own channels that receive its monthly report "
        "(an email channel, mailto://, gets the PDF attached); empty: nobody",
    )


class RecipientOut(BaseModel):
    channel_id: int
    name: str
    kind: str
    enabled: bool


class RecipientsOut(BaseModel):
    org_id: int
    channels: list[RecipientOut]


class SendOut(BaseModel):
    report_id: int
    queued: int = Field(description="deliveries put in the outbox, one per enabled recipient")
    deliveries: list[int]


# ---- recipients ---------------------------------------------------------------------------------


def _recipients(session: Session, org_id: int) -> list[Channel]:
    return list(
        session.scalars(
            select(Channel)
            .join(ReportRecipient, ReportRecipient.channel_id == Channel.id)
            .where(ReportRecipient.org_id == org_id)
            .order_by(Channel.name, Channel.id)
        )
    )


def _out(org_id: int, channels: list[Channel]) -> RecipientsOut:
    return RecipientsOut(
        org_id=org_id,
        channels=[
            RecipientOut(channel_id=c.id, name=c.name, kind=c.kind, enabled=c.enabled)
            for c in channels
        ],
    )


def get_recipients(ctx: Context, actor: Actor, org_id: int) -> RecipientsOut:
    """The channels that receive the organization's monthly report."""
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id, Role.VIEWER)
        return _out(org_id, _recipients(session, org_id))


def set_recipients(ctx: Context, actor: Actor, org_id: int, data: RecipientsIn) -> RecipientsOut:
    """Replace the recipients. Technicians and above; each must be one of the organization's
    own channels (not another's, not the provider's, not a deleted one), or nothing changes."""
    wanted = list(dict.fromkeys(data.channels))
    with ctx.db.transaction() as session:
        get_org_in_scope(session, actor, org_id, Role.TECHNICIAN)
        found = {
            c.id: c
            for c in session.scalars(select(Channel).where(Channel.id.in_(wanted)))
            if c.org_id == org_id
        }
        for i, channel_id in enumerate(data.channels):
            if channel_id not in found:
                msg = (
                    f"channel {channel_id} is not one of this organization's channels "
                    "(it does not exist, was deleted, or belongs to someone else)"
                )
                raise invalid(msg, [{"loc": ["body", "channels", i], "msg": msg}])
        before = [c.id for c in _recipients(session, org_id)]
        for row in session.scalars(select(ReportRecipient).where(ReportRecipient.org_id == org_id)):
            session.delete(row)
        session.flush()
        now = ctx.clock.now()
        for channel_id in wanted:
            session.add(ReportRecipient(org_id=org_id, channel_id=channel_id, created_at=now))
        session.flush()
        audit.record(
            session,
            ctx.clock,
            actor,
            "report_recipients.update",
            entity="organization",
            entity_id=org_id,
            org_id=org_id,
            before={"channels": before},
            after={"channels": wanted},
        )
        return _out(org_id, [found[c] for c in wanted])


# ---- queueing -----------------------------------------------------------------------------------


def link(ctx: Context, report: ClientReport) -> str:
    """Where the report reads on the dashboard (its PDF)."""
    base = (ctx.settings.public_url or "").rstrip("/")
    return f"{base}/reports/{report.id}/pdf"


def queue(ctx: Context, session: Session, report: ClientReport) -> list[int]:
    """Put the report in the outbox for each enabled recipient, inside the caller's transaction;
    the new deliveries' ids. A disabled channel is skipped, as routes skip it."""
    now = ctx.clock.now()
    title, body = paper.message(report.document, link(ctx, report))
    made = [
        alerts.enqueue(session, channel, now, KIND, title, body, org_id=report.org_id)
        for channel in _recipients(session, report.org_id)
        if channel.enabled
    ]
    for d in made:
        d.report_id = report.id
    session.flush()
    if made and report.queued_at is None:
        report.queued_at = now
    return [d.id for d in made]


def on_generated(ctx: Context, session: Session, report: ClientReport) -> list[int]:
    """A report just stored goes out once: a month already sent is not sent again when it is
    generated again (send_again does that)."""
    if report.queued_at is not None:
        return []
    return queue(ctx, session, report)


def send_again(ctx: Context, actor: Actor, report_id: int) -> SendOut:
    """Send a stored report to the current recipients now, whether or not it went before.
    Technicians and above; refused when the organization has no enabled recipient."""
    with ctx.db.transaction() as session:
        report = get_in_scope(session, actor, ClientReport, report_id, Role.TECHNICIAN)
        ids = queue(ctx, session, report)
        if not ids:
            raise invalid(
                "nobody receives this organization's monthly report: choose one of its "
                "channels (an enabled one) under Monthly report first"
            )
        audit.record(
            session,
            ctx.clock,
            actor,
            "report.send",
            entity="client_report",
            entity_id=report.id,
            org_id=report.org_id,
            after={"period": report.period, "deliveries": ids},
        )
        return SendOut(report_id=report.id, queued=len(ids), deliveries=ids)

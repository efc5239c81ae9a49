"""Promises of alerting end to end, with a real database, the manual clock and webhook
receivers on loopback (apprise json://): business-hours routing in the organization's own
time zone, the third escalation step and an acknowledgement that stops it, dependency
inhibition at the alert level, and channel URLs sealed at rest."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import InvalidToken
from sqlalchemy import text

from forewarn.config import Settings
from forewarn.domain.clock import ManualClock
from forewarn.domain.observation import Status
from forewarn.services import alerts, assets, checks, keys, notify
from forewarn.services.alerts import AckRequest
from forewarn.services.context import Context
from forewarn.services.schemas import AssetCreate, CheckCreate
from forewarn.services.scope import SYSTEM
from tests.conftest import make_org
from tests.integration.test_alerts import Hook, observe

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def hooks() -> Iterator[list[Hook]]:
    made = [Hook() for _ in range(3)]
    try:
        yield made
    finally:
        for h in made:
            h.server.shutdown()
            h.server.server_close()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as p:
        yield p


def deliver(ctx: Context, pool: ThreadPoolExecutor) -> int:
    return notify.deliver_due(ctx, "test", pool)


def new_check(ctx: Context, org: int, name: str, parent: int | None = None) -> int:
    asset = assets.create(ctx, SYSTEM, AssetCreate(org_id=org, name=name, kind="server")).id
    return checks.create(
        ctx,
        SYSTEM,
        CheckCreate(
            asset_id=asset,
            name="ping",
            type="tcp",
            target="127.0.0.1:9",
            max_attempts=1,
            parent_id=parent,
        ),
    ).id


def hook_channel(ctx: Context, org: int, name: str, hook: Hook) -> int:
    url = f"json://127.0.0.1:{hook.port}/{name}"
    return notify.create_channel(
        ctx, SYSTEM, notify.ChannelCreate(org_id=org, name=name, url=url)
    ).id


def move_to(clock: ManualClock, when: datetime) -> None:
    assert when >= clock.now()
    clock.advance((when - clock.now()).total_seconds())


def titles(hook: Hook) -> list[str]:
    return [str(p["title"]) for p in hook.posts]


# ---- business hours ---------------------------------------------------------------------------


def test_business_hours_are_judged_on_the_organizations_wall_clock(
    ctx: Context, clock: ManualClock, hooks: list[Hook], pool: ThreadPoolExecutor
) -> None:
    """Tokyo (UTC+9), open 08:00-18:00 on weekdays. 10:00 there is 01:00 UTC and 22:00 there
    is 13:00 UTC: judged in UTC, each problem would take the other route."""
    day, night, _ = hooks
    org = make_org(
        ctx,
        "Tokyo Branch",
        timezone="Asia/Tokyo",
        business_hours={"days": [1, 2, 3, 4, 5], "start": "08:00", "end": "18:00"},
    )
    in_office = hook_channel(ctx, org, "office", day)
    on_call = hook_channel(ctx, org, "on-call", night)
    for when, channel in (("business", in_office), ("after_hours", on_call)):
        notify.create_route(
            ctx,
            SYSTEM,
            notify.RouteCreate(org_id=org, name=when, when=when, steps=[{"channels": [channel]}]),
        )
    morning, evening = new_check(ctx, org, "nas-morning"), new_check(ctx, org, "nas-evening")

    move_to(clock, datetime(2026, 11, 3, 1, 0, tzinfo=UTC))  # Tuesday 10:00 in Tokyo
    observe(ctx, morning, Status.CRITICAL, "down in the morning")
    assert deliver(ctx, pool) == 1
    assert len(day.posts) == 1 and "nas-morning" in titles(day)[0]
    assert night.posts == []

    move_to(clock, datetime(2026, 11, 3, 13, 0, tzinfo=UTC))  # Tuesday 22:00 in Tokyo
    observe(ctx, evening, Status.CRITICAL, "down in the evening")
    alerts.escalate(ctx)
    assert deliver(ctx, pool) == 1
    assert len(night.posts) == 1 and "nas-evening" in titles(night)[0]
    assert len(day.posts) == 1  # still only the morning's

    by_channel = {
        ch: [d.alert_id for d in notify.list_deliveries(ctx, SYSTEM, channel_id=ch).items]
        for ch in (in_office, on_call)
    }
    [first, second] = sorted(a.id for a in alerts.list_(ctx, SYSTEM, org_id=org).items)
    assert by_channel == {in_office: [first], on_call: [second]}


# ---- escalation ------------------------------------------------------------------------------


@pytest.mark.parametrize("ack_at_30_min", [False, True])
def test_the_third_step_after_an_hour_unless_someone_acknowledged(
    ctx: Context,
    clock: ManualClock,
    hooks: list[Hook],
    pool: ThreadPoolExecutor,
    ack_at_30_min: bool,
) -> None:
    """On duty at once, on call after 15 minutes, the service manager after an hour."""
    duty, call, manager = hooks
    org = make_org(ctx, "Escalating Ltd")
    steps = [
        {"after_s": after, "channels": [hook_channel(ctx, org, name, h)]}
        for after, name, h in ((0, "duty", duty), (900, "call", call), (3600, "manager", manager))
    ]
    notify.create_route(ctx, SYSTEM, notify.RouteCreate(org_id=org, name="escalation", steps=steps))
    check = new_check(ctx, org, "fs01")
    start = clock.now()

    def at_minute(minute: float) -> tuple[int, int, int]:
        move_to(clock, start + timedelta(minutes=minute))
        alerts.escalate(ctx)
        deliver(ctx, pool)
        return len(duty.posts), len(call.posts), len(manager.posts)

    observe(ctx, check, Status.CRITICAL, "connection refused")
    assert at_minute(0) == (1, 0, 0)
    assert at_minute(14.9) == (1, 0, 0)
    assert at_minute(15) == (1, 1, 0)
    if ack_at_30_min:
        [alert] = alerts.list_(ctx, SYSTEM, org_id=org).items
        assert at_minute(30) == (1, 1, 0)
        alerts.acknowledge(ctx, SYSTEM, alert.id, AckRequest(comment="on it"))
    assert at_minute(59.9) == (1, 1, 0)
    expected_manager = 0 if ack_at_30_min else 1
    assert at_minute(60) == (1, 1, expected_manager)
    assert at_minute(180) == (1, 1, expected_manager)  # and never later either
    assert all("fs01" in t for h in hooks for t in titles(h))


# ---- dependencies ------------------------------------------------------------------------------


def test_a_child_behind_a_down_parent_opens_nothing_until_the_parent_is_back(
    ctx: Context, clock: ManualClock, hooks: list[Hook], pool: ThreadPoolExecutor
) -> None:
    hook = hooks[0]
    org = make_org(ctx, "Branch Office")
    notify.create_route(
        ctx,
        SYSTEM,
        notify.RouteCreate(
            org_id=org, name="all", steps=[{"channels": [hook_channel(ctx, org, "all", hook)]}]
        ),
    )
    router = new_check(ctx, org, "router")
    printer = new_check(ctx, org, "printer", parent=router)

    observe(ctx, router, Status.CRITICAL, "link down")
    clock.advance(10)
    observe(ctx, printer, Status.CRITICAL, "no route to host")
    assert checks.get(ctx, SYSTEM, printer).state.display == "unreachable"
    clock.advance(60)
    observe(ctx, printer, Status.CRITICAL, "no route to host")
    alerts.escalate(ctx)
    deliver(ctx, pool)
    [alert] = alerts.list_(ctx, SYSTEM, org_id=org).items
    assert alert.check_id == router
    assert len(hook.posts) == 1 and "router" in titles(hook)[0]

    # The link is back but the printer is still down: now that is a problem of its own.
    clock.advance(60)
    observe(ctx, router, Status.OK, "link up")
    clock.advance(10)
    observe(ctx, printer, Status.CRITICAL, "connection refused")
    assert checks.get(ctx, SYSTEM, printer).state.display == "critical"
    alerts.escalate(ctx)
    deliver(ctx, pool)
    by_check = {a.check_id: a.state for a in alerts.list_(ctx, SYSTEM, org_id=org).items}
    assert by_check == {router: "resolved", printer: "open"}
    # Sent side by side (the worker's threads): in either order.
    resolved, printer_down = sorted(hook.posts[1:], key=lambda p: "printer" in p["title"])
    assert resolved["title"].startswith("RESOLVED") and "router" in resolved["title"]
    assert "printer" in printer_down["title"] and "connection refused" in printer_down["message"]
    alerts.escalate(ctx)
    assert deliver(ctx, pool) == 0  # once


# ---- channels sealed at rest ---------------------------------------------------------------


def test_a_channel_url_and_its_token_are_sealed_at_rest(
    ctx: Context, settings: Settings, clock: ManualClock
) -> None:
    org = make_org(ctx, "Sealed Ltd")
    token = "xoxb-Sup3rS3cretT0ken"
    url = f"json://forewarn:{token}@127.0.0.1:9/hooks/acme"
    channel = notify.create_channel(
        ctx, SYSTEM, notify.ChannelCreate(org_id=org, name="sealed", url=url)
    ).id
    signed = notify.create_channel(
        ctx,
        SYSTEM,
        notify.ChannelCreate(
            org_id=org, name="psa", url="http://127.0.0.1:9/psa", secret="hmac-" + token
        ),
    ).id
    with ctx.db.engine.connect() as conn:
        stored: dict[int, Any] = {
            r.id: r
            for r in conn.execute(
                text("SELECT id, url, secret FROM channels WHERE org_id = :org"), {"org": org}
            )
        }
    raw = " ".join(f"{r.url} {r.secret}" for r in stored.values())
    for plain in (token, "forewarn", "127.0.0.1", "hooks/acme", "psa"):
        assert plain not in raw
    assert keys.decrypt(ctx, stored[channel].url).decode() == url
    assert keys.decrypt(ctx, stored[signed].secret).decode() == "hmac-" + token

    # What the sender gets back is the original; a server with another key gets nothing.
    notify.create_route(
        ctx, SYSTEM, notify.RouteCreate(org_id=org, name="all", steps=[{"channels": [channel]}])
    )
    observe(ctx, new_check(ctx, org, "fs01"), Status.CRITICAL, "down")
    [outgoing] = notify.claim(ctx, "test", clock.now(), 10)
    assert outgoing.url == url
    other = Settings(database_url=ctx.db.url, data_dir=settings.data_dir, secret_key="other")
    with pytest.raises(InvalidToken):
        keys.decrypt(Context(ctx.db, other, clock), stored[channel].url)

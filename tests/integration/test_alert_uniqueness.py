"""One open alert per problem, held by the database: two transactions that both looked and
saw no open alert (two pollers on PostgreSQL, two Alertmanager posts at once) still make
one alert, and neither fails; an older database holding such twins is mended by the
upgrade that makes the index (migration 0028)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from forewarn.domain import alerting
from forewarn.domain.alerting import Severity
from forewarn.services import alerts, notify
from forewarn.services.context import Context
from forewarn.services.scope import SYSTEM
from forewarn.store.migrate import alembic_config, upgrade
from forewarn.store.models import AlertEvent, AlertRow, Delivery, Site
from tests.conftest import make_org

pytestmark = pytest.mark.timeout(120)

LABELS = {"org": "", "alertname": "LinkDown", "kind": "external"}


def test_two_transactions_at_once_open_one_alert_and_both_commit(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = make_org(ctx, "Twin Pollers")
    labels = {**LABELS, "org": str(org)}
    hook = notify.create_channel(
        ctx, SYSTEM, notify.ChannelCreate(org_id=org, name="hook", url="json://127.0.0.1:9/x")
    )
    notify.create_route(
        ctx, SYSTEM, notify.RouteCreate(org_id=org, name="all", steps=[{"channels": [hook.id]}])
    )

    # Both transactions read "no open alert" before either inserts: each waits for the
    # other at its first look.
    both_looked = threading.Barrier(2, timeout=20)
    looked = threading.local()
    real_current = alerts._current

    def current_then_wait(session: Any, fingerprint: str) -> AlertRow | None:
        found = real_current(session, fingerprint)
        if not getattr(looked, "once", False):
            looked.once = True
            assert found is None
            both_looked.wait()
        return found

    monkeypatch.setattr(alerts, "_current", current_then_wait)
    errors: list[BaseException] = []

    def poller(i: int) -> None:
        try:
            with ctx.db.transaction() as session:
                alerts.raise_(
                    session, ctx, org, labels, Severity.CRITICAL, ctx.clock.now(), f"down ({i})"
                )
                # Whatever else the transaction holds (a group of check results) is kept.
                now = ctx.clock.now()
                session.add(Site(org_id=org, name=f"kept {i}", created_at=now, updated_at=now))
        except BaseException as exc:  # handed to the test below
            errors.append(exc)

    threads = [threading.Thread(target=poller, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []

    fingerprint = alerting.fingerprint(labels)
    with ctx.db.read() as session:
        rows = session.scalars(select(AlertRow).where(AlertRow.fingerprint == fingerprint)).all()
        kept = session.scalars(select(Site.name).where(Site.org_id == org)).all()
        sent = session.scalar(select(func.count()).select_from(Delivery))
    assert [r.state for r in rows] == ["open"]
    assert sorted(kept) == ["kept 0", "kept 1"]
    assert sent == 1  # told once: the second firing refreshed the first's alert


def test_the_upgrade_resolves_twins_before_making_the_index(ctx: Context) -> None:
    """A database from before 0028 may hold two open alerts of one problem: the oldest
    stays open, the others are resolved with a word in their timeline, and the index is made."""
    org = make_org(ctx, "Old Twins")
    command.downgrade(alembic_config(ctx.db.url), "0027")
    now = ctx.clock.now()
    try:

        def alert(fingerprint: str, state: str) -> AlertRow:
            return AlertRow(
                org_id=org,
                fingerprint=fingerprint,
                labels={},
                severity="critical",
                state=state,
                summary=fingerprint,
                opened_at=now,
                last_fired_at=now,
            )

        with ctx.db.transaction() as session:
            made = [
                alert("aaaa", "resolved"),
                alert("aaaa", "open"),
                alert("aaaa", "acknowledged"),
                alert("aaaa", "open"),
                alert("bbbb", "open"),
            ]
            session.add_all(made)
            session.flush()
            ids = [a.id for a in made]
    finally:
        upgrade(ctx.db.url)

    with ctx.db.read() as session:
        states = {
            a.id: (a.state, a.resolved_by)
            for a in session.scalars(select(AlertRow).where(AlertRow.org_id == org))
        }
        events = session.scalars(select(AlertEvent.alert_id).order_by(AlertEvent.alert_id)).all()
    assert [states[i] for i in ids] == [
        ("resolved", None),
        ("open", None),
        ("resolved", "upgrade"),
        ("resolved", "upgrade"),
        ("open", None),
    ]
    assert events == [ids[2], ids[3]]
    # The index is there: a second open alert of "aaaa" is refused by the database itself.
    with pytest.raises(IntegrityError), ctx.db.transaction() as session:
        session.add(alert("aaaa", "open"))

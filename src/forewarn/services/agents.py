"""Agents as the server sees them: who is online, and what their machines report."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from forewarn.domain.inventory import Role
from forewarn.services import activity
from forewarn.services.context import Context
from forewarn.services.errors import invalid
from forewarn.services.pagination import Page, paginate, paginate_desc
from forewarn.services.schemas import AgentOut
from forewarn.services.scope import Actor, get_in_scope, scoped
from forewarn.store.models import Agent, AgentBatch, Asset, InventoryChange, InventorySection
from forewarn.wire import SECTIONS

# An agent that missed this many check-ins in a row is offline.
MISSED_CHECKINS = 3
BATCH_ID_DAYS = 7


def list_agents(
    ctx: Context,
    actor: Actor,
    *,
    org_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[AgentOut]:
    stmt = scoped(select(Agent), actor, Agent.org_id)
    if org_id is not None:
        stmt = stmt.where(Agent.org_id == org_id)
    if status is not None:
        stmt = stmt.where(Agent.status == status)
    with ctx.db.read() as session:
        page = paginate(session, stmt, Agent.id, limit, cursor)
        return Page([AgentOut.model_validate(a) for a in page.items], page.next_cursor)


def agent_of_asset(ctx: Context, actor: Actor, asset_id: int) -> AgentOut | None:
    with ctx.db.read() as session:
        get_in_scope(session, actor, Asset, asset_id)
        row = session.scalar(select(Agent).where(Agent.asset_id == asset_id))
        return AgentOut.model_validate(row) if row else None


def top_processes(ctx: Context, actor: Actor, asset_id: int) -> list[dict[str, Any]]:
    with ctx.db.read() as session:
        get_in_scope(session, actor, Asset, asset_id)
        row = session.scalar(select(Agent.top).where(Agent.asset_id == asset_id))
        return list(row or [])


def inventory(ctx: Context, actor: Actor, asset_id: int, section: str) -> dict[str, Any]:
    """The current state of one inventory section, and when it last changed."""
    return sections(ctx, actor, asset_id, [section])[section]


def sections(
    ctx: Context, actor: Actor, asset_id: int, names: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Several inventory sections of one asset in one read; one never reported has data None."""
    wanted = list(dict.fromkeys(names))
    unknown = [n for n in wanted if n not in SECTIONS]
    if unknown:
        raise invalid(f"unknown section {unknown[0]!r}; one of: {', '.join(SECTIONS)}")
    out: dict[str, dict[str, Any]] = {
        n: {"section": n, "updated_at": None, "data": None} for n in wanted
    }
    with ctx.db.read() as session:
        get_in_scope(session, actor, Asset, asset_id)
        rows = session.scalars(
            select(InventorySection).where(
                InventorySection.asset_id == asset_id, InventorySection.section.in_(wanted)
            )
        )
        for row in rows:
            out[row.section] = {
                "section": row.section,
                "updated_at": row.updated_at,
                "data": row.data,
            }
    return out


def changes(
    ctx: Context,
    actor: Actor,
    asset_id: int,
    *,
    section: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[dict[str, Any]]:
    """What changed on the machine, newest first."""
    with ctx.db.read() as session:
        get_in_scope(session, actor, Asset, asset_id, Role.VIEWER)
        stmt = select(InventoryChange).where(InventoryChange.asset_id == asset_id)
        if section:
            stmt = stmt.where(InventoryChange.section == section)
        page = paginate_desc(session, stmt, InventoryChange.id, limit, cursor)
        items = [
            {
                "id": c.id,
                "at": c.at,
                "section": c.section,
                "change": c.change,
                "key": c.key,
                "summary": c.summary,
                "before": c.before,
                "after": c.after,
            }
            for c in page.items
        ]
        return Page(items, page.next_cursor)


def mark_offline(ctx: Context) -> list[int]:
    """Agents that missed MISSED_CHECKINS check-ins become offline; answers their asset ids.

    This is the observation the alerting will act on; the state and its time are kept on the
    agent row.
    """
    now = ctx.clock.now()
    went = []
    with ctx.db.transaction() as session:
        for agent in session.scalars(select(Agent).where(Agent.status == "online")):
            last = agent.last_seen_at or agent.enrolled_at
            if now - last > timedelta(seconds=agent.interval * MISSED_CHECKINS):
                agent.status, agent.status_since = "offline", now
                went.append(agent.asset_id)
                stopped = activity.stopped_since(session, agent.asset_id, last)
                said = (
                    f"agent offline: stopped on purpose at {stopped:%Y-%m-%d %H:%M} UTC"
                    if stopped is not None
                    else f"agent offline: no check-in since {last:%Y-%m-%d %H:%M} UTC"
                )
                session.add(
                    InventoryChange(
                        org_id=agent.org_id,
                        asset_id=agent.asset_id,
                        at=now,
                        section="agent",
                        change="changed",
                        key="status",
                        summary=said,
                        before="online",
                        after="offline",
                    )
                )
    return went


def prune_batch_ids(ctx: Context) -> int:
    """Forget batch ids older than a week: an agent never retries that late."""
    cut = ctx.clock.now() - timedelta(days=BATCH_ID_DAYS)
    with ctx.db.transaction() as session:
        result = session.execute(delete(AgentBatch).where(AgentBatch.received_at < cut))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

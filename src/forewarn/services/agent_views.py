"""Reads of agent data the dashboard needs in one go: the statuses of a list of assets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from forewarn.services.context import Context
from forewarn.services.scope import Actor, scoped
from forewarn.store.models import Agent

# Ids per IN (...) list: well inside both engines' limits on bound parameters.
_CHUNK = 500


@dataclass(frozen=True)
class AgentStatus:
    """What a list shows about an asset's agent: online or not, and since when."""

    asset_id: int
    status: str
    last_seen_at: datetime | None
    status_since: datetime
    version: str
    interval: int


def statuses(ctx: Context, actor: Actor, asset_ids: Iterable[int]) -> dict[int, AgentStatus]:
    """The agent status of each of these assets that has an agent and that the actor may see.

    Assets without an agent, or of organizations the actor cannot see, are simply absent.
    """
    ids = sorted(set(asset_ids))
    found: dict[int, AgentStatus] = {}
    with ctx.db.read() as session:
        for at in range(0, len(ids), _CHUNK):
            stmt = scoped(
                select(
                    Agent.asset_id,
                    Agent.status,
                    Agent.last_seen_at,
                    Agent.status_since,
                    Agent.version,
                    Agent.interval,
                ).where(Agent.asset_id.in_(ids[at : at + _CHUNK])),
                actor,
                Agent.org_id,
            )
            for row in session.execute(stmt):
                found[row.asset_id] = AgentStatus(
                    asset_id=row.asset_id,
                    status=row.status,
                    last_seen_at=row.last_seen_at,
                    status_since=row.status_since,
                    version=row.version,
                    interval=row.interval,
                )
    return found

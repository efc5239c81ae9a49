"""Reads of agent data the dashboard needs in one go: statuses for a list, several sections."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from forewarn.services.context import Context
from forewarn.services.errors import invalid
from forewarn.services.scope import Actor, get_in_scope, scoped
from forewarn.store.models import Agent, Asset, InventorySection
from forewarn.wire import SECTIONS

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


def sections(
    ctx: Context, actor: Actor, asset_id: int, names: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Several inventory sections of one asset, each as `agents.inventory` answers it.

    A section the agent never reported has data None.
    """
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

"""What each agent is asked to watch besides its usual metrics, and how it learns of changes.

Agent checks of kind `process` and `log` need the agent to look at something the server
names (a process, a log file and a pattern). Their definitions, per agent, form one
document (`wire.AgentConfig`) whose digest is kept on the agent's row as `config_rev`.
The agent reports the rev it runs in each batch; when that is not the stored one, the
check-in answer carries the whole document. So the hot path compares two short strings,
and the document is built only when something changed.

The same document carries the discovery runs of networks this agent sweeps for the server
(services.discovery): a run is in it from its start until the agent reports it.

Whatever changes an asset's agent checks or its agent's runs calls `refresh` in the same
transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from forewarn.probes.discover import PORTS
from forewarn.services.context import Context
from forewarn.store.models import Agent, Check, DiscoveryNetwork, DiscoveryRun
from forewarn.wire import MAX_WATCHES, AgentConfig

MAX_SWEEPS = 10  # wire.AgentConfig.sweeps

# An agent learns of a run at its next check-in and reports it at the one after the sweep;
# one that has not reported within this is taken to be offline or gone.
SWEEP_DEADLINE = timedelta(hours=1)


def document(session: Session, asset_id: int, now: datetime) -> dict[str, Any]:
    """The watches of one asset's enabled agent checks and its agent's discovery runs, in a
    stable order (without the rev, and without SNMP communities: see `current`)."""
    processes: list[dict[str, Any]] = []
    logs: list[dict[str, Any]] = []
    rows = session.execute(
        select(Check.id, Check.params)
        .where(Check.asset_id == asset_id, Check.type == "agent", Check.enabled.is_(True))
        .order_by(Check.id)
    )
    for check_id, params in rows:
        kind = (params or {}).get("kind")
        if kind == "process":
            processes.append(
                {
                    "check": check_id,
                    "name": params.get("process", ""),
                    "cmdline": bool(params.get("cmdline", False)),
                }
            )
        elif kind == "log":
            logs.append(
                {
                    "check": check_id,
                    "path": params.get("path", ""),
                    "pattern": params.get("pattern", ""),
                    "ignore_case": bool(params.get("ignore_case", False)),
                }
            )
    sweeps = [
        {"run": run_id, "network": cidr}
        for run_id, cidr in session.execute(
            select(DiscoveryRun.id, DiscoveryNetwork.cidr)
            .join(DiscoveryNetwork, DiscoveryNetwork.id == DiscoveryRun.network_id)
            .join(Agent, Agent.id == DiscoveryNetwork.agent_id)
            .where(
                Agent.asset_id == asset_id,
                DiscoveryRun.status == "running",
                DiscoveryRun.started_at > now - SWEEP_DEADLINE,
            )
            .order_by(DiscoveryRun.id)
        )
    ]
    # The wire's bounds (an agent watches at most 500 of each): the lowest check ids win.
    doc: dict[str, Any] = {
        "processes": processes[:MAX_WATCHES],
        "logs": logs[:MAX_WATCHES],
        "sweeps": sweeps[:MAX_SWEEPS],
    }
    # Imported here: posture refreshes agents through this module.
    from forewarn.services import posture

    policies = posture.agent_policies(session, asset_id)
    if policies:  # absent when none, so the revs of agents without posture stay as they were
        doc["posture"] = policies
    return doc


def rev_of(doc: dict[str, Any]) -> str:
    """The digest an agent reports back; "" for nothing to watch (what a new agent has)."""
    if not any(doc.values()):
        return ""
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def refresh(session: Session, asset_ids: Iterable[int], now: datetime) -> None:
    """Recompute the rev of these assets' agents after their checks or runs changed."""
    session.flush()  # the checks just added or changed must be visible to the query
    for asset_id in sorted(set(asset_ids)):
        rev = rev_of(document(session, asset_id, now))
        session.execute(
            update(Agent)
            .where(Agent.asset_id == asset_id, Agent.config_rev != rev)
            .values(config_rev=rev)
        )


def current(ctx: Context, agent_id: int) -> AgentConfig | None:
    """The document for an agent as it stands now (None if the agent is gone)."""
    # Imported here: discovery records agent runs through this module.
    from forewarn.services import discovery

    with ctx.db.read() as session:
        asset_id = session.scalar(select(Agent.asset_id).where(Agent.id == agent_id))
        if asset_id is None:
            return None
        doc = document(session, asset_id, ctx.clock.now())
        rev = rev_of(doc)
        for task in doc["sweeps"]:
            task["ports"] = list(PORTS)
            task["communities"] = discovery.communities_of_run(ctx, session, task["run"])
    return AgentConfig.model_validate({"rev": rev, **doc})

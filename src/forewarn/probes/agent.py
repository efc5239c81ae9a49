"""Agent checks: thresholds on what the asset's own agent reports.

Nothing is probed over the network: the server reads the asset's latest agent data (metrics,
services) and judges it here, purely. Kinds:
- `metric`: a metric the agent sends (`cpu.percent`, `mem.used_percent`, `disk.used_percent`
  with label `mount=/`, `load.5`, ...) against warn/crit ranges, as its mean over `window_s`;
- `service`: a systemd unit is active (`postgresql.service`);
- `online`: the agent is checking in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from forewarn.domain.observation import Metric, Result, Status
from forewarn.domain.thresholds import Range, Thresholds


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["metric", "service", "online"] = "metric"
    metric: str = Field("", max_length=100, description="metric name, for kind=metric")
    labels: dict[str, str] = Field(default_factory=dict, description="e.g. {'mount': '/'}")
    window_s: int = Field(300, ge=0, le=86_400, description="average over this window")
    warn: str | None = None
    crit: str | None = None
    service: str = Field("", max_length=255, description="systemd unit, for kind=service")

    @field_validator("warn", "crit")
    @classmethod
    def _range(cls, v: str | None) -> str | None:
        if v not in (None, ""):
            Range.parse(v)
        return v or None

    @model_validator(mode="after")
    def _complete(self) -> Params:
        if self.kind == "metric" and not self.metric:
            raise ValueError("an agent metric check names its metric, e.g. cpu.percent")
        if self.kind == "metric" and not (self.warn or self.crit):
            raise ValueError("an agent metric check needs a warn or crit threshold")
        if self.kind == "service" and not self.service:
            raise ValueError("an agent service check names its unit, e.g. ssh.service")
        return self


def validate(target: str, params: Mapping[str, Any]) -> Params:
    if target:
        raise ValueError("an agent check has no target: it reads its asset's agent")
    return Params.model_validate(dict(params))


@dataclass(frozen=True)
class AgentFacts:
    """What the server knows of an asset's agent at the time of the check."""

    online: bool | None  # None: the asset has no agent
    last_seen_s: float | None = None
    metric_mean: float | None = None  # mean of the named metric over the window
    services: Mapping[str, str] = field(default_factory=dict)  # unit -> active state


def evaluate(params: Params, facts: AgentFacts) -> Result:
    if facts.online is None:
        return Result(Status.UNKNOWN, "this asset has no agent")
    if params.kind == "online":
        if facts.online:
            return Result(Status.OK, "agent checking in")
        ago = f" (last seen {facts.last_seen_s:.0f} s ago)" if facts.last_seen_s else ""
        return Result(Status.CRITICAL, f"agent offline{ago}")
    if not facts.online:
        return Result(Status.UNKNOWN, "agent offline: no current data")
    if params.kind == "service":
        state = facts.services.get(params.service)
        if state is None:
            return Result(Status.CRITICAL, f"service {params.service} not found")
        status = Status.OK if state == "active" else Status.CRITICAL
        return Result(status, f"service {params.service} is {state}")
    if facts.metric_mean is None:
        return Result(Status.UNKNOWN, f"no {params.metric} data in the last {params.window_s} s")
    value = facts.metric_mean
    status = Thresholds.parse(params.warn, params.crit).status(value)
    where = ",".join(f"{k}={v}" for k, v in sorted(params.labels.items()))
    label = f"{params.metric}{{{where}}}" if where else params.metric
    return Result(
        status,
        f"{label} = {value:.4g}",
        (Metric(params.metric, value, warn=params.warn, crit=params.crit),),
    )

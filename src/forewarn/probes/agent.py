"""Agent checks: thresholds on what the asset's own agent reports.

Nothing is probed over the network: the server reads the asset's latest agent data (metrics,
services) and judges it here, purely. Kinds:
- `metric`: a metric the agent sends (`cpu.percent`, `mem.used_percent`, `disk.used_percent`
  with label `mount=/`, `load.5`, ...) against warn/crit ranges, as its mean over `window_s`;
- `service`: a systemd unit is active (`postgresql.service`);
- `process`: at least `min_count` (and at most `max_count`) processes of a name are running;
- `log`: lines of a log file matching a pattern, counted over `window_s` (any match is
  critical unless thresholds say otherwise);
- `online`: the agent is checking in.

`process` and `log` need the agent to look: their definitions travel to it in check-in
answers (services.agent_config), and it sends back the counts as metric series
`watch.process_count` / `watch.log_matches` labelled with the check's id.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from forewarn.domain.observation import Metric, Result, Status
from forewarn.domain.thresholds import Range, Thresholds


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["metric", "service", "process", "log", "online"] = "metric"
    metric: str = Field("", max_length=100, description="metric name, for kind=metric")
    labels: dict[str, str] = Field(default_factory=dict, description="e.g. {'mount': '/'}")
    window_s: int = Field(300, ge=0, le=86_400, description="average over this window")
    warn: str | None = None
    crit: str | None = None
    service: str = Field("", max_length=255, description="systemd unit, for kind=service")
    process: str = Field("", max_length=255, description="process name, for kind=process")
    cmdline: bool = Field(False, description="match `process` anywhere in the command line")
    min_count: int = Field(1, ge=0, le=100_000, description="fewer running is critical")
    max_count: int | None = Field(None, ge=0, le=100_000, description="more is a warning")
    path: str = Field("", max_length=1000, description="log file, for kind=log")
    pattern: str = Field("", max_length=1000, description="regular expression, for kind=log")
    ignore_case: bool = False

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
        if self.kind == "process":
            if not self.process.strip():
                raise ValueError("an agent process check names its process, e.g. nginx")
            if self.max_count is not None and self.max_count < self.min_count:
                raise ValueError("max_count is below min_count")
        if self.kind == "log":
            self._check_log()
        return self

    def _check_log(self) -> None:
        if not self.path.startswith("/") or posixpath.normpath(self.path) != self.path:
            raise ValueError(
                f"log path {self.path!r} must be absolute and plain, e.g. /var/log/syslog"
            )
        if not self.pattern:
            raise ValueError("an agent log check needs a pattern, e.g. ERROR|FATAL")
        if self.window_s < 60:
            raise ValueError("an agent log check counts matches over a window of at least 60 s")
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(
                f"pattern {self.pattern!r} is not a regular expression: {exc}"
            ) from None
        if not (self.warn or self.crit):
            self.crit = "0"  # any matching line is critical


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
    # process / log: the latest count (process) or the sum over the window (log); None
    # when the agent has sent nothing for this check yet
    watch_value: float | None = None
    watch_line: str = ""  # the last matching log line the agent sent
    watch_error: str = ""  # why the agent could not watch (an unreadable file)


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
    if params.kind == "process":
        return _process(params, facts)
    if params.kind == "log":
        return _log(params, facts)
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


_NOT_YET = "the agent has not reported on this yet (it learns of new checks at its next check-in)"


def _process(params: Params, facts: AgentFacts) -> Result:
    if facts.watch_value is None:
        return Result(Status.UNKNOWN, _NOT_YET)
    count = int(facts.watch_value)
    how = "with command lines containing" if params.cmdline else "named"
    said = f"{count} process{'es' if count != 1 else ''} {how} {params.process!r}"
    metric = (Metric("process_count", count),)
    if count < params.min_count:
        return Result(Status.CRITICAL, f"{said}; at least {params.min_count} expected", metric)
    if params.max_count is not None and count > params.max_count:
        return Result(Status.WARNING, f"{said}; at most {params.max_count} expected", metric)
    return Result(Status.OK, said, metric)


def _log(params: Params, facts: AgentFacts) -> Result:
    if facts.watch_error:
        return Result(Status.UNKNOWN, f"cannot watch {params.path}: {facts.watch_error}")
    if facts.watch_value is None:
        return Result(Status.UNKNOWN, _NOT_YET)
    count = int(facts.watch_value)
    status = Thresholds.parse(params.warn, params.crit).status(count)
    span = f"{params.window_s // 60} min" if params.window_s >= 60 else f"{params.window_s} s"
    said = (
        f"{count} line{'s' if count != 1 else ''} matching {params.pattern!r} "
        f"in {params.path} in the last {span}"
    )
    if count and facts.watch_line:
        said += f"; last: {facts.watch_line}"
    return Result(status, said, (Metric("log_matches", count, warn=params.warn, crit=params.crit),))

"""Heartbeat (push) checks: a job proves it ran by calling its check's URL.

`GET|POST /hb/<token>` is a success, `/hb/<token>/start` marks the start (to time the run),
`/hb/<token>/fail` a failure. The check turns critical when no success arrives within
period + grace after the last one. Nothing is probed: the server judges (services.heartbeats).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period_s: int = Field(86_400, ge=60, le=35 * 86_400, description="expected time between runs")
    grace_s: int = Field(3_600, ge=0, le=7 * 86_400, description="lateness tolerated")
    max_runtime_s: int | None = Field(
        None, ge=1, le=7 * 86_400, description="warn when a run takes longer (needs /start)"
    )


def validate(target: str, params: Mapping[str, Any]) -> Params:
    if target:
        raise ValueError("a heartbeat check has no target: the job calls the check's URL")
    return Params.model_validate(dict(params))

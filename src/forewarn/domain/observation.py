"""What every source of monitoring data reports: a status, a message and some numbers.

A probe (ping, http, snmp, a Nagios plugin, ...) returns a `Result`: what it saw, with no idea
of which asset or check asked for it nor of the time. The poller stamps it into an
`Observation` (which check, when) and hands it to the one ingest -> evaluate pipeline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum


class Status(IntEnum):
    """Check states, numbered as the Nagios plugin exit codes."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Status:
        """`ok`, `WARNING`, `crit`, `2`, ... -> Status; ValueError for anything else."""
        t = text.strip().upper()
        aliases = {"WARN": "WARNING", "CRIT": "CRITICAL", "UNK": "UNKNOWN"}
        t = aliases.get(t, t)
        if t.isdigit() and int(t) in (0, 1, 2, 3):
            return cls(int(t))
        if t in cls.__members__:
            return cls[t]
        raise ValueError(f"not a check status: {text!r} (ok, warning, critical, unknown)")


def worst(*statuses: Status) -> Status:
    """The most severe of several statuses: CRITICAL > WARNING > UNKNOWN > OK.

    UNKNOWN ranks below the real problems because "could not tell" must never mask "is broken".
    """
    order = {Status.OK: 0, Status.UNKNOWN: 1, Status.WARNING: 2, Status.CRITICAL: 3}
    return max(statuses, key=order.__getitem__, default=Status.OK)


@dataclass(frozen=True, slots=True)
class Metric:
    """One number a check measured, in the shape of a Nagios perfdata item."""

    name: str
    value: float
    unit: str = ""
    warn: str | None = None  # threshold ranges as text, Nagios syntax (see thresholds.py)
    crit: str | None = None
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a metric needs a name")
        if not math.isfinite(self.value):
            raise ValueError(f"metric {self.name!r} is not a finite number: {self.value}")


@dataclass(frozen=True, slots=True)
class Result:
    """What a probe saw. `message` is one line for people; `details` the long text."""

    status: Status
    message: str
    metrics: tuple[Metric, ...] = ()
    details: str = ""

    @property
    def perfdata(self) -> str:
        """The metrics as Nagios perfdata, for `forewarn check` output."""
        from forewarn.domain.perfdata import format_perfdata

        return format_perfdata(self.metrics)


def unknown(message: str) -> Result:
    """The result of a probe that could not tell (bad answer, timeout, missing tool)."""
    return Result(Status.UNKNOWN, message)


@dataclass(frozen=True, slots=True)
class Observation:
    """A Result stamped with which check produced it and when; the pipeline's input."""

    check_id: int
    at: datetime
    result: Result
    duration_ms: float = 0.0
    attempt: int = field(default=1)

"""The check state machine: soft and hard states, retries, flapping, dependencies, maintenance.

`evaluate(previous, result_status, at, rules, context)` is pure: it returns the new state and
the transitions it caused. Semantics follow the Nagios model that technicians know:

- A problem (WARNING, CRITICAL or UNKNOWN) first seen on a check that was OK is *soft*; the check
  is retried at its shorter retry interval and the state turns *hard* at the
  `max_attempts`-th consecutive problem result. Only hard changes are worth telling anyone.
- A recovery to OK is hard at once, whether the problem was soft (a "soft recovery", which no
  one was told about) or hard.
- A hard problem that changes kind (WARNING -> CRITICAL) is a new hard change, at once.
- Flapping: over the last 21 results, the share of state changes, weighted so recent changes
  count more (0.75 for the oldest change to 1.25 for the newest), turns flapping on above
  `flap_high` and off again only below `flap_low` (hysteresis). A flapping check keeps its
  state but its hard changes are not notified; the start and end of flapping are.
- Dependencies: when a parent (the router in front of a site, the host under a service) is in
  a hard problem state, a failing child is *unreachable*: its state is kept, its transitions
  are not notified, and it is shown as unreachable rather than critical.
- Maintenance: results are still taken and states still change, but nothing is notified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from forewarn.domain.observation import Status

FLAP_WINDOW = 21


@dataclass(frozen=True, slots=True)
class Rules:
    """How a check is judged; from its definition."""

    max_attempts: int = 3
    interval: float = 60.0
    retry_interval: float = 20.0
    flap_low: float = 0.20
    flap_high: float = 0.30

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.interval <= 0 or self.retry_interval <= 0:
            raise ValueError("intervals must be positive")
        if not 0 <= self.flap_low <= self.flap_high <= 1:
            raise ValueError("flap thresholds must satisfy 0 <= low <= high <= 1")


@dataclass(frozen=True, slots=True)
class Context:
    """What else is true at the moment of the result."""

    parent_down: bool = False
    in_maintenance: bool = False


@dataclass(frozen=True, slots=True)
class CheckState:
    status: Status = Status.OK
    hard_status: Status = Status.OK
    is_hard: bool = True
    attempt: int = 1
    since: datetime | None = None  # when `status` last changed
    hard_since: datetime | None = None  # when `hard_status` last changed
    last_at: datetime | None = None  # None: never checked ("pending")
    history: tuple[Status, ...] = ()  # the last FLAP_WINDOW statuses, oldest first
    flapping: bool = False
    unreachable: bool = False

    @property
    def pending(self) -> bool:
        return self.last_at is None

    @property
    def display(self) -> str:
        """The word a technician sees: pending, ok, warning, critical, unknown, unreachable."""
        if self.pending:
            return "pending"
        if self.unreachable and self.status is not Status.OK:
            return "unreachable"
        return self.status.label


class Kind(StrEnum):
    SOFT = "soft"  # a problem seen, being retried; or a soft recovery
    HARD = "hard"  # the state people are told about changed
    FLAP_START = "flapping_started"
    FLAP_END = "flapping_stopped"


class Quiet(StrEnum):
    """Why a transition is not to be notified."""

    SOFT = "soft"
    FLAPPING = "flapping"
    UNREACHABLE = "unreachable"
    MAINTENANCE = "maintenance"


@dataclass(frozen=True, slots=True)
class Transition:
    kind: Kind
    at: datetime
    old: Status
    new: Status
    quiet: Quiet | None = None  # None: notify

    @property
    def notify(self) -> bool:
        return self.quiet is None


@dataclass(frozen=True, slots=True)
class Evaluation:
    state: CheckState
    transitions: tuple[Transition, ...]
    next_in: float  # seconds until the check should run again


def flap_ratio(history: tuple[Status, ...]) -> float:
    """Weighted share of state changes over `history` (0..1); 0 with fewer than 2 results."""
    n = len(history) - 1
    if n < 1:
        return 0.0
    total = weights = 0.0
    for i in range(n):
        w = 0.75 + (0.5 * i / (n - 1) if n > 1 else 0.25)
        weights += w
        if history[i] != history[i + 1]:
            total += w
    return total / weights


def _quiet(state: CheckState, ctx: Context) -> Quiet | None:
    if ctx.in_maintenance:
        return Quiet.MAINTENANCE
    if state.unreachable:
        return Quiet.UNREACHABLE
    if state.flapping:
        return Quiet.FLAPPING
    return None


def evaluate(
    prev: CheckState,
    status: Status,
    at: datetime,
    rules: Rules,
    ctx: Context = Context(),
) -> Evaluation:
    """The new state of a check after one result, and what changed."""
    history = (*prev.history, status)[-FLAP_WINDOW:]
    problem = status is not Status.OK
    old = prev.status
    transitions: list[Transition] = []

    # The new state's fields, built once at the end: dataclasses.replace costs a few
    # microseconds per call, and the recorder evaluates thousands of results a second.
    if not problem:
        hard_status = Status.OK
        is_hard = True
        attempt = 1
        hard_since = at if prev.hard_status is not Status.OK else prev.hard_since
        hard_change = prev.hard_status is not Status.OK
        soft_recovery = not prev.is_hard and not hard_change
    elif prev.is_hard and prev.hard_status is not Status.OK:
        # Already in a hard problem: stays hard; a change of kind is a new hard change.
        hard_status = status
        is_hard = True
        attempt = rules.max_attempts
        hard_since = at if status is not prev.hard_status else prev.hard_since
        hard_change = status is not prev.hard_status
        soft_recovery = False
    else:
        attempt = 1 if prev.is_hard else prev.attempt + 1
        is_hard = attempt >= rules.max_attempts
        hard_status = status if is_hard else prev.hard_status
        attempt = min(attempt, rules.max_attempts)
        hard_since = at if is_hard else prev.hard_since
        hard_change = is_hard
        soft_recovery = False

    flapping = prev.flapping
    if len(history) >= FLAP_WINDOW:
        ratio = flap_ratio(history)
        if not flapping and ratio > rules.flap_high:
            flapping = True
        elif flapping and ratio < rules.flap_low:
            flapping = False
    state = CheckState(
        status=status,
        hard_status=hard_status,
        is_hard=is_hard,
        attempt=attempt,
        since=at if status is not old or prev.pending else prev.since,
        hard_since=hard_since or at,
        last_at=at,
        history=history,
        flapping=flapping,
        unreachable=problem and ctx.parent_down,
    )

    if flapping != prev.flapping:
        kind = Kind.FLAP_START if flapping else Kind.FLAP_END
        quiet = Quiet.MAINTENANCE if ctx.in_maintenance else None
        transitions.append(Transition(kind, at, old, status, quiet))
    if hard_change:
        transitions.append(Transition(Kind.HARD, at, prev.hard_status, status, _quiet(state, ctx)))
    elif status is not old or soft_recovery or prev.pending:
        # The first result opens the timeline even when it is OK (uptime starts there).
        transitions.append(Transition(Kind.SOFT, at, old, status, Quiet.SOFT))

    retrying = problem and not state.is_hard
    return Evaluation(
        state, tuple(transitions), rules.retry_interval if retrying else rules.interval
    )

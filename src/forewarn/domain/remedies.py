"""Remedies: the decisions of self-healing, pure (services.remedies does the I/O).

A remedy belongs to a check. When the check goes to a hard problem and a new alert opens, the
remedy is tried before anyone is told: its job is issued, the check is asked again once the
job ended, and the alert goes out only if the problem is still there. The alert is held, never
dropped: at most the remedy's timeout after it opened it goes out whatever happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Outcome(StrEnum):
    FIXED = "fixed"  # the check was ok again after the job
    NOT_FIXED = "not_fixed"  # the job ran, the check still failed
    JOB_FAILED = "job_failed"  # the job failed, was refused or timed out
    NO_AGENT = "no_agent"  # the check's machine has no agent to run it
    TIMED_OUT = "timed_out"  # the hold ran out before the attempt ended
    NOT_NEEDED = "not_needed"  # the problem was gone before the remedy ran (not counted)


SUCCESS = frozenset({Outcome.FIXED})
JOB_OK = "succeeded"
JOB_FINAL = frozenset({"succeeded", "failed", "refused", "timed_out"})
# After its job ended, how long a check gets to show it is ok again: two of its intervals,
# at least this much.
MIN_VERIFY = timedelta(seconds=30)


@dataclass(frozen=True)
class Policy:
    max_attempts: int
    cooldown: timedelta
    timeout: timedelta


def may_start(policy: Policy, last_attempt_at: datetime | None, now: datetime) -> bool:
    """Whether a new incident may be remedied: not within the cool-down of the last attempt
    (a service that keeps falling over wants a person, not a restart every minute)."""
    return last_attempt_at is None or now - last_attempt_at >= policy.cooldown


def verify_by(check_interval_s: float, hold_until: datetime, now: datetime) -> datetime:
    """Until when the check may take to show the fix (never past the hold)."""
    window = max(timedelta(seconds=2 * check_interval_s), MIN_VERIFY)
    return min(now + window, hold_until)


def still_failing(
    asked_at: datetime, last_result_at: datetime | None, verify_by: datetime, now: datetime
) -> bool:
    """Whether the check has had its say: a failing result since it was asked again, once the
    service had MIN_VERIFY to come up (a slow start is not a failed remedy), or the time to
    verify is over."""
    if now >= verify_by:
        return True
    answered = last_result_at is not None and last_result_at >= asked_at
    return answered and now >= asked_at + MIN_VERIFY


def after_job(job_state: str) -> Outcome | None:
    """None while the job has not ended or it succeeded (then the check decides)."""
    if job_state not in JOB_FINAL or job_state == JOB_OK:
        return None
    return Outcome.JOB_FAILED


def try_again(policy: Policy, number: int, hold_until: datetime, now: datetime) -> bool:
    """Another attempt for the same incident: attempts left and time left in the hold."""
    return number < policy.max_attempts and now < hold_until


def success_rate(fixed: int, finished: int) -> float | None:
    """Percent of finished attempts that fixed the problem; None before any finished."""
    return None if finished == 0 else round(100.0 * fixed / finished, 1)

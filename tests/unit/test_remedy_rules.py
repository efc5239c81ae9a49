"""The decisions of self-healing (domain.remedies), without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from forewarn.domain import remedies as rules
from forewarn.domain.remedies import Outcome, Policy

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
seconds = st.integers(min_value=0, max_value=7200).map(lambda s: timedelta(seconds=s))


@given(seconds, st.integers(min_value=1, max_value=7200), seconds)
def test_verification_never_outlasts_the_hold(elapsed, interval, hold) -> None:
    now = T0 + elapsed
    by = rules.verify_by(interval, T0 + hold, now)
    assert by <= T0 + hold
    assert by <= now + max(timedelta(seconds=2 * interval), rules.MIN_VERIFY)


@given(seconds, st.one_of(st.none(), seconds), seconds)
def test_a_check_that_did_not_answer_is_not_judged_before_its_time(asked, last, now) -> None:
    verify_by = T0 + timedelta(hours=3)
    last_at = None if last is None else T0 + last
    failing = rules.still_failing(T0 + asked, last_at, verify_by, T0 + now)
    if failing:
        answered = last_at is not None and last_at >= T0 + asked
        assert answered and T0 + now >= T0 + asked + rules.MIN_VERIFY
    assert rules.still_failing(T0 + asked, None, verify_by, verify_by)  # time is up


def test_the_cool_down_and_the_attempts() -> None:
    p = Policy(max_attempts=2, cooldown=timedelta(hours=1), timeout=timedelta(minutes=10))
    assert rules.may_start(p, None, T0)
    assert not rules.may_start(p, T0 - timedelta(minutes=59), T0)
    assert rules.may_start(p, T0 - timedelta(hours=1), T0)
    assert rules.try_again(p, 1, T0 + timedelta(minutes=1), T0)
    assert not rules.try_again(p, 2, T0 + timedelta(minutes=1), T0)  # attempts spent
    assert not rules.try_again(p, 1, T0, T0)  # the hold is over


def test_job_outcomes_and_the_rate() -> None:
    assert rules.after_job("running") is None and rules.after_job("succeeded") is None
    assert {rules.after_job(s) for s in ("failed", "refused", "timed_out")} == {Outcome.JOB_FAILED}
    assert rules.success_rate(0, 0) is None
    assert rules.success_rate(2, 3) == 66.7

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.domain.checkstate import (
    FLAP_WINDOW,
    CheckState,
    Context,
    Kind,
    Quiet,
    Rules,
    evaluate,
    flap_ratio,
)
from forewarn.domain.observation import Status

OK, W, C, U = Status.OK, Status.WARNING, Status.CRITICAL, Status.UNKNOWN
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
RULES = Rules(max_attempts=3, interval=10, retry_interval=2)


def replay(statuses, rules=RULES, ctx=Context(), state=None):
    state = state or CheckState()
    out = []
    for i, s in enumerate(statuses):
        ev = evaluate(state, s, T0 + timedelta(seconds=10 * i), rules, ctx)
        state = ev.state
        out.append(ev)
    return state, out


def hard(evs):
    return [(t.old, t.new) for ev in evs for t in ev.transitions if t.kind is Kind.HARD]


def test_a_problem_turns_hard_on_the_last_attempt_and_is_retried_quickly_before():
    state, evs = replay([OK, C, C, C])
    assert [e.state.is_hard for e in evs] == [True, False, False, True]
    assert [e.state.attempt for e in evs] == [1, 1, 2, 3]
    assert [e.next_in for e in evs] == [10, 2, 2, 10]
    assert hard(evs) == [(OK, C)]
    assert evs[-1].transitions[0].notify
    assert state.display == "critical"


def test_soft_recovery_tells_no_one_and_hard_recovery_is_immediate():
    _, evs = replay([OK, C, OK])
    assert hard(evs) == []
    assert evs[2].transitions[0].kind is Kind.SOFT
    assert not evs[2].transitions[0].notify
    _, evs = replay([C, C, C, OK])
    assert hard(evs) == [(OK, C), (C, OK)]


def test_change_of_kind_in_a_hard_problem_is_a_new_hard_change():
    _, evs = replay([W, W, W, C, C])
    assert hard(evs) == [(OK, W), (W, C)]


def test_one_attempt_means_the_first_problem_is_hard():
    _, evs = replay([U], Rules(max_attempts=1))
    assert hard(evs) == [(OK, U)]


def test_unreachable_child_is_shown_so_and_not_notified():
    state, evs = replay([C, C, C], ctx=Context(parent_down=True))
    assert state.display == "unreachable"
    t = evs[-1].transitions[0]
    assert t.kind is Kind.HARD and t.quiet is Quiet.UNREACHABLE


def test_maintenance_changes_state_but_notifies_nothing():
    _, evs = replay([C, C, C, OK], ctx=Context(in_maintenance=True))
    assert hard(evs) == [(OK, C), (C, OK)]
    assert not any(t.notify for e in evs for t in e.transitions)


def test_flapping_starts_above_high_and_ends_below_low():
    quick = Rules(max_attempts=1)
    state, evs = replay([OK, C] * 15, quick)
    started = [e for e in evs if any(t.kind is Kind.FLAP_START for t in e.transitions)]
    assert len(started) == 1
    assert state.flapping
    # hard changes while flapping are kept but quiet
    late = [t for e in evs[25:] for t in e.transitions if t.kind is Kind.HARD]
    assert late and all(t.quiet is Quiet.FLAPPING for t in late)
    state, evs = replay([OK] * FLAP_WINDOW, quick, state=state)
    assert not state.flapping
    assert any(t.kind is Kind.FLAP_END and t.notify for e in evs for t in e.transitions)


def test_flap_ratio_weights_recent_changes_more():
    old_change = (C,) + (OK,) * 20
    new_change = (OK,) * 20 + (C,)
    assert flap_ratio(old_change) < flap_ratio(new_change)
    assert flap_ratio((OK,) * 21) == 0
    assert flap_ratio((OK, C) * 10 + (OK,)) == 1


statuses = st.lists(st.sampled_from([OK, W, C, U]), min_size=1, max_size=60)


@settings(max_examples=300)
@given(statuses, st.integers(1, 5), st.booleans(), st.booleans())
def test_invariants(seq, attempts, parent_down, maint):
    rules = Rules(max_attempts=attempts, interval=60, retry_interval=5)
    ctx = Context(parent_down=parent_down, in_maintenance=maint)
    state = CheckState()
    run = 0  # consecutive problem results since the last OK
    for i, s in enumerate(seq):
        ev = evaluate(state, s, T0 + timedelta(seconds=i), rules, ctx)
        new = ev.state
        run = run + 1 if s is not OK else 0
        assert 1 <= new.attempt <= attempts
        assert new.status is s
        # hard exactly when OK or the problem lasted max_attempts results
        assert new.is_hard == (s is OK or run >= attempts)
        if new.is_hard:
            assert new.hard_status is s
        # at most one hard transition per result, and it reflects the hard status change
        hards = [t for t in ev.transitions if t.kind is Kind.HARD]
        assert len(hards) <= 1
        assert bool(hards) == (new.hard_status is not state.hard_status)
        if maint:
            assert not any(t.notify for t in ev.transitions)
        if parent_down and s is not OK:
            assert not any(t.notify for t in hards)
        assert ev.next_in == (5 if not new.is_hard else 60)
        assert len(new.history) <= FLAP_WINDOW
        state = new

"""Scoring: unknown is never a pass, coverage beside every score (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from forewarn.assess import scoring
from forewarn.assess.catalog import load
from forewarn.assess.scoring import AnswerEvidence, Item, MachineEvidence

CATALOG = load()
IDS = list(CATALOG.ids())
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

machine_ev = st.builds(
    MachineEvidence,
    items=st.lists(
        st.builds(Item, subject=st.sampled_from(["pc1", "pc2", "srv"]), ok=st.booleans(),
                  seen=st.just("seen")),
        max_size=4,
    ).map(tuple),
    not_applicable=st.booleans(),
)  # fmt: skip
answer_ev = st.builds(AnswerEvidence, value=st.one_of(st.none(), st.sampled_from([0.0, 0.5, 1.0])))
evidence = st.tuples(
    st.dictionaries(st.sampled_from(IDS), machine_ev),
    st.dictionaries(st.sampled_from(IDS), answer_ev),
)


def _overall(machine: dict, answers: dict) -> scoring.Rollup:  # type: ignore[type-arg]
    return scoring.overall(scoring.score_all(CATALOG, machine, answers))


@given(evidence)
def test_scores_and_coverage_stay_in_range(ev: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    scores = scoring.score_all(CATALOG, *ev)
    for s in scores:
        assert s.score is None or 0.0 <= s.score <= 1.0
    for r in [scoring.overall(scores), *scoring.by_control(CATALOG, scores),
              *scoring.by_function(scores)]:  # fmt: skip
        assert 0.0 <= r.coverage <= 1.0
        assert r.score is None or 0.0 <= r.score <= 100.0
        assert (r.score is None) == (r.evidenced == 0)
        if r.evidenced:
            assert abs(r.from_machines + r.from_answers - 1.0) < 0.01


@given(evidence, st.sampled_from(IDS))
def test_adding_an_unknown_never_raises_a_score(ev: tuple[dict, dict], sid: str) -> None:  # type: ignore[type-arg]
    machine, answers = ev
    machine = {k: v for k, v in machine.items() if k != sid}
    answers = {k: v for k, v in answers.items() if k != sid}
    # Make the safeguard out of scope first, then merely unknown: it must not help.
    before = _overall({**machine, sid: MachineEvidence(not_applicable=True)}, answers)
    after = _overall({**machine, sid: MachineEvidence()}, {**answers, sid: AnswerEvidence(None)})
    if before.score is not None:
        assert after.score is not None and after.score <= before.score
    assert after.coverage <= before.coverage or before.safeguards == 0


def test_all_pass_is_100_with_full_coverage_and_nothing_known_is_no_score() -> None:
    yes = {sid: AnswerEvidence(1.0) for sid in IDS}
    r = _overall({}, yes)
    assert (r.score, r.coverage, r.from_answers, r.from_machines) == (100.0, 1.0, 1.0, 0.0)
    nothing = _overall({}, {})
    assert nothing.score is None and nothing.coverage == 0.0 and nothing.safeguards == 56


def test_unknown_earns_nothing_and_not_applicable_is_left_out() -> None:
    one_pass = {"3.6": MachineEvidence((Item("laptop1", True, "LUKS on", AT),))}
    r = _overall(one_pass, {})
    assert r.score is not None and r.score < 2  # 1 of 56 earned, not 100
    assert r.coverage == round(1 / 56, 3)
    na = {sid: MachineEvidence(not_applicable=True) for sid in IDS if sid != "3.6"}
    r = _overall({**na, **one_pass}, {})
    assert (r.score, r.coverage, r.safeguards) == (100.0, 1.0, 1)


def test_both_sources_average_and_evidence_names_devices() -> None:
    machine = {
        "6.4": MachineEvidence(
            (Item("fw01", False, "VPN without MFA", AT), Item("vpn02", True, "MFA on", AT))
        )
    }
    answers = {"6.4": AnswerEvidence(1.0, ("answered yes",))}
    (s,) = [x for x in scoring.score_all(CATALOG, machine, answers) if x.id == "6.4"]
    assert (s.source, s.machine, s.answer, s.score) == ("both", 0.5, 1.0, 0.75)
    assert s.evidence[0] == "FAIL: fw01: VPN without MFA (as of 2026-11-02 09:00 UTC)"
    assert s.evidence[-1] == "answered yes"


def test_compare_names_what_improved_and_what_got_worse() -> None:
    out = scoring.compare(
        {"1.1": 0.5, "3.6": 1.0, "7.3": 0.2, "8.2": None},
        {"1.1": 0.8, "3.6": 0.5, "7.3": None, "8.2": 1.0},
        40.0,
        42.5,
    )
    assert [i["id"] for i in out["improved"]] == ["1.1"]
    assert [w["id"] for w in out["worse"]] == ["3.6"]
    assert out["became_unknown"] == ["7.3"]
    assert out["newly_evidenced"] == [{"id": "8.2", "score": 1.0}]
    assert out["overall"] == {"before": 40.0, "after": 42.5, "change": 2.5}

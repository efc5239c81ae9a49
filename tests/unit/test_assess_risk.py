"""SP 800-30's table and scale cell by cell; the register's scenarios, evidence, ordering and
invariants (more protection never raises a likelihood, more criticality never lowers an impact)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.assess import catalog
from forewarn.assess.facts import AssetFacts, CostInputs
from forewarn.assess.risk import (
    LEVELS,
    RANSOMWARE_DOWNTIME,
    RANSOMWARE_SHARE,
    SCENARIOS,
    Level,
    Register,
    RiskCounts,
    level_of,
    life_end,
    register,
    risk_level,
    score_range,
)

IG1 = frozenset(catalog.load().ids())

TODAY = date(2026, 11, 26)
COST = CostInputs(
    people=35,
    hourly_cost=45.65,
    annual_revenue=6_000_000,
    defaults=frozenset({"hourly_cost"}),
)
ASSETS = (
    AssetFacts(
        1,
        "files",
        "server",
        5,
        has_agent=True,
        checks=6,
        purchase_date=date(2018, 3, 1),
        warranty_end=date(2023, 3, 1),
        os_eol=date(2028, 6, 30),
        backup_ok=True,
    ),
    AssetFacts(2, "nas", "nas", 4, purchase_date=date(2022, 1, 10), backup_ok=None),
    AssetFacts(3, "anna-laptop", "laptop", 2, os_eol=date(2025, 10, 14), has_agent=True),
    AssetFacts(4, "front-desk", "workstation", 3, os_eol=date(2029, 1, 1)),
)
SCORES: dict[str, float | None] = {"7.3": 0.5, "10.1": 1.0, "11.2": 0.7, "6.3": None, "2.2": 0.3}
ALL_SAFEGUARDS = sorted({s for sc in SCENARIOS for s in sc.safeguards})

# reference/assessment.md, Table I-2, row by row: likelihood, then the level per impact
# very low, low, moderate, high, very high.
TABLE = """
very high | very low | low | moderate | high | very high
high | very low | low | moderate | high | very high
moderate | very low | low | moderate | moderate | high
low | very low | low | low | low | moderate
very low | very low | very low | very low | low | low
"""
CELLS = [
    (Level(row[0]), impact, Level(cell))
    for row in (line.split(" | ") for line in TABLE.strip().splitlines())
    for impact, cell in zip(LEVELS, row[1:], strict=True)
]


@pytest.mark.parametrize(("likelihood", "impact", "expected"), CELLS)
def test_table_i2_every_cell(likelihood: Level, impact: Level, expected: Level) -> None:
    assert risk_level(likelihood, impact) is expected


def test_table_has_25_cells() -> None:
    assert len(CELLS) == 25


SCALE = {Level.VERY_HIGH: (96, 100), Level.HIGH: (80, 95), Level.MODERATE: (21, 79)}
SCALE |= {Level.LOW: (5, 20), Level.VERY_LOW: (0, 4)}


@pytest.mark.parametrize("score", range(101))
def test_semi_quantitative_scale_every_point(score: int) -> None:
    expected = next(lv for lv, (lo, hi) in SCALE.items() if lo <= score <= hi)
    assert level_of(score) is expected
    lo, hi = score_range(expected)
    assert lo <= score <= hi


def test_scale_between_points_and_out_of_range() -> None:
    assert level_of(95.5) is Level.HIGH
    assert level_of(4.99) is Level.VERY_LOW
    for bad in (-0.1, 100.1, float("nan")):
        with pytest.raises(ValueError, match="between 0 and 100"):
            level_of(bad)


def test_every_scenario_names_real_ig1_safeguards() -> None:
    ids = [s.id for s in SCENARIOS]
    assert len(ids) == len(set(ids))
    for scenario in SCENARIOS:
        assert scenario.safeguards <= IG1, scenario.id
        assert scenario.hours[0] <= scenario.hours[1] <= scenario.hours[2]
        assert scenario.it_hours[0] <= scenario.it_hours[1] <= scenario.it_hours[2]
        assert 0 < scenario.reduction <= 1 and 0 < scenario.threat <= 100


def example() -> Register:
    return register(SCORES, ASSETS, COST, TODAY, RiskCounts(kev_vulnerabilities=2))


def test_the_register_covers_the_scenarios_sorted_by_level_then_money() -> None:
    reg = example()
    assert {r.scenario for r in reg.risks} == {s.id for s in SCENARIOS}
    assert reg.skipped == ()
    keys = [(-r.level.rank, -r.exposure.p50) for r in reg.risks]
    assert keys == sorted(keys)
    assert reg.risks[0].scenario == "ransomware"


def test_the_register_is_deterministic_and_json() -> None:
    first, second = example(), example()
    assert first == second
    out = first.to_json()
    assert json.loads(json.dumps(out)) == out
    risk = out["risks"][0]
    assert all(isinstance(risk["annual_loss_exposure"][k], int) for k in ("p10", "p50", "p90"))
    assert out["defaults"] == ["hourly_cost"]
    assert out["context"][0]["date"] == "June 2025"


def by_id(reg: Register, scenario: str):  # type: ignore[no-untyped-def]
    return next(r for r in reg.risks if r.scenario == scenario)


def test_unknown_counts_as_not_protective_but_is_reported_uncertain() -> None:
    unknown = register({"6.3": None}, ASSETS, COST, TODAY)
    failed = register({"6.3": 0.0}, ASSETS, COST, TODAY)
    a, b = by_id(unknown, "account_takeover"), by_id(failed, "account_takeover")
    assert a.likelihood_score == b.likelihood_score
    line = next(e for e in a.evidence if e.safeguards == ("6.3",))
    assert line.uncertain and "unknown" in line.text
    assert a.uncertain
    assert a.reducers[0] == "6.3"


def test_full_protection_lowers_the_likelihood_but_never_to_nothing() -> None:
    bare = by_id(register({}, ASSETS, COST, TODAY), "ransomware")
    full = {sid: 1.0 for sid in ALL_SAFEGUARDS}
    guarded = by_id(register(full, ASSETS, COST, TODAY), "ransomware")
    # threat 85, plus 3 points for the laptop past its OS end of life
    assert bare.likelihood_score == 88 and bare.likelihood is Level.HIGH
    assert guarded.likelihood_score == pytest.approx(85 * (1 - 0.8) + 3)
    assert guarded.likelihood is Level.LOW
    assert guarded.reducers == ()
    assert guarded.exposure.p50 < bare.exposure.p50


def test_scenarios_without_their_assets_do_not_apply_and_say_why() -> None:
    desk = (AssetFacts(9, "desk", "workstation", 2, os_eol=date(2030, 1, 1)),)
    reg = register({}, desk, COST, TODAY)
    skipped = dict(reg.skipped)
    assert skipped["server_failure"] == "no server or NAS in the inventory"
    assert skipped["lost_laptop"] == "no laptop in the inventory"
    assert skipped["unsupported_systems"] == "no machine is past its OS end of life"
    assert "data_loss" in skipped
    assert "ransomware" in {r.scenario for r in reg.risks}


def test_evidence_names_the_assets_seen() -> None:
    reg = example()
    unsupported = by_id(reg, "unsupported_systems")
    assert unsupported.assets == ((3, "anna-laptop"),)
    assert any(e.assets == (3,) and "end of life" in e.text for e in unsupported.evidence)
    servers = by_id(reg, "server_failure")
    texts = " / ".join(e.text for e in servers.evidence)
    assert "past the typical life" in texts and "out of warranty" in texts
    assert "watched by no check" in texts  # the NAS
    data = by_id(reg, "data_loss")
    assert data.assets == ((2, "nas"),)
    assert any(e.uncertain and "no backup check" in e.text for e in data.evidence)


def test_counts_raise_their_scenarios_and_unknown_counts_are_uncertain() -> None:
    none = register(
        SCORES, ASSETS, COST, TODAY, RiskCounts(kev_vulnerabilities=0, leaver_accounts=0)
    )
    some = register(
        SCORES, ASSETS, COST, TODAY, RiskCounts(kev_vulnerabilities=3, leaver_accounts=2)
    )
    unknown = register(SCORES, ASSETS, COST, TODAY, RiskCounts())
    for scenario in ("exploited_vulnerability", "leaver_access"):
        assert by_id(some, scenario).likelihood_score > by_id(none, scenario).likelihood_score
        assert any(e.uncertain for e in by_id(unknown, scenario).evidence)
    more = register(SCORES, ASSETS, COST, TODAY, RiskCounts(recurring_problems=3))
    assert (
        by_id(more, "server_failure").likelihood_score
        > by_id(unknown, "server_failure").likelihood_score
    )


def test_ransomware_carries_its_context_with_source_and_date() -> None:
    risk = by_id(example(), "ransomware")
    assert risk.context == (RANSOMWARE_SHARE, RANSOMWARE_DOWNTIME)
    assert RANSOMWARE_DOWNTIME.source.startswith("Coveware") and RANSOMWARE_DOWNTIME.date
    # the longest outage is Coveware's 23 days in business hours, not the customer's figure
    assert risk.magnitude.high > risk.magnitude.likely
    assert risk.outage.hours == 40


def test_impact_by_money_when_no_asset_says_it() -> None:
    risk = by_id(example(), "internet_outage")
    assert risk.assets == ()
    # a typical 6-hour outage of the whole business: 35 people, 6 M revenue
    assert risk.outage.total == pytest.approx(35 * 45.65 * 0.8 * 6 + 6e6 / 2080 * 0.5 * 6 + 2 * 150)
    assert risk.impact is Level.LOW  # 16.6 k is 0.28 % of 6 M
    assert any("0.3% of a year's revenue" in e.text for e in risk.evidence)
    small = by_id(register({}, ASSETS, replace(COST, annual_revenue=None), TODAY), "lost_laptop")
    assert any("of a year of everyone's work" in e.text for e in small.evidence)


def test_life_end_handles_leap_days_and_unknown_dates() -> None:
    laptop = AssetFacts(1, "l", "laptop", 3, purchase_date=date(2024, 2, 29))
    assert life_end(laptop) == date(2028, 2, 29)
    assert life_end(replace(laptop, purchase_date=date(2020, 2, 29))) == date(2024, 2, 29)
    assert life_end(replace(laptop, kind="server", purchase_date=date(2020, 2, 29))) == date(
        2026, 2, 28
    )
    assert life_end(replace(laptop, purchase_date=None)) is None
    assert life_end(replace(laptop, kind="website")) is None


def test_bad_input_is_refused_with_each_problem_named() -> None:
    bad_asset = AssetFacts(7, "x", "server", 9)
    with pytest.raises(ValueError) as caught:
        register({"7.3": 1.5}, (bad_asset,), COST, TODAY)
    assert "7.3" in str(caught.value) and "criticality" in str(caught.value)


scores_st = st.dictionaries(
    st.sampled_from(ALL_SAFEGUARDS),
    st.one_of(st.none(), st.floats(0, 1, allow_nan=False)),
)
assets_st = st.lists(
    st.builds(
        AssetFacts,
        id=st.integers(1, 10_000),
        name=st.just("a"),
        kind=st.sampled_from(["server", "nas", "laptop", "workstation", "network_device"]),
        criticality=st.integers(1, 5),
        backup_ok=st.sampled_from([None, True, False]),
        os_eol=st.sampled_from([None, date(2020, 1, 1), date(2030, 1, 1)]),
        purchase_date=st.sampled_from([None, date(2015, 1, 1), date(2025, 1, 1)]),
    ),
    max_size=6,
    unique_by=lambda a: a.id,
)


@settings(max_examples=50, deadline=None)
@given(scores_st, assets_st, st.sampled_from(ALL_SAFEGUARDS), st.floats(0, 1, allow_nan=False))
def test_more_protection_never_raises_likelihood_or_money(
    scores: dict[str, float | None], assets: list[AssetFacts], sid: str, better: float
) -> None:
    before = register(scores, assets, COST, TODAY, draws=300)
    current = scores.get(sid)
    raised = dict(scores) | {sid: max(better, current or 0.0)}
    after = register(raised, assets, COST, TODAY, draws=300)
    old = {r.scenario: r for r in before.risks}
    for risk in after.risks:
        was = old[risk.scenario]
        assert risk.likelihood_score <= was.likelihood_score
        assert risk.likelihood.rank <= was.likelihood.rank
        assert risk.level.rank <= was.level.rank
        assert risk.exposure.p50 <= was.exposure.p50 * (1 + 1e-9)
        assert risk.exposure.p10 <= risk.exposure.p50 <= risk.exposure.p90


@settings(max_examples=50, deadline=None)
@given(scores_st, assets_st.filter(bool), st.data())
def test_higher_criticality_never_lowers_impact(
    scores: dict[str, float | None], assets: list[AssetFacts], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(assets) - 1))
    target = assets[index]
    higher = data.draw(st.integers(target.criticality, 5))
    changed = [*assets[:index], replace(target, criticality=higher), *assets[index + 1 :]]
    before = {r.scenario: r for r in register(scores, assets, COST, TODAY, draws=300).risks}
    after = register(scores, changed, COST, TODAY, draws=300)
    assert set(before) <= {r.scenario for r in after.risks}  # nothing drops out
    for risk in after.risks:
        if risk.scenario not in before:  # a machine now critical enough for data_loss
            continue
        was = before[risk.scenario]
        assert risk.impact.rank >= was.impact.rank
        assert risk.magnitude.likely >= was.magnitude.likely * (1 - 1e-9)
        assert risk.level.rank >= was.level.rank

"""The 30/60/90-day plan (reductions derived from the register, ranked by value per hour), the
36-month technology plan (months and budgets that add up) and the onboarding checklists."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.assess.facts import AssetFacts, CostInputs
from forewarn.assess.plans import (
    ACTIONS,
    HORIZON_MONTHS,
    REPLACEMENT_COST,
    REQUIRED,
    ChecklistError,
    effort_hours,
    load_checklists,
    parse_checklists,
    remediation,
    technology_plan,
)
from forewarn.assess.risk import SCENARIOS, TYPICAL_LIFE_YEARS, RiskCounts, register

TODAY = date(2026, 11, 26)
COST = CostInputs(people=35, hourly_cost=45.65, annual_revenue=6_000_000)
ASSETS = (
    AssetFacts(1, "files", "server", 5, has_agent=True, checks=4, backup_ok=True),
    AssetFacts(2, "nas", "nas", 4, backup_ok=None),
    AssetFacts(3, "anna", "laptop", 2, os_eol=date(2025, 10, 14)),
)
# reference/assessment.md: the 56 IG1 safeguards, per control 1:2, 2:3, 3:6, 4:7, 5:4, 6:5,
# 7:4, 8:3, 9:2, 10:3, 11:4, 12:1, 14:8, 15:1, 17:3.
PER_CONTROL = {1: 2, 2: 3, 3: 6, 4: 7, 5: 4, 6: 5, 7: 4, 8: 3, 9: 2, 10: 3, 11: 4, 12: 1}
PER_CONTROL |= {14: 8, 15: 1, 17: 3}
IG1_56 = {f"{c}.{i}" for c, n in PER_CONTROL.items() for i in range(1, n + 1)}
EVERYTHING_UNKNOWN: dict[str, float | None] = dict.fromkeys(sorted(IG1_56))


def plan(scores: dict[str, float | None], **kwargs):  # type: ignore[no-untyped-def]
    reg = register(scores, ASSETS, COST, TODAY, draws=1000)
    return reg, remediation(reg, scores, ASSETS, COST, TODAY, draws=1000, **kwargs)


def test_every_ig1_safeguard_belongs_to_exactly_one_action() -> None:
    assert len(IG1_56) == 56
    named = [sid for a in ACTIONS for sid in a.safeguards]
    assert sorted(named) == sorted(IG1_56)
    assert len({a.key for a in ACTIONS}) == len(ACTIONS)


def test_the_reduction_is_the_register_recomputed_with_the_safeguards_met() -> None:
    scores = EVERYTHING_UNKNOWN | {"6.3": 0.0, "6.4": 0.5, "6.5": 1.0}
    reg, result = plan(scores)
    mfa = next(a for a in result.actions if a.key == "mfa")
    assert mfa.safeguards == ("6.3", "6.4")  # 6.5 is met already
    assert mfa.scores == (0.0, 0.5)
    met = register(scores | {"6.3": 1.0, "6.4": 1.0}, ASSETS, COST, TODAY, draws=1000)
    before = {r.scenario: r.exposure.p50 for r in reg.risks}
    expected = sum(before[r.scenario] - r.exposure.p50 for r in met.risks)
    assert mfa.reduction == pytest.approx(expected)
    assert set(mfa.scenarios) == {"ransomware", "account_takeover"}
    assert mfa.effort_hours == effort_hours("6.3", 0.0) + effort_hours("6.4", 0.5) == 4.5


def test_actions_are_ranked_by_value_per_hour_and_grouped_by_when_work_starts() -> None:
    _, result = plan(EVERYTHING_UNKNOWN)
    values = [a.value_per_hour for a in result.actions]
    assert values == sorted(values, reverse=True)
    assert result.actions[0].period == "30"
    periods = [("30", "60", "90", "later").index(a.period) for a in result.actions]
    assert periods == sorted(periods)
    started = 0.0
    for action in result.actions:  # 16 hours a month by default
        assert action.period == ("30", "60", "90", "later")[min(3, int(started // 16))]
        started += action.effort_hours
    assert result.defaults == ("hours_per_month",)
    out = result.to_json()
    assert json.loads(json.dumps(out)) == out
    assert sum(len(v) for v in out["periods"].values()) == len(out["actions"])


def test_safeguards_no_scenario_prices_still_get_an_action_with_no_reduction() -> None:
    _, result = plan(EVERYTHING_UNKNOWN)
    data = next(a for a in result.actions if a.key == "data")
    assert "3.1" in data.safeguards
    priced = {sid for sc in SCENARIOS for sid in sc.safeguards}
    logging = next(a for a in result.actions if a.key == "logging")
    assert logging.scenarios == ("account_takeover",)  # 8.2 only: 8.1, 8.3 price nothing
    assert "8.1" not in priced and logging.uncertain


def test_met_safeguards_need_no_action_and_capacity_is_the_callers() -> None:
    everything = dict.fromkeys(IG1_56, 1.0)
    _, result = plan(everything)
    assert result.actions == ()
    _, fast = plan(EVERYTHING_UNKNOWN, hours_per_month=1000)
    assert {a.period for a in fast.actions} == {"30"} and fast.defaults == ()
    with pytest.raises(ValueError, match="hours_per_month"):
        plan(EVERYTHING_UNKNOWN, hours_per_month=0)


def test_safeguards_not_scored_at_all_count_as_unknown() -> None:
    _, result = plan({})
    assert {a.key for a in result.actions} == {t.key for t in ACTIONS}
    assert all(a.uncertain for a in result.actions)


def test_a_register_from_other_draws_is_refused() -> None:
    reg = register(EVERYTHING_UNKNOWN, ASSETS, COST, TODAY, draws=500)
    with pytest.raises(ValueError, match="other draws or seed"):
        remediation(reg, EVERYTHING_UNKNOWN, ASSETS, COST, TODAY, draws=1000)


def test_an_unknown_extra_safeguard_gets_its_own_action() -> None:
    _, result = plan({"3.7": 0.0})
    assert any(a.key == "safeguard-3.7" and a.safeguards == ("3.7",) for a in result.actions)


@settings(max_examples=25, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(sorted(IG1_56)), st.one_of(st.none(), st.floats(0, 1, allow_nan=False))
    ),
    st.floats(1, 100, allow_nan=False),
)
def test_plan_actions_are_sorted_and_reductions_never_negative(
    scores: dict[str, float | None], hours: float
) -> None:
    reg = register(scores, ASSETS, COST, TODAY, RiskCounts(), draws=200)
    result = remediation(reg, scores, ASSETS, COST, TODAY, hours_per_month=hours, draws=200)
    keys = [(-a.value_per_hour, a.effort_hours, a.key) for a in result.actions]
    assert keys == sorted(keys)
    for action in result.actions:
        assert action.reduction >= 0 and action.effort_hours > 0
        assert all(scores.get(s) is None or scores[s] < 1 for s in action.safeguards)


# --- technology plan --------------------------------------------------------------------------


def asset(id: int, kind: str, **kw) -> AssetFacts:  # type: ignore[no-untyped-def]
    return AssetFacts(id, f"{kind}-{id}", kind, kw.pop("criticality", 3), **kw)


def test_a_laptop_is_replaced_at_four_years_at_the_default_cost() -> None:
    tp = technology_plan([asset(1, "laptop", purchase_date=date(2023, 6, 15))], COST, TODAY)
    (line,) = tp.lines
    assert (line.action, line.month, line.cost, line.cost_default) == (
        "replace",
        date(2027, 6, 1),
        1400,
        True,
    )
    assert not line.overdue
    assert tp.defaults == ("replacement_cost.laptop", "typical_life.laptop")
    assert dict(tp.years) == {2026: 0, 2027: 1400, 2028: 0, 2029: 0}
    assert tp.start == date(2026, 11, 1) and len(tp.months) == HORIZON_MONTHS


def test_past_its_life_is_due_now_and_marked_overdue() -> None:
    tp = technology_plan([asset(1, "workstation", purchase_date=date(2019, 1, 1))], COST, TODAY)
    assert tp.lines[0].month == date(2026, 11, 1) and tp.lines[0].overdue


def test_a_critical_server_is_replaced_when_its_warranty_ends_near_its_life() -> None:
    server = asset(
        1, "server", criticality=5, purchase_date=date(2022, 3, 1), warranty_end=date(2027, 6, 1)
    )
    tp = technology_plan([server], COST, TODAY)
    assert tp.lines[0].month == date(2027, 6, 1) and "warranty" in tp.lines[0].reason
    ordinary = technology_plan([replace(server, criticality=3)], COST, TODAY)
    assert ordinary.lines[0].month == date(2028, 3, 1)


def test_os_end_of_life_upgrades_a_young_machine_and_replaces_an_old_one() -> None:
    young = asset(1, "workstation", purchase_date=date(2025, 1, 1), os_eol=date(2027, 10, 14))
    lines = technology_plan([young], COST, TODAY).lines
    upgrade = next(line for line in lines if line.action == "upgrade_os")
    assert upgrade.month == date(2027, 9, 1)  # a month of lead before the end
    assert upgrade.cost == 3 * 150 and not upgrade.cost_default
    old = replace(young, purchase_date=date(2022, 12, 1))
    (line,) = technology_plan([old], COST, TODAY).lines
    assert line.action == "replace" and line.month == date(2027, 10, 1)
    marked = replace(COST, defaults=frozenset({"it_rate"}))
    upgrade = next(
        line for line in technology_plan([young], marked, TODAY).lines if line.action != "replace"
    )
    assert upgrade.cost_default


def test_a_disk_forecast_buys_storage_or_brings_the_replacement_forward() -> None:
    nas = asset(1, "nas", purchase_date=date(2025, 1, 1), disk_full_days=120)
    lines = technology_plan([nas], COST, TODAY).lines
    storage = next(line for line in lines if line.action == "upgrade_storage")
    assert storage.month == date(2027, 2, 1) and storage.cost == 600
    ageing = replace(nas, purchase_date=date(2022, 4, 1))
    (line,) = technology_plan([ageing], COST, TODAY).lines
    assert line.action == "replace" and line.month == date(2027, 2, 1)


def test_unknown_ages_are_listed_not_budgeted_and_services_are_not_hardware() -> None:
    tp = technology_plan([asset(1, "laptop"), asset(2, "website")], COST, TODAY)
    assert tp.lines == ()
    assert tp.unknown == ((1, "laptop-1", "no purchase date: its replacement cannot be planned"),)


def test_the_organizations_own_costs_are_not_defaults_and_far_lines_are_dropped() -> None:
    assets = [
        asset(1, "laptop", purchase_date=date(2024, 1, 1)),
        asset(2, "server", purchase_date=date(2025, 1, 1)),
    ]
    tp = technology_plan(assets, COST, TODAY, replacement_costs={"laptop": 2000})
    assert [(line.asset_id, line.cost, line.cost_default) for line in tp.lines] == [
        (1, 2000, False)
    ]  # the server is due in 2031, past the horizon
    assert "replacement_cost.laptop" not in tp.defaults
    with pytest.raises(ValueError, match="laptop"):
        technology_plan(assets, COST, TODAY, replacement_costs={"laptop": -1})


def test_the_horizon_is_bounded() -> None:
    with pytest.raises(ValueError, match="between 1 and 48"):
        technology_plan([], COST, TODAY, months=49)
    assert len(technology_plan([], COST, TODAY, months=48).months) == 48


def test_every_kind_with_a_life_has_a_replacement_cost() -> None:
    assert set(TYPICAL_LIFE_YEARS) == set(REPLACEMENT_COST)


tech_assets = st.lists(
    st.builds(
        AssetFacts,
        id=st.integers(1, 10_000),
        name=st.just("a"),
        kind=st.sampled_from([*TYPICAL_LIFE_YEARS, "website"]),
        criticality=st.integers(1, 5),
        purchase_date=st.one_of(st.none(), st.dates(date(2010, 1, 1), date(2026, 11, 1))),
        warranty_end=st.one_of(st.none(), st.dates(date(2015, 1, 1), date(2032, 1, 1))),
        os_eol=st.one_of(st.none(), st.dates(date(2015, 1, 1), date(2035, 1, 1))),
        disk_full_days=st.one_of(st.none(), st.floats(0, 2000, allow_nan=False)),
    ),
    max_size=12,
    unique_by=lambda a: a.id,
)


@settings(max_examples=100, deadline=None)
@given(tech_assets, st.dates(date(2024, 1, 1), date(2030, 12, 31)))
def test_tech_plan_budget_sums_match_its_lines(assets: list[AssetFacts], today: date) -> None:
    tp = technology_plan(assets, COST, today)
    total = sum(line.cost for line in tp.lines)
    assert sum(t for _, t in tp.months) == sum(t for _, t in tp.years) == tp.total == total
    first, last = tp.months[0][0], tp.months[-1][0]
    assert len(tp.months) == HORIZON_MONTHS and first == today.replace(day=1)
    for line in tp.lines:
        assert first <= line.month <= last
        assert line.overdue <= (line.month == first)
    month_of = dict(tp.months)
    for month in month_of:
        assert month_of[month] == sum(line.cost for line in tp.lines if line.month == month)
    assert [line.month for line in tp.lines] == sorted(line.month for line in tp.lines)
    json.dumps(tp.to_json())


# --- checklists -------------------------------------------------------------------------------


def test_the_shipped_checklists_parse_and_cover_the_four_templates() -> None:
    lists = load_checklists()
    assert [c.id for c in lists] == list(REQUIRED)
    for checklist in lists:
        assert checklist.steps
        for step in checklist.steps:
            assert step.title and step.detail and step.safeguards
            assert set(step.safeguards) <= IG1_56
    json.dumps([c.to_json() for c in lists])


GOOD = """
checklists:
  - id: new-printer
    title: A new printer
    steps:
      - title: Add it to the inventory
        safeguards: ["1.1"]
"""


def test_a_small_file_parses_with_optional_parts_empty() -> None:
    (checklist,) = parse_checklists(GOOD)
    assert checklist.description == "" and checklist.steps[0].detail == ""
    assert checklist.steps[0].safeguards == ("1.1",)


def test_a_bad_file_is_refused_with_every_problem_named() -> None:
    text = """
version: 1
colour: blue
checklists:
  - id: Bad Id
    title: ""
    steps: []
  - id: leaver
    title: A leaver
    steps:
      - title: Disable accounts
        safeguards: ["6.2", "99.9", 6.2]
        owner: someone
  - id: leaver
    title: Again
    steps:
      - detail: no title
"""
    with pytest.raises(ChecklistError) as caught:
        parse_checklists(text)
    problems = caught.value.problems
    expected = [
        "the file: unknown key 'colour'",
        "checklists[0].id: must be lower-case letters, digits and dashes",
        "checklist 0.title: must be non-empty text",
        "checklist 0.steps: must be a non-empty list",
        "checklist leaver.steps[0]: unknown key 'owner'",
        "checklist leaver.steps[0].safeguards: '99.9' is not a CIS v8 IG1 safeguard id",
        "checklist leaver.steps[0].safeguards: '6.2' is not a CIS v8 IG1 safeguard id",
        "checklists[2].id: 'leaver' is used twice",
        "checklist leaver.steps[0].title: must be non-empty text",
    ]
    assert list(problems) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("checklists: [\n  - id: x\n   bad", "line 2: not valid YAML"),
        ("", "checklists: must be a non-empty list"),
        ("- a\n- b", "the file: must be a mapping"),
        ("version: 2\nchecklists: []", "version: only 1 is known"),
        ("x" * (300 * 1024), "larger than"),
    ],
)
def test_files_that_are_not_checklists_are_refused(text: str, message: str) -> None:
    with pytest.raises(ChecklistError, match=message):
        parse_checklists(text)

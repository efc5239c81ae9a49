"""Downtime cost against the reference's worked example; the Monte Carlo's range and its
invariants (ordered, reproducible, bounded, monotone in every input)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.assess.facts import DEFAULT_HOURLY_COST, CostInputs
from forewarn.assess.money import (
    MAX_DRAWS,
    Estimate,
    annual_loss_exposure,
    annual_reference,
    downtime_cost,
    whole,
)

# reference/assessment.md: 35 people, 6 M revenue, 8 h outage, 80 % of work blocked, 50 % of
# revenue affected, 12 IT hours at 150. The hourly cost is the BLS default, so it is marked.
EXAMPLE = CostInputs(
    people=35,
    hourly_cost=DEFAULT_HOURLY_COST,
    annual_revenue=6_000_000,
    share_work_blocked=0.8,
    share_revenue_affected=0.5,
    it_rate=150,
    defaults=frozenset({"hourly_cost", "business_hours_per_year"}),
)


def test_the_worked_example_to_the_unit() -> None:
    cost = downtime_cost(EXAMPLE, 8, it_hours=12)
    out = cost.to_json()
    assert out["labour"]["amount"] == 10_226
    assert out["revenue"]["amount"] == 11_538
    assert out["recovery"]["amount"] == 1_800
    assert out["total"] == 23_564
    assert whole(cost.labour) == 10_226 and whole(cost.total) == 23_564
    json.dumps(out)


def test_each_part_names_the_defaults_it_rests_on() -> None:
    out = downtime_cost(EXAMPLE, 8, it_hours=12).to_json()
    assert out["labour"]["defaults"] == ["hourly_cost"]
    assert out["revenue"]["defaults"] == ["business_hours_per_year"]
    assert out["recovery"]["defaults"] == []
    assert out["defaults"] == ["business_hours_per_year", "hourly_cost"]
    own = CostInputs(people=35, hourly_cost=60, annual_revenue=1e6)
    assert downtime_cost(own, 8).to_json()["defaults"] == []


def test_unknown_revenue_is_missing_not_zero_silently() -> None:
    cost = CostInputs(people=10, hourly_cost=50, annual_revenue=None, defaults=frozenset())
    out = downtime_cost(cost, 4).to_json()
    assert out["revenue"]["amount"] == 0
    assert out["missing"] == ["annual_revenue"]
    # the yardstick falls back to a year of everyone's work
    assert annual_reference(cost) == 10 * 50 * 2080


def test_scope_scales_labour_and_revenue_but_not_recovery() -> None:
    full = downtime_cost(EXAMPLE, 8, it_hours=12)
    one = downtime_cost(EXAMPLE, 8, it_hours=12, scope=1 / 35)
    assert one.labour == pytest.approx(full.labour / 35)
    assert one.revenue == pytest.approx(full.revenue / 35)
    assert one.recovery == full.recovery == 1800


def test_fees_and_penalties_are_recovery() -> None:
    cost = downtime_cost(EXAMPLE, 0, it_hours=2, emergency_fees=500, penalties=1000)
    assert cost.recovery == 2 * 150 + 500 + 1000
    assert cost.labour == cost.revenue == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hours": -1}, "hours must be 0 or more"),
        ({"hours": 1, "scope": 1.5}, "scope must be between 0 and 1"),
        ({"hours": float("nan")}, "hours must be 0 or more"),
        ({"hours": 1, "it_hours": -2}, "it_hours must be 0 or more"),
    ],
)
def test_bad_outage_inputs_are_refused(kwargs: dict[str, float], message: str) -> None:
    hours = kwargs.pop("hours")
    with pytest.raises(ValueError, match=message):
        downtime_cost(EXAMPLE, hours, **kwargs)


def test_bad_cost_inputs_are_refused_each_named() -> None:
    bad = CostInputs(
        people=-1,
        hourly_cost=10,
        annual_revenue=-5,
        share_work_blocked=2,
        business_hours_per_year=0,
    )
    with pytest.raises(ValueError) as caught:
        downtime_cost(bad, 1)
    text = str(caught.value)
    for name in ("people", "annual_revenue", "share_work_blocked", "business_hours_per_year"):
        assert name in text


def test_estimates_are_checked() -> None:
    with pytest.raises(ValueError, match="low <= likely <= high"):
        Estimate(2, 1, 3)
    with pytest.raises(ValueError, match="0 or more"):
        Estimate(-1, 0, 1)


def test_a_point_estimate_gives_its_exact_product() -> None:
    loss = annual_loss_exposure(Estimate(0.5, 0.5, 0.5), Estimate(1000, 1000, 1000))
    assert loss.p10 == loss.p50 == loss.p90 == loss.mean == 500


def test_the_range_is_reproducible_and_its_seed_matters() -> None:
    f, m = Estimate(0.1, 0.3, 1.0), Estimate(5_000, 20_000, 80_000)
    assert annual_loss_exposure(f, m) == annual_loss_exposure(f, m)
    assert annual_loss_exposure(f, m, seed=1) != annual_loss_exposure(f, m, seed=2)


def test_the_median_is_near_the_analytic_one() -> None:
    # Symmetric triangles: the product's median is close to the product of the modes.
    loss = annual_loss_exposure(Estimate(0, 1, 2), Estimate(0, 100, 200), draws=20_000)
    assert 80 <= loss.p50 <= 100  # the product of two independent medians skews low a little
    assert loss.p10 < loss.p50 < loss.p90


def test_draws_are_bounded() -> None:
    e = Estimate(1, 1, 1)
    with pytest.raises(ValueError, match="draws"):
        annual_loss_exposure(e, e, draws=MAX_DRAWS + 1)
    with pytest.raises(ValueError, match="draws"):
        annual_loss_exposure(e, e, draws=0)


def test_to_json_rounds_money_to_whole_units() -> None:
    out = annual_loss_exposure(Estimate(0.1, 0.2, 0.3), Estimate(1.4, 2.6, 3.5)).to_json()
    assert all(isinstance(out[k], int) for k in ("p10", "p50", "p90", "mean"))
    assert Estimate(1.4, 2.5, 3.5).to_json(money=True) == {"low": 1, "likely": 3, "high": 4}


def estimates(top: float) -> st.SearchStrategy[Estimate]:
    value = st.floats(0, top, allow_nan=False)
    return st.lists(value, min_size=3, max_size=3).map(lambda v: Estimate(*sorted(v)))


@settings(max_examples=60, deadline=None)
@given(estimates(5), estimates(1e6))
def test_the_range_is_ordered_and_within_bounds(f: Estimate, m: Estimate) -> None:
    loss = annual_loss_exposure(f, m, draws=500)
    assert loss.p10 <= loss.p50 <= loss.p90
    low, high = f.low * m.low, f.high * m.high
    assert low * (1 - 1e-9) <= loss.p10 and loss.p90 <= high * (1 + 1e-9)


@settings(max_examples=60, deadline=None)
@given(
    estimates(5),
    estimates(1e6),
    st.integers(0, 5),
    st.floats(0, 1e3, allow_nan=False),
)
def test_raising_any_input_never_lowers_any_percentile(
    f: Estimate, m: Estimate, which: int, extra: float
) -> None:
    def raised(e: Estimate, point: int) -> Estimate:
        values = [e.low, e.likely, e.high]
        values[point] += extra
        for i in range(point + 1, 3):  # keep the order: raise the points above it too
            values[i] = max(values[i], values[point])
        return Estimate(*values)

    before = annual_loss_exposure(f, m, draws=500)
    f2, m2 = (raised(f, which), m) if which < 3 else (f, raised(m, which - 3))
    after = annual_loss_exposure(f2, m2, draws=500)
    for name in ("p10", "p50", "p90"):
        assert getattr(after, name) >= getattr(before, name) * (1 - 1e-9)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 500),
    st.floats(0, 500, allow_nan=False),
    st.floats(0, 1e7, allow_nan=False),
    st.floats(0, 300, allow_nan=False),
    st.floats(0, 1, allow_nan=False),
)
def test_downtime_cost_is_its_parts_and_grows_with_hours(
    people: int, hourly: float, revenue: float, hours: float, scope: float
) -> None:
    cost = CostInputs(people=people, hourly_cost=hourly, annual_revenue=revenue)
    one = downtime_cost(cost, hours, it_hours=hours / 2, scope=scope)
    more = downtime_cost(cost, hours + 1, it_hours=hours / 2, scope=scope)
    assert one.total == pytest.approx(one.labour + one.revenue + one.recovery)
    assert more.total >= one.total
    assert min(one.labour, one.revenue, one.recovery) >= 0

"""Health scores: the properties a reader of the score relies on, and worked examples."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.domain.health import (
    AgentFact,
    AlertFact,
    AssetFacts,
    AssetHealth,
    Category,
    CheckFact,
    FindingFact,
    Level,
    asset_health,
    band,
    org_health,
)
from forewarn.domain.observation import Status

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
FRESH = NOW - timedelta(seconds=30)


def check(i: int, status: Status = Status.OK, **kw: object) -> CheckFact:
    fields: dict[str, object] = {
        "check_id": i,
        "name": f"check-{i}",
        "type": "ping",
        "interval_s": 60,
        "hard_status": status,
        "last_at": FRESH,
        "created_at": NOW - timedelta(days=30),
    }
    fields.update(kw)
    return CheckFact(**fields)  # type: ignore[arg-type]


def finding(i: int, severity: str, status: str = "open") -> FindingFact:
    return FindingFact(i, "rule.x", f"finding {i}", severity, status)


# ---- strategies: any facts, and facts with more wrong -------------------------------------

statuses = st.sampled_from(list(Status))
checks = st.builds(
    CheckFact,
    check_id=st.integers(1, 10_000),
    name=st.text(max_size=20),
    type=st.sampled_from(["ping", "http", "forecast", "heartbeat"]),
    interval_s=st.integers(10, 86_400),
    hard_status=statuses,
    last_at=st.none()
    | st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2026, 11, 2, 9), timezones=st.just(UTC)
    ),
    created_at=st.just(NOW - timedelta(days=60)),
    enabled=st.booleans(),
    unreachable=st.booleans(),
)
alerts = st.builds(
    AlertFact,
    alert_id=st.integers(1, 10_000),
    kind=st.sampled_from(["check", "predictive", "security", "external"]),
    severity=st.sampled_from(["info", "warning", "critical"]),
    summary=st.text(max_size=20),
    check_id=st.none() | st.integers(1, 10_000),
)
findings = st.builds(
    FindingFact,
    finding_id=st.integers(1, 10_000),
    rule=st.just("r"),
    title=st.text(max_size=20),
    severity=st.sampled_from(["info", "low", "medium", "high", "critical"]),
    status=st.sampled_from(["open", "resolved", "accepted"]),
)
agents = st.none() | st.builds(
    AgentFact, status=st.sampled_from(["online", "offline"]), last_seen_at=st.just(FRESH)
)
facts = st.builds(
    AssetFacts,
    asset_id=st.integers(1, 50),
    name=st.text(max_size=10),
    criticality=st.integers(1, 5),
    agent=agents,
    checks=st.lists(checks, max_size=8),
    alerts=st.lists(alerts, max_size=5),
    findings=st.lists(findings, max_size=5),
)


@settings(max_examples=300)
@given(facts)
def test_score_is_between_0_and_100_and_items_add_up(f: AssetFacts) -> None:
    h = asset_health(f, NOW)
    assert 0 <= h.score <= 100
    taken = sum(d.points for d in h.items)
    assert abs(h.exact - max(0.0, 100.0 - taken)) < 1e-9
    assert all(d.points > 0 and d.points <= d.raw + 1e-9 for d in h.items)


@settings(max_examples=300)
@given(facts, checks, alerts, findings, st.booleans())
def test_more_wrong_never_raises_the_score(
    f: AssetFacts, c: CheckFact, a: AlertFact, fi: FindingFact, offline: bool
) -> None:
    before = asset_health(f, NOW)
    worse = replace(
        f,
        checks=[*f.checks, replace(c, check_id=c.check_id + 20_000)],
        alerts=[*f.alerts, a],
        findings=[*f.findings, fi],
        agent=AgentFact("offline", FRESH) if offline else f.agent,
    )
    assert asset_health(worse, NOW).exact <= before.exact + 1e-9


@given(facts)
def test_a_check_getting_worse_never_raises_the_score(f: AssetFacts) -> None:
    fresh = [replace(c, hard_status=Status.OK) for c in f.checks]
    ok = asset_health(replace(f, checks=fresh), NOW)
    for i, c in enumerate(fresh):
        for status in (Status.WARNING, Status.CRITICAL):
            worse = [*fresh[:i], replace(c, hard_status=status), *fresh[i + 1 :]]
            assert asset_health(replace(f, checks=worse), NOW).exact <= ok.exact + 1e-9


@given(facts)
def test_items_come_largest_first(f: AssetFacts) -> None:
    points = [d.points for d in asset_health(f, NOW).items]
    assert points == sorted(points, reverse=True)


def test_nothing_wrong_and_fresh_data_scores_100() -> None:
    f = AssetFacts(
        1,
        "fs01",
        criticality=5,
        agent=AgentFact("online", FRESH),
        checks=[check(1), check(2, type="forecast")],
        alerts=[AlertFact(9, "security", "info", "a note")],
        findings=[finding(1, "high", "accepted"), finding(2, "critical", "resolved")],
    )
    h = asset_health(f, NOW)
    assert (h.score, h.items) == (100, ())
    assert band(h.score) == ("ok", "Good")


def test_one_critical_problem_and_one_high_finding() -> None:
    f = AssetFacts(
        1,
        "fs01",
        checks=[check(1, Status.CRITICAL, name="disk /srv", message="98 % used")],
        findings=[finding(7, "high")],
    )
    h = asset_health(f, NOW)
    assert h.score == 100 - 40 - 15
    assert [(d.category, d.ref) for d in h.items] == [
        (Category.PROBLEM, ("check", 1)),
        (Category.FINDING, ("finding", 7)),
    ]
    assert h.items[0].reason == "disk /srv is critical: 98 % used"
    assert band(h.score) == ("critical", "Poor")


def test_many_warnings_are_capped_below_what_a_critical_problem_may_take() -> None:
    noisy = AssetFacts(1, "pc", checks=[check(i, Status.WARNING) for i in range(1, 21)])
    h = asset_health(noisy, NOW)
    assert h.score == 60  # warnings alone take at most 40
    assert abs(sum(d.points for d in h.items) - 40) < 1e-9
    down = replace(noisy, checks=[*noisy.checks, check(99, Status.CRITICAL)])
    assert asset_health(down, NOW).score == 20  # a critical problem lifts the cap to 80


def test_everything_truly_critical_reaches_0() -> None:
    f = AssetFacts(
        1,
        "fs01",
        agent=AgentFact("offline", NOW - timedelta(days=2)),
        checks=[check(i, Status.CRITICAL) for i in range(1, 4)],
        alerts=[AlertFact(1, "predictive", "critical", "disk full in 2 days")],
        findings=[finding(1, "critical"), finding(2, "critical")],
    )
    assert asset_health(f, NOW).score == 0


def test_predictive_from_forecast_check_or_alert_counted_once() -> None:
    f = AssetFacts(
        1,
        "fs01",
        checks=[check(5, Status.WARNING, type="forecast", message="/srv full in about 9 days")],
        alerts=[
            AlertFact(1, "predictive", "warning", "/srv full in about 9 days", check_id=5),
            AlertFact(2, "predictive", "critical", "memory leak: out in 2 days"),
            AlertFact(3, "check", "critical", "mirrors a check state"),
        ],
    )
    items = asset_health(f, NOW).items
    assert [(d.category, d.level, d.ref) for d in items] == [
        (Category.PREDICTIVE, Level.CRITICAL, ("alert", 2)),
        (Category.PREDICTIVE, Level.WARNING, ("check", 5)),
    ]


def test_stale_checks_and_offline_agent() -> None:
    old = NOW - timedelta(minutes=10)
    f = AssetFacts(
        1,
        "pc",
        agent=AgentFact("offline", old),
        checks=[
            check(1, last_at=old),  # 10 min > 3 x 60 s + 2 min
            check(2, last_at=NOW - timedelta(minutes=4)),  # within the grace
            check(3, last_at=None, created_at=NOW - timedelta(hours=1)),  # never reported
            check(4, last_at=None, created_at=NOW - timedelta(minutes=1)),  # just created
            check(5, last_at=old, enabled=False),
        ],
    )
    h = asset_health(f, NOW)
    assert [d.ref for d in h.items] == [("agent", 1), ("check", 1), ("check", 3)]
    assert h.score == 100 - 25  # 20 + 5 + 5 capped at 25


# ---- the organization ------------------------------------------------------------------


def scored(asset_id: int, criticality: int, *checks_: CheckFact) -> AssetHealth:
    return asset_health(AssetFacts(asset_id, f"a{asset_id}", criticality, checks=checks_), NOW)


def test_a_bad_critical_server_is_not_hidden_by_many_healthy_laptops() -> None:
    laptops = [scored(i, 1) for i in range(2, 52)]
    server = scored(1, 5, check(1, Status.CRITICAL), check(2, Status.CRITICAL))
    h = org_health([server, *laptops])
    assert server.score == 20
    assert h.weighted_mean is not None and h.weighted_mean > 90
    assert h.pulled_by == 1
    assert h.score is not None and h.score < 65  # Poor: the server drags it down
    assert h.items[0].asset_id == 1
    assert h.assets[0].asset_id == 1  # worst first


def test_an_org_without_assets_has_no_score_and_all_healthy_is_100() -> None:
    assert org_health([]).score is None
    assert org_health([scored(1, 3), scored(2, 5)]).score == 100


def test_org_wide_findings_lower_the_org_score_within_their_cap() -> None:
    many = [finding(i, "high") for i in range(1, 10)]
    h = org_health([scored(1, 3)], org_findings=many)
    assert h.score == 100 - 30  # a high finding is a critical-level item: cap 30
    assert len(h.org_wide) == 9


asset_lists = st.lists(facts, min_size=1, max_size=6, unique_by=lambda f: f.asset_id)


@settings(max_examples=200)
@given(asset_lists, st.integers(0, 5), checks)
def test_org_score_never_rises_when_an_asset_gets_worse(
    fs: list[AssetFacts], which: int, c: CheckFact
) -> None:
    before = org_health([asset_health(f, NOW) for f in fs])
    i = which % len(fs)
    worse = list(fs)
    worse[i] = replace(fs[i], checks=[*fs[i].checks, replace(c, check_id=c.check_id + 20_000)])
    after = org_health([asset_health(f, NOW) for f in worse])
    assert before.exact is not None and after.exact is not None
    assert after.exact <= before.exact + 1e-9
    assert 0 <= (after.score or 0) <= 100


@given(asset_lists)
def test_org_items_come_largest_impact_first(fs: list[AssetFacts]) -> None:
    h = org_health([asset_health(f, NOW) for f in fs], top=50)
    impacts = [d.impact for d in h.items]
    assert impacts == sorted(impacts, reverse=True)
    assert len(org_health([asset_health(f, NOW) for f in fs], top=2).items) <= 2

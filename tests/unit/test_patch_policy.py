"""Patch policy decisions: approval classes, holds, deferral, rings and the pilot's health,
windows, catch-up and reboots; hypothesis for the promises that must hold whatever happens."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.domain.patch_policy import (
    Approval,
    Device,
    PilotHealth,
    PilotInstall,
    Policy,
    Reboot,
    Update,
    Verdict,
    decide,
    install_window,
    pilot_verdict,
    reboot_allowed,
)

# Tuesday 3 November 2026; the window is 02:00-04:00 Berlin (01:00-03:00 UTC) every day.
T0 = datetime(2026, 11, 3, 0, 0, tzinfo=UTC)
IN = T0 + timedelta(hours=1, minutes=30)
BEFORE = T0 + timedelta(minutes=30)
AFTER = T0 + timedelta(hours=5)
WINDOW = install_window(time(2, 0), 120, [], "Europe/Berlin")


def policy(**kw: object) -> Policy:
    return Policy(window=kw.pop("window", WINDOW), **kw)  # type: ignore[arg-type]


def upd(name: str = "libssl3", security: bool = True, age_days: float = 3) -> Update:
    return Update(name, "3.0.1", security, T0 - timedelta(days=age_days))


def dev(*pending: Update, tags: tuple[str, ...] = (), **kw: object) -> Device:
    return Device(
        asset_id=1,
        tags=frozenset(tags),
        online=bool(kw.pop("online", True)),
        reboot_required=bool(kw.pop("reboot_required", False)),
        pending=pending,
        online_since=kw.pop("online_since", T0 - timedelta(days=30)),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def names(d: object) -> list[str]:
    return [u.name for u in d.install]  # type: ignore[attr-defined]


def reasons(d: object) -> dict[str, str]:
    return {w.name: w.reason for w in d.waiting}  # type: ignore[attr-defined]


# ---- approval classes, holds, deferral ---------------------------------------------------


def test_security_auto_installs_inside_the_window_only() -> None:
    d = decide(policy(), dev(upd()), {}, IN)
    assert names(d) == ["libssl3"] and d.deadline == T0 + timedelta(hours=3)
    assert d.note == "installing 1 update now (window 2026-11-03 02:00\u201304:00 CET)"
    before = decide(policy(), dev(upd()), {}, BEFORE)
    assert names(before) == []
    assert reasons(before) == {"libssl3": "outside window (next: 2026-11-03 02:00\u201304:00 CET)"}


def test_approval_classes() -> None:
    pending = (upd("libssl3", True), upd("vim", False))
    manual = decide(policy(other=Approval.MANUAL), dev(*pending), {}, IN)
    assert names(manual) == ["libssl3"] and reasons(manual) == {"vim": "update: approve by hand"}
    never = decide(policy(other=Approval.NEVER), dev(*pending), {}, IN)
    assert "never" in reasons(never)["vim"]
    both = decide(policy(other=Approval.AUTO), dev(*pending), {}, IN)
    assert names(both) == ["libssl3", "vim"]
    by_hand = decide(policy(security=Approval.MANUAL), dev(*pending), {}, IN)
    assert reasons(by_hand)["libssl3"] == "security update: approve by hand"


def test_bad_policies_are_refused() -> None:
    for kw in (
        {"security": Approval.NEVER},
        {"deferral_days": -1},
        {"ring_delay_days": 400},
        {"grace_hours": -3},
        {"holds": tuple(f"p{i}" for i in range(101))},
    ):
        with pytest.raises(ValueError):
            policy(**kw)
    with pytest.raises(ValueError):
        install_window(time(2), 25 * 60, [], "UTC")
    with pytest.raises(ValueError):
        install_window(time(2), 10, [], "UTC")
    with pytest.raises(ValueError):
        install_window(time(2), 60, [8], "UTC")
    with pytest.raises(ValueError):
        install_window(time(2), 60, [], "Mars/Olympus")


def test_holds_are_globs_and_ignore_the_architecture() -> None:
    p = policy(holds=("linux-image-*", "openssl"), other=Approval.AUTO)
    pending = (upd("linux-image-amd64"), upd("openssl:amd64"), upd("openssh-server"))
    d = decide(p, dev(*pending), {}, IN)
    assert names(d) == ["openssh-server"]
    assert reasons(d) == {
        "linux-image-amd64": "held: linux-image-*",
        "openssl:amd64": "held: openssl",
    }


def test_deferral_counts_from_first_seen() -> None:
    p = policy(deferral_days=5)
    d = decide(p, dev(upd(age_days=3)), {}, IN)
    assert names(d) == [] and reasons(d)["libssl3"].startswith("deferred until 2026-11-05")
    assert names(decide(p, dev(upd(age_days=5)), {}, IN)) == ["libssl3"]


# ---- rings -------------------------------------------------------------------------------


def test_pilot_first_then_the_rest_after_the_delay_if_healthy() -> None:
    p = policy(pilot_tag="pilot", ring_delay_days=2)
    u = upd()
    assert names(decide(p, dev(u, tags=("pilot",)), {}, IN)) == ["libssl3"]
    rest = decide(p, dev(u), {}, IN)
    assert reasons(rest) == {"libssl3": "waiting for pilot (pilot) to install it"}

    installed = T0 - timedelta(days=1)
    verdicts = pilot_verdict(
        [PilotInstall(7, "libssl3", "3.0.1", True, installed)],
        {7: PilotHealth(True, installed + timedelta(minutes=5))},
    )
    assert verdicts == {("libssl3", "3.0.1"): Verdict(installed, "")}
    waiting = decide(p, dev(u), verdicts, IN)
    assert reasons(waiting)["libssl3"].startswith("waiting for pilot until 2026-11-04")
    later = IN + timedelta(days=1)
    assert names(decide(p, dev(u), verdicts, later)) == ["libssl3"]


@pytest.mark.parametrize(
    ("installs", "health", "why"),
    [
        (
            [(7, True), (8, False)],
            {7: PilotHealth(True, T0), 8: PilotHealth(True, T0)},
            "failed",
        ),
        ([(7, True)], {7: PilotHealth(False, T0)}, "back online"),
        # Seen last before the install finished: it never came back (after its reboot).
        ([(7, True)], {7: PilotHealth(True, T0 - timedelta(days=3))}, "back online"),
        ([(7, True)], {}, "back online"),
        (
            [(7, True)],
            {7: PilotHealth(True, T0, (T0 - timedelta(hours=1),))},
            "new critical",
        ),
    ],
)
def test_an_unhealthy_pilot_stops_the_rest(
    installs: list[tuple[int, bool]], health: dict[int, PilotHealth], why: str
) -> None:
    done = T0 - timedelta(days=2)
    verdicts = pilot_verdict(
        [PilotInstall(a, "libssl3", "3.0.1", ok, done) for a, ok in installs], health
    )
    v = verdicts[("libssl3", "3.0.1")]
    assert v.passed_at is None and why in v.reason
    d = decide(policy(pilot_tag="pilot", ring_delay_days=0), dev(upd()), verdicts, IN)
    assert names(d) == [] and reasons(d)["libssl3"].startswith("stopped: ")


def test_a_check_critical_before_the_install_is_not_the_updates_doing() -> None:
    done = T0 - timedelta(days=2)
    v = pilot_verdict(
        [PilotInstall(7, "libssl3", "3.0.1", True, done)],
        {7: PilotHealth(True, T0, (done - timedelta(days=1),))},
    )
    assert v[("libssl3", "3.0.1")].passed_at == done


# ---- catch-up and tries ------------------------------------------------------------------


def test_an_offline_machine_catches_up_within_the_grace() -> None:
    p = policy(grace_hours=72)
    during = decide(p, dev(upd(), online=False), {}, IN)
    assert names(during) == [] and "offline" in reasons(during)["libssl3"]
    back = decide(p, dev(upd(), online_since=AFTER - timedelta(minutes=1)), {}, AFTER)
    assert names(back) == ["libssl3"] and back.catch_up and back.reboot is False
    assert back.deadline == T0 + timedelta(hours=3 + 72)
    assert back.note.startswith("catching up")
    # Before the window it never showed up: nothing to catch up on.
    young = Update("libssl3", "3.0.1", True, T0 + timedelta(hours=4))
    assert names(decide(p, dev(young, online_since=AFTER), {}, AFTER)) == []
    # Online all through the window: it had its chance.
    stayed = dev(upd(), online_since=T0 - timedelta(days=5))
    assert names(decide(p, stayed, {}, AFTER)) == []
    assert reasons(decide(p, stayed, {}, AFTER))["libssl3"].startswith("outside window")


def test_after_the_grace_it_waits_for_the_next_window() -> None:
    p = policy(grace_hours=2, window=install_window(time(2), 120, [2], "Europe/Berlin"))
    late = T0 + timedelta(hours=6)  # three hours after the window ended
    d = decide(p, dev(upd(), online_since=late), {}, late)
    assert names(d) == [] and reasons(d)["libssl3"].startswith("outside window (next: 2026-11-10")
    no_grace = policy(grace_hours=0)
    assert names(decide(no_grace, dev(upd(), online_since=AFTER), {}, AFTER)) == []


def test_a_machine_that_tried_in_the_window_does_not_catch_up_or_retry() -> None:
    tried = {("libssl3", "3.0.1"): T0 + timedelta(hours=1, minutes=5)}
    again = decide(policy(), dev(upd(), attempted=tried), {}, IN)
    assert names(again) == [] and "tried in this window" in reasons(again)["libssl3"]
    assert names(decide(policy(), dev(upd(), attempted=tried, online_since=AFTER), {}, AFTER)) == []
    busy = decide(policy(), dev(upd(), busy=True), {}, IN)
    assert names(busy) == [] and reasons(busy) == {"libssl3": "an install job is not finished yet"}
    # Tried in an earlier window: tried again in this one.
    old = {("libssl3", "3.0.1"): T0 - timedelta(days=1)}
    assert names(decide(policy(), dev(upd(), attempted=old), {}, IN)) == ["libssl3"]


# ---- reboots -----------------------------------------------------------------------------


def test_reboot_when_required_only_inside_the_window_after_installing() -> None:
    p = policy(reboot=Reboot.WHEN_REQUIRED)
    assert decide(p, dev(reboot_required=True), {}, IN).reboot
    assert not decide(p, dev(reboot_required=True), {}, BEFORE).reboot
    assert not decide(p, dev(reboot_required=True), {}, AFTER).reboot
    # Installing first; then, with the install running, still no reboot.
    assert not decide(p, dev(upd(), reboot_required=True), {}, IN).reboot
    assert not decide(p, dev(reboot_required=True, busy=True), {}, IN).reboot
    assert not decide(p, dev(), {}, IN).reboot
    # Once per window.
    done = dev(reboot_required=True, rebooted_at=T0 + timedelta(hours=1, minutes=10))
    assert not decide(p, done, {}, IN).reboot
    assert not decide(policy(reboot=Reboot.NEVER), dev(reboot_required=True), {}, IN).reboot


def test_reboot_always_after_an_install_in_this_window() -> None:
    p = policy(reboot=Reboot.ALWAYS)
    installed = dev(installed_at=T0 + timedelta(hours=1, minutes=10))
    assert decide(p, installed, {}, IN).reboot
    yesterday = dev(installed_at=T0 - timedelta(days=1))
    assert not decide(p, yesterday, {}, IN).reboot
    assert not decide(policy(reboot=Reboot.WHEN_REQUIRED), installed, {}, IN).reboot


def test_reboot_allowed_only_in_an_open_window() -> None:
    assert reboot_allowed(policy(), IN) == (T0 + timedelta(hours=1), T0 + timedelta(hours=3))
    assert reboot_allowed(policy(), BEFORE) is None
    assert reboot_allowed(policy(reboot=Reboot.NEVER), IN) is None


def test_weekly_windows_in_the_organizations_zone_keep_their_wall_clock() -> None:
    # Sundays 03:00 New York: 08:00 UTC in winter, 07:00 UTC in summer.
    w = install_window(time(3), 60, [7], "America/New_York")
    p = policy(window=w, grace_hours=0)
    old = upd(age_days=200)
    assert names(decide(p, dev(old), {}, datetime(2026, 11, 8, 8, 30, tzinfo=UTC)))
    assert names(decide(p, dev(old), {}, datetime(2026, 7, 5, 7, 30, tzinfo=UTC)))
    assert not names(decide(p, dev(old), {}, datetime(2026, 7, 5, 8, 30, tzinfo=UTC)))
    assert not names(decide(p, dev(old), {}, datetime(2026, 11, 9, 8, 30, tzinfo=UTC)))


# ---- invariants --------------------------------------------------------------------------

NAMES = ["libssl3", "linux-image-amd64", "openssh-server", "vim", "tzdata"]
moments = st.integers(0, 20 * 24 * 60).map(lambda m: T0 - timedelta(days=10) + timedelta(minutes=m))
updates = st.builds(
    lambda n, sec, seen: Update(n, "1.0", sec, seen),
    st.sampled_from(NAMES),
    st.booleans(),
    moments,
)
policies = st.builds(
    lambda sec, oth, defer, pilot, delay, reboot, holds, grace, start, minutes, days, tz: Policy(
        window=install_window(time(start), minutes, days, tz),
        security=sec,
        other=oth,
        deferral_days=defer,
        pilot_tag=pilot,
        ring_delay_days=delay,
        reboot=reboot,
        holds=holds,
        grace_hours=grace,
    ),
    st.sampled_from([Approval.AUTO, Approval.MANUAL]),
    st.sampled_from(list(Approval)),
    st.integers(0, 5),
    st.sampled_from([None, "pilot"]),
    st.integers(0, 5),
    st.sampled_from(list(Reboot)),
    st.lists(st.sampled_from(["linux-*", "vim", "open*", "tz?ata"]), max_size=3).map(tuple),
    st.integers(0, 96),
    st.integers(0, 23),
    st.integers(15, 600),
    st.lists(st.integers(1, 7), max_size=3, unique=True),
    st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]),
)
devices = st.builds(
    lambda tags, online, reboot, pending, busy, inst, boot, since: Device(
        1,
        frozenset(tags),
        online,
        reboot,
        tuple({u.name: u for u in pending}.values()),
        busy=busy,
        installed_at=inst,
        rebooted_at=boot,
        online_since=since,
    ),
    st.lists(st.sampled_from(["pilot", "server"]), max_size=2),
    st.booleans(),
    st.booleans(),
    st.lists(updates, max_size=5),
    st.booleans(),
    st.none() | moments,
    st.none() | moments,
    st.none() | moments,
)
verdicts = st.dictionaries(
    st.tuples(st.sampled_from(NAMES), st.just("1.0")),
    st.builds(Verdict, st.none() | moments, st.just("broken")),
    max_size=5,
)


@settings(max_examples=400, deadline=None)
@given(policies, devices, verdicts, moments)
def test_invariants(p: Policy, d: Device, pilot: dict, now: datetime) -> None:  # type: ignore[type-arg]
    out = decide(p, d, pilot, now)
    installing = {u.name for u in out.install}
    # A held package is never approved.
    assert not any(p.held_by(n) for n in installing)
    # Every pending update is decided exactly once.
    assert sorted([*installing, *(w.name for w in out.waiting)]) == sorted(
        u.name for u in d.pending
    )
    open_now = p.window.active(now)
    # Nothing installs outside the window except a catch-up within the grace.
    if out.install and not open_now:
        assert out.catch_up and out.window is not None
        assert out.window[1] <= now < out.window[1] + timedelta(hours=p.grace_hours)
    # A reboot is never issued outside the window, nor together with installs.
    if out.reboot:
        assert open_now and not out.install and p.reboot is not Reboot.NEVER
    # Jobs always carry a deadline that has not passed; an offline machine gets none.
    if out.install or out.reboot:
        assert out.deadline is not None and out.deadline > now and d.online
    # One install job at a time.
    assert not (out.install and d.busy)
    # Manual classes and a failed pilot are never installed by the policy.
    for u in out.install:
        assert (p.security if u.security else p.other) is Approval.AUTO
        if p.pilot_tag and not p.in_pilot(d.tags):
            v = pilot.get(u.key)
            assert v is not None and v.passed_at is not None
            assert now >= v.passed_at + timedelta(days=p.ring_delay_days)
        assert now >= u.first_seen + timedelta(days=p.deferral_days)

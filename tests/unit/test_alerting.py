import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from forewarn.domain.alerting import (
    AUTO,
    MAX_LINES,
    Alert,
    AlertState,
    EventKind,
    Matcher,
    MatchOp,
    Severity,
    Silence,
    acknowledge,
    fingerprint,
    fire,
    group_key,
    render,
    resolve,
    severity_of,
    silenced_by,
    unacknowledge,
    unacknowledge_expired,
)
from forewarn.domain.observation import Status
from forewarn.domain.routing import (
    RESOLVED_STEP,
    Batching,
    BusinessHours,
    Delivery,
    PendingGroup,
    Reason,
    Route,
    Sent,
    Step,
    When,
    due,
    flush_at,
    groups_to_flush,
    next_flush,
    next_wakeup,
    resolved_notice,
    routes_for,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
LABELS = {"org": "7", "site": "hq", "asset": "fileserver", "check": "disk /", "kind": "check"}
CRIT, WARN = Severity.CRITICAL, Severity.WARNING
BERLIN = "Europe/Berlin"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def opened(labels=LABELS, severity=CRIT, now=T0) -> Alert:
    return fire(None, labels, severity, now).alert


def chain(*steps, repeat_s=None, matchers=(), when=When.ANY, continue_=False) -> Route:
    return Route(
        matchers,
        when,
        tuple(Step(after, tuple(chs)) for after, chs in steps),
        repeat_s,
        continue_,
    )


def pairs(deliveries):
    return {(d.step_index, d.channel) for d in deliveries}


# --- severity and fingerprints ---------------------------------------------------------------


def test_severity_of_each_status():
    assert severity_of(Status.OK) is None
    assert severity_of(Status.WARNING) is Severity.WARNING
    assert severity_of(Status.CRITICAL) is Severity.CRITICAL
    assert severity_of(Status.UNKNOWN) is Severity.WARNING
    assert Severity.INFO.rank < Severity.WARNING.rank < Severity.CRITICAL.rank


def test_fingerprint_is_16_hex_chars_and_depends_on_every_label_but_severity():
    fp = fingerprint(LABELS)
    assert re.fullmatch(r"[0-9a-f]{16}", fp)
    assert fingerprint(dict(reversed(list(LABELS.items())))) == fp
    assert fingerprint({**LABELS, "asset": "printer"}) != fp
    assert fingerprint({**LABELS, "extra": ""}) != fp
    # a problem that worsens is the same problem
    assert fingerprint({**LABELS, "severity": "warning"}) == fp
    assert fingerprint({**LABELS, "severity": "critical"}) == fp


def test_fingerprint_cannot_be_fooled_by_separators_inside_values():
    assert fingerprint({"a": "x", "b": "y"}) != fingerprint({"a": "x,b=y"})
    assert fingerprint({"a": "x", "b": "y"}) != fingerprint({"a": 'x"],["b","y'})
    assert fingerprint({"ab": "c"}) != fingerprint({"a": "bc"})


label_dicts = st.dictionaries(
    st.text(min_size=1, max_size=8).filter(lambda k: k != "severity"),
    st.text(max_size=8),
    min_size=1,
    max_size=6,
)


@given(label_dicts, st.randoms(use_true_random=False))
def test_fingerprint_ignores_label_order(labels, rnd):
    items = list(labels.items())
    rnd.shuffle(items)
    assert fingerprint(dict(items)) == fingerprint(labels)


@given(label_dicts, label_dicts)
def test_different_labels_give_different_fingerprints(a, b):
    assume(a != b)
    assert fingerprint(a) != fingerprint(b)


# --- lifecycle -------------------------------------------------------------------------------


def test_firing_with_no_alert_opens_one():
    change = fire(None, LABELS, CRIT, T0)
    a = change.alert
    assert change.opened
    assert a.state is AlertState.OPEN and a.is_open
    assert a.fingerprint == fingerprint(LABELS)
    assert a.opened_at == a.last_fired_at == T0
    assert a.labels["severity"] == "critical" and a.labels["asset"] == "fileserver"
    assert [e.kind for e in change.events] == [EventKind.OPENED]


def test_firing_again_refreshes_the_open_alert_quietly():
    a = opened()
    change = fire(a, LABELS, CRIT, at(60))
    assert not change.opened and change.events == ()
    assert change.alert.opened_at == T0
    assert change.alert.last_fired_at == at(60)


def test_a_late_result_does_not_move_last_fired_back():
    a = fire(opened(), LABELS, CRIT, at(120)).alert
    assert fire(a, LABELS, CRIT, at(60)).alert.last_fired_at == at(120)


def test_a_change_of_severity_is_an_event_on_the_same_alert():
    a = opened(severity=WARN)
    change = fire(a, LABELS, CRIT, at(60))
    assert not change.opened
    assert change.alert.severity is CRIT
    assert change.alert.labels["severity"] == "critical"
    assert change.alert.fingerprint == a.fingerprint
    assert [(e.kind, e.detail) for e in change.events] == [
        (EventKind.SEVERITY_CHANGED, "warning -> critical")
    ]


def test_firing_a_resolved_fingerprint_opens_a_new_alert():
    old = resolve(opened(), AUTO, at(100)).alert
    change = fire(old, LABELS, WARN, at(500))
    assert change.opened
    assert change.alert.state is AlertState.OPEN
    assert change.alert.opened_at == at(500)
    assert change.alert.fingerprint == old.fingerprint
    assert old.state is AlertState.RESOLVED  # values are never changed in place


def test_firing_labels_of_another_alert_is_refused():
    with pytest.raises(ValueError, match="fingerprint"):
        fire(opened(), {**LABELS, "asset": "printer"}, CRIT, at(10))


def test_firing_keeps_the_acknowledgement_even_when_it_worsens():
    a = acknowledge(opened(severity=WARN), "ann", at(10)).alert
    change = fire(a, LABELS, CRIT, at(20))
    assert change.alert.state is AlertState.ACKNOWLEDGED
    assert change.alert.acked_by == "ann"
    assert [e.kind for e in change.events] == [EventKind.SEVERITY_CHANGED]


def test_firing_after_the_ack_ran_out_reopens_it_with_an_event():
    a = acknowledge(opened(), "ann", at(10), until=at(100)).alert
    change = fire(a, LABELS, CRIT, at(150))
    assert change.alert.state is AlertState.OPEN
    assert [e.kind for e in change.events] == [EventKind.ACK_EXPIRED]


def test_acknowledge_records_who_and_until_when():
    change = acknowledge(opened(), "ann", at(30), until=at(3600))
    a = change.alert
    assert a.state is AlertState.ACKNOWLEDGED and not a.is_open
    assert (a.acked_by, a.acked_at, a.ack_until) == ("ann", at(30), at(3600))
    assert [e.kind for e in change.events] == [EventKind.ACKNOWLEDGED]
    assert "ann" in change.events[0].detail


def test_acknowledging_twice_adds_no_second_event_and_keeps_the_first():
    a = acknowledge(opened(), "ann", at(30)).alert
    again = acknowledge(a, "bob", at(40))
    assert again.events == ()
    assert again.alert == a


def test_acknowledging_again_with_a_new_until_replaces_it():
    a = acknowledge(opened(), "ann", at(30), until=at(600)).alert
    change = acknowledge(a, "bob", at(40), until=at(7200))
    assert change.alert.ack_until == at(7200) and change.alert.acked_by == "bob"
    assert [e.kind for e in change.events] == [EventKind.ACKNOWLEDGED]


def test_a_resolved_alert_cannot_be_acknowledged():
    a = resolve(opened(), "bob", at(10)).alert
    with pytest.raises(ValueError, match=r"resolved .* by bob.*cannot be acknowledged"):
        acknowledge(a, "ann", at(20))


@pytest.mark.parametrize("until", [at(30), at(0)])
def test_an_acknowledgement_must_end_after_now(until):
    with pytest.raises(ValueError, match="past now"):
        acknowledge(opened(), "ann", at(30), until=until)


def test_naive_times_and_nameless_acks_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        fire(None, LABELS, CRIT, datetime(2026, 3, 2, 9, 0))
    with pytest.raises(ValueError, match="name"):
        acknowledge(opened(), "  ", at(1))


def test_an_ack_runs_out_at_its_until_and_the_event_is_dated_then():
    a = acknowledge(opened(), "ann", at(10), until=at(100)).alert
    assert unacknowledge_expired(a, at(99)) == (a, ())
    change = unacknowledge_expired(a, at(250))
    assert change.alert.state is AlertState.OPEN
    assert change.alert.acked_by is None and change.alert.ack_until is None
    assert [(e.kind, e.at) for e in change.events] == [(EventKind.ACK_EXPIRED, at(100))]


def test_an_ack_until_resolved_never_runs_out():
    a = acknowledge(opened(), "ann", at(10)).alert
    assert unacknowledge_expired(a, at(10**7)).alert.state is AlertState.ACKNOWLEDGED


def test_unacknowledge_by_hand():
    a = acknowledge(opened(), "ann", at(10)).alert
    change = unacknowledge(a, "ann", at(20))
    assert change.alert.state is AlertState.OPEN
    assert [e.kind for e in change.events] == [EventKind.UNACKNOWLEDGED]
    assert unacknowledge(change.alert, "ann", at(30)).events == ()


def test_resolve_automatically_or_by_hand_once():
    a = acknowledge(opened(), "ann", at(10)).alert
    change = resolve(a, AUTO, at(90))
    r = change.alert
    assert r.state is AlertState.RESOLVED
    assert (r.resolved_at, r.resolved_by) == (at(90), AUTO)
    assert r.acked_by is None  # the acknowledgement is history, kept in the timeline
    assert [e.kind for e in change.events] == [EventKind.RESOLVED]
    assert resolve(r, "bob", at(200)) == (r, ())
    assert resolve(opened(), "bob", at(5)).alert.resolved_by == "bob"


def test_an_alert_value_refuses_inconsistent_fields():
    with pytest.raises(ValueError, match="acknowledged"):
        Alert("f", LABELS, CRIT, AlertState.ACKNOWLEDGED, T0, T0)
    with pytest.raises(ValueError, match="resolved"):
        Alert("f", LABELS, CRIT, AlertState.OPEN, T0, T0, resolved_at=T0, resolved_by="x")


actions = st.lists(
    st.tuples(
        st.sampled_from(["fire_w", "fire_c", "ack", "ack_until", "unack", "expire", "resolve"]),
        st.integers(1, 600),
    ),
    max_size=30,
)


@given(actions)
def test_lifecycle_invariants(steps):
    a = opened()
    now = T0
    for action, gap in steps:
        now += timedelta(seconds=gap)
        before = a
        match action:
            case "fire_w" | "fire_c":
                change = fire(a, LABELS, WARN if action == "fire_w" else CRIT, now)
            case "ack" | "ack_until":
                if a.state is AlertState.RESOLVED:
                    with pytest.raises(ValueError):
                        acknowledge(a, "ann", now)
                    continue
                until = now + timedelta(seconds=300) if action == "ack_until" else None
                change = acknowledge(a, "ann", now, until)
            case "unack":
                change = unacknowledge(a, "ann", now)
            case "expire":
                change = unacknowledge_expired(a, now)
            case _:
                change = resolve(a, AUTO, now)
        a = change.alert
        assert a.fingerprint == before.fingerprint
        assert (a.state is AlertState.ACKNOWLEDGED) == (a.acked_by is not None)
        assert (a.state is AlertState.RESOLVED) == (a.resolved_at is not None)
        # a new alert only ever replaces a resolved one, and is open
        if change.opened:
            assert before.state is AlertState.RESOLVED and a.state is AlertState.OPEN
        else:
            assert a.opened_at == before.opened_at
            if before.state is AlertState.RESOLVED:
                assert a == before and change.events == ()
        # nothing changes state without saying so in the timeline
        if a.state is not before.state:
            assert change.events
        assert all(e.at <= now for e in change.events)


# --- matchers and silences -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("matcher", "value", "expected"),
    [
        (Matcher("site", MatchOp.EQ, "hq"), "hq", True),
        (Matcher("site", MatchOp.EQ, "hq"), "hq2", False),
        (Matcher("site", MatchOp.NE, "hq"), "branch", True),
        (Matcher("site", MatchOp.NE, "hq"), "hq", False),
        (Matcher("site", MatchOp.RE, "h.*"), "hq", True),
        (Matcher("site", MatchOp.RE, "h"), "hq", False),  # the whole value must match
        (Matcher("site", MatchOp.RE, "q"), "hq", False),
        (Matcher("site", MatchOp.NRE, "h"), "hq", True),
        (Matcher("site", MatchOp.NRE, "h."), "hq", False),
    ],
)
def test_matcher_operators(matcher, value, expected):
    assert matcher.matches({"site": value}) is expected


def test_a_missing_label_reads_as_empty():
    assert Matcher("site", MatchOp.EQ, "").matches({"org": "7"})
    assert not Matcher("site", MatchOp.EQ, "hq").matches({"org": "7"})
    assert Matcher("site", MatchOp.NE, "hq").matches({"org": "7"})


def test_a_bad_regex_is_refused_naming_the_matcher():
    with pytest.raises(ValueError, match=r"matcher severity=~warn\(: bad regular expression"):
        Matcher("severity", MatchOp.RE, "warn(")
    Matcher("severity", MatchOp.EQ, "warn(")  # only regex operators compile their value


def test_bad_names_and_operators_are_refused():
    with pytest.raises(ValueError, match="label name"):
        Matcher("my-label", MatchOp.EQ, "x")
    with pytest.raises(ValueError, match="unknown operator '=='"):
        Matcher("site", "==", "x")  # type: ignore[arg-type]
    assert Matcher("site", "!~", "x").op is MatchOp.NRE  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("severity=~warning|critical", Matcher("severity", MatchOp.RE, "warning|critical")),
        ("site != hq", Matcher("site", MatchOp.NE, "hq")),
        ("site!~h.*", Matcher("site", MatchOp.NRE, "h.*")),
        ("asset=a=b", Matcher("asset", MatchOp.EQ, "a=b")),
        ("site=", Matcher("site", MatchOp.EQ, "")),
        ('asset=" two words "', Matcher("asset", MatchOp.EQ, " two words ")),
    ],
)
def test_parse_matchers(text, expected):
    assert Matcher.parse(text) == expected


@pytest.mark.parametrize("text", ["site", "=hq", "si te=hq", 'asset="open', "severity=~("])
def test_parse_refuses_what_is_not_a_matcher(text):
    with pytest.raises(ValueError):
        Matcher.parse(text)


@given(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True),
    st.sampled_from(list(MatchOp)),
    st.text(max_size=12),
)
def test_a_matcher_survives_printing_and_parsing(name, op, value):
    if op in (MatchOp.RE, MatchOp.NRE):
        value = re.escape(value)
    m = Matcher(name, op, value)
    assert Matcher.parse(str(m)) == m


def silence(*matchers, start=T0, end=None, by="ann"):
    return Silence(
        tuple(Matcher.parse(m) for m in matchers), start, end or start + timedelta(hours=1), by
    )


def test_silences_refuse_what_would_hide_problems_forever_or_everywhere():
    m = (Matcher.parse("org=7"),)
    with pytest.raises(ValueError, match="at least one matcher"):
        Silence((), T0, at(60), "ann")
    with pytest.raises(ValueError, match="end time"):
        Silence(m, T0, None, "ann")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="end after it starts"):
        Silence(m, T0, T0, "ann")
    with pytest.raises(ValueError, match="end after it starts"):
        Silence(m, T0, at(-1), "ann")
    with pytest.raises(ValueError, match="requires a value"):
        Silence((Matcher.parse("site!=hq"), Matcher.parse("asset=~.*")), T0, at(60), "ann")
    with pytest.raises(ValueError, match="who created"):
        Silence(m, T0, at(60), "")
    with pytest.raises(ValueError, match="timezone-aware"):
        Silence(m, datetime(2026, 3, 2), at(60), "ann")


def test_silenced_by_matches_labels_within_its_time():
    s = silence("org=7", "site=~hq|branch")
    assert silenced_by(LABELS, [s], at(-1)) is None
    assert silenced_by(LABELS, [s], T0) is s
    assert silenced_by(LABELS, [s], at(3599)) is s
    assert silenced_by(LABELS, [s], at(3600)) is None  # the end is not included
    assert silenced_by({**LABELS, "site": "lab"}, [s], at(10)) is None
    assert silenced_by({**LABELS, "org": "8"}, [s], at(10)) is None


def test_of_several_silences_the_one_ending_last_is_named():
    short = silence("org=7", end=at(600))
    long = silence("asset=fileserver", end=at(7200))
    other = silence("org=8", end=at(99999))
    assert silenced_by(LABELS, [short, long, other], at(10)) is long
    assert silenced_by(LABELS, [long, short], at(10)) is long
    assert silenced_by(LABELS, [short, long], at(601)) is long


# --- business hours --------------------------------------------------------------------------

WEEKDAYS = frozenset({1, 2, 3, 4, 5})
OFFICE = BusinessHours(WEEKDAYS, time(8), time(17), BERLIN)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(BERLIN)).astimezone(UTC)


def test_business_hours_are_wall_clock_in_the_zone():
    assert OFFICE.within(berlin(2026, 3, 2, 8, 0))  # Monday, opening minute
    assert not OFFICE.within(berlin(2026, 3, 2, 7, 59))
    assert OFFICE.within(berlin(2026, 3, 2, 16, 59))
    assert not OFFICE.within(berlin(2026, 3, 2, 17, 0))  # the end is not included
    assert not OFFICE.within(berlin(2026, 3, 7, 10, 0))  # Saturday
    # 06:30 UTC is 07:30 in winter (closed) but 08:30 in summer (open)
    assert not OFFICE.within(datetime(2026, 3, 2, 6, 30, tzinfo=UTC))
    assert OFFICE.within(datetime(2026, 7, 6, 6, 30, tzinfo=UTC))


def test_an_overnight_span_belongs_to_the_day_it_starts_on():
    friday_night = BusinessHours(frozenset({5}), time(22), time(6), BERLIN)
    assert friday_night.within(berlin(2026, 3, 6, 23, 0))  # Friday 23:00
    assert friday_night.within(berlin(2026, 3, 7, 5, 59))  # Saturday early
    assert not friday_night.within(berlin(2026, 3, 7, 6, 0))
    assert not friday_night.within(berlin(2026, 3, 7, 23, 0))  # Saturday night
    assert not friday_night.within(berlin(2026, 3, 6, 3, 0))  # Friday early is Thursday's
    sunday_night = BusinessHours(frozenset({7}), time(22), time(6), BERLIN)
    assert sunday_night.within(berlin(2026, 3, 9, 2, 0))  # Monday early, across the week end


def test_end_equal_to_start_is_a_whole_day():
    day = BusinessHours(frozenset({1}), time(9), time(9), "UTC")
    assert day.within(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    assert day.within(datetime(2026, 3, 3, 8, 59, tzinfo=UTC))
    assert not day.within(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))
    assert not day.within(datetime(2026, 3, 2, 8, 59, tzinfo=UTC))


def test_business_hours_validation():
    with pytest.raises(ValueError, match="time zone"):
        BusinessHours(WEEKDAYS, time(8), time(17), "Mars/Olympus")
    with pytest.raises(ValueError, match="1 \\(Monday\\) to 7"):
        BusinessHours(frozenset({0, 1}), time(8), time(17), "UTC")
    with pytest.raises(ValueError, match="at least one day"):
        BusinessHours(frozenset(), time(8), time(17), "UTC")
    with pytest.raises(ValueError, match="wall-clock"):
        BusinessHours(WEEKDAYS, time(8, tzinfo=UTC), time(17), "UTC")


def _local_to_utc(d: date, t: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(d, t, tzinfo=zone).astimezone(UTC)


# Hours avoid 02:00-03:00, the hour that does not exist in Berlin on the spring-forward day.
hours_of_day = st.sampled_from([0, 1, 3, 6, 8, 9, 12, 17, 18, 22, 23])


@settings(max_examples=400)
@given(
    st.frozensets(st.integers(1, 7), min_size=1),
    hours_of_day,
    hours_of_day,
    # instants spread over both 2026 changes (29 March, 25 October), weighted near them
    st.one_of(
        st.datetimes(datetime(2026, 3, 26), datetime(2026, 4, 1)),
        st.datetimes(datetime(2026, 10, 22), datetime(2026, 10, 28)),
        st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31)),
    ),
)
def test_business_hours_across_dst_agree_with_utc_intervals(days, start_h, end_h, naive):
    now = naive.replace(tzinfo=UTC)
    hours = BusinessHours(days, time(start_h), time(end_h), BERLIN)
    zone = ZoneInfo(BERLIN)
    # Independent reference: each day's span as a UTC interval, opened on its start day.
    expected = False
    local_day = now.astimezone(zone).date()
    for d in (local_day - timedelta(days=1), local_day):
        if d.isoweekday() not in days:
            continue
        begin = _local_to_utc(d, hours.start, zone)
        end_day = d if hours.start < hours.end else d + timedelta(days=1)
        end = _local_to_utc(end_day, hours.end, zone)
        expected = expected or begin <= now < end
    assert hours.within(now) == expected


# --- routes ----------------------------------------------------------------------------------


def test_steps_and_routes_are_validated():
    with pytest.raises(ValueError, match="an escalation step needs a channel"):
        Step(0, ())
    with pytest.raises(ValueError, match="before the alert opens"):
        Step(-1, (1,))
    with pytest.raises(ValueError, match="twice"):
        Step(0, (1, 1))
    with pytest.raises(ValueError, match="at least one escalation step"):
        Route((), When.ANY, ())
    with pytest.raises(ValueError, match="repeat_s"):
        chain((0, [1]), repeat_s=0)
    with pytest.raises(ValueError):
        Route((), "sometimes", (Step(0, (1,)),))  # type: ignore[arg-type]


def test_steps_are_kept_in_order_of_delay():
    r = chain((900, [3]), (0, [1]), (300, [2]))
    assert [s.after_s for s in r.steps] == [0, 300, 900]
    assert Route((), "business", r.steps).when is When.BUSINESS  # type: ignore[arg-type]


def test_first_matching_route_wins_unless_it_continues():
    disks = chain((0, [1]), matchers=(Matcher.parse("check=~disk.*"),))
    crit = chain((0, [2]), matchers=(Matcher.parse("severity=critical"),))
    rest = chain((0, [3]))
    labels = {**LABELS, "severity": "critical"}
    assert routes_for(labels, [disks, crit, rest], T0, None) == [disks]
    loud = chain((0, [1]), matchers=disks.matchers, continue_=True)
    assert routes_for(labels, [loud, crit, rest], T0, None) == [loud, crit]
    also = chain((0, [2]), matchers=crit.matchers, continue_=True)
    assert routes_for(labels, [loud, also, rest], T0, None) == [loud, also, rest]
    ping = {**labels, "check": "ping"}
    assert routes_for(ping, [disks, crit, rest], T0, None) == [crit]
    assert routes_for(ping, [disks], T0, None) == []


def test_routes_by_business_hours():
    day = chain((0, [1]), when=When.BUSINESS)
    night = chain((0, [2]), when=When.AFTER_HOURS)
    always = chain((0, [3]), when=When.ANY)
    routes = [day, night, always]
    monday_10 = berlin(2026, 3, 2, 10, 0)
    monday_20 = berlin(2026, 3, 2, 20, 0)
    assert routes_for(LABELS, routes, monday_10, OFFICE) == [day]
    assert routes_for(LABELS, routes, monday_20, OFFICE) == [night]
    assert routes_for(LABELS, [day, always], monday_20, OFFICE) == [always]
    # no business hours known: always "business", never "after hours"
    assert routes_for(LABELS, routes, monday_20, None) == [day]
    assert routes_for(LABELS, [night, always], monday_20, None) == [always]


# --- escalation ------------------------------------------------------------------------------

ESCALATE = chain((0, [1, 2]), (600, [3]), (1800, [4]), repeat_s=3600)


def test_the_first_step_goes_out_when_the_alert_opens():
    a = opened()
    assert due(a, ESCALATE, [], T0) == [
        Delivery(0, 1, Reason.FIRST),
        Delivery(0, 2, Reason.FIRST),
    ]
    assert due(a, ESCALATE, [], at(-1)) == []


def test_later_steps_escalate_once_their_delay_has_passed():
    a = opened()
    sent = [Sent(0, 1, T0), Sent(0, 2, T0)]
    assert due(a, ESCALATE, sent, at(599)) == []
    assert due(a, ESCALATE, sent, at(600)) == [Delivery(1, 3, Reason.ESCALATION)]
    sent.append(Sent(1, 3, at(601)))
    assert due(a, ESCALATE, sent, at(1799)) == []
    assert due(a, ESCALATE, sent, at(1800)) == [Delivery(2, 4, Reason.ESCALATION)]


def test_a_late_look_sends_every_step_already_reached():
    assert pairs(due(opened(), ESCALATE, [], at(700))) == {(0, 1), (0, 2), (1, 3)}


def test_reached_steps_repeat_while_open():
    a = opened()
    sent = [Sent(0, 1, T0), Sent(0, 2, at(5)), Sent(1, 3, at(600))]
    assert due(a, ESCALATE, sent, at(3599)) == [Delivery(2, 4, Reason.ESCALATION)]
    assert due(a, ESCALATE, [*sent, Sent(2, 4, at(1800))], at(3600)) == [
        Delivery(0, 1, Reason.REPEAT)
    ]
    # each channel repeats from its own last send; an old send does not count twice
    history = [*sent, Sent(2, 4, at(1800)), Sent(0, 1, at(3600)), Sent(0, 2, at(3605))]
    assert due(a, ESCALATE, history, at(4199)) == []
    assert due(a, ESCALATE, history, at(4200)) == [Delivery(1, 3, Reason.REPEAT)]


def test_without_repeat_each_step_goes_out_once():
    route = chain((0, [1]), (60, [2]))
    sent = [Sent(0, 1, T0), Sent(1, 2, at(60))]
    assert due(opened(), route, sent, at(10**6)) == []
    assert next_wakeup(opened(), route, sent, at(100)) is None


def test_nothing_is_sent_while_acknowledged_until_the_ack_runs_out():
    a = acknowledge(opened(), "ann", at(30), until=at(3000)).alert
    sent = [Sent(0, 1, T0), Sent(0, 2, T0)]
    assert due(a, ESCALATE, sent, at(600)) == []
    assert due(a, ESCALATE, sent, at(2999)) == []
    assert next_wakeup(a, ESCALATE, sent, at(100)) == at(3000)
    # the problem outlived the acknowledgement: the chain resumes where it would be
    assert pairs(due(a, ESCALATE, sent, at(3000))) == {(1, 3), (2, 4)}
    forever = acknowledge(opened(), "ann", at(30)).alert
    assert due(forever, ESCALATE, sent, at(10**6)) == []
    assert next_wakeup(forever, ESCALATE, sent, at(100)) is None


def test_nothing_is_sent_for_a_resolved_alert_but_one_resolved_notice():
    r = resolve(opened(), AUTO, at(700)).alert
    sent = [Sent(0, 1, T0), Sent(0, 2, T0), Sent(1, 3, at(600))]
    assert due(r, ESCALATE, sent, at(5000)) == []
    assert next_wakeup(r, ESCALATE, sent, at(5000)) is None
    assert resolved_notice(r, sent) == [1, 2, 3]
    done = [*sent, Sent(RESOLVED_STEP, 1, at(701)), Sent(RESOLVED_STEP, 3, at(701))]
    assert resolved_notice(r, done) == [2]
    assert resolved_notice(opened(), sent) == []  # still open: nothing resolved to tell
    assert resolved_notice(r, []) == []  # nobody was told: nobody is told it is over


def test_sends_outside_the_chain_are_ignored():
    a = opened()
    sent = [Sent(0, 1, T0), Sent(0, 2, T0), Sent(7, 3, T0), Sent(1, 9, T0)]
    assert due(a, ESCALATE, sent, at(600)) == [Delivery(1, 3, Reason.ESCALATION)]
    assert due(a, chain((0, [1]), (0, [2])), [Sent(RESOLVED_STEP, 1, T0)], T0) == [
        Delivery(0, 1, Reason.FIRST),
        Delivery(1, 2, Reason.ESCALATION),
    ]


def test_next_wakeup_for_a_scheduler():
    a = opened()
    assert next_wakeup(a, ESCALATE, [], at(-60)) == T0
    assert next_wakeup(a, ESCALATE, [], at(30)) == at(30)  # overdue: now
    sent = [Sent(0, 1, T0), Sent(0, 2, T0)]
    assert next_wakeup(a, ESCALATE, sent, at(30)) == at(600)
    sent += [Sent(1, 3, at(600)), Sent(2, 4, at(1800))]
    assert next_wakeup(a, ESCALATE, sent, at(1900)) == at(3600)


# --- escalation properties -------------------------------------------------------------------

routes_st = st.builds(
    lambda steps, repeat: Route(
        (),
        When.ANY,
        tuple(Step(after, tuple(sorted(chs))) for after, chs in steps),
        repeat,
    ),
    st.lists(
        st.tuples(st.integers(0, 3600), st.frozensets(st.integers(1, 4), min_size=1)),
        min_size=1,
        max_size=4,
    ),
    st.one_of(st.none(), st.integers(60, 3600)),
)


def sent_st(max_step=5):
    return st.lists(
        st.builds(
            Sent,
            st.integers(RESOLVED_STEP, max_step),
            st.integers(1, 5),
            st.integers(-3600, 7200).map(at),
        ),
        max_size=12,
    )


def alert_st():
    @st.composite
    def build(draw):
        a = opened()
        kind = draw(st.sampled_from(["open", "ack", "ack_until", "resolved"]))
        if kind == "ack":
            a = acknowledge(a, "ann", at(1)).alert
        elif kind == "ack_until":
            a = acknowledge(a, "ann", at(1), until=at(draw(st.integers(2, 9000)))).alert
        elif kind == "resolved":
            a = resolve(a, AUTO, at(draw(st.integers(0, 9000)))).alert
        return a

    return build()


@settings(max_examples=300)
@given(
    routes_st,
    st.lists(
        st.tuples(
            st.sampled_from(["tick", "tick", "tick", "ack", "ack_for", "unack", "resolve"]),
            st.integers(1, 900),
        ),
        max_size=40,
    ),
)
def test_simulated_lifecycles_respect_acks_repeats_and_delays(route, script):
    a = opened()
    now = T0
    sent: list[Sent] = []
    for action, gap in script:
        now += timedelta(seconds=gap)
        if action == "ack" and a.state is not AlertState.RESOLVED:
            a = acknowledge(a, "ann", now).alert
        elif action == "ack_for" and a.state is not AlertState.RESOLVED:
            a = acknowledge(a, "ann", now, until=now + timedelta(seconds=1200)).alert
        elif action == "unack":
            a = unacknowledge(a, "ann", now).alert
        elif action == "resolve":
            a = resolve(a, AUTO, now).alert
        out = due(a, route, sent, now)
        notifying = a.state is AlertState.OPEN or (
            a.state is AlertState.ACKNOWLEDGED and a.ack_until is not None and now >= a.ack_until
        )
        if not notifying:
            # acknowledged or resolved: no first, escalation or repeat message at all
            assert out == []
        assert len(pairs(out)) == len(out)  # each (step, channel) at most once per call
        for d in out:
            step = route.steps[d.step_index]
            assert now >= a.opened_at + timedelta(seconds=step.after_s)
            assert d.channel in step.channels
            earlier = [s.at for s in sent if (s.step_index, s.channel) == (d.step_index, d.channel)]
            if earlier:
                assert d.reason is Reason.REPEAT
                assert route.repeat_s is not None
                assert now - max(earlier) >= timedelta(seconds=route.repeat_s)
            else:
                assert d.reason is (Reason.FIRST if d.step_index == 0 else Reason.ESCALATION)
        sent += [Sent(d.step_index, d.channel, now) for d in out]
    if route.repeat_s is None:
        assert len({(s.step_index, s.channel) for s in sent}) == len(sent)


@settings(max_examples=300)
@given(alert_st(), routes_st, sent_st(), st.integers(-600, 9000), st.data())
def test_due_repeats_nothing_within_one_repeat_interval(alert, route, sent, t, data):
    now = at(t)
    first = due(alert, route, sent, now)
    after = sent + [Sent(d.step_index, d.channel, now) for d in first]
    limit = route.repeat_s - 1 if route.repeat_s else 10**6
    later = now + timedelta(seconds=data.draw(st.integers(0, limit)))
    assert not pairs(first) & pairs(due(alert, route, after, later))


@settings(max_examples=400)
@given(alert_st(), routes_st, sent_st(), st.integers(-600, 9000), st.data())
def test_next_wakeup_is_when_due_next_has_something(alert, route, sent, t, data):
    now = at(t)
    wake = next_wakeup(alert, route, sent, now)
    if wake is None:
        for later in (now, now + timedelta(days=30)):
            assert due(alert, route, sent, later) == []
        return
    assert wake >= now
    assert due(alert, route, sent, wake) != []
    if wake > now:
        span = int((wake - now).total_seconds() * 1_000_000) - 1
        earlier = now + timedelta(microseconds=data.draw(st.integers(0, span)))
        assert due(alert, route, sent, earlier) == []


# --- grouping and batching -------------------------------------------------------------------


def test_group_key_uses_the_chosen_labels_and_always_the_org():
    by = ["site"]
    assert group_key(LABELS, by) == group_key({**LABELS, "asset": "printer"}, by)
    assert group_key(LABELS, by) != group_key({**LABELS, "site": "branch"}, by)
    assert group_key(LABELS, by) != group_key({**LABELS, "org": "8"}, by)
    assert group_key(LABELS, ["site", "kind"]) == group_key(LABELS, ["kind", "site"])
    assert group_key({"org": "7"}, ["site"]) == group_key({"org": "7", "site": ""}, ["site"])
    assert group_key(LABELS, ["severity"]) != group_key({**LABELS, "severity": "x"}, ["severity"])


def test_a_new_group_waits_group_wait_after_its_first_item():
    b = Batching(group_wait_s=30, group_interval_s=300)
    g = {"hq": PendingGroup(T0)}
    assert groups_to_flush(b, g, at(29)) == []
    assert groups_to_flush(b, g, at(30)) == ["hq"]
    assert next_flush(b, g) == at(30)
    assert next_flush(b, {}) is None


def test_a_group_that_sent_waits_group_interval_after_its_last_send():
    b = Batching(group_wait_s=30, group_interval_s=300)
    recent = PendingGroup(first_pending_at=at(100), last_sent_at=at(60))
    assert flush_at(b, recent) == at(360)
    # a send long ago does not let a new burst out in pieces: it still waits group_wait
    old = PendingGroup(first_pending_at=at(5000), last_sent_at=at(60))
    assert flush_at(b, old) == at(5030)


def test_groups_flush_oldest_ready_first():
    b = Batching(10, 60)
    g = {"a": PendingGroup(at(20)), "b": PendingGroup(at(0)), "c": PendingGroup(at(500))}
    assert groups_to_flush(b, g, at(40)) == ["b", "a"]


def test_batching_validation():
    with pytest.raises(ValueError):
        Batching(-1, 60)
    with pytest.raises(ValueError):
        Batching(30, 0)


def test_a_site_outage_burst_becomes_one_message():
    """30 alerts in 10 s from one site are sent together, once, after the group wait."""
    b = Batching(group_wait_s=30, group_interval_s=300)
    arrivals = [at(i / 3) for i in range(30)]  # one every third of a second
    pending: dict[str, list[Alert]] = {}
    first: dict[str, datetime] = {}
    messages: list[list[Alert]] = []
    for tick in range(120):
        now = at(tick)
        while arrivals and arrivals[0] <= now:
            t = arrivals.pop(0)
            labels = {**LABELS, "asset": f"pc-{len(arrivals):02d}", "check": "ping"}
            key = group_key(labels, ["site"])
            pending.setdefault(key, []).append(opened(labels, CRIT, t))
            first.setdefault(key, t)
        groups = {k: PendingGroup(first[k]) for k in pending}
        for key in groups_to_flush(b, groups, now):
            messages.append(pending.pop(key))
            del first[key]
    assert len(messages) == 1 and len(messages[0]) == 30
    title, body = render(messages[0], "Acme Ltd", "https://fw.example/a/1")
    assert "30 alerts on 30 assets at site hq" in title
    assert "and 10 more" in body


# --- rendering -------------------------------------------------------------------------------


def test_render_one_alert_says_what_where_since_when_and_links():
    a = opened(now=datetime(2026, 3, 2, 9, 14, 37, tzinfo=UTC))
    title, body = render([a], "Acme Ltd", "https://fw.example/alerts/1", {a.fingerprint: "97%"})
    assert title == "[CRITICAL] Acme Ltd: disk / on fileserver"
    assert "Acme Ltd" in body
    assert "CRITICAL fileserver (site hq): disk / since 2026-03-02T09:14Z - 97%" in body
    assert body.rstrip().endswith("https://fw.example/alerts/1")


def test_render_a_group_worst_first_and_capped():
    crit = opened({**LABELS, "asset": "zz-router", "check": "ping"}, CRIT, at(300))
    warns = [
        opened({**LABELS, "asset": f"pc-{i:02d}", "site": "branch" if i % 2 else "hq"}, WARN)
        for i in range(24)
    ]
    title, body = render([*warns, crit], "Acme Ltd", "https://x")
    assert title == "[CRITICAL] Acme Ltd: 25 alerts on 25 assets"
    lines = [line for line in body.splitlines() if line.startswith(("CRITICAL", "WARNING"))]
    assert len(lines) == MAX_LINES
    assert lines[0].startswith("CRITICAL zz-router (site hq): ping since")
    assert lines[1].startswith("WARNING pc-00 (site hq)")
    assert "and 5 more" in body


def test_render_marks_acknowledged_and_resolved():
    ack = acknowledge(opened(), "ann", at(10)).alert
    _, body = render([ack], "Acme Ltd", "https://x")
    assert "CRITICAL (acknowledged) fileserver" in body
    r = resolve(opened(), AUTO, at(120)).alert
    title, body = render([r], "Acme Ltd", "https://x")
    assert title.startswith("[RESOLVED] ")
    assert "from 2026-03-02T09:00Z to 2026-03-02T09:02Z" in body
    title, _ = render([r, opened({**LABELS, "asset": "nas"}, WARN)], "Acme Ltd", "https://x")
    assert title.startswith("[WARNING] ")


def test_render_needs_alerts():
    with pytest.raises(ValueError, match="no alerts"):
        render([], "Acme Ltd", "https://x")


@pytest.mark.parametrize(("count", "more"), [(MAX_LINES, None), (MAX_LINES + 1, "and 1 more")])
def test_render_lists_up_to_the_cap_and_counts_the_rest(count, more):
    group = [opened({**LABELS, "asset": f"pc-{i:02d}"}, WARN) for i in range(count)]
    _, body = render(group, "Acme Ltd", "https://x")
    listed = [line for line in body.splitlines() if line.startswith("WARNING ")]
    assert len(listed) == MAX_LINES
    assert (more in body) if more else ("more" not in body)

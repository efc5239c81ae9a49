import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forewarn.domain.observation import Metric, Status, worst
from forewarn.domain.perfdata import format_perfdata, parse_output, parse_perfdata
from forewarn.domain.thresholds import Range, Thresholds


@pytest.mark.parametrize(
    ("text", "alerting", "quiet"),
    [
        ("10", [-1, 10.5], [0, 5, 10]),
        ("10:", [9.99, -5], [10, 1e9]),
        ("~:10", [10.01], [-1e9, 10]),
        ("10:20", [9, 21], [10, 15, 20]),
        ("@10:20", [10, 15, 20], [9, 21]),
    ],
)
def test_ranges_alert_as_nagios_documents(text, alerting, quiet):
    r = Range.parse(text)
    assert all(r.alerts(v) for v in alerting)
    assert not any(r.alerts(v) for v in quiet)


@pytest.mark.parametrize("bad", ["", "abc", "20:10", "1:x", "nan"])
def test_bad_ranges_say_why(bad):
    with pytest.raises(ValueError, match=r"range|threshold"):
        Range.parse(bad)


def test_thresholds_pick_the_worse_state():
    t = Thresholds.parse("80", "90")
    assert [t.status(v) for v in (50, 85, 95)] == [Status.OK, Status.WARNING, Status.CRITICAL]
    assert Thresholds.parse(None, "").status(1e9) is Status.OK


def test_worst_never_lets_unknown_hide_a_problem():
    assert worst(Status.UNKNOWN, Status.WARNING) is Status.WARNING
    assert worst(Status.OK, Status.UNKNOWN) is Status.UNKNOWN
    assert worst() is Status.OK


def test_status_parse():
    assert Status.parse("crit") is Status.CRITICAL
    assert Status.parse("1") is Status.WARNING
    with pytest.raises(ValueError):
        Status.parse("bad")


def test_plugin_output_with_long_text_and_multiline_perfdata():
    out = parse_output(
        "DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n"
        "/ 15272 MB (77%);\n"
        "/boot 68 MB (69%); | /boot=68MB;88;93;0;98\n"
        "/home=69357MB;253404;253409;0;253414 'var log'=818MB;970;975;0;980\n"
    )
    assert out.message == "DISK OK - free space: / 3326 MB (56%);"
    assert out.details == "/ 15272 MB (77%);\n/boot 68 MB (69%);"
    names = [m.name for m in out.metrics]
    assert names == ["/", "/boot", "/home", "var log"]
    root = out.metrics[0]
    assert (root.value, root.unit, root.warn, root.crit, root.min, root.max) == (
        2643,
        "MB",
        "5948",
        "5958",
        0,
        5968,
    )


def test_unreadable_and_unmeasured_items_are_skipped_not_fatal():
    metrics, bad = parse_perfdata("time=0.01s;;;0 load=U junk size=12XB!")
    assert [m.name for m in metrics] == ["time"]
    assert bad == ("junk", "size=12XB!")


_label = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1
).filter(lambda s: s.strip() == s and "=" not in s and "|" not in s)


@given(
    st.lists(
        st.builds(
            Metric,
            name=_label,
            value=st.floats(allow_nan=False, allow_infinity=False, width=32),
            unit=st.sampled_from(["", "s", "ms", "%", "B", "KB", "c"]),
            min=st.none() | st.integers(-100, 100).map(float),
        ),
        max_size=5,
    )
)
def test_perfdata_round_trips(metrics):
    parsed, bad = parse_perfdata(format_perfdata(tuple(metrics)))
    assert bad == ()
    assert [m.name for m in parsed] == [m.name for m in metrics]
    for a, b in zip(parsed, metrics, strict=True):
        assert math.isclose(a.value, b.value, rel_tol=0, abs_tol=1e-30)
        assert (a.unit, a.min) == (b.unit, b.min)


def test_large_counters_stay_exact():
    text = format_perfdata((Metric("in", 12345678901234.0, "c"), Metric("t", 0.00186493)))
    assert text == "in=12345678901234c t=0.00186493"

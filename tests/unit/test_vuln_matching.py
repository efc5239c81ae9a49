"""Version ordering (dpkg, PEP 440), the OSV range algorithm and what matching answers."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.domain import vulns as v
from forewarn.domain.vulns import Facts, Index, Installed, dpkg_compare, dpkg_key

# ---- dpkg ordering ---------------------------------------------------------------------------

# (a, b, expected sign of a - b) — each written down from Debian Policy 5.6.12 and checked
# against the real dpkg below.
DPKG_CASES = [
    ("1.0", "1.0", 0),
    ("1.0-1", "1.0-2", -1),
    ("1:0.9", "2.0", 1),  # the epoch wins over everything
    ("0:1.0", "1.0", 0),  # epoch 0 is no epoch
    ("1.0~rc1", "1.0", -1),  # a tilde sorts before the end
    ("1.0~~", "1.0~", -1),
    ("1.0~", "1.0", -1),
    ("1.0~rc1-1", "1.0-0", -1),
    ("0~git2020", "0", -1),  # a tilde after a leading zero
    ("1.0", "1.0+dfsg", -1),
    ("1.0+b1", "1.0", 1),
    ("1.0a", "1.0+", -1),  # letters before other characters
    ("1.0.0", "1.0", 1),
    ("1.2.10", "1.2.9", 1),  # numbers compare as numbers
    ("1.002", "1.2", 0),
    ("2.36-9+deb12u4", "2.36-9+deb12u10", -1),
    ("3.0.11-1~deb12u2", "3.0.11-1", -1),  # a backport sorts below the release
    ("7.88.1-10+deb12u5", "7.88.1-10+deb12u4", 1),
    ("1.0-1", "1.0", 1),  # a revision sorts above none
    ("1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1+b1", -1),
    ("a", "1", 1),
    ("1.0-1ubuntu0.22.04.1", "1.0-1ubuntu0.22.04.10", -1),
]


@pytest.mark.parametrize(("a", "b", "sign"), DPKG_CASES)
def test_dpkg_ordering(a: str, b: str, sign: int) -> None:
    assert dpkg_compare(a, b) == sign
    assert dpkg_compare(b, a) == -sign


def _dpkg_says(a: str, b: str) -> int:
    def holds(op: str) -> bool:
        run = subprocess.run(["dpkg", "--compare-versions", a, op, b], check=False)
        return run.returncode == 0

    return -1 if holds("lt") else 1 if holds("gt") else 0


needs_dpkg = pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed")


@needs_dpkg
def test_dpkg_cases_agree_with_the_real_dpkg() -> None:
    for a, b, sign in DPKG_CASES:
        assert _dpkg_says(a, b) == sign, (a, b)


_chunk = st.text(alphabet="0123456789.+~ab", min_size=1, max_size=5)
_dpkg_version = st.builds(
    lambda epoch, up, rev: f"{epoch}{up}{rev}",
    st.sampled_from(["", "", "1:", "2:"]),
    st.builds(lambda d, rest: d + rest, st.sampled_from("0123456789"), _chunk),
    st.one_of(st.just(""), _chunk.map(lambda s: "-" + s.replace("-", ""))),
)


@needs_dpkg
@settings(max_examples=60, deadline=None)
@given(_dpkg_version, _dpkg_version)
def test_dpkg_key_agrees_with_the_real_dpkg(a: str, b: str) -> None:
    assert dpkg_compare(a, b) == _dpkg_says(a, b), (a, b)


def test_malformed_dpkg_versions_have_no_key() -> None:
    assert dpkg_key("x:1.0") is None
    assert dpkg_key("") is None
    with pytest.raises(ValueError):
        dpkg_compare("x:1", "1")


# ---- PEP 440 ---------------------------------------------------------------------------------


def test_pep440_ordering_and_names() -> None:
    key = v.pep440_key
    assert key("2.0.0rc1") < key("2.0.0") < key("2.0.0.post1") < key("2.0.1")
    assert key("1.0.dev0") < key("1.0a1") < key("1.0")
    assert key("1.0") == key("1.0.0")
    assert key("not a version!") is None
    assert v.normalize_pypi("Jinja2") == "jinja2"
    assert v.normalize_pypi("typing_extensions") == "typing-extensions"
    assert v.normalize_pypi("zope.Interface") == "zope-interface"


# ---- the OSV range algorithm -----------------------------------------------------------------


def _affected(version: str, ranges: list[list[tuple[str, str]]], versions: tuple[str, ...] = ()):
    index = Index()
    index.add("PyPI", "pkg", "OSV-1", ranges, versions)
    entry = index.lookup("PyPI", "pkg")[0]
    return v.affected_by(version, entry, v.pep440_key)


def test_introduced_zero_means_from_the_start() -> None:
    ranges = [[("introduced", "0"), ("fixed", "1.5")]]
    assert _affected("0.1", ranges) == (True, "1.5")
    assert _affected("1.4.9", ranges) == (True, "1.5")
    assert _affected("1.5", ranges) == (False, None)
    assert _affected("2.0", ranges) == (False, None)


def test_last_affected_includes_itself() -> None:
    ranges = [[("introduced", "1.0"), ("last_affected", "1.3")]]
    assert _affected("0.9", ranges) == (False, None)
    assert _affected("1.0", ranges) == (True, None)
    assert _affected("1.3", ranges) == (True, None)
    assert _affected("1.3.1", ranges) == (False, None)


def test_several_intervals_and_several_ranges() -> None:
    one_range = [
        [("introduced", "1.0"), ("fixed", "1.2"), ("introduced", "2.0"), ("fixed", "2.0.3")]
    ]
    assert _affected("1.1", one_range) == (True, "1.2")
    assert _affected("1.5", one_range) == (False, None)
    assert _affected("2.0.1", one_range) == (True, "2.0.3")
    # Events need not be written in order.
    shuffled = [
        [("fixed", "2.0.3"), ("introduced", "2.0"), ("fixed", "1.2"), ("introduced", "1.0")]
    ]
    assert _affected("2.0.1", shuffled) == (True, "2.0.3")
    two_ranges = [[("introduced", "0"), ("fixed", "1.2")], [("introduced", "2.0")]]
    assert _affected("1.0", two_ranges) == (True, "1.2")
    assert _affected("1.5", two_ranges) == (False, None)
    assert _affected("9.0", two_ranges) == (True, None)  # not fixed yet


def test_versions_list_and_limit() -> None:
    assert _affected("0.5", [], ("0.5", "0.6")) == (True, None)
    assert _affected("0.7", [], ("0.5", "0.6")) == (False, None)
    limited = [[("introduced", "0"), ("limit", "3.0")]]
    assert _affected("2.9", limited)[0] is True
    assert _affected("3.0", limited)[0] is False
    assert _affected("9.0", [[("introduced", "0"), ("limit", "*")]])[0] is True


def test_unreadable_versions_fail_loud() -> None:
    # An unreadable fix is ignored (still affected), an unreadable start means "from 0".
    assert _affected("5.0", [[("introduced", "0"), ("fixed", "not a version!")]]) == (True, None)
    assert _affected("0.1", [[("introduced", "?!"), ("fixed", "1.0")]]) == (True, "1.0")


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(0, 40), min_size=2, max_size=6, unique=True).map(sorted),
    st.integers(0, 45),
)
def test_alternating_events_match_the_intervals(bounds: list[int], at: int) -> None:
    """introduced/fixed pairs in any order give exactly the half-open intervals."""
    events = []
    for i, b in enumerate(bounds):
        events.append(("introduced" if i % 2 == 0 else "fixed", f"{b}.0"))
    expected = any(
        bounds[i] <= at < (bounds[i + 1] if i + 1 < len(bounds) else 10**9)
        for i in range(0, len(bounds), 2)
    )
    assert _affected(f"{at}.0", [list(reversed(events))])[0] is expected


# ---- ecosystems, binary -> source, match -----------------------------------------------------


def test_os_ecosystems() -> None:
    assert v.os_ecosystem("debian", "12") == "Debian:12"
    assert v.os_ecosystem("ubuntu", "22.04") == "Ubuntu:22.04:LTS"
    assert v.os_ecosystem("ubuntu", "23.10") == "Ubuntu:23.10"
    assert v.os_ecosystem("debian", "") is None  # testing / sid
    assert v.os_ecosystem("fedora", "40") is None


def _debian_index() -> Index:
    index = Index()
    index.add(
        "Debian:12",
        "openssl",
        "DEBIAN-CVE-2024-0001",
        [[("introduced", "0"), ("fixed", "3.0.14-1~deb12u1")]],
    )
    index.add(
        "Debian:12",
        "openssl",
        "DEBIAN-CVE-2024-0002",
        [[("introduced", "0"), ("fixed", "3.0.15-1~deb12u1")]],
    )
    index.add("Debian:12", "openssl", "DEBIAN-CVE-2024-0003", [[("introduced", "0")]])
    index.add("Debian:11", "openssl", "DEBIAN-CVE-2024-0004", [[("introduced", "0")]])
    index.add("Debian:12", "zlib", "DSA-1-1", [[("introduced", "0"), ("fixed", "1:1.2.13.dfsg-1")]])
    index.add("PyPI", "Jinja2", "GHSA-xxxx", [[("introduced", "0"), ("fixed", "3.1.5")]])
    return index


def test_binaries_are_matched_by_their_source_package() -> None:
    installed = [
        Installed("libssl3", "3.0.13-1~deb12u1", "dpkg", "openssl", ""),
        Installed("openssl", "3.0.13-1~deb12u1", "dpkg"),
        Installed("zlib1g", "1:1.2.13.dfsg-1+b1", "dpkg", "zlib", "1:1.2.13.dfsg-1"),
        Installed("jinja2", "3.1.2", "pypi"),
        Installed("curl", "7.88.1-10", "rpm"),  # no ordering for this one here
    ]
    hits = v.match(_debian_index(), v.subjects(installed, "Debian:12"))
    by_name = {h.package: h for h in hits}
    assert set(by_name) == {"openssl", "jinja2"}  # zlib's source version is the fixed one
    ssl = by_name["openssl"]
    assert ssl.binaries == ("libssl3", "openssl")
    assert [h.vuln_id for h in ssl.vulns] == [
        "DEBIAN-CVE-2024-0001",
        "DEBIAN-CVE-2024-0002",
        "DEBIAN-CVE-2024-0003",
    ]
    assert ssl.fixed == "3.0.15-1~deb12u1"  # fixes both fixable ones
    assert ssl.unfixed == 1
    assert by_name["jinja2"].fixed == "3.1.5"


def test_a_binary_rebuild_is_judged_by_its_source_version() -> None:
    # zlib1g 1:1.2.13.dfsg-1+b1 sorts above the fix, its source 1:1.2.13.dfsg-1 equals it;
    # an older source is still affected whatever its binary is called.
    old = [Installed("zlib1g", "1:1.2.12.dfsg-1+b1", "dpkg", "zlib", "1:1.2.12.dfsg-1")]
    hits = v.match(_debian_index(), v.subjects(old, "Debian:12"))
    assert [(h.package, h.installed, h.fixed) for h in hits] == [
        ("zlib", "1:1.2.12.dfsg-1", "1:1.2.13.dfsg-1")
    ]


def test_no_os_ecosystem_no_dpkg_matching() -> None:
    pkgs = [Installed("openssl", "3.0.13-1~deb12u1", "dpkg")]
    assert v.match(_debian_index(), v.subjects(pkgs, None)) == []


def test_installed_from_plain_inventory() -> None:
    items = [
        {"name": "bash", "version": "5.2-2", "source": "dpkg"},
        {"name": "", "version": "1"},
        {"name": "libc6", "version": "2.36-9", "source": "dpkg", "source_name": "glibc"},
        "junk",
    ]
    got = v.installed_from([i for i in items if isinstance(i, dict)])
    assert [(p.name, p.source_name) for p in got] == [("bash", ""), ("libc6", "glibc")]


# ---- severity and priority -------------------------------------------------------------------


def test_severity_and_priority() -> None:
    kev = Facts(kev=True, ransomware=True, percentile=0.2, cvss=5.0)
    hot = Facts(kev=False, percentile=0.97, cvss=5.0)
    cvss_only = Facts(kev=False, cvss=9.8)
    unknown = Facts()
    assert v.severity(kev) == "critical"
    assert v.severity(hot) == "high"
    assert v.severity(cvss_only) == "high"
    assert v.severity(Facts(kev=False, cvss=3.1, percentile=0.1)) == "low"
    assert v.severity(unknown) == "medium"  # unknown is not low
    ranked = sorted([unknown, cvss_only, hot, kev], key=v.priority)
    assert ranked == [kev, hot, cvss_only, unknown]

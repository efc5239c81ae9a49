"""dpkg-query and rpm listings, and how sources combine."""

from __future__ import annotations

from forewarn.agent.collectors.packages import merge_sources, parse_dpkg, parse_rpm

DPKG = (
    "adduser\t3.134\tall\tii \n"
    "bash\t5.2.15-2+b7\tamd64\tii \n"
    "libc6\t2.36-9+deb12u7\tamd64\tii \n"
    "libc6\t2.36-9+deb12u7\ti386\tii \n"
    "openssh-server\t1:9.2p1-2+deb12u3\tamd64\thi \n"
    "old-kernel\t6.1.0-9\tamd64\trc \n"
    "never\t\tamd64\tun \n"
    "broken\t1.0\tamd64\tiU \n"
    "reinstall-me\t2.0\tamd64\tiiR\n"
    "garbage line without tabs\n"
    "too\tmany\tfields\there\tnow\n"
    "\n"
)

RPM = (
    "bash\t(none)\t5.1.8-9.el9\tx86_64\n"
    "openssl-libs\t1\t3.0.7-27.el9\tx86_64\n"
    "tzdata\t(none)\t2024a-1.el9\tnoarch\n"
    "gpg-pubkey\t(none)\tfd431d51-4ae0493b\t(none)\n"
    "weird\t(none)\t1.0-1\t(none)\n"
    "truncated\tline\n"
)


def test_dpkg_keeps_installed_packages_only() -> None:
    pkgs = parse_dpkg(DPKG)
    names = [(p["name"], p["arch"]) for p in pkgs]
    assert names == [
        ("adduser", "all"),
        ("bash", "amd64"),
        ("libc6", "amd64"),
        ("libc6", "i386"),
        ("openssh-server", "amd64"),
        ("reinstall-me", "amd64"),
    ]
    assert pkgs[1] == {"name": "bash", "version": "5.2.15-2+b7", "arch": "amd64", "source": "dpkg"}
    # Held packages are installed; the epoch stays part of the version.
    assert pkgs[4]["version"] == "1:9.2p1-2+deb12u3"


def test_rpm_versions_arches_and_keys() -> None:
    pkgs = parse_rpm(RPM)
    assert [p["name"] for p in pkgs] == ["bash", "openssl-libs", "tzdata", "weird"]
    assert pkgs[0] == {"name": "bash", "version": "5.1.8-9.el9", "arch": "x86_64", "source": "rpm"}
    assert pkgs[1]["version"] == "1:3.0.7-27.el9"
    assert pkgs[3]["arch"] == ""


def test_empty_output_is_no_packages() -> None:
    assert parse_dpkg("") == [] and parse_rpm("") == []


def test_sources_merge_sorted_and_a_failed_source_spoils_the_answer() -> None:
    dpkg = parse_dpkg(DPKG)
    rpm = parse_rpm(RPM)
    merged = merge_sources([rpm, dpkg, []])
    assert merged is not None
    assert len(merged) == len(dpkg) + len(rpm)
    assert [p["source"] for p in merged] == ["dpkg"] * len(dpkg) + ["rpm"] * len(rpm)
    # A partial list would read as removals on the server: no answer instead.
    assert merge_sources([dpkg, None]) is None
    assert merge_sources([[], []]) == []


def test_dpkg_source_package_and_version_when_they_differ() -> None:
    text = (
        "libssl3\t3.0.15-1~deb12u1\tamd64\tii \topenssl\t3.0.15-1~deb12u1\n"
        "zlib1g\t1:1.2.13.dfsg-1+b1\tamd64\tii \tzlib\t1:1.2.13.dfsg-1\n"
        "bash\t5.2.15-2+b7\tamd64\tii \tbash\t5.2.15-2\n"
        "adduser\t3.134\tall\tii \tadduser\t3.134\n"
    )
    pkgs = {p["name"]: p for p in parse_dpkg(text)}
    assert pkgs["libssl3"]["source_name"] == "openssl"
    assert "source_version" not in pkgs["libssl3"]
    assert (pkgs["zlib1g"]["source_name"], pkgs["zlib1g"]["source_version"]) == (
        "zlib",
        "1:1.2.13.dfsg-1",
    )
    assert "source_name" not in pkgs["bash"] and pkgs["bash"]["source_version"] == "5.2.15-2"
    assert pkgs["adduser"] == {
        "name": "adduser",
        "version": "3.134",
        "arch": "all",
        "source": "dpkg",
    }

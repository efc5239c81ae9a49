"""validate() of the dns, ping and nagios probes: bad definitions are refused with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from forewarn.domain.observation import Status
from forewarn.probes import dns, nagios, ping

# --- dns ---------------------------------------------------------------------------------


def test_dns_defaults_and_normalised_type() -> None:
    p = dns.validate("app.example", {"type": "mx", "server": "192.0.2.53"})
    assert p.type == "MX"
    assert p.server == "192.0.2.53:53"
    assert dns.validate("app.example", {}).type == "A"


@pytest.mark.parametrize("rtype", ["AXFR", "ANY", "", "A AAAA", 1])
def test_dns_refuses_record_types_it_does_not_check(rtype: object) -> None:
    with pytest.raises(ValueError, match="type"):
        dns.validate("app.example", {"type": rtype})


@pytest.mark.parametrize(
    ("server", "parsed"),
    [
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("::1", ("::1", 53)),
        ("[::1]:5353", ("::1", 5353)),
        (" 10.0.0.1 ", ("10.0.0.1", 53)),
    ],
)
def test_dns_server_forms(server: str, parsed: tuple[str, int]) -> None:
    assert dns.parse_server(server) == parsed
    p = dns.validate("app.example", {"server": server})
    assert p.server is not None and dns.parse_server(p.server) == parsed


@pytest.mark.parametrize(
    ("server", "why"),
    [
        ("dns.example", "not an IP address"),
        ("127.0.0.1:0", "port"),
        ("127.0.0.1:70000", "port"),
        ("127.0.0.1:", "port"),
        ("127.0.0.1:fifty", "port"),
        ("[::1", r"\[addr\]:port"),
        ("[::1]x", r"\[addr\]:port"),
        ("300.1.1.1", "not an IP address"),
    ],
)
def test_dns_refuses_bad_servers(server: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        dns.validate("app.example", {"server": server})


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"warn_time": "fast"}, "not a number"),
        ({"crit_time": "2:1"}, "above end"),
        ({"expect": [""]}, "empty"),
        ({"expect": "10.0.0.1"}, "list"),
        ({"resolver": "127.0.0.1"}, "Extra inputs"),
    ],
)
def test_dns_refuses_bad_params(params: dict[str, object], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        dns.validate("app.example", params)


def test_dns_time_ranges_are_kept_as_text() -> None:
    p = dns.validate("app.example", {"warn_time": "0.5", "crit_time": "@1:"})
    assert (p.warn_time, p.crit_time) == ("0.5", "@1:")


@pytest.mark.parametrize("name", ["", "a..b", "x" * 64 + ".example"])
def test_dns_refuses_bad_names(name: str) -> None:
    with pytest.raises(ValueError):
        dns.validate(name, {})


def test_dns_ptr_accepts_an_address() -> None:
    dns.validate("192.0.2.7", {"type": "PTR"})
    dns.validate("2001:db8::7", {"type": "PTR"})


# --- ping --------------------------------------------------------------------------------


def test_ping_defaults() -> None:
    p = ping.validate("127.0.0.1", {})
    assert (p.count, p.interval, p.warn, p.crit, p.privileged) == (
        3,
        0.2,
        "100,20%",
        "500,60%",
        "auto",
    )


@pytest.mark.parametrize("target", ["127.0.0.1", "::1", "localhost", "host-1.example.", "a_b.lan"])
def test_ping_accepts_hosts(target: str) -> None:
    ping.validate(target, {})


@pytest.mark.parametrize("target", ["", "exa mple.com", "999.1.1.1", "-bad.example", "a..b", "x/y"])
def test_ping_refuses_bad_targets(target: str) -> None:
    with pytest.raises(ValueError, match="neither an IP address nor a host name"):
        ping.validate(target, {})


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"count": 0}, "greater than or equal to 1"),
        ({"count": 21}, "less than or equal to 20"),
        ({"interval": 0}, "greater than or equal"),
        ({"warn": "100"}, "round trip ms and loss"),
        ({"warn": "abc,20%"}, "round trip ms and loss"),
        ({"warn": "100,120%"}, "from 0 to 100"),
        ({"crit": "0,60%"}, "above 0 ms"),
        ({"warn": "600,20%"}, "warning round trip 600 ms is above the critical 500 ms"),
        ({"warn": "100,70%"}, "warning packet loss 70% is above the critical 60%"),
        ({"privileged": "maybe"}, "privileged"),
        ({"size": 56}, "Extra inputs"),
    ],
)
def test_ping_refuses_bad_params(params: dict[str, object], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        ping.validate("127.0.0.1", params)


def test_ping_pairs_normalised() -> None:
    p = ping.validate("127.0.0.1", {"warn": " 50.0, 10 ", "crit": "200,40%"})
    assert (p.warn, p.crit) == ("50,10%", "200,40%")
    assert ping.parse_pair(p.warn) == (50.0, 10.0)


@pytest.mark.parametrize(
    ("rtts", "status"),
    [
        ([1.0, 2.0, 3.0], Status.OK),
        ([150.0, 150.0, 150.0], Status.WARNING),  # rta >= 100
        ([600.0, 500.0, 550.0], Status.CRITICAL),  # rta >= 500
        ([1.0, 1.0], Status.WARNING),  # 1 of 3 lost: 33 % >= 20 %
        ([1.0], Status.CRITICAL),  # 67 % >= 60 %
    ],
)
def test_ping_judged_like_check_ping(rtts: list[float], status: Status) -> None:
    p = ping.validate("127.0.0.1", {})
    r = ping.judge("127.0.0.1", "127.0.0.1", p, len(rtts), rtts)
    assert r.status is status
    metrics = {m.name: m for m in r.metrics}
    assert metrics["rta"].value == pytest.approx(sum(rtts) / len(rtts), abs=0.001)
    assert metrics["rta"].unit == "ms" and metrics["pl"].unit == "%"
    assert metrics["rtmax"].value == max(rtts) and metrics["rtmin"].value == min(rtts)


def test_ping_no_reply_is_host_unreachable() -> None:
    p = ping.validate("gw.example", {"count": 2})
    r = ping.judge("gw.example", "192.0.2.1", p, 0, [])
    assert r.status is Status.CRITICAL
    assert r.message == "gw.example (192.0.2.1): host unreachable"
    assert [(m.name, m.value) for m in r.metrics] == [("pl", 100.0)]


# --- nagios ------------------------------------------------------------------------------


def _plugin(path: Path, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\necho OK\n")
    path.chmod(mode)
    return path


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    d = tmp_path / "plugins"
    _plugin(d / "check_ok")
    _plugin(tmp_path / "outside" / "check_evil")
    return d


def test_nagios_plugin_in_allowed_dir(allowed: Path) -> None:
    p = nagios.validate(str(allowed / "check_ok"), {"args": ["-w", "1"]}, [str(allowed)])
    assert p.args == ["-w", "1"]
    assert p._path == str(allowed / "check_ok")


def test_nagios_bare_name_is_looked_up_in_allowed_dirs(allowed: Path) -> None:
    p = nagios.validate("check_ok", {}, [str(allowed)])
    assert p._path == str(allowed / "check_ok")
    with pytest.raises(ValueError, match="no plugin 'check_nothing'"):
        nagios.validate("check_nothing", {}, [str(allowed)])


def test_nagios_refuses_dotdot_out_of_allowed_dir(allowed: Path) -> None:
    sneaky = f"{allowed}/../outside/check_evil"
    with pytest.raises(ValueError, match="outside the allowed directories"):
        nagios.validate(sneaky, {}, [str(allowed)])


def test_nagios_refuses_symlink_out_of_allowed_dir(allowed: Path) -> None:
    link = allowed / "check_link"
    link.symlink_to(allowed.parent / "outside" / "check_evil")
    with pytest.raises(ValueError, match="outside the allowed directories"):
        nagios.validate(str(link), {}, [str(allowed)])


def test_nagios_symlink_within_allowed_dir_is_fine(allowed: Path) -> None:
    (allowed / "check_alias").symlink_to("check_ok")
    p = nagios.validate(str(allowed / "check_alias"), {}, [str(allowed)])
    assert p._path == str(allowed / "check_ok")


def test_nagios_allowed_dir_reached_through_a_symlink(allowed: Path, tmp_path: Path) -> None:
    (tmp_path / "via").symlink_to(allowed)
    nagios.validate(str(tmp_path / "via" / "check_ok"), {}, [str(tmp_path / "via")])
    nagios.validate(str(allowed / "check_ok"), {}, [str(tmp_path / "via")])


def test_nagios_refuses_the_directory_itself_and_a_sibling_prefix(allowed: Path) -> None:
    _plugin(allowed.parent / "plugins-evil" / "check_x")
    with pytest.raises(ValueError, match="outside"):
        nagios.validate(str(allowed.parent / "plugins-evil" / "check_x"), {}, [str(allowed)])
    with pytest.raises(ValueError, match="outside"):
        nagios.validate(str(allowed), {}, [str(allowed)])


def test_nagios_refuses_missing_and_not_executable(allowed: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        nagios.validate(str(allowed / "check_gone"), {}, [str(allowed)])
    _plugin(allowed / "check_noexec", mode=0o644)
    with pytest.raises(ValueError, match="not executable"):
        nagios.validate(str(allowed / "check_noexec"), {}, [str(allowed)])
    (allowed / "subdir").mkdir()
    with pytest.raises(ValueError, match="not a regular file"):
        nagios.validate(str(allowed / "subdir"), {}, [str(allowed)])


def test_nagios_refuses_relative_paths_and_bad_args(allowed: Path) -> None:
    with pytest.raises(ValueError, match="must be absolute"):
        nagios.validate("plugins/check_ok", {}, [str(allowed)])
    with pytest.raises(ValueError, match="NUL"):
        nagios.validate(str(allowed / "check_ok"), {"args": ["a\0b"]}, [str(allowed)])
    with pytest.raises(ValueError, match="list"):
        nagios.validate(str(allowed / "check_ok"), {"args": "-w 1"}, [str(allowed)])


def test_nagios_check_definition_cannot_widen_allowed_dirs(allowed: Path) -> None:
    """Whoever may define checks must not get to choose which programs may run."""
    with pytest.raises(ValueError, match="Extra inputs"):
        nagios.validate(str(allowed / "check_ok"), {"allowed_dirs": ["/"]}, [str(allowed)])


def test_nagios_default_dirs_hold_debian_plugins_and_nothing_else() -> None:
    if not Path("/usr/lib/nagios/plugins/check_disk").exists():
        pytest.skip("monitoring-plugins not installed (/usr/lib/nagios/plugins/check_disk)")
    nagios.validate("/usr/lib/nagios/plugins/check_disk", {})
    nagios.validate("check_tcp", {})
    with pytest.raises(ValueError, match="outside the allowed directories"):
        nagios.validate("/bin/sh", {})
    with pytest.raises(ValueError, match="outside the allowed directories"):
        nagios.validate("/usr/lib/nagios/plugins/../../../bin/sh", {})

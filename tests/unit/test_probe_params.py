"""validate() of the tcp, http, tls and prometheus probes: bad definitions get a clear reason."""

from __future__ import annotations

from typing import Any

import pytest

from forewarn.probes import http, prometheus, tcp, tls

# --- tcp -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "host", "port"),
    [
        ("127.0.0.1:22", "127.0.0.1", 22),
        ("mail.example.com:25", "mail.example.com", 25),
        ("[::1]:443", "::1", 443),
        ("[fe80::1%eth0]:22", "fe80::1%eth0", 22),
        (" db:5432 ", "db", 5432),
    ],
)
def test_tcp_targets(target: str, host: str, port: int) -> None:
    tcp.validate(target, {})
    assert tcp.split_host_port(target) == (host, port)


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("", "empty target"),
        ("example.com", "missing port"),
        ("example.com:0", "port must be a number from 1 to 65535"),
        ("example.com:65536", "port must be a number from 1 to 65535"),
        ("example.com:http", "port must be a number"),
        ("::1:443", r"IPv6 address in brackets, e\.g\. \[::1\]:443"),
        ("[::1:443", "missing '\\]'"),
        ("[example.com]:443", "is not an IPv6 address"),
        ("[::1]443", "expected ':port' after"),
        ("exa mple.com:80", "is not a host name or address"),
        ("http://example.com:80", "expected host:port, not a URL"),
    ],
)
def test_tcp_bad_targets(target: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        tcp.validate(target, {})


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"warn": "fast"}, r"threshold range 'fast': 'fast' is not a number"),
        ({"crit": "5:1"}, "start 5 is above end 1"),
        ({"read_bytes": 0}, "greater than or equal to 1"),
        ({"read_bytes": 10 << 20}, "less than or equal to"),
        ({"expect": ""}, "must not be empty"),
        ({"expext": "SSH"}, "expext\n  Extra inputs are not permitted"),
    ],
)
def test_tcp_bad_params(params: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        tcp.validate("127.0.0.1:22", params)


def test_tcp_params_are_ready_to_run() -> None:
    p = tcp.validate("h:1", {"send": "QUIT\r\n", "expect": "220", "warn": "1", "crit": "2"})
    assert (p.send_bytes, p.expect_bytes, p.read_bytes) == (b"QUIT\r\n", b"220", 4096)
    assert p.thresholds.warn is not None and p.thresholds.warn.high == 1


# --- http ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://example.com", "https://127.0.0.1:8443/x?y=1", "http://[::1]/", "HTTPS://A.B/"]
)
def test_http_urls(url: str) -> None:
    http.validate(url, {})


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "must be non-empty"),
        ("ftp://example.com/", "scheme must be http or https"),
        ("example.com", "scheme must be http or https"),
        ("http://", "no host name"),
        ("https:///path", "no host name"),
        ("http://example.com:99999/", "port|cannot be read"),
        ("http://exa mple.com/", "contain no spaces"),
    ],
)
def test_http_bad_urls(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        http.validate(url, {})


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"method": "DELETE"}, "Input should be 'GET', 'HEAD' or 'POST'"),
        ({"expect_status": [200, 700]}, r"not HTTP status codes: \[700\]"),
        ({"expect_status": []}, "give at least one status code"),
        ({"expect_status": "200,abc"}, "valid integer"),
        ({"warn_time": "slow"}, "threshold range 'slow'"),
        ({"crit_time": "@"}, "threshold range"),
        ({"body": "x=1"}, "a request body needs method POST"),
        ({"basic_auth_password": "pw"}, "basic_auth_password given without basic_auth_user"),
        ({"basic_auth_user": "a:b"}, "contain no ':'"),
        ({"headers": {"Bad Name": "x"}}, "is not a valid header name"),
        ({"headers": {"X-A": "1\r\nX-B: 2"}}, "must not contain line breaks"),
        (
            {"headers": {"authorization": "Bearer x"}, "basic_auth_user": "u"},
            "either basic_auth_user or an Authorization header",
        ),
        ({"max_body": -1}, "greater than or equal to 0"),
        ({"max_body": 1 << 30}, "less than or equal to"),
        ({"keyword": ""}, "must not be empty"),
        ({"follow": True}, "follow\n  Extra inputs are not permitted"),
    ],
)
def test_http_bad_params(params: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        http.validate("https://example.com/", params)


def test_http_params_defaults_and_conveniences() -> None:
    p = http.validate("https://example.com/", {})
    assert (p.method, p.expect_status, p.follow_redirects, p.verify_tls) == (
        "GET",
        None,
        True,
        True,
    )
    assert p.max_body == 1 << 20
    p = http.validate(
        "https://example.com/",
        {
            "method": "post",
            "expect_status": "200, 301",
            "basic_auth_user": "u",
            "basic_auth_password": "p",
            "verify_tls": False,
            "body": "x",
        },
    )
    assert (p.method, p.expect_status) == ("POST", (200, 301))
    options = p.request_options
    assert options["headers"] == {"Authorization": "Basic dTpw"}
    assert options["ssl"] is False and options["data"] == b"x"
    secret = http.validate(
        "https://example.com/", {"basic_auth_user": "u", "basic_auth_password": "hunter2"}
    )
    assert "hunter2" not in repr(secret)  # a logged Params does not show the password


# --- tls -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "host", "port"),
    [
        ("example.com", "example.com", 443),
        ("example.com:8443", "example.com", 8443),
        ("[::1]:993", "::1", 993),
        ("[::1]", "::1", 443),
        ("::1", "::1", 443),
        ("127.0.0.1", "127.0.0.1", 443),
    ],
)
def test_tls_targets(target: str, host: str, port: int) -> None:
    tls.validate(target, {})
    assert tls.host_port(target) == (host, port)


@pytest.mark.parametrize(
    ("target", "reason"),
    [("", "empty target"), ("example.com:0", "port must be"), ("a b", "not a host name")],
)
def test_tls_bad_targets(target: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        tls.validate(target, {})


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"warn_days": 5, "crit_days": 10}, r"crit_days \(10\) must not be above warn_days \(5\)"),
        ({"warn_days": -1}, "greater than or equal to 0"),
        ({"min_version": "SSLv3"}, "Input should be 'TLSv1', 'TLSv1.1', 'TLSv1.2' or 'TLSv1.3'"),
        ({"server_name": "a b"}, "is not a host name"),
        ({"ca_file": " "}, "must not be empty"),
        ({"days": 3}, "days\n  Extra inputs are not permitted"),
    ],
)
def test_tls_bad_params(params: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        tls.validate("example.com", params)


@pytest.mark.parametrize(
    ("given", "version"),
    [("1.2", "TLSv1.2"), ("tls1.3", "TLSv1.3"), ("TLSv1", "TLSv1"), ("1.0", "TLSv1")],
)
def test_tls_min_version_spellings(given: str, version: str) -> None:
    assert tls.validate("example.com", {"min_version": given}).min_version == version


def test_tls_defaults_and_threshold_ranges() -> None:
    p = tls.validate("example.com", {})
    assert (p.warn_days, p.crit_days, p.min_version, p.verify_chain) == (21, 7, "TLSv1.2", True)
    assert p.thresholds.warn is not None and p.thresholds.warn.alerts(20.9)
    assert not p.thresholds.warn.alerts(21)


# --- prometheus ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "name", "labels"),
    [
        ("up", "up", {}),
        ("  node:load:avg  ", "node:load:avg", {}),
        ('up{job="node"}', "up", {"job": "node"}),
        ('up{ job = "node" , instance="a:9100", }', "up", {"job": "node", "instance": "a:9100"}),
        (
            r'x{path="C:\\dir",q="say \"hi\"",n="a\nb"}',
            "x",
            {"path": "C:\\dir", "q": 'say "hi"', "n": "a\nb"},
        ),
        ("up{}", "up", {}),
    ],
)
def test_prometheus_selectors(query: str, name: str, labels: dict[str, str]) -> None:
    assert prometheus.parse_selector(query) == (name, labels)
    prometheus.validate("http://127.0.0.1:9100/metrics", {"query": query})


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "must start with a metric name"),
        ("9lives", "must start with a metric name"),
        ('{job="node"}', "must start with a metric name"),
        ("up{job=node}", r'expected label="value"'),
        ('up{job="node"', "expected ',' or '}'"),
        ('up{job=~"no.*"}', r"only exact matches label=\"value\" are supported, not '=~'"),
        ('up{job!="x"}', "not '!='"),
        ('up{job="a",job="b"}', "label 'job' given twice"),
        ("up junk", "unexpected 'junk' after the metric name"),
        ('up{job="a"} junk', "unexpected 'junk' after '}'"),
        ("rate(up[5m])", "unexpected"),
    ],
)
def test_prometheus_bad_queries(query: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        prometheus.validate("http://127.0.0.1:9100/metrics", {"query": query})


@pytest.mark.parametrize(
    ("target", "params", "reason"),
    [
        ("ftp://x/metrics", {"query": "up"}, "scheme must be http or https"),
        ("http://x/metrics", {}, "query\n  Field required"),
        ("http://x/metrics", {"query": "up", "aggregate": "avg"}, "'max', 'min', 'sum' or 'count'"),
        ("http://x/metrics", {"query": "up", "missing": "ok"}, "'unknown' or 'critical'"),
        ("http://x/metrics", {"query": "up", "warn": "high"}, "threshold range 'high'"),
        ("http://x/metrics", {"query": "up", "max_body": 0}, "greater than or equal to 1"),
        ("http://x/metrics", {"query": "up", "labels": {}}, "Extra inputs are not permitted"),
    ],
)
def test_prometheus_bad_params(target: str, params: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        prometheus.validate(target, params)


def test_prometheus_metric_name_is_the_normalised_series() -> None:
    p = prometheus.validate(
        "http://x/metrics", {"query": 'up{ job = "a\\"b" }', "aggregate": "MAX"}
    )
    assert (p.aggregate, p.metric_name) == ("max", 'up{job="a\\"b"}')
    p = prometheus.validate("http://x/metrics", {"query": "up", "aggregate": "count"})
    assert p.metric_name == "count(up)"

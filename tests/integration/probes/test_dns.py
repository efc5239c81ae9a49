"""The DNS probe against a real resolver (dnsmasq on 127.0.0.1) and one that never answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from forewarn.domain.observation import Result, Status
from forewarn.probes import dns

from ._dns_server import dnsmasq, dnsmasq_available, silent_resolver

pytestmark = pytest.mark.slow

RECORDS = [
    "--local=/test/",  # names under .test that are not below do not exist: NXDOMAIN
    "--address=/app.test/10.9.8.7",
    "--host-record=host.test,10.0.0.5,fd00::5",
    "--txt-record=app.test,v=spf1 -all",
    "--mx-host=app.test,mail.app.test,10",
    "--cname=www.test,host.test",
    "--srv-host=_sip._tcp.app.test,sip.app.test,5060,0,5",
]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    if not dnsmasq_available():
        pytest.skip("dnsmasq is not installed (/usr/sbin/dnsmasq, Debian package dnsmasq-base)")
    with dnsmasq(RECORDS, ready_name="app.test") as port:
        yield f"127.0.0.1:{port}"


def check(target: str, timeout: float = 3, **params: Any) -> Result:
    p = dns.validate(target, params)
    return asyncio.run(dns.run(target, p, timeout))


def test_a_record_with_time_metric(server: str) -> None:
    r = check("app.test", server=server)
    assert r.status is Status.OK, r.message
    assert "10.9.8.7" in r.message
    [metric] = r.metrics
    assert metric.name == "time" and metric.unit == "s"
    assert 0 < metric.value < 3


@pytest.mark.parametrize(
    ("name", "rtype", "expect"),
    [
        ("app.test", "A", ["10.9.8.7"]),
        ("host.test", "AAAA", ["fd00:0::5"]),  # compared as addresses, not as text
        ("www.test", "CNAME", ["host.test"]),  # with or without the final dot
        ("app.test", "MX", ["mail.app.test."]),
        ("app.test", "MX", ["10 mail.app.test"]),
        ("app.test", "TXT", ["v=spf1 -all"]),
        ("_sip._tcp.app.test", "SRV", ["sip.app.test"]),
        ("10.0.0.5", "PTR", ["HOST.test"]),  # an address becomes its reverse name
    ],
)
def test_expected_answers_present(server: str, name: str, rtype: str, expect: list[str]) -> None:
    r = check(name, server=server, type=rtype, expect=expect)
    assert r.status is Status.OK, r.message


def test_expected_answer_missing_says_what_was_found(server: str) -> None:
    r = check("app.test", server=server, expect=["10.9.8.7", "10.0.0.1"])
    assert r.status is Status.CRITICAL
    assert "10.0.0.1" in r.message and "got 10.9.8.7" in r.message
    assert r.metrics[0].name == "time"


def test_nxdomain_is_critical(server: str) -> None:
    r = check("nothing.test", server=server)
    assert r.status is Status.CRITICAL
    assert "NXDOMAIN" in r.message


def test_no_record_of_that_type_is_critical(server: str) -> None:
    r = check("app.test", server=server, type="AAAA")
    assert r.status is Status.CRITICAL
    assert "no AAAA record" in r.message


def test_refused_query_is_critical(server: str) -> None:
    # dnsmasq has no upstream servers, so it refuses names outside its own data.
    r = check("example.org", server=server)
    assert r.status is Status.CRITICAL
    assert "REFUSED" in r.message


def test_response_time_thresholds(server: str) -> None:
    r = check("app.test", server=server, warn_time="@0:10")  # any time warns
    assert r.status is Status.WARNING
    assert r.metrics[0].warn == "@0:10"
    r = check("app.test", server=server, warn_time="@0:10", crit_time="@0:10")
    assert r.status is Status.CRITICAL


def test_silent_resolver_times_out_within_the_timeout() -> None:
    with silent_resolver() as port:
        start = time.monotonic()
        r = check("app.test", timeout=1, server=f"127.0.0.1:{port}")
        took = time.monotonic() - start
    assert r.status is Status.CRITICAL
    assert r.message == f"app.test A: no answer from 127.0.0.1:{port} in 1 s"
    assert took < 1 + 0.5  # the timeout, and room for a busy machine


def test_run_on_a_bad_name_is_a_result_not_an_exception() -> None:
    # validate() refuses it; a caller that skipped validate still gets a Result.
    r = asyncio.run(dns.run("a..b", dns.Params(), 1))
    assert r.status is Status.UNKNOWN
    assert "not a valid DNS name" in r.message

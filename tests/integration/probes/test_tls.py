"""The tls probe against TLS servers on 127.0.0.1 with certificates made by the test."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from forewarn.domain.observation import Result, Status
from forewarn.probes import tls

from ._tls_certs import Pair, TestPKI
from ._web_servers import loop_thread, refused_port, silent_port

MARGIN = 0.5


async def _hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def _ssh(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"SSH-2.0-not-tls\r\n")
    await writer.drain()
    writer.close()


@dataclass
class Site:
    port: int
    pair: Pair


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return TestPKI(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def sites(pki: TestPKI) -> Iterator[dict[str, Site]]:
    pairs = {
        "valid": (pki.leaf("valid", days=30), ssl.TLSVersion.TLSv1_2),
        "soon": (pki.leaf("soon", days=10.5), ssl.TLSVersion.TLSv1_2),
        "very-soon": (pki.leaf("very-soon", days=3.5), ssl.TLSVersion.TLSv1_2),
        "expired": (pki.leaf("expired", expired_days_ago=5), ssl.TLSVersion.TLSv1_2),
        "wrong-host": (pki.leaf("wrong-host", ("other.example",)), ssl.TLSVersion.TLSv1_2),
        "self-signed": (pki.leaf("self-signed", self_signed=True), ssl.TLSVersion.TLSv1_2),
        "expired-self-signed": (
            pki.leaf("expired-self", expired_days_ago=2, self_signed=True),
            ssl.TLSVersion.TLSv1_2,
        ),
        "legacy": (pki.leaf("legacy"), ssl.TLSVersion.TLSv1),
    }
    with loop_thread() as lt:
        out = {
            name: Site(lt.serve(_hold, pair.server_context(oldest=oldest)), pair)
            for name, (pair, oldest) in pairs.items()
        }
        out["ssh"] = Site(lt.serve(_ssh), pairs["valid"][0])
        yield out


def check(target: str, timeout: float = 2, **params: Any) -> Result:
    return asyncio.run(tls.run(target, tls.validate(target, params), timeout))


def trusted(site: Site, pki: TestPKI, timeout: float = 2, **params: Any) -> Result:
    params.setdefault("server_name", "localhost")
    return check(f"127.0.0.1:{site.port}", timeout, ca_file=str(pki.ca_file), **params)


def days_left(r: Result) -> float:
    (m,) = [m for m in r.metrics if m.name == "days_left"]
    return m.value


def test_valid_certificate_from_a_trusted_ca(sites: dict[str, Site], pki: TestPKI) -> None:
    r = trusted(sites["valid"], pki)
    assert r.status is Status.OK, r.message
    assert r.message.startswith("TLSv1.3, certificate valid until ")
    assert f"{sites['valid'].pair.not_after:%Y-%m-%d}" in r.message
    assert 29.9 < days_left(r) <= 30
    (m,) = r.metrics
    assert (m.warn, m.crit) == ("21:", "7:")
    assert "issuer: CN=Forewarn Test CA" in r.details


def test_ip_address_target_matches_the_ip_in_the_certificate(
    sites: dict[str, Site], pki: TestPKI
) -> None:
    r = trusted(sites["valid"], pki, server_name=None)
    assert r.status is Status.OK, r.message


def test_days_left_follow_warn_and_crit_days(sites: dict[str, Site], pki: TestPKI) -> None:
    soon = trusted(sites["soon"], pki)
    assert soon.status is Status.WARNING
    assert soon.message.startswith("certificate expires in 10 days on ")
    assert 10.4 < days_left(soon) <= 10.5
    very_soon = trusted(sites["very-soon"], pki)
    assert very_soon.status is Status.CRITICAL
    assert very_soon.message.startswith("certificate expires in 3 days on ")
    relaxed = trusted(sites["very-soon"], pki, warn_days=3, crit_days=1)
    assert relaxed.status is Status.OK, relaxed.message


def test_expired_certificate_says_when(sites: dict[str, Site], pki: TestPKI) -> None:
    r = trusted(sites["expired"], pki)
    assert r.status is Status.CRITICAL
    expired_on = f"{sites['expired'].pair.not_after:%Y-%m-%d}"
    assert r.message.startswith(f"certificate expired on {expired_on} (5 days ago)"), r.message
    assert "not trusted" not in r.message  # OpenSSL's reason is the expiry itself
    assert -5.01 < days_left(r) < -4.99


def test_wrong_host_name(sites: dict[str, Site], pki: TestPKI) -> None:
    r = trusted(sites["wrong-host"], pki)
    assert r.status is Status.CRITICAL
    assert r.message.startswith("certificate not valid for localhost (valid for other.example)"), (
        r.message
    )
    ignored = trusted(sites["wrong-host"], pki, verify_host=False)
    assert ignored.status is Status.OK, ignored.message


def test_self_signed_certificate_is_not_trusted(sites: dict[str, Site], pki: TestPKI) -> None:
    r = trusted(sites["self-signed"], pki)
    assert r.status is Status.CRITICAL
    assert r.message.startswith("certificate not trusted: self-signed certificate"), r.message
    assert 59 < days_left(r) <= 60  # the certificate was read all the same
    unchecked = trusted(sites["self-signed"], pki, verify_chain=False)
    assert unchecked.status is Status.OK, unchecked.message


def test_expired_and_self_signed_says_both(sites: dict[str, Site], pki: TestPKI) -> None:
    r = trusted(sites["expired-self-signed"], pki)
    assert r.status is Status.CRITICAL
    expired_on = f"{sites['expired-self-signed'].pair.not_after:%Y-%m-%d}"
    assert f"certificate expired on {expired_on}" in r.message
    assert "certificate not trusted: self-signed certificate" in r.message


def test_unknown_ca_without_ca_file(sites: dict[str, Site]) -> None:
    r = check(f"127.0.0.1:{sites['valid'].port}", server_name="localhost")
    assert r.status is Status.CRITICAL
    assert "certificate not trusted: unable to get local issuer certificate" in r.message


def test_server_still_accepting_tls_1_0_is_a_warning(sites: dict[str, Site], pki: TestPKI) -> None:
    r = trusted(sites["legacy"], pki)
    if tls._legacy_context(ssl.TLSVersion.TLSv1_1) is None:
        # This machine's OpenSSL cannot offer TLS 1.0/1.1: the probe must say so, not guess.
        assert r.status is Status.OK
        assert "could not test for versions below TLSv1.2" in r.details
        return
    assert r.status is Status.WARNING, r.message
    assert "server still accepts TLSv1.1 (minimum wanted TLSv1.2)" in r.message
    assert trusted(sites["legacy"], pki, min_version="TLSv1").status is Status.OK
    # A TLS 1.2 server is fine by default, and too old for who asks for 1.3 at least.
    assert trusted(sites["valid"], pki).status is Status.OK
    strict = trusted(sites["valid"], pki, min_version="1.3")
    assert strict.status is Status.WARNING
    assert "server still accepts TLSv1.2 (minimum wanted TLSv1.3)" in strict.message


def test_refused_is_critical() -> None:
    with refused_port() as port:
        r = check(f"127.0.0.1:{port}")
    assert (r.status, r.message) == (Status.CRITICAL, "connection refused")


def test_silent_server_times_out_on_time() -> None:
    with silent_port() as port:
        started = time.perf_counter()
        r = check(f"127.0.0.1:{port}", timeout=0.3)
        took = time.perf_counter() - started
    assert (r.status, r.message) == (Status.CRITICAL, "timed out after 0.3 s")
    assert took < 0.3 + MARGIN


def test_not_tls_at_all(sites: dict[str, Site]) -> None:
    r = check(f"127.0.0.1:{sites['ssh'].port}")
    assert r.status is Status.CRITICAL
    assert r.message.startswith("TLS handshake failed: "), r.message


def test_unreadable_ca_file_is_unknown(sites: dict[str, Site], tmp_path: Path) -> None:
    r = check(f"127.0.0.1:{sites['valid'].port}", ca_file=str(tmp_path / "missing.pem"))
    assert r.status is Status.UNKNOWN
    assert r.message.startswith("cannot load ca_file ")


def test_days_left_uses_the_probe_clock(
    sites: dict[str, Site], pki: TestPKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe judges dates by forewarn's clock: 20 days on, 10 are left: a warning."""
    from datetime import timedelta

    from forewarn.domain.clock import ManualClock

    monkeypatch.setattr(tls, "clock", ManualClock(datetime.now(UTC) + timedelta(days=20)))
    r = trusted(sites["valid"], pki)
    assert r.status is Status.WARNING
    assert 9.9 < days_left(r) <= 10

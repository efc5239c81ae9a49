"""The tcp and http probes against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from forewarn.domain.observation import Result, Status
from forewarn.probes import http, tcp
from forewarn.probes.http_client import USER_AGENT, make_session

from ._tls_certs import TestPKI
from ._web_servers import (
    BIG_SIZE,
    PASSWORD,
    USER,
    WELCOME,
    demo_site,
    loop_thread,
    refused_port,
    silent_port,
)

MARGIN = 0.5  # seconds a timed-out probe may take beyond its timeout


# --- servers -------------------------------------------------------------------------------


async def _banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"SSH-2.0-forewarn-test\r\n")
    await writer.drain()
    writer.close()


async def _ping_pong(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    line = await reader.readline()
    writer.write(b"PONG\n" if line == b"PING\n" else b"WHAT?\n")
    await writer.drain()
    writer.close()


async def _chatty(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """10 kB of noise before the word a probe is looking for."""
    writer.write(b"x" * 10_000 + b"MAGIC\n")
    await writer.drain()
    writer.close()


async def _mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    pki = TestPKI(tmp_path_factory.mktemp("pki"))
    self_signed = pki.leaf("self", self_signed=True)
    with loop_thread() as lt:
        yield {
            "web": lt.serve_app(demo_site()),
            "https": lt.serve_app(demo_site(), self_signed.server_context()),
            "banner": lt.serve(_banner),
            "pingpong": lt.serve(_ping_pong),
            "chatty": lt.serve(_chatty),
            "mute": lt.serve(_mute),
        }


def check_tcp(target: str, timeout: float = 2, **params: Any) -> Result:
    return asyncio.run(tcp.run(target, tcp.validate(target, params), timeout))


def check_http(url: str, timeout: float = 2, shared: bool = True, **params: Any) -> Result:
    """Run the http probe, with a session made by the caller (as the poller does) or without."""
    p = http.validate(url, params)

    async def go() -> Result:
        if not shared:
            return await http.run(url, p, timeout)
        async with make_session() as session:
            return await http.run(url, p, timeout, session=session)

    return asyncio.run(go())


def metrics(r: Result) -> dict[str, Any]:
    return {m.name: m for m in r.metrics}


# --- tcp -----------------------------------------------------------------------------------


def test_tcp_connects_and_measures(servers: dict[str, int]) -> None:
    r = check_tcp(f"127.0.0.1:{servers['web']}")
    assert r.status is Status.OK, r.message
    assert r.message.startswith("connected in ")
    t = metrics(r)["time"]
    assert t.unit == "s" and 0 < t.value < 1


def test_tcp_expect_finds_the_banner(servers: dict[str, int]) -> None:
    r = check_tcp(f"127.0.0.1:{servers['banner']}", expect="SSH-2.0")
    assert r.status is Status.OK, r.message
    assert 'answer contains "SSH-2.0"' in r.message


def test_tcp_expect_missing_is_critical_and_shows_the_answer(servers: dict[str, int]) -> None:
    r = check_tcp(f"127.0.0.1:{servers['banner']}", expect="220 ")
    assert r.status is Status.CRITICAL
    assert r.message.startswith('expected "220 " not found in answer ')
    assert "SSH-2.0-forewarn-test" in r.message
    assert "time" in metrics(r)


def test_tcp_send_then_expect(servers: dict[str, int]) -> None:
    ok = check_tcp(f"127.0.0.1:{servers['pingpong']}", send="PING\n", expect="PONG")
    assert ok.status is Status.OK, ok.message
    bad = check_tcp(f"127.0.0.1:{servers['pingpong']}", send="HELLO\n", expect="PONG")
    assert bad.status is Status.CRITICAL
    assert "WHAT?" in bad.message


def test_tcp_reads_no_more_than_read_bytes(servers: dict[str, int]) -> None:
    target = f"127.0.0.1:{servers['chatty']}"
    assert check_tcp(target, expect="MAGIC", read_bytes=20_000).status is Status.OK
    r = check_tcp(target, expect="MAGIC", read_bytes=4096)
    assert r.status is Status.CRITICAL
    assert "not found" in r.message


def test_tcp_server_that_closes_without_a_word(servers: dict[str, int]) -> None:
    r = check_tcp(f"127.0.0.1:{servers['mute']}", expect="hello")
    assert r.status is Status.CRITICAL
    assert r.message == 'expected "hello", the server sent nothing'


def test_tcp_refused_is_critical() -> None:
    with refused_port() as port:
        r = check_tcp(f"127.0.0.1:{port}")
    assert (r.status, r.message) == (Status.CRITICAL, "connection refused")


def test_tcp_silent_server_times_out_on_time() -> None:
    with silent_port() as port:
        started = time.perf_counter()
        r = check_tcp(f"127.0.0.1:{port}", timeout=0.3, expect="hello")
        took = time.perf_counter() - started
    assert r.status is Status.CRITICAL
    assert r.message == 'timed out after 0.3 s waiting for "hello"'
    assert took < 0.3 + MARGIN


def test_tcp_thresholds_set_the_state(servers: dict[str, int]) -> None:
    target = f"127.0.0.1:{servers['web']}"
    # `@0:100` alerts inside 0..100 s: any real connection time breaches it.
    warn = check_tcp(target, warn="@0:100")
    assert warn.status is Status.WARNING
    assert "breaches warning threshold @0:100" in warn.message
    crit = check_tcp(target, warn="@0:100", crit="@0:100")
    assert crit.status is Status.CRITICAL
    assert (metrics(crit)["time"].warn, metrics(crit)["time"].crit) == ("@0:100", "@0:100")
    assert check_tcp(target, warn="10", crit="20").status is Status.OK


def test_tcp_ipv6_loopback_target() -> None:
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    with s:
        s.listen()
        r = check_tcp(f"[::1]:{s.getsockname()[1]}")
    assert r.status is Status.OK, r.message


# --- http ----------------------------------------------------------------------------------


def test_http_ok_with_metrics(servers: dict[str, int]) -> None:
    r = check_http(f"http://127.0.0.1:{servers['web']}/")
    assert r.status is Status.OK, r.message
    assert r.message.startswith("HTTP 200 OK in ")
    m = metrics(r)
    assert m["size"].value == len(WELCOME) and m["size"].unit == "B"
    assert m["time"].unit == "s" and 0 < m["time"].value < 1


def test_http_without_a_session_makes_its_own(servers: dict[str, int]) -> None:
    r = check_http(f"http://127.0.0.1:{servers['web']}/", shared=False, keyword="Welcome")
    assert r.status is Status.OK, r.message


def test_http_keyword_present_and_absent(servers: dict[str, int]) -> None:
    url = f"http://127.0.0.1:{servers['web']}/"
    assert check_http(url, keyword="Welcome").status is Status.OK
    missing = check_http(url, keyword="Goodbye")
    assert missing.status is Status.CRITICAL
    assert 'keyword "Goodbye" not found' in missing.message
    unwanted = check_http(url, keyword_absent="Welcome")
    assert unwanted.status is Status.CRITICAL
    assert 'keyword "Welcome" found, it must be absent' in unwanted.message
    assert check_http(url, keyword_absent="Traceback").status is Status.OK


def test_http_keyword_in_the_page_charset(servers: dict[str, int]) -> None:
    r = check_http(f"http://127.0.0.1:{servers['web']}/latin1", keyword="Grüße")
    assert r.status is Status.OK, r.message


def test_http_error_status_is_critical(servers: dict[str, int]) -> None:
    r = check_http(f"http://127.0.0.1:{servers['web']}/status/503")
    assert r.status is Status.CRITICAL
    assert r.message.startswith("HTTP 503 Service Unavailable in ")


def test_http_expected_status(servers: dict[str, int]) -> None:
    base = f"http://127.0.0.1:{servers['web']}/status"
    assert check_http(f"{base}/404", expect_status=[404]).status is Status.OK
    r = check_http(f"{base}/201", expect_status=[200, 204])
    assert r.status is Status.CRITICAL
    assert r.message.endswith("; expected status 200, 204")


def test_http_follows_a_redirect_chain(servers: dict[str, int]) -> None:
    port = servers["web"]
    r = check_http(f"http://127.0.0.1:{port}/redirect/3", keyword="Welcome")
    assert r.status is Status.OK, r.message
    assert " after 3 redirects" in r.message
    assert f"final URL http://127.0.0.1:{port}/" in r.details


def test_http_redirect_not_followed_is_still_ok(servers: dict[str, int]) -> None:
    r = check_http(f"http://127.0.0.1:{servers['web']}/redirect/3", follow_redirects=False)
    assert r.status is Status.OK
    assert r.message.startswith("HTTP 302 Found")
    no = check_http(
        f"http://127.0.0.1:{servers['web']}/redirect/3", follow_redirects=False, expect_status=[200]
    )
    assert no.status is Status.CRITICAL


def test_http_redirect_loop_is_critical(servers: dict[str, int]) -> None:
    r = check_http(f"http://127.0.0.1:{servers['web']}/loop")
    assert r.status is Status.CRITICAL
    assert r.message == "too many redirects (more than 10)"


def test_http_basic_auth(servers: dict[str, int]) -> None:
    url = f"http://127.0.0.1:{servers['web']}/auth"
    refused = check_http(url)
    assert refused.status is Status.CRITICAL
    assert refused.message.startswith("HTTP 401 Unauthorized")
    ok = check_http(url, basic_auth_user=USER, basic_auth_password=PASSWORD, keyword="secret")
    assert ok.status is Status.OK, ok.message
    wrong = check_http(url, basic_auth_user=USER, basic_auth_password="guess")
    assert wrong.status is Status.CRITICAL


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
def test_http_reads_no_more_than_max_body(servers: dict[str, int], path: str) -> None:
    url = f"http://127.0.0.1:{servers['web']}{path}"
    r = check_http(url, keyword="NEEDLE")
    assert r.status is Status.CRITICAL
    assert f'keyword "NEEDLE" not found in the first {1 << 20} B' in r.message
    assert metrics(r)["size"].value == 1 << 20
    assert "body larger than max_body" in r.details
    whole = check_http(url, keyword="NEEDLE", max_body=4 << 20)
    assert whole.status is Status.OK, whole.message
    assert metrics(whole)["size"].value == BIG_SIZE


def test_http_compressed_body_is_bounded_after_inflating(servers: dict[str, int]) -> None:
    r = check_http(f"http://127.0.0.1:{servers['web']}/gzip-bomb", max_body=65536)
    assert r.status is Status.OK, r.message
    assert metrics(r)["size"].value == 65536
    assert "body larger than max_body" in r.details


def test_http_head_and_post(servers: dict[str, int]) -> None:
    port = servers["web"]
    head = check_http(f"http://127.0.0.1:{port}/", method="HEAD")
    assert head.status is Status.OK, head.message
    assert metrics(head)["size"].value == 0
    post = check_http(
        f"http://127.0.0.1:{port}/echo", method="post", body="hello=world", keyword="hello=world"
    )
    assert post.status is Status.OK, post.message
    assert check_http(f"http://127.0.0.1:{port}/echo", keyword="POST").status is Status.CRITICAL


def test_http_sends_our_user_agent_and_extra_headers(servers: dict[str, int]) -> None:
    url = f"http://127.0.0.1:{servers['web']}/echo"
    assert check_http(url, keyword=f"User-Agent: {USER_AGENT}").status is Status.OK
    r = check_http(url, headers={"X-Probe": "yes"}, keyword="X-Probe: yes")
    assert r.status is Status.OK, r.message


def test_http_response_time_thresholds(servers: dict[str, int]) -> None:
    url = f"http://127.0.0.1:{servers['web']}/"
    r = check_http(url, warn_time="@0:100")
    assert r.status is Status.WARNING
    assert "response time breaches warning threshold @0:100" in r.message
    assert check_http(url, crit_time="@0:100").status is Status.CRITICAL
    assert check_http(url, warn_time="5", crit_time="10").status is Status.OK


def test_http_refused_is_critical() -> None:
    with refused_port() as port:
        r = check_http(f"http://127.0.0.1:{port}/")
    assert (r.status, r.message) == (Status.CRITICAL, "connection refused")


def test_http_silent_server_times_out_on_time() -> None:
    with silent_port() as port:
        started = time.perf_counter()
        r = check_http(f"http://127.0.0.1:{port}/", timeout=0.3)
        took = time.perf_counter() - started
    assert (r.status, r.message) == (Status.CRITICAL, "timed out after 0.3 s")
    assert took < 0.3 + MARGIN


def test_http_slow_handler_times_out_on_time(servers: dict[str, int]) -> None:
    started = time.perf_counter()
    r = check_http(f"http://127.0.0.1:{servers['web']}/slow", timeout=0.3, shared=False)
    assert (r.status, r.message) == (Status.CRITICAL, "timed out after 0.3 s")
    assert time.perf_counter() - started < 0.3 + MARGIN


def test_http_not_http_at_all_is_critical(servers: dict[str, int]) -> None:
    r = check_http(f"http://127.0.0.1:{servers['banner']}/")
    assert r.status is Status.CRITICAL
    assert r.message.startswith("invalid HTTP response"), r.message


def test_https_with_an_untrusted_certificate(servers: dict[str, int]) -> None:
    url = f"https://127.0.0.1:{servers['https']}/"
    r = check_http(url)
    assert r.status is Status.CRITICAL
    assert r.message.startswith("TLS certificate not accepted: "), r.message
    assert "self-signed" in r.message
    unchecked = check_http(url, verify_tls=False, keyword="Welcome")
    assert unchecked.status is Status.OK, unchecked.message


def test_validate_then_run_reuses_the_params(servers: dict[str, int]) -> None:
    """One Params serves many runs (the poller validates once): nothing in it is consumed."""
    url = f"http://127.0.0.1:{servers['web']}/echo"
    p = http.validate(url, {"method": "POST", "body": "x=1", "keyword": "x=1"})

    async def go() -> list[Result]:
        async with make_session() as session:
            return await asyncio.gather(*(http.run(url, p, 2, session=session) for _ in range(20)))

    assert {r.status for r in asyncio.run(go())} == {Status.OK}

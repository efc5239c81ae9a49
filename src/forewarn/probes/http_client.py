"""The project's one aiohttp client setup, shared by the HTTP probes and outbound webhooks.

One session is meant to live as long as the process (or the poller) and serve every request:
creating a session per request costs a connector, a resolver cache and a TLS context each time.
"""

from __future__ import annotations

import errno
import ssl
import sys

import aiohttp

USER_AGENT = "forewarn/0.1"

# The session's own default, for users that pass no per-request timeout (webhooks). Probes
# bound each run with deadline.limit and pass NO_TIMEOUT so that aiohttp arms no timers.
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=10)
NO_TIMEOUT = aiohttp.ClientTimeout()

# Pythons before 3.12.8 leak a TLS connection whose server never completes the shutdown; a
# poller meets many such servers. aiohttp then aborts them itself (and warns where not needed).
_CLEANUP_CLOSED = sys.version_info < (3, 12, 8) or (3, 13, 0) <= sys.version_info < (3, 13, 1)


def make_session(*, limit: int = 0) -> aiohttp.ClientSession:
    """A ClientSession with the settings every outbound HTTP call of ours uses.

    `limit` caps concurrent connections in total (0: no cap); there is never a per-host cap,
    because a poller checking fifty sites on one server must not queue behind itself.
    Cookies are never kept: one check must not see another's (or another tenant's) cookies.
    Must be called with an event loop running; close it with `await session.close()`.
    """
    connector = aiohttp.TCPConnector(
        limit=limit,
        limit_per_host=0,
        use_dns_cache=True,
        ttl_dns_cache=60,
        enable_cleanup_closed=_CLEANUP_CLOSED,
    )
    return aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": USER_AGENT},
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=DEFAULT_TIMEOUT,
        trust_env=False,
        raise_for_status=False,
    )


async def read_bounded(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """Read at most `limit` bytes of the (decoded) body; also say whether more was left unread.

    Content-Length is no bound: it counts compressed bytes, and a small gzip can inflate to
    gigabytes. Reading stops at `limit` whatever the headers say.
    """
    content = response.content
    parts: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await content.read(limit - size)
        if not chunk:
            return b"".join(parts), False
        parts.append(chunk)
        size += len(chunk)
        if content.at_eof():
            return b"".join(parts), False
    # Exactly `limit` bytes read: more is left if the stream goes on.
    more = not content.at_eof() and bool(await content.read(1))
    return b"".join(parts), more


def describe_error(exc: BaseException) -> str:
    """One line for people about why an HTTP request failed (no traceback, no repr noise)."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"cannot resolve host {exc.host}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert_error = exc.certificate_error
        reason = getattr(cert_error, "verify_message", None) or str(cert_error)
        return f"TLS certificate not accepted: {reason}"
    if isinstance(exc, aiohttp.ClientConnectorSSLError | aiohttp.ClientSSLError):
        return f"TLS handshake failed: {_ssl_reason(exc)}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _os_error_text(exc.os_error)
    if isinstance(exc, aiohttp.TooManyRedirects):
        return f"too many redirects (more than {len(exc.history)})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server closed the connection without answering"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"invalid HTTP response: {exc.message}"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"body cut short: {exc}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, OSError):
        return _os_error_text(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _ssl_reason(exc: BaseException) -> str:
    inner = getattr(exc, "os_error", None) or exc.__cause__ or exc
    if isinstance(inner, ssl.SSLError) and inner.reason:
        return inner.reason.replace("_", " ").lower()
    return str(inner)


_ERRNO_TEXT = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by peer",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "connection timed out",
}


def _os_error_text(exc: OSError) -> str:
    if exc.errno in _ERRNO_TEXT:
        return _ERRNO_TEXT[exc.errno]
    return exc.strerror or str(exc) or type(exc).__name__

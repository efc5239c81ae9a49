"""Talking to the server: enrolment and check-in, over the standard library's http.client.

Every failure ends in one of three exceptions, because the runner does one of three things:
- Refused: the server will never accept this batch (422, 413, 400) — quarantine it, go on.
- Unauthorized: the server does not know or no longer accepts this credential — stop.
- Retry: anything that may pass by itself (5xx, 429, timeouts, refused connections, TLS and
  proxy trouble) — keep the batch and try again later.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from forewarn.agent import AGENT_VERSION

if TYPE_CHECKING:
    import ssl

USER_AGENT = f"forewarn-agent/{AGENT_VERSION}"
TIMEOUT = 10.0
ENROLL_PATH = "/api/v1/agent/enroll"
CHECKIN_PATH = "/api/v1/agent/checkin"
JOBS_PATH = "/api/v1/agent/jobs"  # the long-poll fast path for jobs
# An answer is a few hundred bytes; refuse to hold more than this in memory.
MAX_ANSWER_BYTES = 1024 * 1024


class ClientError(Exception):
    """Base of the three outcomes; str() is a message fit for a log line."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Refused(ClientError):
    """The server refused this payload and always will."""


class Unauthorized(ClientError):
    """The server refused the credential (agent token, or enrolment token at enrolment)."""


class Retry(ClientError):
    """A failure that may pass; `retry_after` is the server's hint in seconds, if any."""

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


def enroll(
    server: str,
    token: str,
    facts: Mapping[str, str],
    *,
    ca_file: str | None = None,
    timeout: float = TIMEOUT,
) -> dict[str, Any]:
    """Exchange a one-time enrolment token for this agent's identity and credential.

    `facts` are hostname, machine_id, os and agent_version. Returns the EnrollAnswer dict.
    A bad, used or expired token raises Unauthorized.
    """
    body = json.dumps({"token": token, **facts}).encode("utf-8")
    client = Client(server, ca_file=ca_file, timeout=timeout)
    try:
        status, headers, data = client.post(ENROLL_PATH, body, {})
    finally:
        client.close()
    if status in (200, 201):
        answer = _json_object(data, "enrolment answer")
        missing = {"agent_id", "agent_token", "server_public_key"} - answer.keys()
        if missing:
            raise Retry(f"enrolment answer lacks {', '.join(sorted(missing))}", status)
        return answer
    if status in (401, 403, 404, 410):
        raise Unauthorized(f"enrolment token refused: {_problem(status, data)}", status)
    raise _classify(status, headers, data)


class Client:
    """One server, one credential; reuses its connection for a run of sends (close() after)."""

    def __init__(
        self,
        server: str,
        *,
        agent_token: str | None = None,
        ca_file: str | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        parts = urlsplit(server.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the server must be an http:// or https:// URL, not {server!r}")
        self.server = server
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._base = parts.path.rstrip("/")
        self._token = agent_token
        self._timeout = timeout
        self._tls = _tls_context(ca_file) if self._https else None
        self._conn: http.client.HTTPConnection | None = None

    def send(self, body_gzip: bytes) -> dict[str, Any]:
        """Check in one gzip-compressed batch; returns the BatchAnswer dict."""
        headers = {"Content-Encoding": "gzip"}
        status, answer_headers, data = self.post(CHECKIN_PATH, body_gzip, headers)
        if status == 200:
            return _json_object(data, "check-in answer")
        raise _classify(status, answer_headers, data)

    def wait_for_jobs(self, wait: float) -> list[Any]:
        """Jobs issued for this agent, asked with a request the server holds open up to
        `wait` seconds (the long-poll fast path); [] when none came in time. The client's
        timeout must be longer than `wait`."""
        status, answer_headers, data = self.post(f"{JOBS_PATH}?wait={wait:g}", b"", {}, "GET")
        if status == 200:
            jobs = _json_object(data, "jobs answer").get("jobs")
            return jobs if isinstance(jobs, list) else []
        raise _classify(status, answer_headers, data)

    def post(
        self, path: str, body: bytes, headers: Mapping[str, str], method: str = "POST"
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """POST JSON (or `method`); (status, headers, body) of any HTTP answer, Retry on
        transport errors."""
        all_headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            **headers,
        }
        if self._token:
            all_headers["Authorization"] = f"Bearer {self._token}"
        # A kept-alive connection the server closed meanwhile fails on first use; batches are
        # idempotent (same batch_id), so one more try on a fresh connection is safe.
        reused = self._conn is not None
        try:
            return self._exchange(method, self._base + path, body, all_headers)
        except (ConnectionError, http.client.RemoteDisconnected) as exc:
            self.close()
            if not reused:
                raise Retry(_transport_message(self.server, exc)) from exc
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise Retry(_transport_message(self.server, exc)) from exc
        try:
            return self._exchange(method, self._base + path, body, all_headers)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise Retry(_transport_message(self.server, exc)) from exc

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _exchange(
        self, method: str, path: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn = self._connection()
        conn.request(method, path, body=body if method == "POST" else None, headers=dict(headers))
        response = conn.getresponse()
        data = response.read(MAX_ANSWER_BYTES + 1)
        if len(data) > MAX_ANSWER_BYTES:
            raise http.client.HTTPException("answer larger than 1 MB")
        if response.will_close:
            self.close()
        return response.status, response.headers, data

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._timeout, context=self._tls
                )
            else:
                self._conn = http.client.HTTPConnection(
                    self._host, self._port, timeout=self._timeout
                )
        return self._conn


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verify the server's certificate and name against the system's CAs or `ca_file`.

    ssl is imported here, not at the top: an agent talking plain HTTP on a LAN never needs it.
    """
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # certificate and host name checked
    if ca_file:
        # A private installation signs its own certificate: trust only that CA.
        context.load_verify_locations(cafile=ca_file)
        return context
    capath = ssl.get_default_verify_paths().capath
    if capath and not os.environ.get("SSL_CERT_FILE") and _is_hashed_directory(capath):
        # A hashed directory (Debian's /etc/ssl/certs): OpenSSL reads only the CA it needs,
        # when it needs it. Loading the whole bundle (144 CAs) costs about 1 MB resident.
        context.load_verify_locations(capath=capath)
    else:
        context.load_default_certs()
    return context


def _is_hashed_directory(path: str) -> bool:
    try:
        return any(name.endswith(".0") for name in os.listdir(path))
    except OSError:
        return False


def _classify(status: int, headers: http.client.HTTPMessage, data: bytes) -> ClientError:
    """The exception that says what to do about a non-success answer."""
    detail = _problem(status, data)
    if status in (401, 403):
        return Unauthorized(f"the server refused this agent's credential: {detail}", status)
    if status in (400, 413, 422):
        return Refused(f"the server refused the batch: {detail}", status)
    if 300 <= status < 400:
        where = headers.get("Location", "?")
        return Retry(f"the server redirects to {where}: check the server URL", status)
    return Retry(f"the server answered {detail}", status, _retry_after(headers))


def _problem(status: int, data: bytes) -> str:
    """'422 Unprocessable: what was wrong' from a problem+json body, or just the status."""
    text = f"{status}"
    try:
        problem = json.loads(data)
    except ValueError:
        return text
    if not isinstance(problem, dict):
        return text
    title, detail = problem.get("title"), problem.get("detail")
    if title:
        text += f" {title}"
    if detail:
        text += f": {detail if isinstance(detail, str) else json.dumps(detail)[:500]}"
    return text


def _retry_after(headers: http.client.HTTPMessage) -> float | None:
    value = headers.get("Retry-After", "")
    return float(value) if value.strip().isdigit() else None


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise Retry(f"the {what} is not JSON (a proxy in the way?)") from exc
    if not isinstance(value, dict):
        raise Retry(f"the {what} is not a JSON object")
    return value


def _transport_message(server: str, exc: BaseException) -> str:
    ssl = sys.modules.get("ssl")  # only loaded for https servers
    if ssl and isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate of {server} not trusted: {exc.verify_message} (see --ca-file)"
    if isinstance(exc, TimeoutError):
        return f"{server} did not answer within the timeout"
    if isinstance(exc, ConnectionRefusedError):
        return f"{server} refused the connection"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the server's name in {server}: {exc.strerror}"
    return f"cannot reach {server}: {exc.__class__.__name__}: {exc}"

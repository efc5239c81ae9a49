"""HTTP probe: does a URL answer with the expected status, content and speed?

Like Nagios' check_http: one request (redirects followed by default), the status checked
against what is expected, the body (at most `max_body` bytes of it) searched for a keyword,
the response time compared with thresholds. Metrics: `time` (s) and `size` (B).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cached_property
from http import HTTPStatus
from time import perf_counter
from typing import Any, Literal

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from yarl import URL

from forewarn.domain.observation import Metric, Result, Status, worst
from forewarn.domain.thresholds import Range, Thresholds
from forewarn.probes import deadline
from forewarn.probes.deadline import Deadlines
from forewarn.probes.http_client import NO_TIMEOUT, describe_error, make_session, read_bounded

MAX_REDIRECTS = 10
# run() given a session (as run_probe always gives it) awaits nothing outside its own
# deadline.limit(timeout), so run_probe adds no hard timeout around it (see probes.runner).
SELF_BOUNDED = True
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header name (RFC 9110)
_SPACE = re.compile(r"\s")  # what str.isspace() calls space (a generator over chars: 25x slower)


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["GET", "HEAD", "POST"] = "GET"
    body: str | None = Field(None, description="request body, POST only (UTF-8)")
    expect_status: tuple[int, ...] | None = Field(
        None, description="acceptable status codes; default: any 2xx or 3xx after redirects"
    )
    keyword: str | None = Field(None, description="text the body must contain")
    keyword_absent: str | None = Field(None, description="text the body must not contain")
    warn_time: str | None = Field(None, description="response time range in seconds (Nagios)")
    crit_time: str | None = Field(None, description="response time range in seconds (Nagios)")
    follow_redirects: bool = Field(True, description=f"follow up to {MAX_REDIRECTS} redirects")
    headers: dict[str, str] = Field(default_factory=dict)
    basic_auth_user: str | None = None
    basic_auth_password: str | None = Field(None, repr=False)
    verify_tls: bool = True
    max_body: int = Field(1 << 20, ge=0, le=64 << 20, description="bytes of body read at most")

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @field_validator("expect_status", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):  # "200,301" from a command line
            return [p.strip() for p in v.split(",") if p.strip()]
        if isinstance(v, int):
            return [v]
        return v

    @field_validator("expect_status")
    @classmethod
    def _codes(cls, v: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if v is not None:
            if not v:
                raise ValueError("give at least one status code, or leave it out")
            bad = [c for c in v if not 100 <= c <= 599]
            if bad:
                raise ValueError(f"not HTTP status codes: {bad} (100 to 599)")
        return v

    @field_validator("keyword", "keyword_absent", "body")
    @classmethod
    def _not_empty(cls, v: str | None) -> str | None:
        if v == "":
            raise ValueError("must not be empty (leave it out instead)")
        return v

    @field_validator("warn_time", "crit_time")
    @classmethod
    def _is_range(cls, v: str | None) -> str | None:
        if v is not None:
            Range.parse(v)
        return v

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            if not _TOKEN.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if "\r" in value or "\n" in value:
                raise ValueError(f"header {name!r}: a value must not contain line breaks")
        return v

    @field_validator("basic_auth_user")
    @classmethod
    def _user(cls, v: str | None) -> str | None:
        if v is not None and (not v or ":" in v):
            raise ValueError("a basic auth user name must be non-empty and contain no ':'")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Params:
        if self.body is not None and self.method != "POST":
            raise ValueError("a request body needs method POST")
        if self.basic_auth_password is not None and self.basic_auth_user is None:
            raise ValueError("basic_auth_password given without basic_auth_user")
        if self.basic_auth_user is not None and any(
            k.lower() == "authorization" for k in self.headers
        ):
            raise ValueError("give either basic_auth_user or an Authorization header, not both")
        return self

    @cached_property
    def thresholds(self) -> Thresholds:
        return Thresholds.parse(self.warn_time, self.crit_time)

    @cached_property
    def request_options(self) -> dict[str, Any]:
        """The keyword arguments of session.request, built once per Params, not per run."""
        options: dict[str, Any] = {
            "allow_redirects": self.follow_redirects,
            "max_redirects": MAX_REDIRECTS,
            "timeout": NO_TIMEOUT,  # run() bounds the whole exchange with deadline.limit
        }
        headers = dict(self.headers)
        if self.basic_auth_user is not None:
            # aiohttp drops this header when a redirect leaves the origin, as it should.
            headers["Authorization"] = aiohttp.encode_basic_auth(
                self.basic_auth_user, self.basic_auth_password or ""
            )
        if headers:
            options["headers"] = headers
        if not self.verify_tls:
            options["ssl"] = False
        if self.body is not None:
            options["data"] = self.body.encode()
        return options


def validate(target: str, params: Mapping[str, Any]) -> Params:
    """Check the URL and the params; ValueError says what is wrong. No I/O."""
    check_url(target)
    return Params.model_validate(params)


def check_url(target: str) -> URL:
    """An absolute http(s) URL with a host, or ValueError saying what is wrong."""
    if not target or _SPACE.search(target):
        raise ValueError(f"URL {target!r}: must be non-empty and contain no spaces")
    try:
        url = URL(target)
        port = url.port
    except (ValueError, TypeError) as exc:
        raise ValueError(f"URL {target!r} cannot be read: {exc}") from None
    if url.scheme not in ("http", "https"):
        raise ValueError(f"URL {target!r}: scheme must be http or https")
    if not url.host:
        raise ValueError(f"URL {target!r}: no host name")
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"URL {target!r}: port must be from 1 to 65535")
    return url


async def run(
    target: str,
    params: Params,
    timeout: float,
    *,
    session: aiohttp.ClientSession | None = None,
    deadlines: Deadlines | None = None,
) -> Result:
    """Request `target` and judge the answer; never raises except CancelledError. With
    `deadlines` (the poller's) the limit is kept to its tick instead of by a timer of its own."""
    own = None
    if session is None:
        session = own = make_session()
    start = perf_counter()
    try:
        async with (
            deadline.limit(deadlines, timeout),
            session.request(params.method, target, **params.request_options) as response,
        ):
            body, more = await read_bounded(response, params.max_body)
        elapsed = perf_counter() - start
    except TimeoutError:
        return Result(Status.CRITICAL, f"timed out after {timeout:g} s")
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        # ValueError: aiohttp's answer to a URL it cannot request (validate() checks earlier)
        return Result(Status.CRITICAL, describe_error(exc))
    except Exception as exc:  # a probe never raises: report what went wrong instead
        return Result(Status.UNKNOWN, f"probe failed: {type(exc).__name__}: {exc}")
    finally:
        if own is not None:
            await own.close()
    return judge(params, response, body, more, elapsed)


def judge(
    params: Params, response: aiohttp.ClientResponse, body: bytes, more: bool, elapsed: float
) -> Result:
    """The verdict on one answer: status code, keywords, response time."""
    code = response.status
    reason = response.reason or _phrase(code)
    text = f"HTTP {code} {reason}".rstrip() + f" in {elapsed:.3f} s"
    if response.history:
        n = len(response.history)
        text += f" after {n} redirect{'s' if n > 1 else ''}"
    status = Status.OK
    problems: list[str] = []

    if params.expect_status is not None:
        if code not in params.expect_status:
            status = Status.CRITICAL
            problems.append("expected status " + ", ".join(map(str, params.expect_status)))
    elif code >= 400 or code < 200:
        status = Status.CRITICAL  # the status line says it all

    if params.keyword is not None and not _contains(body, params.keyword, response):
        status = Status.CRITICAL
        where = f" in the first {len(body)} B" if more else ""
        problems.append(f'keyword "{params.keyword}" not found{where}')
    if params.keyword_absent is not None and _contains(body, params.keyword_absent, response):
        status = Status.CRITICAL
        problems.append(f'keyword "{params.keyword_absent}" found, it must be absent')

    time_status = params.thresholds.status(elapsed)
    if time_status is not Status.OK:
        status = worst(status, time_status)
        limit = params.warn_time if time_status is Status.WARNING else params.crit_time
        problems.append(f"response time breaches {time_status.label} threshold {limit}")

    notes = []
    if response.history:
        notes.append(f"final URL {response.url}")
    if more:
        notes.append(f"body larger than max_body: only the first {len(body)} B were read")
    metrics = (
        Metric("time", elapsed, "s", params.warn_time, params.crit_time, 0.0),
        Metric("size", float(len(body)), "B", min=0.0),
    )
    message = "; ".join([text, *problems]) if problems else text
    return Result(status, message, metrics, "\n".join(notes))


def _contains(body: bytes, keyword: str, response: aiohttp.ClientResponse) -> bool:
    """Whether the body holds the keyword, in UTF-8 or in the page's own charset."""
    if keyword.encode() in body:
        return True
    if keyword.isascii():  # the same bytes in every charset a web page uses, bar UTF-16
        return False
    charset = response.charset
    if not charset or charset.lower() in ("utf-8", "utf8"):
        return False
    try:
        return keyword.encode(charset) in body
    except (LookupError, UnicodeEncodeError):
        return False


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""

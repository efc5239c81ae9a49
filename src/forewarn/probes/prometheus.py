"""Prometheus probe: scrape an exporter and judge one series (or an aggregate of several).

The query is a series selector with exact label matches, `name{label="value",...}`. Every
series of that name whose labels match is read from the text exposition (format 0.0.4, which
OpenMetrics' sample lines share); several are folded with `aggregate` (max by default).

The exposition is parsed here rather than with prometheus_client's parser: only the lines of
the one queried name are parsed (found with one regular expression over the whole text).
Measured on a node exporter's 58 KB scrape: 0.45 ms against 10 ms for parsing every family.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, field_validator

from forewarn.domain.observation import Metric, Result, Status
from forewarn.domain.thresholds import Range, Thresholds
from forewarn.probes.http import check_url
from forewarn.probes.http_client import NO_TIMEOUT, describe_error, make_session, read_bounded

ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_PAIR = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*(=~|!=|!~|=)[ \t]*"((?:[^"\\\n]|\\.)*)"')
_ESCAPE = re.compile(r"\\(.)")
_UNESCAPED = {"n": "\n", "\\": "\\", '"': '"'}


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    query: str = Field(description='series selector: name{label="value",...}')
    warn: str | None = Field(None, description="range for the value (Nagios)")
    crit: str | None = Field(None, description="range for the value (Nagios)")
    aggregate: Literal["max", "min", "sum", "count"] = Field(
        "max", description="how several matching series fold into one value"
    )
    missing: Literal["unknown", "critical"] = Field(
        "unknown", description="the state when no series matches"
    )
    verify_tls: bool = True
    max_body: int = Field(16 << 20, ge=1, le=256 << 20, description="bytes read at most")

    @field_validator("query")
    @classmethod
    def _selector(cls, v: str) -> str:
        parse_selector(v)
        return v

    @field_validator("warn", "crit")
    @classmethod
    def _is_range(cls, v: str | None) -> str | None:
        if v is not None:
            Range.parse(v)
        return v

    @field_validator("aggregate", "missing", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.strip().lower() if isinstance(v, str) else v

    @cached_property
    def selector(self) -> tuple[str, dict[str, str]]:
        return parse_selector(self.query)

    @cached_property
    def metric_name(self) -> str:
        name, labels = self.selector
        series = name + (
            "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}" if labels else ""
        )
        return f"count({series})" if self.aggregate == "count" else series

    @cached_property
    def lines(self) -> re.Pattern[str]:
        """The lines of samples of the queried name: its name, then `{`, a space or a tab."""
        return re.compile(rf"^{re.escape(self.selector[0])}(?=[{{ \t])(.*)$", re.MULTILINE)

    @cached_property
    def thresholds(self) -> Thresholds:
        return Thresholds.parse(self.warn, self.crit)

    @cached_property
    def request_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"headers": {"Accept": ACCEPT}, "timeout": NO_TIMEOUT}
        if not self.verify_tls:
            options["ssl"] = False
        return options


def validate(target: str, params: Mapping[str, Any]) -> Params:
    """Check the exporter URL and the params; ValueError says what is wrong. No I/O."""
    check_url(target)
    return Params.model_validate(params)


def parse_selector(text: str) -> tuple[str, dict[str, str]]:
    """`name{label="value",...}` -> (name, labels); ValueError saying what is wrong."""
    t = text.strip()
    m = _METRIC_NAME.match(t)
    if m is None:
        raise ValueError(
            f'query {text!r} must start with a metric name, e.g. node_load1 or up{{job="node"}}'
        )
    rest = t[m.end() :].lstrip()
    if not rest:
        return m.group(), {}
    if not rest.startswith("{"):
        raise ValueError(f"query {text!r}: unexpected {rest!r} after the metric name")
    try:
        labels, end = parse_labels(rest, 1, exact_only=True)
    except ValueError as exc:
        raise ValueError(f"query {text!r}: {exc}") from None
    if rest[end:].strip():
        raise ValueError(f"query {text!r}: unexpected {rest[end:].strip()!r} after '}}'")
    return m.group(), labels


def parse_labels(text: str, pos: int, *, exact_only: bool = False) -> tuple[dict[str, str], int]:
    """Labels from just after `{` up to its `}`; returns them and the index after the `}`."""
    labels: dict[str, str] = {}
    while True:
        m = _PAIR.match(text, pos)
        if m is None:
            rest = text[pos:].lstrip(" \t")
            if rest.startswith("}"):
                return labels, len(text) - len(rest) + 1
            raise ValueError(f'expected label="value" or "}}" at {rest[:20]!r}')
        name, op, value = m.groups()
        if op != "=":
            if exact_only:
                raise ValueError(f'only exact matches label="value" are supported, not {op!r}')
            raise ValueError(f"{op!r} is not allowed in a sample's labels")
        if name in labels:
            raise ValueError(f"label {name!r} given twice")
        labels[name] = _ESCAPE.sub(_unescape, value) if "\\" in value else value
        pos = m.end()
        rest = text[pos:].lstrip(" \t")
        pos = len(text) - len(rest)
        if rest.startswith(","):
            pos += 1
        elif not rest.startswith("}"):
            raise ValueError(f"expected ',' or '}}' at {rest[:20]!r}")


def _unescape(m: re.Match[str]) -> str:
    return _UNESCAPED.get(m.group(1), m.group(0))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def matching_values(text: str, params: Params) -> tuple[list[float], int]:
    """Values of the samples matching the query, and how many lines of that name there were.

    ValueError for a line of that name that cannot be read: the exporter's answer is broken.
    """
    wanted = params.selector[1]
    values: list[float] = []
    seen = 0
    for m in params.lines.finditer(text):
        seen += 1
        rest = m.group(1)
        labels: dict[str, str] = {}
        try:
            stripped = rest.lstrip(" \t")
            if stripped.startswith("{"):
                labels, end = parse_labels(stripped, 1)
                stripped = stripped[end:]
            fields = stripped.split()
            if not 1 <= len(fields) <= 2:
                raise ValueError("expected a value and an optional timestamp")
            value = float(fields[0])
        except ValueError as exc:
            line = (params.selector[0] + rest).strip()
            raise ValueError(f"cannot read line {line[:120]!r}: {exc}") from None
        if all(labels.get(k, "") == v for k, v in wanted.items()):
            values.append(value)
    return values, seen


async def run(
    target: str,
    params: Params,
    timeout: float,
    *,
    session: aiohttp.ClientSession | None = None,
) -> Result:
    """Scrape `target` and judge the queried series; never raises except CancelledError."""
    own = None
    if session is None:
        session = own = make_session()
    try:
        async with asyncio.timeout(timeout):
            async with session.get(target, **params.request_options) as response:
                body, more = await read_bounded(response, params.max_body)
    except TimeoutError:
        return Result(Status.CRITICAL, f"timed out after {timeout:g} s")
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return Result(Status.CRITICAL, describe_error(exc))
    except Exception as exc:  # a probe never raises: report what went wrong instead
        return Result(Status.UNKNOWN, f"probe failed: {type(exc).__name__}: {exc}")
    finally:
        if own is not None:
            await own.close()
    if response.status >= 300:
        return Result(Status.CRITICAL, f"HTTP {response.status} {response.reason or ''}".rstrip())
    if more:
        return Result(
            Status.UNKNOWN,
            f"exposition larger than max_body ({params.max_body} B): raise max_body",
        )
    if response.content_type == "text/html":
        return Result(Status.UNKNOWN, "answer is an HTML page, not a Prometheus exposition")
    return judge(body.decode("utf-8", "replace"), params)


def judge(text: str, params: Params) -> Result:
    """The verdict on one scraped exposition."""
    try:
        values, seen = matching_values(text, params)
    except ValueError as exc:
        return Result(Status.UNKNOWN, f"exposition not readable: {exc}")
    if not values:
        status = Status.CRITICAL if params.missing == "critical" else Status.UNKNOWN
        among = f" (among {seen} series of {params.selector[0]})" if seen else ""
        return Result(status, f"no series matches {params.query.strip()}{among}")
    value = _aggregate(values, params.aggregate)
    if not math.isfinite(value):
        return Result(Status.UNKNOWN, f"{params.metric_name} is {value}, not a number to judge")
    status = params.thresholds.status(value)
    what = params.metric_name
    if len(values) > 1 and params.aggregate != "count":
        what = f"{params.aggregate} of {len(values)} series {what}"
    message = f"{what} = {value:.6g}"
    if status is not Status.OK:
        limit = params.warn if status is Status.WARNING else params.crit
        message += f" (breaches {status.label} threshold {limit})"
    metric = Metric(params.metric_name, value, "", params.warn, params.crit)
    return Result(status, message, (metric,))


def _aggregate(values: list[float], how: str) -> float:
    if how == "count":
        return float(len(values))
    numbers = [v for v in values if not math.isnan(v)] or values
    if how == "sum":
        return math.fsum(numbers)
    return max(numbers) if how == "max" else min(numbers)

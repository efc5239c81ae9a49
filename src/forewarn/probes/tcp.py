"""TCP probe: does `host:port` accept a connection, and does the service say what we expect?

Like Nagios' check_tcp: connect, optionally send a string, optionally wait for an expected
string in the first `read_bytes` bytes of the answer; the response time is the metric.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping
from functools import cached_property
from time import perf_counter
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from forewarn.domain.observation import Metric, Result, Status
from forewarn.domain.targets import split_host_port
from forewarn.domain.thresholds import Range, Thresholds
from forewarn.probes import deadline
from forewarn.probes.deadline import Deadlines

# run() bounds everything it awaits with deadline.limit(timeout) itself, so run_probe adds
# no hard timeout of its own around it (see probes.runner).
SELF_BOUNDED = True


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    send: str | None = Field(None, description="text sent once connected (UTF-8)")
    expect: str | None = Field(None, description="text the answer must contain")
    read_bytes: int = Field(4096, ge=1, le=1 << 20, description="bytes searched for `expect`")
    warn: str | None = Field(None, description="response time range in seconds (Nagios)")
    crit: str | None = Field(None, description="response time range in seconds (Nagios)")

    @field_validator("warn", "crit")
    @classmethod
    def _is_range(cls, v: str | None) -> str | None:
        if v is not None:
            Range.parse(v)
        return v

    @field_validator("send", "expect")
    @classmethod
    def _not_empty(cls, v: str | None) -> str | None:
        if v == "":
            raise ValueError("must not be empty (leave it out instead)")
        return v

    @cached_property
    def thresholds(self) -> Thresholds:
        return Thresholds.parse(self.warn, self.crit)

    @cached_property
    def send_bytes(self) -> bytes | None:
        return None if self.send is None else self.send.encode()

    @cached_property
    def expect_bytes(self) -> bytes | None:
        return None if self.expect is None else self.expect.encode()


def validate(target: str, params: Mapping[str, Any]) -> Params:
    """Check `host:port` and the params; ValueError says what is wrong."""
    split_host_port(target)
    return Params.model_validate(params)


class _Conversation(asyncio.Protocol):
    """Send once, collect the answer until `expect` shows up, `limit` bytes, EOF or close."""

    def __init__(self, send: bytes | None, expect: bytes, limit: int) -> None:
        self.send = send
        self.expect = expect
        self.limit = limit
        self.answer = bytearray()
        self.found = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.send is not None:
            cast(asyncio.Transport, transport).write(self.send)

    def data_received(self, data: bytes) -> None:
        self.answer += data
        if len(self.answer) >= self.limit:
            del self.answer[self.limit :]
        if self.expect in self.answer:
            self.found = True
            self._finish()
        elif len(self.answer) >= self.limit:
            self._finish()

    def eof_received(self) -> None:
        self._finish()

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish()

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def run(
    target: str, params: Params, timeout: float, *, deadlines: Deadlines | None = None
) -> Result:
    """Connect (and converse); never raises except CancelledError. With `deadlines` (the
    poller's) the limit is kept to its tick instead of by a timer of its own."""
    try:
        host, port = split_host_port(target)
    except ValueError as exc:
        return Result(Status.UNKNOWN, str(exc))
    loop = asyncio.get_running_loop()
    expect = params.expect_bytes
    talk: _Conversation | None = None
    connected = False
    start = perf_counter()
    try:
        async with deadline.limit(deadlines, timeout):
            if expect is None:
                transport, _ = await loop.create_connection(asyncio.Protocol, host, port)
                send = params.send_bytes
                if send is not None:
                    transport.write(send)
                transport.close()
            else:
                talk = _Conversation(params.send_bytes, expect, params.read_bytes)
                transport, _ = await loop.create_connection(lambda: talk, host, port)
                connected = True
                try:
                    await talk.done
                finally:
                    transport.close()
        elapsed = perf_counter() - start
    except TimeoutError:
        what = f'waiting for "{params.expect}"' if connected else "connecting"
        got = _shown(talk.answer) if talk is not None and talk.answer else ""
        return Result(
            Status.CRITICAL,
            f"timed out after {timeout:g} s {what}" + (f"; got {got}" if got else ""),
        )
    except socket.gaierror as exc:
        return Result(Status.CRITICAL, f"cannot resolve host {host}: {exc.strerror}")
    except ConnectionRefusedError:
        return Result(Status.CRITICAL, "connection refused")
    except OSError as exc:
        return Result(Status.CRITICAL, exc.strerror or str(exc) or type(exc).__name__)
    except Exception as exc:  # a probe never raises: report what went wrong instead
        return Result(Status.UNKNOWN, f"probe failed: {type(exc).__name__}: {exc}")

    metric = Metric("time", elapsed, "s", params.warn, params.crit, 0.0)
    if talk is not None and not talk.found:
        if not talk.answer:
            text = f'expected "{params.expect}", the server sent nothing'
        else:
            text = f'expected "{params.expect}" not found in answer {_shown(talk.answer)}'
        return Result(Status.CRITICAL, text, (metric,))
    status = params.thresholds.status(elapsed)
    text = f"connected in {elapsed:.3f} s"
    if talk is not None:
        text += f', answer contains "{params.expect}"'
    if status is not Status.OK:
        limit = params.warn if status is Status.WARNING else params.crit
        text += f" (breaches {status.label} threshold {limit})"
    return Result(status, text, (metric,))


def _shown(answer: bytes | bytearray, limit: int = 60) -> str:
    text = bytes(answer[:limit]).decode("utf-8", "replace")
    return repr(text) + ("..." if len(answer) > limit else "")

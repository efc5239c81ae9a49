"""run_probe: the hard time limit around a probe, and the probes that bound themselves."""

from __future__ import annotations

import asyncio
import socket
import time
import types

import pytest

from forewarn.domain.observation import Result, Status
from forewarn.probes import registry, runner, tcp
from forewarn.probes.runner import Resources, run_probe


def fake_module(*, bounded: bool) -> types.ModuleType:
    mod = types.ModuleType("fake_probe")

    async def run(target: str, params: object, timeout: float, **_: object) -> Result:
        await asyncio.sleep(3600)  # a probe that never finishes by itself
        return Result(Status.OK, "never")

    mod.run = run  # type: ignore[attr-defined]
    if bounded:
        mod.SELF_BOUNDED = True  # type: ignore[attr-defined]
    return mod


def test_a_probe_that_hangs_is_cut_off_and_answers_unknown(monkeypatch):
    monkeypatch.setattr(registry, "module", lambda _t: fake_module(bounded=False))
    monkeypatch.setattr(runner, "GRACE_S", 0.05)
    started = time.monotonic()
    result, ms = asyncio.run(run_probe("tcp", "x:1", tcp.Params(), 0.05, Resources()))
    assert (result.status, result.message) == (Status.UNKNOWN, "check did not finish within 0.05 s")
    assert time.monotonic() - started < 2 and ms >= 100


def test_a_self_bounded_probe_gets_no_second_timer(monkeypatch):
    """A probe declaring SELF_BOUNDED is trusted with its own limit (here it has none)."""
    monkeypatch.setattr(registry, "module", lambda _t: fake_module(bounded=True))
    monkeypatch.setattr(runner, "GRACE_S", 0.05)

    async def main() -> bool:
        task = asyncio.ensure_future(run_probe("tcp", "x:1", tcp.Params(), 0.05, Resources()))
        await asyncio.sleep(0.5)
        done = task.done()
        task.cancel()
        return done

    assert asyncio.run(main()) is False


@pytest.mark.parametrize("module", ["tcp", "http"])
def test_the_self_bounded_probes_say_so(module):
    assert registry.module(module).SELF_BOUNDED is True


def test_a_tcp_check_that_gets_no_answer_times_out_on_its_own_limit():
    """Through run_probe, as the poller runs it: the probe's own verdict, on time."""
    with socket.create_server(("127.0.0.1", 0)) as server:  # accepts (backlog), never answers
        target = f"127.0.0.1:{server.getsockname()[1]}"
        params = tcp.validate(target, {"expect": "hello"})
        started = time.monotonic()
        result, _ = asyncio.run(run_probe("tcp", target, params, 0.2, Resources()))
    assert (result.status, result.message) == (
        Status.CRITICAL,
        'timed out after 0.2 s waiting for "hello"',
    )
    assert time.monotonic() - started < 0.2 + 0.5

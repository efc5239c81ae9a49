"""Run one probe with a hard time limit and shared resources; never raises.

The poller and `forewarn check` both go through `run_probe`, so a probe behaves the same by
hand and on schedule. Expensive things (the aiohttp session, the SNMP engine) are made once
per `Resources` and shared by every run.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import BaseModel

from forewarn.domain.observation import Result, Status
from forewarn.probes import registry
from forewarn.probes.deadline import Deadlines

# A probe gets this much beyond its own timeout to wrap up before it is cancelled.
GRACE_S = 1.0


class Resources:
    def __init__(self) -> None:
        self._http: Any = None
        self._snmp: Any = None
        # The limits of the self-bounded probes: one sweep a tick, not a timer per check.
        self.deadlines = Deadlines()

    def http(self) -> Any:
        if self._http is None:
            from forewarn.probes.http_client import make_session

            self._http = make_session()
        return self._http

    def snmp(self) -> Any:
        if self._snmp is None:
            from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

            self._snmp = SnmpEngine()
        return self._snmp

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._snmp is not None:
            close = getattr(self._snmp, "close_dispatcher", None)
            if close is not None:
                close()
            self._snmp = None


async def run_probe(
    check_type: str, target: str, params: BaseModel, timeout: float, res: Resources
) -> tuple[Result, float]:
    """(result, duration in ms). Exceeding the timeout (plus `GRACE_S`) or crashing gives
    UNKNOWN; a probe module that declares `SELF_BOUNDED` answers its own timeout verdict."""
    started = time.perf_counter()
    try:
        mod = registry.module(check_type)
        kwargs: dict[str, Any] = {}
        if check_type in ("http", "prometheus"):
            kwargs["session"] = res.http()
        elif check_type == "snmp":
            kwargs["engine"] = res.snmp()
        result: Result
        if getattr(mod, "SELF_BOUNDED", False):
            # Its own limit spans every await of its run: a second timer here (~4 us of the
            # loop's time per check, a tenth of a TCP probe) adds nothing. It keeps that limit
            # with the shared deadlines (a quarter second late at most), not a timer of its own.
            kwargs["deadlines"] = res.deadlines
            result = await mod.run(target, params, timeout, **kwargs)
        else:
            async with asyncio.timeout(timeout + GRACE_S):
                result = await mod.run(target, params, timeout, **kwargs)
    except TimeoutError:
        result = Result(Status.UNKNOWN, f"check did not finish within {timeout:g} s")
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a probe bug must not stop the poller
        result = Result(Status.UNKNOWN, f"probe error: {type(exc).__name__}: {exc}"[:500])
    return result, (time.perf_counter() - started) * 1000.0

"""One network sweep for the server, run by the agent as a child process.

`python -m forewarn.agent.sweep_child < task.json > report.json`: the task is a
wire.SweepTask, the report a wire.SweepReport (with `error` set when the sweep could not be
made). The sweep itself is the server's own (forewarn.probes.discover): bounded in rate,
concurrency and time. It runs in its own process because it needs libraries (asyncio DNS,
SNMP) that would triple the agent's resident memory; the process ends with the sweep.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any


def sweep(task: dict[str, Any]) -> dict[str, Any]:
    """The report for one task; never raises for a sweep that fails."""
    from forewarn.probes import discover

    run = task.get("run")
    try:
        # Checked here too: the agent does not sweep what the rules forbid, whoever asks.
        net = discover.sweepable(str(task.get("network", "")), allow_loopback=True)
        ports = [int(p) for p in task.get("ports") or discover.PORTS][:64]
        communities = [str(c) for c in task.get("communities") or []][:8]
        result = asyncio.run(
            discover.sweep(net, communities=communities, resolver=_resolver(), ports=ports)
        )
    except (ValueError, discover.SweepError) as exc:
        return {"run": run, "error": str(exc)}
    except Exception as exc:
        return {"run": run, "error": f"{type(exc).__name__}: {exc}"}
    return {
        "run": run,
        "addresses": result.addresses,
        "seconds": round(result.seconds, 3),
        "hosts": [_host(h) for h in result.hosts],
    }


def _host(h: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "address": h.address,
        "answered_ping": h.answered_ping,
        "mac": h.mac,
        "open_ports": list(h.open_ports),
        "hostname": h.hostname[:255],
    }
    if h.system is not None:
        out.update(
            sys_name=h.system.name[:255],
            sys_descr=h.system.descr[:1000],
            sys_object_id=h.system.object_id[:255],
        )
    return out


def _resolver() -> Any:
    import dns.asyncresolver
    import dns.resolver

    try:
        return dns.asyncresolver.Resolver()
    except dns.resolver.NoResolverConfiguration:
        return None


def main() -> None:
    task = json.load(sys.stdin)
    json.dump(sweep(task if isinstance(task, dict) else {}), sys.stdout)


if __name__ == "__main__":
    main()

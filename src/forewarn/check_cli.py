"""`forewarn check TYPE TARGET`: run one probe now, printed and exited as a Nagios plugin.

Kept apart from forewarn.cli so that `forewarn check` starts without the server's services,
database and web layers (entry.py sends it here directly): a plugin runs often.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from forewarn.config import Settings

CHECK_CONTEXT = {"allow_extra_args": True}
out = Console()


def _fail(message: str) -> typer.Exit:
    out.print(f"UNKNOWN - {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(3)


def _explain(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
        )
    return str(exc)


# --expect/--warn/--crit name different parameters in different probes.
_EXPECT = {"tcp": "expect", "http": "keyword", "dns": "expect", "snmp": "expect"}
_RANGES = {
    "http": ("warn_time", "crit_time"),
    "dns": ("warn_time", "crit_time"),
    "tls": ("warn_days", "crit_days"),
}


def _param_value(text: str) -> Any:
    """`-p key=VALUE`: JSON when it parses (numbers, true, lists), else the text itself."""
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


def check(
    ctx: typer.Context,
    check_type: Annotated[str, typer.Argument(metavar="TYPE", help="tcp, http, tls, dns, ...")],
    target: Annotated[
        str,
        typer.Argument(
            help="host:port (tcp), URL (http, prometheus), host[:port] (tls), name (dns), "
            "host (ping, snmp), plugin path (nagios; its arguments after --)"
        ),
    ],
    expect: Annotated[str | None, typer.Option(help="text the answer must contain")] = None,
    warn: Annotated[str | None, typer.Option(help="warning range (Nagios syntax)")] = None,
    crit: Annotated[str | None, typer.Option(help="critical range (Nagios syntax)")] = None,
    timeout: Annotated[float, typer.Option(min=0.1, max=300, help="seconds")] = 10.0,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="any probe parameter: -p key=value (JSON values)"),
    ] = None,
) -> None:
    """Run one check now and print the result as a Nagios plugin does (exit 0/1/2/3)."""
    import asyncio

    from forewarn.probes import registry
    from forewarn.probes.runner import Resources, run_probe

    params: dict[str, Any] = {}
    for item in param or []:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise _fail(f"--param takes key=value, not {item!r}")
        params[key.strip()] = _param_value(value)
    if expect is not None:
        key = _EXPECT.get(check_type, "expect")
        params[key] = [expect] if check_type == "dns" else expect
    warn_key, crit_key = _RANGES.get(check_type, ("warn", "crit"))
    for key, value in ((warn_key, warn), (crit_key, crit)):
        if value is not None:
            params[key] = _param_value(value) if check_type == "tls" else value
    if check_type == "nagios":
        params["args"] = list(ctx.args)
    elif ctx.args:
        raise _fail(f"unexpected arguments: {' '.join(ctx.args)}")
    if check_type in registry.PASSIVE:
        raise _fail(f"a {check_type} check is judged by the server; it cannot be run by hand")
    try:
        model = registry.validate(
            check_type, target, params, plugin_dirs=Settings().nagios_plugin_dirs
        )
    except ValueError as exc:
        text = _explain(exc)
        out.print(f"UNKNOWN - bad check: {text}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(3) from None

    async def once() -> Any:
        res = Resources()
        try:
            return await run_probe(check_type, target, model, timeout, res)
        finally:
            await res.close()

    result, _ms = asyncio.run(once())
    # A plugin's own first line already says its state; other probes get the usual prefix.
    prefix = "" if check_type == "nagios" else f"{check_type.upper()} {result.status.name} - "
    line = prefix + result.message
    if result.metrics:
        line += f" | {result.perfdata}"
    out.print(line, markup=False, highlight=False, soft_wrap=True)
    if result.details:
        out.print(result.details, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(int(result.status))


app = typer.Typer(add_completion=False)
app.command(context_settings=CHECK_CONTEXT)(check)

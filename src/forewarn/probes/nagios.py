"""Run a Nagios / monitoring-plugins plugin unchanged and read its answer.

The plugin's exit code is the state (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN); anything else
(a signal, 126, 127, another code, our timeout) is UNKNOWN with a message saying what happened.
Only executables inside the allowed directories may run: the check definition names a file,
and whoever may define checks must not thereby get to run any program on the server.

The plugin runs without a shell, with stdin closed, a minimal environment and in its own
process group, so that on timeout the whole group (the plugin and whatever it started) is
stopped: SIGTERM, then SIGKILL after a short grace. Its output is read to the end but only
the first 64 KiB are kept, so a chatty plugin can neither block on a full pipe nor fill memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pydantic
from pydantic import ConfigDict, Field, PrivateAttr, field_validator

from forewarn.domain.observation import Result, Status
from forewarn.domain.perfdata import parse_output

DEFAULT_ALLOWED_DIRS: tuple[str, ...] = (
    "/usr/lib/nagios/plugins",
    "/usr/lib/monitoring-plugins",
    "/usr/local/lib/nagios/plugins",
)
STDOUT_LIMIT = 64 * 1024
STDERR_LIMIT = 4 * 1024
KILL_GRACE = 0.5  # seconds between SIGTERM and SIGKILL
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
_CHUNK = 16 * 1024


class Params(pydantic.BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    args: list[str] = Field(default_factory=list, max_length=256)
    # The real path validate() checked, so that run() starts exactly that file.
    _path: str | None = PrivateAttr(default=None)

    @field_validator("args")
    @classmethod
    def _no_nul(cls, v: list[str]) -> list[str]:
        for a in v:
            if "\0" in a:
                raise ValueError("a plugin argument cannot contain a NUL character")
        return v


def resolve_plugin(target: str, allowed_dirs: Iterable[str] | None = None) -> Path:
    """The real path of an allowed, executable plugin; ValueError saying why not.

    `target` is an absolute path, or a bare file name looked up in the allowed directories
    in order. Symlinks and `..` are resolved before the path is compared with them.
    """
    dirs = [Path(d) for d in (DEFAULT_ALLOWED_DIRS if allowed_dirs is None else allowed_dirs)]
    t = target.strip()
    if not t or "\0" in t:
        raise ValueError("the plugin path is empty or not a path")
    if "/" not in t:
        found = [d / t for d in dirs if (d / t).exists()]
        if not found:
            raise ValueError(f"no plugin {t!r} in {', '.join(map(str, dirs))}")
        t = str(found[0])
    if not t.startswith("/"):
        raise ValueError(f"plugin path {target!r} must be absolute")
    real = Path(os.path.realpath(t))
    roots = [Path(os.path.realpath(d)) for d in dirs]
    if not any(real.is_relative_to(r) and real != r for r in roots):
        shown = f"{target} (really {real})" if str(real) != t else target
        raise ValueError(
            f"plugin {shown} is outside the allowed directories: {', '.join(map(str, dirs))}"
        )
    try:
        st = real.stat()
    except FileNotFoundError:
        raise ValueError(f"plugin {target} does not exist") from None
    except OSError as exc:
        raise ValueError(f"plugin {target}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"plugin {target} is not a regular file")
    if not os.access(real, os.X_OK):
        raise ValueError(f"plugin {target} is not executable")
    return real


def validate(
    target: str, params: Mapping[str, Any], allowed_dirs: Iterable[str] | None = None
) -> Params:
    """Check a plugin check definition (stats the plugin file); ValueError saying why not.

    `allowed_dirs` replaces DEFAULT_ALLOWED_DIRS; the server configuration passes its own list.
    """
    p = Params.model_validate(dict(params))
    p._path = str(resolve_plugin(target, allowed_dirs))
    return p


class _Capture:
    """Drain a pipe to its end, keeping at most `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.truncated = False

    async def drain(self, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        while chunk := await stream.read(_CHUNK):
            room = self.limit - len(self.data)
            if len(chunk) > room:
                self.truncated = True
            if room > 0:
                self.data += chunk[:room]

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


async def run(target: str, params: Params, timeout: float) -> Result:
    """Run the plugin; never raises (but for cancellation), ends within `timeout`."""
    path = params._path
    if path is None:  # Params not made by validate(): check the path here, default dirs
        try:
            path = str(resolve_plugin(target))
        except ValueError as exc:
            return Result(Status.UNKNOWN, str(exc))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    # Keep the end of the budget to stop the plugin, so that the check ends in `timeout`.
    grace = min(KILL_GRACE, timeout / 10)
    out, err = _Capture(STDOUT_LIMIT), _Capture(STDERR_LIMIT)
    try:
        proc = await asyncio.create_subprocess_exec(
            path,
            *params.args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=ENV,
            cwd="/",
            start_new_session=True,
        )
    except OSError as exc:
        return Result(Status.UNKNOWN, f"cannot start plugin {target}: {exc.strerror or exc}")
    readers = asyncio.gather(out.drain(proc.stdout), err.drain(proc.stderr))
    try:
        try:
            async with asyncio.timeout_at(deadline - 2 * grace):
                await asyncio.shield(readers)
                code = await proc.wait()
        except TimeoutError:
            await _stop_group(proc, deadline - grace, deadline)
            # The group is dead: what it wrote is still in the pipes, read it to the end.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    await asyncio.shield(readers)
            return _timed_out(timeout, out, err)
    finally:
        # Also when we are cancelled: nothing of the plugin's may outlive the check.
        if proc.returncode is None:
            await asyncio.shield(_stop_group(proc, loop.time() + grace, loop.time() + 2 * grace))
        if not readers.done():
            # Only a process that left the group can still hold the pipes open: stop reading.
            # asyncio offers no public way to close a Process's pipes; its transport can.
            transport = getattr(proc, "_transport", None)
            if transport is not None:
                transport.close()
            readers.cancel()
            readers.add_done_callback(_consume)
    return _judge(code, out, err)


def _consume(fut: asyncio.Future[Any]) -> None:
    """Mark a cancelled read as seen, so asyncio does not log it as an unhandled error."""
    if not fut.cancelled():
        fut.exception()


async def _stop_group(proc: asyncio.subprocess.Process, term_until: float, until: float) -> None:
    """SIGTERM the plugin's process group; SIGKILL it at `term_until` (loop time)."""
    _signal_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout_at(term_until):
            await proc.wait()
    # Even when the plugin itself obeyed, its children may not have: kill the whole group.
    _signal_group(proc.pid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout_at(until):
            await proc.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    # The id stays reserved while any member of the group lives, so it cannot name strangers;
    # once they are all gone it is free, but is reused only after a full wrap of the pids.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _timed_out(timeout: float, out: _Capture, err: _Capture) -> Result:
    parsed = parse_output(out.text())
    msg = f"plugin timed out after {timeout:g} s"
    if parsed.message:
        msg += f"; it had printed: {parsed.message}"
    return Result(Status.UNKNOWN, msg, (), _details(out, err, parsed.details))


def _details(out: _Capture, err: _Capture, long_text: str) -> str:
    parts = [long_text] if long_text else []
    if not out.data and err.data:
        parts.append("stderr: " + err.text().strip())
        if err.truncated:
            parts.append(f"(stderr truncated at {STDERR_LIMIT // 1024} KiB)")
    if out.truncated:
        parts.append(f"(output truncated at {STDOUT_LIMIT // 1024} KiB)")
    return "\n".join(parts)


def _abnormal(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "an unknown signal"
        return f"plugin killed by signal {-code} ({name})"
    if code == 126:
        return "plugin could not be executed (exit code 126)"
    if code == 127:
        return "plugin or a program it needs was not found (exit code 127)"
    return f"plugin ended with exit code {code}, not a Nagios state"


def _judge(code: int, out: _Capture, err: _Capture) -> Result:
    """The Result of a finished plugin run from its exit code and output."""
    parsed = parse_output(out.text())
    details = _details(out, err, parsed.details)
    if parsed.unreadable:
        bad = "unreadable perfdata: " + " ".join(parsed.unreadable)
        details = f"{details}\n{bad}" if details else bad
    if code in (0, 1, 2, 3):
        message = parsed.message or ("no output" + (" on stdout" if err.data else ""))
        return Result(Status(code), message, parsed.metrics, details)
    message = _abnormal(code)
    if parsed.message:
        message += f": {parsed.message}"
    return Result(Status.UNKNOWN, message, parsed.metrics, details)

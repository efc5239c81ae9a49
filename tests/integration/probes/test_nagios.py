"""The Nagios plugin probe with Debian's monitoring-plugins and small misbehaving test plugins."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from forewarn.domain.observation import Result, Status
from forewarn.probes import nagios

pytestmark = [
    pytest.mark.slow,
    # A pipe left open shows up only as a warning when its transport is collected: fail on it.
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]

PLUGINS = Path("/usr/lib/nagios/plugins")
needs_plugins = pytest.mark.skipif(
    not (PLUGINS / "check_tcp").exists(),
    reason="Debian's monitoring-plugins are not installed (/usr/lib/nagios/plugins)",
)


def check(target: str, *args: str, timeout: float = 5, dirs: list[str] | None = None) -> Result:
    p = nagios.validate(target, {"args": list(args)}, allowed_dirs=dirs)
    return asyncio.run(nagios.run(target, p, timeout))


def alive(pid: int) -> bool:
    """Whether a process runs; a zombie (dead, not yet reaped by init) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def dies_soon(pid: int, within: float = 2.0) -> bool:
    """Whether the process is gone within `within` seconds.

    A SIGKILL is delivered asynchronously: the killed process still has to be scheduled to
    exit, which on a loaded two-core machine can take a moment after killpg returned.
    """
    end = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


# --- Debian's monitoring-plugins -------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


@needs_plugins
def test_check_tcp_open_port_is_ok(listener: int) -> None:
    r = check(str(PLUGINS / "check_tcp"), "-H", "127.0.0.1", "-p", str(listener))
    assert r.status is Status.OK, r.message
    assert r.message.startswith("TCP OK")
    [metric] = r.metrics
    assert metric.name == "time" and metric.unit == "s"


@needs_plugins
def test_check_tcp_closed_port_is_critical() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        r = check("check_tcp", "-H", "127.0.0.1", "-p", str(port))
    assert r.status is Status.CRITICAL
    assert "refused" in r.message.lower()


@needs_plugins
def test_check_disk_metrics_are_parsed() -> None:
    r = check("check_disk", "-w", "1%", "-c", "1%", "-p", "/")
    assert r.status in (Status.OK, Status.WARNING, Status.CRITICAL), r.message
    assert "DISK" in r.message
    [metric] = [m for m in r.metrics if m.name == "/"]
    assert metric.max is not None and 0 <= metric.value <= metric.max
    assert metric.warn is not None and metric.crit is not None


@needs_plugins
def test_plugin_usage_error_is_unknown() -> None:
    r = check("check_tcp")  # no -H: the plugin answers 3 with its usage
    assert r.status is Status.UNKNOWN
    assert r.message


# --- test plugins ----------------------------------------------------------------------------


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    d = tmp_path / "plugins"
    d.mkdir()
    return d


def write(d: Path, name: str, body: str) -> str:
    path = d / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_timeout_kills_the_whole_process_group(plugins: Path) -> None:
    pidfile = plugins / "child.pid"
    # Plugin and child ignore SIGTERM, so only the SIGKILL to the group stops them.
    plugin = write(
        plugins,
        "check_hang",
        f"trap '' TERM\nsleep 600 &\necho $! > {pidfile}\necho 'STILL WORKING'\nsleep 600\n",
    )
    start = time.monotonic()
    r = check(plugin, timeout=2, dirs=[str(plugins)])
    took = time.monotonic() - start
    assert r.status is Status.UNKNOWN
    assert r.message == "plugin timed out after 2 s; it had printed: STILL WORKING"
    assert took < 3
    child = int(pidfile.read_text())
    assert dies_soon(child), "the plugin's child outlived the timeout"


def test_process_that_left_the_group_cannot_hang_the_check(plugins: Path) -> None:
    """A daemon started with setsid keeps the plugin's stdout open; the check still ends."""
    pidfile = plugins / "daemon.pid"
    plugin = write(plugins, "check_daemon", f"setsid sleep 600 &\necho $! > {pidfile}\necho OK\n")
    try:
        start = time.monotonic()
        r = check(plugin, timeout=1, dirs=[str(plugins)])
        assert time.monotonic() - start < 1 + 1
        assert r.status is Status.UNKNOWN
        assert r.message == "plugin timed out after 1 s; it had printed: OK"
    finally:
        if pidfile.exists():  # out of the plugin's group, so ours to clean up
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pidfile.read_text()), signal.SIGKILL)


def test_cancelled_run_kills_the_plugin(plugins: Path) -> None:
    pidfile = plugins / "child.pid"
    plugin = write(plugins, "check_hang", f"sleep 600 &\necho $! > {pidfile}\nwait\n")
    params = nagios.validate(plugin, {}, allowed_dirs=[str(plugins)])

    async def cancel_soon() -> None:
        task = asyncio.create_task(nagios.run(plugin, params, 30))
        for _ in range(100):
            await asyncio.sleep(0.02)
            if pidfile.exists() and pidfile.read_text().strip():
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_soon())
    assert dies_soon(int(pidfile.read_text()))


def test_huge_output_is_bounded_and_does_not_hang(plugins: Path) -> None:
    plugin = write(
        plugins,
        "check_chatty",
        "echo 'CHATTY OK | lines=10000000c'\nhead -c 10000000 /dev/zero | tr '\\0' 'x'\nexit 0\n",
    )
    start = time.monotonic()
    r = check(plugin, timeout=10, dirs=[str(plugins)])
    assert time.monotonic() - start < 10
    assert r.status is Status.OK
    assert r.message == "CHATTY OK"
    assert [(m.name, m.value, m.unit) for m in r.metrics] == [("lines", 10_000_000, "c")]
    assert "(output truncated at 64 KiB)" in r.details
    assert len(r.details) < 70 * 1024


def test_plugin_killed_by_a_signal(plugins: Path) -> None:
    plugin = write(plugins, "check_suicide", "echo 'about to go'\nkill -9 $$\n")
    r = check(plugin, dirs=[str(plugins)])
    assert r.status is Status.UNKNOWN
    assert r.message == "plugin killed by signal 9 (SIGKILL): about to go"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("echo 'ODD'\nexit 7\n", "plugin ended with exit code 7, not a Nagios state: ODD"),
        ("/nonexistent/helper\n", "plugin or a program it needs was not found (exit code 127)"),
        ("exit 126\n", "plugin could not be executed (exit code 126)"),
    ],
)
def test_exit_codes_beyond_the_protocol_are_unknown(plugins: Path, body: str, message: str) -> None:
    r = check(write(plugins, "check_odd", body), dirs=[str(plugins)])
    assert r.status is Status.UNKNOWN
    assert r.message == message


@pytest.mark.parametrize("code", [0, 1, 2, 3])
def test_exit_code_is_the_state(plugins: Path, code: int) -> None:
    plugin = write(plugins, "check_code", f"echo 'STATE {code}'\nexit {code}\n")
    r = check(plugin, dirs=[str(plugins)])
    assert r.status is Status(code)
    assert r.message == f"STATE {code}"


def test_perfdata_and_long_text(plugins: Path) -> None:
    plugin = write(
        plugins,
        "check_rich",
        "cat <<'EOF'\n"
        "DISK WARNING - /srv at 91% | '/srv used'=91%;80;90;0;100 inodes=12\n"
        "/srv is a mounted volume\n"
        "second line of detail | load=0.5;1;2 'it''s'=3ms\n"
        "bogus\n"
        "EOF\n"
        "exit 1\n",
    )
    r = check(plugin, dirs=[str(plugins)])
    assert r.status is Status.WARNING
    assert r.message == "DISK WARNING - /srv at 91%"
    assert r.details.startswith("/srv is a mounted volume\nsecond line of detail")
    assert "unreadable perfdata: bogus" in r.details
    got = {m.name: (m.value, m.unit, m.warn, m.crit) for m in r.metrics}
    assert got == {
        "/srv used": (91, "%", "80", "90"),
        "inodes": (12, "", None, None),
        "load": (0.5, "", "1", "2"),
        "it's": (3, "ms", None, None),
    }


def test_stderr_shown_when_stdout_is_empty(plugins: Path) -> None:
    plugin = write(plugins, "check_quiet", "echo 'cannot open /dev/x' >&2\nexit 2\n")
    r = check(plugin, dirs=[str(plugins)])
    assert r.status is Status.CRITICAL
    assert r.message == "no output on stdout"
    assert r.details == "stderr: cannot open /dev/x"


def test_minimal_environment_and_closed_stdin(
    plugins: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOREWARN_SECRET_KEY", "must-not-leak")
    plugin = write(plugins, "check_env", 'cat\necho "ENV OK"\nenv\n')  # cat: stdin at EOF
    r = check(plugin, timeout=5, dirs=[str(plugins)])
    assert r.status is Status.OK, r.message
    env = dict(line.split("=", 1) for line in r.details.splitlines() if "=" in line)
    assert "FOREWARN_SECRET_KEY" not in env and "must-not-leak" not in r.details
    assert env["LANG"] == "C" and "/usr/bin" in env["PATH"].split(":")


def test_unvalidated_params_still_only_run_allowed_plugins(plugins: Path) -> None:
    plugin = write(plugins, "check_ok", "echo OK\n")
    r = asyncio.run(nagios.run(plugin, nagios.Params(), 5))
    assert r.status is Status.UNKNOWN
    assert "outside the allowed directories" in r.message


def test_plugin_removed_after_validation(plugins: Path) -> None:
    plugin = write(plugins, "check_gone", "echo OK\n")
    params = nagios.validate(plugin, {}, allowed_dirs=[str(plugins)])
    Path(plugin).unlink()
    r = asyncio.run(nagios.run(plugin, params, 5))
    assert r.status is Status.UNKNOWN
    assert r.message.startswith(f"cannot start plugin {plugin}")

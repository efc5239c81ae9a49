"""Running the operating system's own tools and reading its files, safely.

Collectors parse what tools print; this module is the one place that runs them: an argv list
(never a shell), LC_ALL=C so the text is parseable, a timeout of a few seconds and a cap on
the output, so a hung or chatty tool can neither stall the agent nor inflate its memory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
# Services start agents with a minimal PATH; the sbin directories hold several tools we use.
_EXTRA_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def find_tool(name: str) -> str | None:
    """The full path of an executable, searching PATH and the usual system directories."""
    dirs = os.environ.get("PATH", "").split(os.pathsep) + list(_EXTRA_PATH)
    return shutil.which(name, path=os.pathsep.join(d for d in dirs if d))


def run_tool(
    argv: Sequence[str],
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    ok_codes: Sequence[int] = (0,),
) -> str | None:
    """A tool's standard output as text, or None when it is missing, fails or misbehaves.

    "Misbehaves" means it exits with a code outside `ok_codes`, runs past `timeout` seconds
    or prints more than `max_bytes`: a truncated listing would look like things vanished,
    so it is treated as no answer at all.
    """
    exe = find_tool(argv[0])
    if exe is None:
        return None
    env = dict(os.environ, LC_ALL="C", LANG="C", LANGUAGE="C")
    try:
        proc = subprocess.Popen(
            [exe, *argv[1:]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    except OSError:
        return None
    try:
        out = _read_bounded(proc, timeout, max_bytes)
    finally:
        _reap(proc)
    if out is None or proc.returncode not in ok_codes:
        return None
    return out.decode("utf-8", "replace")


def _read_bounded(proc: subprocess.Popen[bytes], timeout: float, max_bytes: int) -> bytes | None:
    """Everything the process prints before it exits, or None past the deadline or the cap."""
    if os.name != "posix":
        # Windows cannot select() on pipes; its tools are few and their output small.
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return out if len(out) <= max_bytes else None
    import selectors

    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                return None
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                return None
            chunks.append(chunk)
    try:
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return None
    return b"".join(chunks)


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Kill the process if it still runs and collect it, so no zombie is left behind."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def read_text(path: str, max_bytes: int = 4 * 1024 * 1024) -> str | None:
    """A file's text (undecodable bytes replaced), or None when it is missing or unreadable."""
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes)
    except OSError:
        return None
    return data.decode("utf-8", "replace")


def read_line(path: str) -> str:
    """The first line of a small file, stripped; "" when it is missing or unreadable."""
    text = read_text(path, 4096)
    if not text:
        return ""
    return text.splitlines()[0].strip() if text.strip() else ""

"""`forewarn serve` says at start what is not set up yet, as a real process would print it."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
STARTED = "running; stop with Ctrl-C"


def _start_output(tmp_path: Path, **env: str) -> str:
    """What a worker-only `forewarn serve` prints until it runs (at most 60 s), then stop it."""
    mine = ("FOREWARN_DATABASE_URL", "FOREWARN_PUBLIC_URL")
    full = {k: v for k, v in os.environ.items() if k not in mine}
    full.update(FOREWARN_DATA_DIR=str(tmp_path), **env)
    proc = subprocess.Popen(
        [str(BIN / "forewarn"), "serve", "--role", "worker"],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    seen = b""
    try:
        assert proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 60
        while STARTED.encode() not in seen and time.monotonic() < deadline:
            if sel.select(timeout=1):
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                seen += chunk
    finally:
        proc.send_signal(signal.SIGTERM)
        # It finishes the job in hand first: up to 10 s for the scheduler and 15 s for the
        # notifier to let go (20 s was too short on a loaded machine, where the first turn of
        # every job runs at start).
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()  # never left running behind a failed test
            proc.wait(timeout=10)
            raise
    text = seen.decode(errors="replace")
    assert STARTED in text, text
    return text


def test_serve_warns_when_links_in_messages_would_be_bare_paths(tmp_path: Path) -> None:
    text = " ".join(_start_output(tmp_path / "unset").split())
    assert "FOREWARN_PUBLIC_URL is not set" in text
    assert "/alerts/42" in text and "FOREWARN_PUBLIC_URL=https://" in text
    quiet = _start_output(tmp_path / "set", FOREWARN_PUBLIC_URL="https://forewarn.example.com")
    assert "FOREWARN_PUBLIC_URL" not in quiet
